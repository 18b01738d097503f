"""Agent runs under a supervisor (field defect 9): an agent that ignores SIGTERM, and the children
it started, are gone within the kill grace after the dispatcher dies, even by SIGKILL; and while
any process of a run lives, no dispatcher on this machine starts that issue again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dispatchlib import (
    agent_cmd,
    events_of,
    pid_alive,
    records,
    start_dispatcher,
    stop,
    wait_for,
    write_config,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.dispatch.agents import SUPERVISOR, RunLock
from gitjit.dispatch.config import load_config
from gitjit.dispatch.engine import Dispatcher


def _pids(rec: Path, issue: str | None = None) -> list[int]:
    """The pids of every agent and child process the records name."""
    out = []
    for r in records(rec):
        if issue is not None and r["issue"] != issue:
            continue
        if r["event"] == "start":
            out.append(r["pid"])
        elif r["event"] == "child":
            out.append(r["child"])
    return out


def test_sigkilled_dispatcher_takes_its_stubborn_agent_group_with_it(tmp_path: Path, tracker: Tracker,
                                                                    repo: Path) -> None:
    iid = tracker.create_issue("work that outlives its dispatcher")["id"]
    rec = tmp_path / "rec.jsonl"
    marks = tmp_path / "marks"
    marks.mkdir()
    grace = 4.0
    # forever (ignoring SIGTERM, with a child ignoring it too) the first time; finishes the second
    cmd = agent_cmd("--record", str(rec), "--once-file-dir", str(marks), "--ignore-sigterm", "--spawn-child",
                    "--beat")
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], id="m-a", lease_secs=600,
                       kill_grace_secs=grace, agents=[{"id": "w", "command": cmd}])
    p = start_dispatcher(cfg)
    try:
        wait_for(lambda: len(_pids(rec)) == 2 and [r for r in records(rec) if r["event"] == "beat"], timeout=60,
                 what="agent and its child at work")
    finally:
        p.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        p.communicate()
    first = _pids(rec)
    assert all(pid_alive(pid) for pid in first)  # SIGTERM (ignored) is not enough for them

    # restarted at once with the same id: it would give the orphaned claim back and run the issue
    # again right away; it waits for the old run instead
    p2 = start_dispatcher(cfg, "--json")
    try:
        wait_for(lambda: not any(pid_alive(pid) for pid in first), timeout=grace + 20, step=0.02,
                 what="the old run's processes to die")
        gone_after = time.monotonic() - killed_at
        wait_for(lambda: tracker.board(fresh=True).issues[iid].state == "done", timeout=60, what="second run")
    finally:
        out, err = stop(p2)
    assert gone_after < grace + 3.0, gone_after  # SIGKILL after the grace, not "whenever"
    assert gone_after >= grace - 0.5, gone_after  # ...and the grace was given
    rs = records(rec)
    starts = [r for r in rs if r["event"] == "start"]
    assert len(starts) == 2
    last_beat_of_first = max(r["t"] for r in rs if r["event"] == "beat" and r["pid"] in first)
    assert starts[1]["t"] > last_beat_of_first, "the issue ran again while its first run was alive"
    logged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert any(x.get("event") == "run_still_alive" and x.get("issue_id") == iid for x in logged), err[-2000:]
    (rel,) = events_of(tracker, iid, "issue_released")
    assert rel["reason"].startswith("orphaned: dispatcher m-a")
    # the second run's leftover child (it ignores SIGTERM too) was killed when its agent finished
    assert not any(pid_alive(pid) for pid in _pids(rec))


def test_stopping_a_run_kills_a_group_that_ignores_sigterm_after_the_grace(tmp_path: Path, tracker: Tracker,
                                                                           repo: Path) -> None:
    iid = tracker.create_issue("stubborn")["id"]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], on_stop="release", kill_grace_secs=1.5,
                       agents=[{"id": "w", "command": agent_cmd("--record", str(rec), "--forever",
                                                                "--ignore-sigterm", "--spawn-child")}])
    d = Dispatcher(load_config(cfg))
    d.open()
    try:
        d.cycle()
        wait_for(lambda: len(_pids(rec)) == 2, what="agent and child")
        (run,) = d.pool.runs
        assert run.pid == _pids(rec)[0]  # the agent's pid is reported, not its supervisor's
        t0 = time.monotonic()
        d.request_stop()
        wait_for(lambda: d.cycle() is not None and not d.pool.runs, timeout=30, what="run to end")
        took = time.monotonic() - t0
    finally:
        d.close()
    assert 1.0 <= took < 8.0, took
    assert not any(pid_alive(pid) for pid in _pids(rec))
    (rel,) = events_of(tracker, iid, "issue_released")
    assert rel["reason"] == f"dispatcher {d.id} stopped before w finished"
    assert not list((repo / ".git" / "jit-dispatch" / "running").glob("*.lock"))  # cleaned up


def _supervise(*cmd: str, grace: float = 1.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(SUPERVISOR), "--grace", str(grace), "--", *cmd],
                          capture_output=True, text=True, timeout=60, check=False)


def test_supervisor_exits_as_its_agent_did() -> None:
    r = _supervise("sh", "-c", "exit 3")
    assert r.returncode == 3 and r.stdout.startswith("started ")
    assert _supervise("sh", "-c", "kill -KILL $$").returncode == -signal.SIGKILL
    assert _supervise("sh", "-c", "kill -TERM $$").returncode == -signal.SIGTERM
    r = _supervise("/nonexistent/agent")
    assert (r.returncode, r.stdout) == (127, "error No such file or directory\n")


def test_supervisor_stops_leftovers_of_a_finished_leader() -> None:
    """A script that leaves a child behind (ignoring SIGTERM): the supervisor exits only after
    killing it, with the script's own exit code."""
    t0 = time.monotonic()
    r = _supervise("sh", "-c", "trap '' TERM; sleep 300 & echo $!; exit 0", grace=0.5)
    took = time.monotonic() - t0
    assert r.returncode == 0 and took < 10
    left = int(r.stdout.split()[-1]) if r.stdout.split()[-1].isdigit() else None
    assert left is None or not pid_alive(left)


def test_supervisor_notices_its_dispatcher_dying(tmp_path: Path) -> None:
    """The dispatcher's end of the pipe closes when it dies in any way (here a parent killed with
    SIGKILL): the supervisor stops the agent's group."""
    pidfile = tmp_path / "agent.pid"
    parent = (
        "import os, subprocess, sys, time\n"
        "r, w = os.pipe()\n"
        f"p = subprocess.Popen([sys.executable, '-I', {str(SUPERVISOR)!r}, '--grace', '0.5', '--parent-fd', str(r),\n"
        "    '--', 'sh', '-c', 'trap \"\" TERM; echo $$ > " + str(pidfile) + "; while :; do sleep 0.05; done'],\n"
        "    pass_fds=(r,), stdout=subprocess.PIPE, start_new_session=True)\n"
        "print(p.stdout.readline().decode().strip(), p.pid, flush=True)\n"
        "time.sleep(300)\n")
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    assert line[0] == "started"
    agent, sup = int(line[1]), int(line[2])
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="agent up")
    assert pid_alive(agent)
    proc.kill()
    proc.wait()
    wait_for(lambda: not pid_alive(agent) and not pid_alive(sup), timeout=10, what="agent and supervisor gone")


# ---------------------------------------------------------------------------------- run locks

@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=30))
def test_run_lock_has_at_most_one_holder(tmp_path_factory: pytest.TempPathFactory,
                                         ops: list[tuple[int, bool]]) -> None:
    """Holders (separate descriptors, as separate processes would have) acquire and release in any
    order: a lock is granted exactly when nobody holds it, and ``busy`` says so."""
    d = tmp_path_factory.mktemp("locks")
    held: dict[int, RunLock] = {}
    for who, acquire in ops:
        if acquire:
            lk = RunLock.try_acquire(d, "abc")
            if held:
                assert lk is None
            else:
                assert lk is not None
                held[who] = lk
        elif who in held:
            held.pop(who).release()
        assert RunLock.busy(d, "abc") == bool(held)
    for lk in held.values():
        lk.release()
    assert not any(d.iterdir())  # the last holder removes the file


def test_run_lock_survives_its_file_being_replaced(tmp_path: Path) -> None:
    """The file is removed by its last holder; one who opened it just before must not think it
    holds the lock of the new file."""
    a = RunLock.try_acquire(tmp_path, "x")
    assert a is not None
    stale = os.open(tmp_path / "x.lock", os.O_RDWR)  # opened before a lets go
    a.release()
    b = RunLock.try_acquire(tmp_path, "x")
    assert b is not None and RunLock.try_acquire(tmp_path, "x") is None
    import fcntl

    fcntl.flock(stale, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old inode: free, but no longer the lock
    assert RunLock.busy(tmp_path, "x")
    os.close(stale)
    b.release()
