"""An issue the agents cannot finish no longer pauses the pool (field defect 8): its failed runs
back off per issue, exponentially, as recorded on the issue itself (so every dispatcher sharing
the hub sees it); past a limit the issue is parked, visible with its reason in `jit query
blocked` and `jit status`, until a person un-parks it; and a circuit breaker opens for an
agent's failures, not for a poison issue's."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

from conftest import Jit, run_jit
from dispatchlib import agent_cmd, events_of, records, wait_for, write_config
from synclib import hub_and_clones

from gitjit.app.tracker import Tracker
from gitjit.core.model import parse_ts
from gitjit.dispatch.config import load_config
from gitjit.dispatch.engine import Dispatcher


def _poison(t: Tracker, title: str = "needs a person's review") -> str:
    """A ready issue no agent can finish: its (manual) gate is pending, so 'done' is refused."""
    return t.create_issue(title, gates=["review"])["id"]


def _starts(rec: Path, iid: str) -> list[float]:
    return [r["t"] for r in records(rec) if r["event"] == "start" and r["issue"] == iid]


def test_a_poison_issue_backs_off_then_parks_and_good_work_goes_on(tmp_path: Path, tracker: Tracker,
                                                                  repo: Path) -> None:
    bad = _poison(tracker)
    good = [tracker.create_issue(f"good {i}", priority="low")["id"] for i in range(6)]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], failure_threshold=2, backoff_secs=0.5,
                       park_after_failures=3, agents=[
                           {"id": "a", "command": agent_cmd("--record", str(rec))},
                           {"id": "b", "command": agent_cmd("--record", str(rec))}])
    logs: list[dict[str, Any]] = []
    d = Dispatcher(load_config(cfg), log=logs.append)

    def settled() -> bool:
        b = tracker.board(fresh=True)
        return all(b.states[i] == "done" for i in good) and b.issues[bad].parked is not None

    totals = d.run(until=settled)
    starts = _starts(rec, bad)
    assert len(starts) == 3  # parked on its third failed run in a row
    gaps = [b - a for a, b in pairwise(starts)]
    assert gaps[0] >= 0.5 and gaps[1] >= 1.0, gaps  # 0.5 s, then 1 s: exponential, per issue
    assert not d.breakers.is_open("a") and not d.breakers.is_open("b"), d.breakers.snapshot()
    assert totals["parked"] == 1 and totals["finished"] == 6

    rel = events_of(tracker, bad, "issue_released")
    assert len(rel) == 3 and all(e["retry_after"].endswith("+00:00") for e in rel)
    for e in rel:  # each release says when the issue may run again: its backoff from that moment
        wait = (parse_ts(e["retry_after"]) - parse_ts(e["timestamp"])).total_seconds()
        assert 0.4 < wait < 5, wait
    (parked,) = events_of(tracker, bad, "issue_parked")
    assert parked["reason"].startswith("3 failed runs in a row; the last: ") and "exited with code 1" in parked["reason"]
    assert [x["event"] for x in logs].count("issue_parked") == 1

    # visible, with the reason, where people look: the blocked list (fast path and full CLI) and status
    out = run_jit("query", "blocked", "--json", cwd=repo)
    (item,) = json.loads(out.stdout)["issues"]
    assert item["id"] == bad and item["state"] == "open"
    (why,) = item["blocked_reasons"]
    assert why["type"] == "parked" and why["reason"] == parked["reason"] and why["by"] == d.actor
    human = run_jit("query", "blocked", cwd=repo).stdout
    assert f"blocked: parked by {d.actor} since " in human and "3 failed runs in a row" in human
    status = json.loads(run_jit("status", "--json", cwd=repo).stdout)
    assert status["blocked"] == 1 and [p["id"] for p in status["parked"]] == [bad]
    assert "jit issue unpark ID" in run_jit("status", cwd=repo).stdout
    st = tracker.board(fresh=True).issues[bad]
    assert (st.failures, st.parked is not None) == (3, True)

    # a person un-parks it: no backoff left, the next dispatcher pass runs it again at once
    r = run_jit("issue", "unpark", bad[:6], "--reason", "gate explained", cwd=repo)
    assert r.returncode == 0, r.stderr
    st = tracker.board(fresh=True).issues[bad]
    assert (st.failures, st.retry_after, st.parked) == (0, None, None)
    d2 = Dispatcher(load_config(cfg))
    d2.open()
    try:
        rep = d2.cycle()
        assert [c["issue_id"] for c in rep["claimed"]] == [bad]
    finally:
        d2.request_stop("release")
        d2.close()


def test_two_poison_issues_never_starve_good_work_even_without_breakers(tmp_path: Path, tracker: Tracker,
                                                                       repo: Path) -> None:
    """failure_threshold = 0 (no breaker): two issues that always fail used to loop every ~0.5 s
    forever and starve the rest; now each backs off and parks, and all good work is done."""
    bad = [_poison(tracker, f"poison {i}") for i in range(2)]
    for i in range(2):  # the poison is the most urgent work: it is tried first whenever it may be
        tracker.update_issue(bad[i], priority="critical")
    good = [tracker.create_issue(f"good {i}")["id"] for i in range(12)]
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], failure_threshold=0, backoff_secs=0.3,
                       park_after_failures=4, agents=[
                           {"id": "w", "command": agent_cmd("--record", str(rec)), "max_concurrent": 2}])
    d = Dispatcher(load_config(cfg))

    def settled() -> bool:
        b = tracker.board(fresh=True)
        return all(b.states[i] == "done" for i in good) and all(b.issues[i].parked for i in bad)

    d.run(until=settled)
    for i in bad:
        assert len(_starts(rec, i)) == 4
    assert len([r for r in records(rec) if r["event"] == "start"]) == 12 + 8


def test_the_backoff_is_on_the_issue_so_every_dispatcher_respects_it(tmp_path: Path) -> None:
    """Dispatcher m-a's agent fails an issue; dispatcher m-b, on another clone of the hub, does not
    start it until its backoff has passed (nor do the breakers hear of it twice)."""
    _, (a, b) = hub_and_clones(tmp_path, 2)
    ta = Tracker(a, actor="lead")
    bad = _poison(ta)
    ta.push("origin")
    rec = tmp_path / "rec.jsonl"
    common: dict[str, Any] = {"backoff_secs": 3600, "park_after_failures": 0}
    cfg_a = write_config(tmp_path / "a.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a", **common,
                         agents=[{"id": "w", "command": agent_cmd("--record", str(rec))}])
    cfg_b = write_config(tmp_path / "b.toml", repos=[{"path": str(b), "hub": "origin"}], id="m-b", **common,
                         agents=[{"id": "w", "command": agent_cmd("--record", str(rec))}])
    da = Dispatcher(load_config(cfg_a))
    da.run(once=True)
    assert len(_starts(rec, bad)) == 1
    db = Dispatcher(load_config(cfg_b))
    db.open()
    try:
        rep = db.cycle()
        assert rep["claimed"] == [] and rep["backing_off"] == 1
        st = Tracker(b).board(fresh=True).issues[bad]
        assert st.failures == 1 and st.retry_after and st.state == "open"
        # a person clears it (on the hub's side of things: another clone), and m-b takes it at once
        Tracker(a, actor="human:lead").unpark(bad)
        Tracker(a).push("origin")
        rep = db.cycle()
        assert [c["issue_id"] for c in rep["claimed"]] == [bad]
        wait_for(lambda: db.cycle() is not None and not db.pool.runs, what="m-b's run to end")
    finally:
        db.request_stop("release")
        db.close()
    assert len(_starts(rec, bad)) == 2
    # m-b's agent failed it too, but the issue had failed before (it was unparked: fresh start), so
    # the breaker of m-b's agent counted it once; m-a's agent failed it first: counted once too
    assert db.breakers.get("w")["failures"] == 1 and da.breakers.get("w")["failures"] == 1


def test_breaker_counts_an_agents_failures_not_a_poison_issues(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    """One agent, one poison issue failing again and again: the agent is not paused for it. The
    same agent failing on several fresh issues is (that is what a breaker is for)."""
    bad = _poison(tracker)
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], failure_threshold=2, backoff_secs=0.1,
                       park_after_failures=4, agents=[{"id": "w", "command": agent_cmd("--record", str(rec))}])
    d = Dispatcher(load_config(cfg))
    d.run(until=lambda: tracker.board(fresh=True).issues[bad].parked is not None)
    assert len(_starts(rec, bad)) == 4
    br = d.breakers.get("w")
    assert br["failures"] == 1 and not br.get("open"), br  # only its first failure counted
    assert br["last_failure_counted"] is False and "exited with code 1" in br["last_failure"]
    from test_dispatch_config import dispatch_cli

    (ag,) = json.loads(dispatch_cli("status", "--config", str(cfg), "--json", cwd=tmp_path).stdout)["agents"]
    assert (ag["paused"], ag["consecutive_failures"], ag["last_failure_counted"]) == (False, 1, False)


# ---------------------------------------------------------------------------------- by hand

def test_park_and_unpark_by_hand(jit: Jit, repo: Path) -> None:
    iid = jit.json("issue", "create", "-t", "hold it")["id"]
    other = jit.json("issue", "create", "-t", "free")["id"]
    r = jit("issue", "park", iid[:6], "waits for a decision")
    assert r.exit_code == 0 and f"un-park it with: jit issue unpark {iid[:8]}" in r.stdout
    shown = jit.json("issue", "show", iid)
    assert shown["state"] == "open" and shown["blocked_reasons"][0]["type"] == "parked"
    assert [i["id"] for i in jit.json("query", "ready")["issues"]] == [other]
    assert [i["id"] for i in jit.json("query", "blocked")["issues"]] == [iid]

    # claiming it (or starting it) is refused, and says how to un-park it; nothing is written
    before = jit.json("events", "query", "--issue", iid)
    r = jit("issue", "claim", iid, "agent:x", "--json")
    err = json.loads(r.stdout)["error"]
    assert r.exit_code == 4 and err["code"] == "BLOCKED" and "parked by agent:test: waits for a decision" in \
        err["message"] and err["hint"] == f"un-park it first: jit issue unpark {iid[:8]}"
    r = jit("issue", "update", iid, "--state", "in_progress")
    assert r.exit_code == 4 and "jit issue unpark" in r.stderr
    assert jit.json("events", "query", "--issue", iid) == before
    assert "already" not in jit("issue", "park", iid, "waits for a decision").stderr  # same reason: no-op
    assert jit.json("events", "query", "--issue", iid) == before

    assert jit("issue", "unpark", iid).exit_code == 0
    assert jit.json("issue", "show", iid)["blocked_reasons"] == []
    n = len(jit.json("events", "query", "--issue", iid))
    assert jit("issue", "unpark", iid).exit_code == 0  # not parked: nothing to write
    assert len(jit.json("events", "query", "--issue", iid)) == n

    # parked work can still be finished by hand, which clears the parking
    jit("issue", "park", iid, "again")
    assert jit("issue", "update", iid, "--state", "done").exit_code == 0
    assert jit.json("status")["parked"] == []


def test_park_refuses_what_cannot_be_parked(jit: Jit) -> None:
    iid = jit.json("issue", "create", "-t", "t")["id"]
    r = jit("issue", "park", iid, "", "--json")
    err = json.loads(r.stdout)["error"]
    assert r.exit_code == 2 and err["code"] == "INVALID_ARGUMENT" and "give a reason" in err["message"] and err["hint"]
    jit("issue", "claim", iid, "agent:x")
    r = jit("issue", "park", iid, "stop", "--json")
    err = json.loads(r.stdout)["error"]
    assert r.exit_code == 4 and "release it first" in err["message"]
    jit("issue", "update", iid, "--state", "done")
    r = jit("issue", "park", iid, "stop")
    assert r.exit_code == 4 and "only unfinished work can be parked" in r.stderr
    r = jit("issue", "unpark", "ffffffffffff", "--json")
    assert r.exit_code == 3
