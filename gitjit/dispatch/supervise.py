"""The supervisor of one agent run: ``python supervise.py [options] -- COMMAND [ARG...]``.

jit-dispatch starts one supervisor per agent run, in a session of its own, and the supervisor
starts the agent in a process group of its own. Then, whatever happens, the agent's whole group
is stopped (SIGTERM, then SIGKILL after ``--grace`` seconds) and the supervisor exits only once
that group is empty:

* the dispatcher asks it to stop the run: SIGTERM to the supervisor;
* the dispatcher dies, even by SIGKILL: the pipe whose read end is ``--parent-fd`` reaches end of
  file (the dispatcher holds the only write end), and on Linux ``PR_SET_PDEATHSIG`` sends SIGTERM;
* the agent's leader exits: what is left of its group (the children of a shell script) is
  stopped the same way.

An agent that ignores SIGTERM therefore no longer outlives a dispatcher killed with SIGKILL
(field defect 9: one was seen alive ~109 s later, its issue handed out again meanwhile). The
run lock (``--lock-fd``: an ``flock`` the dispatcher took on ``--lock-path``, inherited here) is
held until the group is gone, so a dispatcher on this machine never starts the same issue again
while any process of this run lives (gitjit/dispatch/agents.py, ``RunLock``).

The supervisor exits as its agent did: with its exit code, or killed by its signal, so the
dispatcher reports "exited with code 3" or "was killed by SIGKILL" as before. It tells the
dispatcher the agent started by one line on stdout, ``started <pid>``, or why it could not,
``error <message>`` (then exit 127).

Standard library only, and run by path (``python -I``): it must not depend on how gitjit was
imported by the dispatcher, and it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import os
import select
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
#: how long to wait for a group to vanish after SIGKILL before giving up (processes stuck in the
#: kernel, "D" state, cannot be killed any faster)
KILL_WAIT_S = 10.0


def _prctl() -> object:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _say(text: str) -> None:
    """A line in the run's log (stderr is the log file)."""
    try:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        sys.stderr.write(f"[jit-dispatch supervisor {stamp}] {text}\n")
        sys.stderr.flush()
    except OSError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Supervisor:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.grace = max(0.0, float(args.grace))
        self.parent_fd: int | None = args.parent_fd
        self.leader: subprocess.Popen[bytes] | None = None
        self.status: int | None = None      # the leader's wait status, once reaped
        self.stop_reason: str | None = None
        self.term_sent_at: float | None = None
        self.kill_sent_at: float | None = None
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        os.set_blocking(self.wake_r, False)

    # ------------------------------------------------------------------ setup

    def install(self) -> None:
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the select through the wakeup fd
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)  # the dispatcher decides when a run stops, not a terminal
        prctl = _prctl()
        if prctl is not None:
            # descendants the agent orphans are re-parented here, so they are reaped here (and
            # counted as still alive until they are) even where PID 1 reaps nothing (a container
            # whose PID 1 is the dispatcher, as in a Kubernetes CronJob)
            prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # type: ignore[operator]
            prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)  # type: ignore[operator]
        if self.args.parent_pid and os.getppid() != self.args.parent_pid:
            self.stop("the dispatcher exited before its agent started")

    def _on_term(self, _sig: int, _frame: object) -> None:
        if self.stop_reason is None:
            self.stop_reason = "asked to stop"

    def start(self, cmd: list[str]) -> bool:
        prctl = _prctl()
        me = os.getpid()

        def child() -> None:
            # the agent dies with its supervisor: SIGKILL, since the supervisor only dies
            # abnormally (killed) while its agent runs; and a group of its own
            for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGPIPE):
                signal.signal(sig, signal.SIG_DFL)
            if prctl is not None:
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # type: ignore[operator]
                if os.getppid() != me:
                    os._exit(1)

        try:
            self.leader = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=2, stderr=2, start_new_session=True,
                                           preexec_fn=child)  # noqa: PLW1509 - no threads here
        except OSError as e:
            self._handshake(f"error {e.strerror or e}")
            return False
        self._handshake(f"started {self.leader.pid}")
        return True

    def _handshake(self, line: str) -> None:
        """One line to the dispatcher, then stdout is closed (pointed at /dev/null)."""
        try:
            os.write(1, (line.replace("\n", " ") + "\n").encode())
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.close(null)
        except OSError:
            pass

    # ------------------------------------------------------------------ running

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def _reap(self) -> None:
        """Reap every child that exited: the leader (its status is kept) and, as a subreaper, any
        orphaned descendant of the agent."""
        assert self.leader is not None
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.leader.pid:
                self.status = status
                self.leader.returncode = os.waitstatus_to_exitcode(status)

    def _check_parent(self) -> None:
        if self.parent_fd is None:
            return
        try:
            data = os.read(self.parent_fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            os.close(self.parent_fd)
            self.parent_fd = None
            self.stop("the dispatcher is gone")

    def run(self) -> None:
        assert self.leader is not None
        pgid = self.leader.pid
        announced = False
        while True:
            self._reap()
            alive = _group_alive(pgid)
            if self.status is not None and not alive:
                return
            now = time.monotonic()
            if self.status is not None and self.term_sent_at is None:
                self.stop("its leader exited; stopping what is left of its process group")
            if self.stop_reason is not None and self.term_sent_at is None:
                if not announced:
                    _say(f"{self.stop_reason}: SIGTERM to the agent's process group {pgid}, SIGKILL in "
                         f"{self.grace:g}s if it is still there")
                    announced = True
                _signal_group(pgid, signal.SIGTERM)
                self.term_sent_at = now
            if self.term_sent_at is not None and self.kill_sent_at is None and now - self.term_sent_at >= self.grace:
                _say(f"process group {pgid} still there after {self.grace:g}s: SIGKILL")
                _signal_group(pgid, signal.SIGKILL)
                self.kill_sent_at = now
            if self.kill_sent_at is not None:
                if now - self.kill_sent_at >= KILL_WAIT_S:
                    _say(f"process group {pgid} survived SIGKILL for {KILL_WAIT_S:g}s; giving up on it")
                    return
                _signal_group(pgid, signal.SIGKILL)  # a child forked after the first one
            self._wait(now)

    def _wait(self, now: float) -> None:
        """Sleep until a signal (SIGCHLD, SIGTERM), the dispatcher's end, or the next deadline."""
        if self.kill_sent_at is not None:
            timeout: float | None = 0.05
        elif self.term_sent_at is not None:
            timeout = max(0.0, self.term_sent_at + self.grace - now)
            if self.status is not None:
                timeout = min(timeout, 0.05)  # leftovers that are not our children: poll for them
        else:
            timeout = None if self.status is None else 0.05
        fds = [self.wake_r] + ([self.parent_fd] if self.parent_fd is not None else [])
        try:
            ready, _, _ = select.select(fds, [], [], timeout)
        except InterruptedError:  # pragma: no cover - PEP 475 retries, but be safe
            ready = []
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 512):
                    pass
            except OSError:
                pass
        if self.parent_fd is not None and self.parent_fd in ready:
            self._check_parent()

    def exit_as_agent(self) -> None:
        """Exit the way the agent did, so the dispatcher's report does not change."""
        assert self.leader is not None
        rc = self.leader.returncode if self.leader.returncode is not None else 1
        if self.args.lock_path and self.args.lock_fd is not None:
            _unlink_lock(self.args.lock_path, self.args.lock_fd)
        sys.stderr.flush()
        if rc >= 0:
            os._exit(rc)
        sig = -rc
        try:
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # the agent's crash, not ours: no core
        except (ImportError, ValueError, OSError):
            pass
        signal.set_wakeup_fd(-1)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # (those two cannot be caught anyway)
            signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)  # a signal whose default is not to terminate


def _unlink_lock(path: str, fd: int) -> None:
    """Remove the run lock's file while still holding it (its inode is checked: a file that
    replaced it belongs to someone else). Whoever opened the old file meanwhile finds it unlinked
    after taking the lock, and opens the path again (RunLock.try_acquire)."""
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="supervise.py")
    p.add_argument("--grace", type=float, default=10.0)
    p.add_argument("--parent-fd", type=int)
    p.add_argument("--parent-pid", type=int)
    p.add_argument("--lock-fd", type=int)
    p.add_argument("--lock-path")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("no command given")
    if args.parent_fd is not None:
        try:
            os.set_blocking(args.parent_fd, False)
        except OSError as e:
            if e.errno != errno.EBADF:
                raise
            args.parent_fd = None
    sup = Supervisor(args)
    sup.install()
    if sup.stop_reason is not None or not sup.start(cmd):
        if sup.stop_reason is not None:
            sup._handshake(f"error {sup.stop_reason}")
        if args.lock_path and args.lock_fd is not None:
            _unlink_lock(args.lock_path, args.lock_fd)
        return 127
    sup.run()
    sup.exit_as_agent()
    return 1  # pragma: no cover - exit_as_agent does not return


if __name__ == "__main__":
    raise SystemExit(main())
