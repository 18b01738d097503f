"""The dispatch cycle with real agent processes on real repositories (no hub: local claims)."""

from __future__ import annotations

import json
import os
import signal
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dispatchlib import agent_cmd, events_of, pid_alive, records, wait_for, write_config

from gitjit.app.tracker import Tracker
from gitjit.core.model import IssueState
from gitjit.dispatch.config import load_config
from gitjit.dispatch.engine import Dispatcher, effective_rank, issue_tags


def run(cfg_path: Path, *, until: Any = None, once: bool = False, timeout: float = 60) -> tuple[dict, list]:
    logs: list[dict[str, Any]] = []
    d = Dispatcher(load_config(cfg_path), log=logs.append)
    deadline = datetime.now() + timedelta(seconds=timeout)

    def stop_when() -> bool:
        if datetime.now() > deadline:
            raise AssertionError("dispatcher test ran too long: " + json.dumps(logs[-5:]))
        return bool(until and until())

    totals = d.run(once=once, until=stop_when if not once else None)
    return totals, logs


def all_done(t: Tracker) -> Any:
    return lambda: all(st.state == "done" for st in t.board(fresh=True).issues.values())


def test_capacity_is_respected_under_load(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    for i in range(8):
        tracker.create_issue(f"task {i}")
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "pair", "command": agent_cmd("--record", str(rec), "--sleep", "0.6"), "max_concurrent": 2},
        {"id": "solo", "command": agent_cmd("--record", str(rec), "--sleep", "0.6"), "capacity": 1},
    ])
    totals, _ = run(cfg, until=all_done(tracker))
    assert totals["claimed"] == 8 and totals["finished"] == 8 and totals["failed"] == 0
    rs = records(rec)
    starts = {r["issue"]: r["t"] for r in rs if r["event"] == "start"}
    ends = {r["issue"]: r["t"] for r in rs if r["event"] == "end"}
    assert len(starts) == 8 and starts.keys() == ends.keys()
    by_agent: dict[str, list[str]] = {}
    for r in rs:
        if r["event"] == "start":
            by_agent.setdefault(r["agent"], []).append(r["issue"])

    def peak(issues: list[str]) -> int:
        points = sorted([(starts[i], 1) for i in issues] + [(ends[i], -1) for i in issues])
        cur = best = 0
        for _, d in points:
            cur += d
            best = max(best, cur)
        return best

    assert peak(by_agent["pair"]) == 2  # used its capacity...
    assert peak(by_agent["solo"]) == 1  # ...and never more
    assert peak(list(starts)) <= 3
    for iid in starts:
        st = tracker.board(fresh=True).issues[iid]
        assert st.assignee.split("@")[0] in ("agent:pair", "agent:solo")


def test_tags_route_work_to_matching_agents(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    gpu = tracker.create_issue("train model", context={"tags": ["train"]})["id"]
    sec = tracker.create_issue("audit deps", labels=["tag:security"])["id"]
    build = tracker.create_issue("build it", context={"tags": "build,test"})["id"]
    plain = tracker.create_issue("write docs")["id"]
    nobody = tracker.create_issue("quantum stuff", context={"tags": ["quantum"]})["id"]
    team = tracker.create_issue("frontend bug", labels=["team:web"])["id"]
    rec = tmp_path / "rec.jsonl"
    cmd = agent_cmd("--record", str(rec))
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "fast-cpu", "command": cmd, "tags": ["build", "test"], "max_concurrent": 3},
        {"id": "gpu-runner", "command": cmd, "tags": ["train", "inference"]},
        {"id": "security-scanner", "command": cmd, "tags": ["security", "audit"]},
        {"id": "web", "command": cmd, "tags": ["team:web"]},
        {"id": "default", "command": cmd, "max_concurrent": 3},
    ])
    targets = {gpu, sec, build, plain, team, nobody}
    run(cfg, until=lambda: all(tracker.board(fresh=True).issues[i].state == "done" for i in targets))
    ran = {r["issue"]: r["agent"] for r in records(rec) if r["event"] == "start"}
    # specialists get what they offer; the generalist gets untagged work and, as pattern 3's
    # default worker, tagged work nobody offers ("quantum")
    assert ran == {gpu: "gpu-runner", sec: "security-scanner", build: "fast-cpu", plain: "default", team: "web",
                   nobody: "default"}


def test_specialists_never_take_untagged_work_and_tagged_work_waits_for_them(tmp_path: Path, tracker: Tracker,
                                                                             repo: Path) -> None:
    gpu = tracker.create_issue("train", context={"tags": ["gpu"]})["id"]
    plain = tracker.create_issue("docs")["id"]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "gpu", "command": agent_cmd("--record", str(rec)), "tags": ["gpu"], "max_concurrent": 2},
        {"id": "any", "command": agent_cmd("--record", str(rec), "--sleep", "1"), "max_concurrent": 1},
    ])
    blocker = tracker.create_issue("occupies the generalist", priority="critical")["id"]
    run(cfg, until=lambda: all(tracker.board(fresh=True).issues[i].state == "done" for i in (gpu, plain, blocker)))
    ran = {r["issue"]: r["agent"] for r in records(rec) if r["event"] == "start"}
    # the gpu agent had a free slot while "any" was busy, yet the untagged issue waited for "any"
    assert ran == {gpu: "gpu", plain: "any", blocker: "any"}


def test_issue_tags_and_pick_prefers_specialists() -> None:
    st = IssueState(id="a" * 12, context={"tags": ["gpu", 3]}, labels=["tag:cuda", "type:task"])
    assert issue_tags(st) == {"gpu", "cuda"}
    assert issue_tags(IssueState(id="b" * 12, context={"tags": "x, y"})) == {"x", "y"}
    assert issue_tags(IssueState(id="c" * 12, labels=["team:web"])) == set()


def test_priority_then_age_with_escalation(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    order = [("low one", "low"), ("normal old", "normal"), ("critical", "critical"), ("high", "high"),
             ("normal new", "normal")]
    ids = {title: tracker.create_issue(title, priority=p)["id"] for title, p in order}
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "one", "command": agent_cmd("--record", str(rec)), "max_concurrent": 1}])
    run(cfg, until=all_done(tracker))
    ran = [r["title"] for r in records(rec) if r["event"] == "start"]
    assert ran == ["critical", "high", "normal old", "normal new", "low one"]
    assert len(set(ids.values())) == 5

    # escalation: one level per escalation_hours of waiting, never up to critical
    now = datetime(2026, 1, 10)

    def st(p: str, hours: float) -> IssueState:
        return IssueState(id="d" * 12, priority=p, created_at=(now - timedelta(hours=hours)).isoformat())

    assert effective_rank(st("low", 1), now, 24) == 3
    assert effective_rank(st("low", 25), now, 24) == 2
    assert effective_rank(st("low", 100), now, 24) == 1
    assert effective_rank(st("normal", 1000), now, 24) == 1
    assert effective_rank(st("critical", 0), now, 24) == 0
    assert effective_rank(st("low", 1000), now, 0) == 3  # 0 turns it off


def test_failure_releases_with_reason_and_retry_relaunches(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("flaky")["id"]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], failure_threshold=0, agents=[
        {"id": "bad", "command": agent_cmd("--record", str(rec), "--exit", "5"), "on_failure": "retry",
         "max_retries": 2}])
    totals, logs = run(cfg, once=True)
    assert totals["claimed"] == 1 and totals["retried"] == 2 and totals["failed"] == 3
    starts = [r for r in records(rec) if r["event"] == "start"]
    assert [r["attempt"] for r in starts] == ["1", "2", "3"]
    rel = events_of(tracker, a, "issue_released")
    assert len(rel) == 1  # kept through the retries, released once after the last
    assert rel[0]["reason"] == "bad exited with code 5 without finishing"
    st = tracker.board(fresh=True)
    assert st.states[a] == "ready" and st.issues[a].assignee is None and st.issues[a].lease_expires_at is None


def test_circuit_breaker_opens_and_reset_resumes(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    from test_dispatch_config import dispatch_cli

    ids = [tracker.create_issue(f"job {i}")["id"] for i in range(3)]
    fixed = tmp_path / "fixed"
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], failure_threshold=2, agents=[
        {"id": "broken", "command": agent_cmd("--record", str(rec), "--fixed-file", str(fixed))}])
    d = Dispatcher(load_config(cfg))
    logs: list[dict[str, Any]] = []
    d._logfn = logs.append
    d.open()
    try:
        wait_for(lambda: d.cycle() and d.breakers.is_open("broken"), what="breaker to open")
        n_runs = len([r for r in records(rec) if r["event"] == "start"])
        assert n_runs == 2
        for _ in range(5):  # paused: no new work, whatever is ready
            assert d.cycle()["claimed"] == []
        assert any(x["event"] == "breaker_open" for x in logs)
        status = json.loads(dispatch_cli("status", "--config", str(cfg), "--json", cwd=tmp_path).stdout)
        (ag,) = status["agents"]
        assert ag["paused"] is True and ag["consecutive_failures"] == 2
        assert "exited with code 3" in ag["last_failure"]
        b = tracker.board(fresh=True)
        assert all(b.states[i] == "ready" for i in ids)  # nothing stranded: failures were released
        released = [e for i in ids for e in events_of(tracker, i, "issue_released")]
        assert len(released) == 2 and all("broken exited with code 3" in e["reason"] for e in released)

        fixed.touch()
        r = dispatch_cli("agent", "reset", "broken", "--config", str(cfg), "--json", cwd=tmp_path)
        assert json.loads(r.stdout) == {"agent": "broken", "was_open": True, "failures_before": 2, "open": False}
        wait_for(lambda: d.cycle() is not None and all(tracker.board(fresh=True).states[i] == "done" for i in ids),
                 what="work to finish after the reset")
    finally:
        d.request_stop("release")
        d.close()
    assert d.breakers.get("broken")["failures"] == 0


def test_killed_agent_is_released_and_redispatched(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("survive a kill")["id"]
    rec = tmp_path / "rec.jsonl"
    marks = tmp_path / "marks"
    marks.mkdir()
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "w", "command": agent_cmd("--record", str(rec), "--once-file-dir", str(marks))}])
    d = Dispatcher(load_config(cfg))
    d.open()
    try:
        d.cycle()
        first = wait_for(lambda: [r for r in records(rec) if r["event"] == "start"], what="agent start")[0]
        os.kill(first["pid"], signal.SIGKILL)
        wait_for(lambda: d.cycle() is not None and tracker.board(fresh=True).issues[a].state == "done",
                 what="second run to finish")
    finally:
        d.request_stop("release")
        d.close()
    rel = events_of(tracker, a, "issue_released")
    assert [e["reason"] for e in rel] == ["w was killed by SIGKILL without finishing"]
    assert len([r for r in records(rec) if r["event"] == "start"]) == 2


def test_sigterm_release_mode_gives_work_back(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("long job")["id"]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], on_stop="release", agents=[
        {"id": "w", "command": agent_cmd("--record", str(rec), "--forever")}])
    d = Dispatcher(load_config(cfg))
    d.open()
    try:
        d.cycle()
        pid = wait_for(lambda: [r for r in records(rec) if r["event"] == "start"])[0]["pid"]
        d.request_stop()  # what SIGTERM does
        wait_for(lambda: d.cycle() is not None and not d.pool.runs, what="agent to stop")
    finally:
        d.close()
    assert not pid_alive(pid)
    st = tracker.board(fresh=True)
    assert st.states[a] == "ready"
    (rel,) = events_of(tracker, a, "issue_released")
    assert rel["reason"].startswith(f"dispatcher {d.id} stopped")


def test_sigterm_finish_mode_lets_agents_finish(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("short job")["id"]
    b = tracker.create_issue("never started")["id"]
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], on_stop="finish", agents=[
        {"id": "w", "command": agent_cmd("--sleep", "0.5")}])
    d = Dispatcher(load_config(cfg))
    d.open()
    try:
        d.cycle()
        d.request_stop()
        wait_for(lambda: d.cycle() is not None and not d.pool.runs, what="agent to finish")
    finally:
        d.close()
    st = tracker.board(fresh=True)
    assert st.states[a] == "done" and st.states[b] == "ready"


def test_lapsed_lease_is_released_as_timeout_and_orphans_at_restart(tmp_path: Path, tracker: Tracker,
                                                                    repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.dispatch.agents import lease_until
    from gitjit.store.indexboard import Issues

    def every_issue(self: Issues) -> Any:
        raise AssertionError("a dispatcher cycle loaded every issue (seconds at 100,000 issues)")

    monkeypatch.setattr(Issues, "_load_all", every_issue)
    from gitjit.core.model import now_ts

    stale = tracker.create_issue("held by a dead machine")["id"]
    fresh = tracker.create_issue("held by a live one")["id"]
    manual = tracker.create_issue("claimed by a person")["id"]
    tracker.claim(stale, "agent:x@elsewhere", lease_expires_at=lease_until(now_ts(), -5))
    tracker.claim(fresh, "agent:y@elsewhere", lease_expires_at=lease_until(now_ts(), 600))
    tracker.claim(manual, "human:alice")
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], lease_grace_secs=1,
                       agents=[])
    d = Dispatcher(load_config(cfg))
    d.open()
    try:
        mine = tracker.create_issue("ours from before a crash")["id"]
        tracker.claim(mine, f"agent:w@{d.id}", lease_expires_at=lease_until(now_ts(), 600))
        rep = d.cycle()
    finally:
        d.close()
    got = {r["issue_id"]: r["reason"] for r in rep["reclaimed"]}
    assert got == {stale: "timeout", mine: f"orphaned: dispatcher {d.id} no longer runs an agent for it"}
    b = tracker.board(fresh=True)
    assert b.issues[fresh].assignee == "agent:y@elsewhere" and b.issues[manual].assignee == "human:alice"
    assert b.states[stale] == "ready"
    (rel,) = events_of(tracker, stale, "issue_released")
    assert rel["reason"] == "timeout" and rel["assignee"] == "agent:x@elsewhere"


def test_lease_is_renewed_while_the_agent_runs(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("slow")["id"]
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], lease_secs=1.5, agents=[
        {"id": "w", "command": agent_cmd("--sleep", "2.5")}])
    totals, _ = run(cfg, once=True)
    assert totals["finished"] == 1 and totals["reclaimed"] == 0 and totals["renewed"] >= 3
    ren = events_of(tracker, a, "lease_renewed")
    assert len(ren) >= 3 and ren == sorted(ren, key=lambda e: e["expires_at"])
    assert tracker.board(fresh=True).issues[a].lease_expires_at is None  # done: no lease any more


def test_launch_failure_counts_and_releases(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("x")["id"]
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], failure_threshold=1, agents=[
        {"id": "ghost", "command": "/nonexistent/agent --flag"}])
    totals, logs = run(cfg, once=True)
    assert totals["failed"] == 1 and totals["finished"] == 0
    (rel,) = events_of(tracker, a, "issue_released")
    assert rel["reason"].startswith("could not start ghost: cannot start agent ghost")
    assert any(x["event"] == "breaker_open" for x in logs)


def test_environment_and_issue_file(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("look around", context={"tags": ["x"]}, labels=["type:task"])["id"]
    out = tmp_path / "env.json"
    script = tmp_path / "agent.py"
    script.write_text(
        "import json, os, sys\n"
        "keys = ['JIT_ISSUE_ID','JIT_REPO','JIT_AGENT','JIT_ASSIGNEE','JIT_ACTOR','JIT_DISPATCHER','JIT_HUB',"
        "'JIT_LEASE_EXPIRES_AT','EXTRA']\n"
        "d = {k: os.environ.get(k) for k in keys}\n"
        "d['issue'] = json.load(open(os.environ['JIT_ISSUE_FILE']))\n"
        "d['cwd'] = os.getcwd()\n"
        f"json.dump(d, open({str(out)!r}, 'w'))\n")
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo), "name": "main"}], agents=[
        {"id": "looker", "type": "script", "command": f"python {script}", "tags": ["x"], "env": {"EXTRA": "yes"},
         "working_dir": str(tmp_path)}])
    run(cfg, once=True)
    d = json.loads(out.read_text())
    c = load_config(cfg)
    assert d["JIT_ISSUE_ID"] == a and d["JIT_REPO"] == str(repo) and d["JIT_AGENT"] == "looker"
    assert d["JIT_ASSIGNEE"] == d["JIT_ACTOR"] == f"script:looker@{c.id}"
    assert d["JIT_DISPATCHER"] == c.id and d["JIT_HUB"] == "" and d["EXTRA"] == "yes"
    assert d["JIT_LEASE_EXPIRES_AT"] > d["issue"]["claimed_at"]
    assert d["issue"]["id"] == a and d["issue"]["repo"] == "main" and d["issue"]["context"] == {"tags": ["x"]}
    assert d["issue"]["state"] == "in_progress" and d["cwd"] == str(tmp_path)


def test_one_dispatcher_per_configuration(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    from gitjit.core.errors import BusyError

    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[])
    d1 = Dispatcher(load_config(cfg))
    d1.open()
    try:
        with pytest.raises(BusyError, match="already running"):
            Dispatcher(load_config(cfg)).open()
    finally:
        d1.close()
    d2 = Dispatcher(load_config(cfg))
    d2.open()
    d2.close()


def test_one_dispatcher_serves_several_repositories(tmp_path: Path) -> None:
    from conftest import make_repo

    back, front = make_repo(tmp_path / "backend"), make_repo(tmp_path / "frontend")
    tb, tf = Tracker(back, actor="lead"), Tracker(front, actor="lead")
    b1 = tb.create_issue("backend normal")["id"]
    f1 = tf.create_issue("frontend critical", priority="critical")["id"]
    b2 = tb.create_issue("backend high", priority="high")["id"]
    f2 = tf.create_issue("frontend, for the web team", priority="low", labels=["team:web"])["id"]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(back)}, {"path": str(front)}], agents=[
        {"id": "any", "command": agent_cmd("--record", str(rec)), "repos": ["backend", "frontend"]},
        {"id": "web", "command": agent_cmd("--record", str(rec)), "repos": ["frontend"], "tags": ["team:web"]},
    ])
    run(cfg, until=lambda: all(t.board(fresh=True).states[i] == "done" for t, i in
                                ((tb, b1), (tb, b2), (tf, f1), (tf, f2))))
    starts = [r for r in records(rec) if r["event"] == "start"]
    # one queue across both repositories: critical (frontend), then high and normal (backend)
    assert [r["issue"] for r in starts if r["agent"] == "any"] == [f1, b2, b1]
    assert [r["issue"] for r in starts if r["agent"] == "web"] == [f2]  # its label, its repository
    assert Tracker(front).show(f2)["assignee"].startswith("agent:web@")


def test_waiting_for_an_index_rebuild_is_logged(tmp_path: Path, tracker: Tracker, repo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A dispatcher held up by another process's long write to a repository's index (a rebuild
    after an upgrade) logs an ``index_wait`` record naming the writer, then carries on."""
    import threading
    import time

    from gitjit.store.index import WRITE_MARK, Index

    tracker.create_issue("work")
    holder = Index(repo / ".git")
    holder.open()
    assert holder.begin(wait=0)
    logs: list[dict] = []
    waited = threading.Event()

    def log(rec: dict) -> None:
        logs.append(rec)
        if rec["event"] == "index_wait":
            waited.set()

    def hold() -> None:  # until the dispatcher says it waits (at most 30 s)
        with holder.long_write():
            waited.wait(30)
        holder.commit()

    behind = Tracker(repo)
    behind.use_index = False
    behind.create_issue("written where the index did not see it")  # the dispatcher must fold it
    real_open = Index.open
    monkeypatch.setattr(Index, "open", lambda self, **kw: real_open(self, **{**kw, "timeout": 0.1}))
    th = threading.Thread(target=hold)
    th.start()
    mark = repo / ".git" / WRITE_MARK
    while not mark.exists():  # the long write has begun (the thread's first step)
        assert th.is_alive()
        time.sleep(0.001)
    try:
        cfg = write_config(tmp_path / "dispatch.toml", repos=[{"path": str(repo)}], agents=[
            {"id": "w", "command": agent_cmd()}])
        totals = Dispatcher(load_config(cfg), log=log).run(once=True)
    finally:
        th.join()
        holder.close()
    waits = [x for x in logs if x["event"] == "index_wait"]
    assert len(waits) == 1 and f"process {os.getpid()}" in waits[0]["message"], logs[:5]
    assert totals["claimed"] == 1 and totals["finished"] == 1, totals  # one pass, one agent slot
