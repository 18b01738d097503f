"""Agent processes, leases, the per-agent circuit breaker and the dispatcher's state directory.

Processes: each agent run is started by a small supervisor (gitjit/dispatch/supervise.py, run
by path with this interpreter), in a session of its own; the supervisor starts the agent in a
process group of its own. When the dispatcher stops a run (SIGTERM to the supervisor), or dies
in any way (the supervisor sees the end of a pipe only the dispatcher holds; on Linux also
``PR_SET_PDEATHSIG``), or the agent's leader exits, the supervisor stops the agent's whole group:
SIGTERM, then SIGKILL after ``kill_grace_secs``. It exits only when the group is empty, and exits
as the agent did (its code, or its signal). The command is run directly (``shlex.split``, no
shell), so the signals reach the agent itself; write ``sh -c '...'`` for shell syntax.

Run locks (``RunLock``): a run holds an ``flock`` on ``<git common dir>/jit-dispatch/running/
<issue>.lock`` of its repository until its process group is gone (the supervisor inherits the
lock), so no dispatcher on this machine starts an issue again, or gives it back, while any
process of an earlier run of it is alive.

State directory (``state_dir`` in dispatch.toml), one per configuration::

    lock             flock held for the dispatcher's life: one dispatcher per configuration
    dispatcher.pid   pid of the running dispatcher (start --detach, stop)
    state.json       what the running dispatcher is doing, rewritten every cycle (status, agents)
    breakers.json    circuit breakers, read-modify-written under breakers.lock by the dispatcher
                     and by 'agent reset' alike, so a reset is never lost to a concurrent cycle
    runs/            the issue JSON handed to each running agent (JIT_ISSUE_FILE)
    logs/            each run's stdout and stderr
    events.cursor    the webhook feed's position (ref tips), so a restart does not resend history
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from ..core.errors import BusyError, ExternalError
from ..core.model import now_ts, parse_ts, utc_ts
from .config import AgentConfig

__all__ = ["AgentRun", "Breakers", "ProcessPool", "RunLock", "StateDir", "lease_lapsed", "lease_until", "parse_ts"]

SUPERVISOR = Path(__file__).resolve().with_name("supervise.py")
#: seconds a supervisor may take to say it started its agent
HANDSHAKE_S = 30.0
#: after ``kill_grace_secs``, how long a supervisor gets to empty the group before the dispatcher
#: kills both itself
SUPERVISOR_MARGIN_S = 5.0


# ---------------------------------------------------------------------------- time and leases

def lease_until(now: str, secs: float) -> str:
    """The expiry of a lease taken at ``now``, in the form of every gitjit timestamp (``utc_ts``:
    UTC with ``+00:00``; a ``now`` without an offset is UTC)."""
    return utc_ts((parse_ts(now) + timedelta(seconds=secs)).isoformat(timespec="microseconds"))


def lease_lapsed(expires_at: str | None, now: str, grace_secs: float) -> bool:
    """True when a lease ran out more than ``grace_secs`` ago. The grace absorbs clock skew between
    machines: a dispatcher whose clock runs ahead must not release work whose holder still renews."""
    if not expires_at:
        return False  # claims without a lease (people, scripts) never time out
    try:
        return parse_ts(expires_at) + timedelta(seconds=grace_secs) < parse_ts(now)
    except ValueError:
        return False


# ---------------------------------------------------------------------------- processes

class RunLock:
    """``flock`` on ``<directory>/<issue>.lock``: held while a run of that issue is alive on this
    machine (the dispatcher takes it, the run's supervisor inherits it and keeps it until the
    agent's process group is gone). Its holder removes the file before letting go, so files do
    not pile up; ``try_acquire`` checks that the file it locked is still the one at the path."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd: int | None = fd

    @classmethod
    def try_acquire(cls, directory: Path, issue_id: str) -> RunLock | None:
        """The lock, or None when a run of the issue is still alive here."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{issue_id}.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return None
                raise
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return cls(path, fd)
            os.close(fd)  # its last holder removed it after we opened it: take the new one

    @classmethod
    def busy(cls, directory: Path, issue_id: str) -> bool:
        """Is a run of the issue alive on this machine?"""
        if not (directory / f"{issue_id}.lock").exists():
            return False
        lock = cls.try_acquire(directory, issue_id)
        if lock is None:
            return True
        lock.release()
        return False

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            if os.stat(self.path).st_ino == os.fstat(self.fd).st_ino:
                self.path.unlink()
        except OSError:
            pass
        os.close(self.fd)
        self.fd = None

    def handed_over(self) -> None:
        """The supervisor holds it now (an inherited copy of the descriptor): drop ours only."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class AgentRun:
    """One agent process working on one issue."""

    agent_id: str
    assignee: str
    repo: str
    issue_id: str
    attempt: int
    proc: subprocess.Popen[bytes]
    started_at: str
    started_mono: float
    lease_expires_at: str | None
    issue_file: Path
    log_path: Path
    agent_pid: int = 0          # the agent's own pid (and process group); ``proc`` is its supervisor
    log: TextIO | None = None
    lost: bool = False          # the claim was taken away (lease lapsed and released): we stopped it
    stopping: bool = False      # we asked it to stop (shutdown, timeout, lost claim)
    stop_reason: str = ""
    kill_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.agent_pid or self.proc.pid

    def to_json(self) -> dict[str, Any]:
        return {"agent": self.agent_id, "assignee": self.assignee, "repo": self.repo, "issue_id": self.issue_id,
                "pid": self.pid, "attempt": self.attempt, "started_at": self.started_at,
                "lease_expires_at": self.lease_expires_at, "issue_file": str(self.issue_file),
                "log": str(self.log_path), "stopping": self.stopping}


class ProcessPool:
    """Starts, watches and stops agent processes (each under its supervisor, supervise.py)."""

    def __init__(self, state: StateDir):
        self.state = state
        self.runs: list[AgentRun] = []
        # the supervisors hold the read end; only this process holds the write end (os.pipe's
        # descriptors are not inherited by other children): its end of file means we are gone.
        # Made at the first launch.
        self._alive_r = self._alive_w = -1

    def running(self, agent_id: str | None = None) -> list[AgentRun]:
        return [r for r in self.runs if agent_id is None or r.agent_id == agent_id]

    def launch(self, agent: AgentConfig, *, assignee: str, repo_name: str, repo_path: Path, cwd: Path,
               issue: dict[str, Any], attempt: int, lease_expires_at: str | None,
               extra_env: dict[str, str], lock: RunLock, grace_secs: float) -> AgentRun:
        """Start ``agent.command`` for ``issue`` under a supervisor that takes over ``lock``.
        ExternalError if it cannot be started at all (the lock is then released)."""
        iid = issue["id"]
        self.state.runs.mkdir(parents=True, exist_ok=True)
        issue_file = self.state.runs / f"{repo_name}-{iid}.json"
        issue_file.write_text(json.dumps({**issue, "repo": repo_name}, indent=2, ensure_ascii=False) + "\n")
        logdir = self.state.logs / agent.id
        logdir.mkdir(parents=True, exist_ok=True)
        log_path = logdir / f"{iid}-{attempt}.log"
        env = {**os.environ, **agent.env, **extra_env,
               "JIT_ISSUE_ID": iid, "JIT_REPO": str(repo_path), "JIT_AGENT": agent.id,
               "JIT_ASSIGNEE": assignee, "JIT_ACTOR": assignee, "JIT_ISSUE_FILE": str(issue_file),
               "JIT_ATTEMPT": str(attempt)}
        for k in ("JIT_JSON", "JIT_QUIET"):  # the dispatcher's output settings are not the agent's
            env.pop(k, None)
        if self._alive_w < 0:
            self._alive_r, self._alive_w = os.pipe()
        log = open(log_path, "a", encoding="utf-8")  # noqa: SIM115 - handed to the supervisor, closed below
        assert lock.fd is not None
        args = [sys.executable, "-I", str(SUPERVISOR), "--grace", repr(float(grace_secs)),
                "--parent-fd", str(self._alive_r), "--parent-pid", str(os.getpid()),
                "--lock-fd", str(lock.fd), "--lock-path", str(lock.path), "--", *agent.command]

        def fail(why: str) -> ExternalError:
            log.close()
            issue_file.unlink(missing_ok=True)
            lock.release()
            return ExternalError(f"cannot start agent {agent.id}: {' '.join(agent.command)}: {why}",
                                 details={"agent": agent.id, "command": list(agent.command)})

        try:
            proc = subprocess.Popen(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=log, start_new_session=True, pass_fds=(self._alive_r, lock.fd))
        except OSError as e:
            raise fail(str(e.strerror or e)) from None
        line = _handshake(proc)
        if not line.startswith("started "):
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            raise fail(line[len("error "):] if line.startswith("error ") else
                       (line or "its supervisor exited without starting it; see " + str(log_path)))
        lock.handed_over()
        run = AgentRun(agent_id=agent.id, assignee=assignee, repo=repo_name, issue_id=iid, attempt=attempt,
                       proc=proc, started_at=now_ts(), started_mono=time.monotonic(),
                       lease_expires_at=lease_expires_at, issue_file=issue_file, log_path=log_path,
                       agent_pid=int(line.split()[1]), log=log)
        run.extra["grace"] = grace_secs
        self.runs.append(run)
        return run

    def reap(self) -> list[tuple[AgentRun, int]]:
        """Runs whose supervisor has exited (so nothing of the run is left), with the agent's
        status (negative: killed by that signal)."""
        done = []
        for r in list(self.runs):
            rc = r.proc.poll()
            if rc is None:
                if r.kill_at is not None and time.monotonic() >= r.kill_at:
                    # the supervisor did not empty the group in time (it was stopped, say): do it here
                    _killpg(r.agent_pid, signal.SIGKILL)
                    _kill(r.proc.pid, signal.SIGKILL)
                    r.kill_at = None
                continue
            self.runs.remove(r)
            if r.log:
                r.log.close()
            r.issue_file.unlink(missing_ok=True)
            done.append((r, rc))
        return done

    def stop(self, run: AgentRun, reason: str, grace_secs: float) -> None:
        """Ask the run's supervisor to stop it: SIGTERM to the agent's group now, SIGKILL after
        ``grace_secs`` (the supervisor's own ``--grace``). Should the supervisor not manage,
        the dispatcher kills both a few seconds later (``reap``)."""
        if run.stopping:
            return
        run.stopping = True
        run.stop_reason = reason
        _kill(run.proc.pid, signal.SIGTERM)
        run.kill_at = time.monotonic() + float(run.extra.get("grace", grace_secs)) + SUPERVISOR_MARGIN_S

    def any_exited(self) -> bool:
        return any(r.proc.poll() is not None for r in self.runs)

    def close(self) -> None:
        """The dispatcher is going: every supervisor still running stops its agent."""
        for fd in (self._alive_w, self._alive_r):
            if fd >= 0:
                os.close(fd)
        self._alive_w = self._alive_r = -1


def _handshake(proc: subprocess.Popen[bytes]) -> str:
    """The supervisor's first line (``started <pid>`` or ``error <why>``); "" if it said nothing."""
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + HANDSHAKE_S
    try:
        while not out.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            out += chunk
    finally:
        proc.stdout.close()
    return out.decode(errors="replace").strip()


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _killpg(pgid: int, sig: int) -> None:
    if pgid <= 0:
        return
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# ---------------------------------------------------------------------------- state directory

class StateDir:
    def __init__(self, path: Path):
        self.path = path
        self.runs = path / "runs"
        self.logs = path / "logs"
        self.pid_file = path / "dispatcher.pid"
        self.state_file = path / "state.json"
        self.breakers_file = path / "breakers.json"
        self.cursor_file = path / "events.cursor"
        self.log_file = path / "dispatcher.log"
        self.out_file = path / "dispatcher.out"
        self._lock_fd: int | None = None

    def ensure(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        # in a work tree (an explicit state_dir, or one an earlier version made next to the file):
        # never committed by `git add -A`, whatever directory it is in
        ignore = self.path / ".gitignore"
        if not ignore.exists():
            try:
                _atomic_write(ignore, "# made by jit-dispatch: its state is not for committing\n*\n")
            except OSError:
                pass

    @contextmanager
    def locked(self, *, wait: bool = False) -> Iterator[None]:
        """Hold the dispatcher lock (one dispatcher per configuration) for the block."""
        self.acquire(wait=wait)
        try:
            yield
        finally:
            self.release()

    def acquire(self, *, wait: bool = False) -> None:
        self.ensure()
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                pid = self.read_pid()
                raise BusyError(f"a dispatcher is already running with this configuration (pid {pid or '?'})",
                                hint="see it with 'jit-dispatch status'; stop it with 'jit-dispatch stop'",
                                details={"pid": pid, "state_dir": str(self.path)}) from None
            raise
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def is_locked(self) -> bool:
        """Is a dispatcher holding the lock right now? (A pid file alone may be stale.)"""
        if not (self.path / "lock").exists():
            return False
        fd = os.open(self.path / "lock", os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        finally:
            os.close(fd)
        return False

    def read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def write_pid(self) -> None:
        _atomic_write(self.pid_file, f"{os.getpid()}\n")

    def clear_pid(self) -> None:
        if self.read_pid() == os.getpid():
            self.pid_file.unlink(missing_ok=True)

    def write_state(self, data: dict[str, Any]) -> None:
        _atomic_write(self.state_file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def read_state(self) -> dict[str, Any] | None:
        return _read_json(self.state_file)

    def read_cursor(self) -> dict[str, dict[str, str]] | None:
        data = _read_json(self.cursor_file)
        return data if isinstance(data, dict) else None

    def write_cursor(self, cursor: dict[str, dict[str, str]]) -> None:
        _atomic_write(self.cursor_file, json.dumps(cursor, sort_keys=True) + "\n")


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------- circuit breaker

class Breakers:
    """Per-agent circuit breaker (seed 003): ``threshold`` consecutive failures open it, which pauses
    the agent (no new work) until ``reset``. A success closes the count again. Persisted, so a
    paused agent stays paused across restarts until someone looks at it."""

    def __init__(self, state: StateDir):
        self.state = state

    @contextmanager
    def _edit(self) -> Iterator[dict[str, Any]]:
        self.state.ensure()
        fd = os.open(self.state.path / "breakers.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = _read_json(self.state.breakers_file)
            data = data if isinstance(data, dict) else {}
            yield data
            _atomic_write(self.state.breakers_file, json.dumps(data, indent=2, sort_keys=True) + "\n")
        finally:
            os.close(fd)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        data = _read_json(self.state.breakers_file)
        return data if isinstance(data, dict) else {}

    def get(self, agent_id: str) -> dict[str, Any]:
        b = self.snapshot().get(agent_id)
        return b if isinstance(b, dict) else {"failures": 0, "open": False}

    def is_open(self, agent_id: str) -> bool:
        return bool(self.get(agent_id).get("open"))

    def record(self, agent_id: str, *, success: bool, threshold: int, reason: str = "",
               issue: str | None = None, counts: bool = True) -> dict[str, Any]:
        """Count one outcome; returns the breaker after it (``just_opened`` when this failure opened it).

        A breaker is for an agent's failures, not for a poison issue's: a failure on an ``issue``
        already in this agent's streak of failures, or one the caller says does not count (the issue
        had failed before, under any agent: ``counts=False``), is recorded as the last failure but
        does not add to the count."""
        with self._edit() as data:
            got = data.get(agent_id)
            b: dict[str, Any] = got if isinstance(got, dict) else {"failures": 0, "open": False}
            b.pop("just_opened", None)
            if success:
                b["failures"] = 0
                b.pop("streak", None)
            else:
                streak = [x for x in b.get("streak") or [] if isinstance(x, str)]
                if issue is not None and issue in streak:
                    counts = False
                if counts:
                    b["failures"] = int(b.get("failures", 0)) + 1
                    if issue is not None:
                        b["streak"] = (streak + [issue])[-100:]
                b["last_failure"] = reason
                b["last_failure_at"] = now_ts()
                b["last_failure_counted"] = counts
                if threshold and b["failures"] >= threshold and not b.get("open"):
                    b["open"] = True
                    b["opened_at"] = now_ts()
                    data[agent_id] = b
                    return {**b, "just_opened": True}
            data[agent_id] = b
            return dict(b)

    def reset(self, agent_id: str) -> dict[str, Any]:
        with self._edit() as data:
            got = data.get(agent_id)
            before: dict[str, Any] = got if isinstance(got, dict) else {}
            data[agent_id] = {"failures": 0, "open": False, "reset_at": now_ts()}
            return {"agent": agent_id, "was_open": bool(before.get("open")),
                    "failures_before": int(before.get("failures", 0)), "open": False}
