"""Dispatchers on several machines (clones) sharing one hub: real processes, real git."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from dispatchlib import agent_cmd, pid_alive, records, start_dispatcher, stop, wait_for, write_config
from synclib import hub_and_clones

from gitjit.app.tracker import Tracker
from gitjit.dispatch.config import load_config
from gitjit.store.indexboard import IndexBoard, Issues

pytestmark = pytest.mark.slow


def hub_states(hub: Path) -> dict[str, str]:
    b = Tracker(hub).board(fresh=True)
    return {i: b.states[i] for i in b.issues}


def test_two_dispatchers_race_and_each_issue_runs_exactly_once(tmp_path: Path) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    two_dispatchers(tmp_path, hub, a, b)


def two_dispatchers(tmp_path: Path, hub: Path, a: Path, b: Path, *, issues: int = 12) -> None:
    """Two dispatchers, on clones ``a`` and ``b`` of ``hub``, race for the same work (also run over
    real servers by tests/test_transports.py; the client environment is this process's)."""
    lead = Tracker(a, actor="lead")
    ids = [lead.create_issue(f"task {i}", priority=["low", "normal", "high"][i % 3])["id"] for i in range(issues)]
    # a dependency chain: the last two only become ready when earlier work is done on either machine
    lead.add_dependency(ids[-2], [ids[0], ids[1]])
    lead.add_dependency(ids[-1], [ids[-2]])
    lead.push("origin")
    Tracker(b).pull("origin")
    rec = tmp_path / "rec.jsonl"
    # the agents hold their first issues until both machines have started one: on a slow machine one
    # dispatcher could otherwise finish everything before the other's first cycle (each holds at most
    # 3 at a time, so the other always finds ready work)
    go = tmp_path / "go"
    procs = []
    for name, clone in (("a", a), ("b", b)):
        cfg = write_config(tmp_path / f"{name}.toml", repos=[{"path": str(clone), "hub": "origin"}], id=f"m-{name}",
                           poll_interval_secs=0.2, agents=[
                               {"id": "w1", "command": agent_cmd("--record", str(rec), "--sleep", "0.1",
                                                                 "--wait-file", str(go)),
                                "max_concurrent": 3}])
        procs.append(start_dispatcher(cfg))
    try:
        try:
            wait_for(lambda: {r["dispatcher"] for r in records(rec) if r["event"] == "start"} == {"m-a", "m-b"},
                     timeout=120, step=0.2, what="both machines to start an agent")
        finally:
            go.touch()
        wait_for(lambda: set(hub_states(hub).values()) == {"done"}, timeout=120, step=0.3,
                 what="every issue done on the hub")
    finally:
        outs = [stop(p) for p in procs]
    starts = [r for r in records(rec) if r["event"] == "start"]
    ran = sorted(r["issue"] for r in starts)
    assert ran == sorted(ids), "\n".join(o[1][-2000:] for o in outs)  # each issue exactly once
    by = {r["dispatcher"] for r in starts}
    assert by == {"m-a", "m-b"}, by  # both machines took part
    # the hub's history agrees: one effective claim per issue, no claim conflict anywhere
    hubt = Tracker(hub)
    for iid in ids:
        claims = [e for e in hubt.events(issue=iid) if e["type"] == "issue_claimed"]
        assert len(claims) == 1, (iid, claims)
        assert not hubt.board().issues[iid].conflicts


def test_killed_dispatcher_work_is_reclaimed_after_its_lease_lapses(tmp_path: Path) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    t = Tracker(a, actor="lead")
    iid = t.create_issue("outlive a crash")["id"]
    t.push("origin")
    rec = tmp_path / "rec.jsonl"
    marks = tmp_path / "marks"
    marks.mkdir()
    common = dict(poll_interval_secs=0.2, lease_secs=3, lease_grace_secs=0.5)
    cfg_a = write_config(tmp_path / "a.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a", **common,
                         agents=[{"id": "w", "command": agent_cmd("--record", str(rec), "--forever")}])
    pa = start_dispatcher(cfg_a)
    try:
        first = wait_for(lambda: [r for r in records(rec) if r["event"] == "start"], timeout=60)[0]
        assert first["dispatcher"] == "m-a"
        wait_for(lambda: Tracker(hub).board(fresh=True).issues[iid].assignee == "agent:w@m-a", timeout=30)
    finally:
        pa.send_signal(signal.SIGKILL)  # the machine dies: no release, no more renewals
        pa.communicate()
    # its agent is stopped too (by its supervisor), so it cannot keep working unsupervised
    wait_for(lambda: not pid_alive(first["pid"]), timeout=10, what="orphaned agent to exit")

    cfg_b = write_config(tmp_path / "b.toml", repos=[{"path": str(b), "hub": "origin"}], id="m-b", **common,
                         agents=[{"id": "w", "command": agent_cmd("--record", str(rec))}])
    pb = start_dispatcher(cfg_b)
    try:
        wait_for(lambda: hub_states(hub)[iid] == "done", timeout=60, step=0.3, what="reclaimed work done")
    finally:
        _, err = stop(pb)
    hubt = Tracker(hub)
    rel = [e for e in hubt.events(issue=iid) if e["type"] == "issue_released"]
    assert [(e["reason"], e["assignee"]) for e in rel] == [("timeout", "agent:w@m-a")], err[-2000:]
    # the release came only after the lease (as last renewed by m-a), plus the grace, ran out
    from gitjit.dispatch.agents import lease_until

    leases = [e["expires_at"] for e in hubt.events(issue=iid)
              if e["type"] in ("issue_claimed", "lease_renewed") and e["assignee"] == "agent:w@m-a"]
    assert rel[0]["timestamp"] > lease_until(max(leases), 0.5)
    starts = [(r["dispatcher"], r["issue"]) for r in records(rec) if r["event"] == "start"]
    assert starts == [("m-a", iid), ("m-b", iid)]
    assert hubt.board().issues[iid].assignee == "agent:w@m-b"


def test_restarted_dispatcher_releases_its_orphans_at_once(tmp_path: Path) -> None:
    hub, (a,) = hub_and_clones(tmp_path, 1)
    t = Tracker(a, actor="lead")
    iid = t.create_issue("resume me")["id"]
    t.push("origin")
    rec = tmp_path / "rec.jsonl"
    marks = tmp_path / "marks"
    marks.mkdir()
    cfg = write_config(tmp_path / "a.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a",
                       poll_interval_secs=0.2, lease_secs=600, agents=[
                           {"id": "w", "command": agent_cmd("--record", str(rec), "--once-file-dir", str(marks))}])
    p = start_dispatcher(cfg)
    try:
        wait_for(lambda: [r for r in records(rec) if r["event"] == "start"], timeout=60)
        wait_for(lambda: Tracker(hub).board(fresh=True).issues[iid].assignee == "agent:w@m-a", timeout=30)
    finally:
        p.send_signal(signal.SIGKILL)
        p.communicate()
    # a 10-minute lease would strand the issue that long; the same dispatcher, restarted, knows better
    p = start_dispatcher(cfg)
    try:
        wait_for(lambda: hub_states(hub)[iid] == "done", timeout=60, step=0.3)
    finally:
        stop(p)
    rel = [e for e in Tracker(hub).events(issue=iid) if e["type"] == "issue_released"]
    assert len(rel) == 1 and rel[0]["reason"].startswith("orphaned: dispatcher m-a")


def test_repo_by_url_is_cloned_into_the_cache(tmp_path: Path) -> None:
    hub, (a,) = hub_and_clones(tmp_path, 1)
    t = Tracker(a, actor="lead")
    iid = t.create_issue("from afar")["id"]
    t.push("origin")
    cfg = write_config(tmp_path / "d.toml", repos=[{"url": f"file://{hub}", "name": "remote-one"}],
                       agents=[{"id": "w", "command": agent_cmd()}])
    from gitjit.dispatch.engine import Dispatcher

    totals = Dispatcher(load_config(cfg)).run(once=True)
    assert totals["finished"] == 1
    assert hub_states(hub)[iid] == "done"
    assert (tmp_path / ".jit-dispatch" / "d" / "repos" / "remote-one").is_dir()


def test_cli_detach_status_agents_stop(tmp_path: Path) -> None:
    from test_dispatch_config import dispatch_cli

    hub, (a,) = hub_and_clones(tmp_path, 1)
    t = Tracker(a, actor="lead")
    iid = t.create_issue("watch me")["id"]
    t.push("origin")
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a",
                       on_stop="release", agents=[{"id": "w", "command": agent_cmd("--record", str(rec), "--forever"),
                                                   "max_concurrent": 2}])
    r = dispatch_cli("start", "--detach", "--config", str(cfg), "--json", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    pid = json.loads(r.stdout)["pid"]
    try:
        wait_for(lambda: records(rec), timeout=60)
        r = dispatch_cli("start", "--detach", "--config", str(cfg), cwd=tmp_path)
        assert r.exit_code == 9  # one dispatcher per configuration
        st = wait_for(lambda: (s := json.loads(dispatch_cli("status", "--config", str(cfg), "--json",
                                                            cwd=tmp_path).stdout))["agents"][0]["running"] == 1
                      and s, timeout=30)
        assert st["running"] is True and st["pid"] == pid and st["id"] == "m-a"
        assert st["agents"][0]["issues"] == [iid]
        human = dispatch_cli("status", "--config", str(cfg), cwd=tmp_path).stdout
        assert "running (pid" in human and "1/2 running" in human
        for k in range(20):  # issues nobody holds (rejected: not for the running dispatcher either):
            t.update_issue(t.create_issue(f"idle {k}")["id"], state="rejected")  # 'agents' must not read them
        loaded: list[str] = []
        with pytest.MonkeyPatch.context() as mp:
            state = IndexBoard._state
            mp.setattr(IndexBoard, "_state", lambda self, iid: loaded.append(iid) or state(self, iid))
            mp.setattr(Issues, "_load_all", lambda self: pytest.fail("'jit-dispatch agents' loaded every issue"))
            ag = json.loads(dispatch_cli("agents", "--config", str(cfg), "--json", cwd=tmp_path).stdout)
        assert set(loaded) == {iid}, len(loaded)
        (h,) = ag["agents"][0]["holds"]
        assert h["issue_id"] == iid and h["assignee"] == "agent:w@m-a" and h["pid"] == records(rec)[0]["pid"]
        assert h["since"] and h["lease_expires_at"] > h["since"]
    finally:
        r = dispatch_cli("stop", "--config", str(cfg), "--json", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["stopped"] is True
    wait_for(lambda: not pid_alive(pid), timeout=10, what="dispatcher process to exit")  # lock freed just before
    st = json.loads(dispatch_cli("status", "--config", str(cfg), "--json", cwd=tmp_path).stdout)
    assert st["running"] is False
    # on_stop = release: the work went back to the queue, and the hub heard of it before the exit
    assert hub_states(hub)[iid] == "ready"
    r = dispatch_cli("stop", "--config", str(cfg), cwd=tmp_path)
    assert r.exit_code == 0 and "No dispatcher is running" in r.output
    assert os.path.exists(tmp_path / ".jit-dispatch" / "d" / "dispatcher.log")


def test_lease_renewals_cost_one_push_per_round_whatever_the_number_of_agents(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/dispatch.md "What renewal costs": a round's claims go out in one push, and all running
    agents' leases in one push per round."""
    from gitjit.dispatch.engine import Dispatcher
    from gitjit.store.sync import Syncer

    hub, (a,) = hub_and_clones(tmp_path, 1)
    t = Tracker(a, actor="lead")
    ids = [t.create_issue(f"long task {i}")["id"] for i in range(3)]
    t.push("origin")
    pushes: list[list[str]] = []
    real = Syncer.push_batch

    def counting(self, remote, updates, **kw):  # type: ignore[no-untyped-def]
        pushes.append(sorted(ref for ref, _, _ in updates))
        return real(self, remote, updates, **kw)

    monkeypatch.setattr(Syncer, "push_batch", counting)
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a", lease_secs=1.5,
                       poll_interval_secs=0.1, agents=[{"id": "w", "command": agent_cmd("--sleep", "3"),
                                                        "max_concurrent": 3}])
    d = Dispatcher(load_config(cfg))
    totals = d.run(once=True)
    assert totals["claimed"] == 3 and totals["finished"] == 3
    renewed = totals["renewed"]
    assert renewed >= 12  # 3 agents x 3 s, renewed every 0.5 s
    every = sorted(f"refs/jit/issues/{i}" for i in ids)
    together = [p for p in pushes if p == every]
    # one push carried all three claims, then all three renewals per round: pushes grow with
    # rounds, not with agents
    assert pushes[0] == every, pushes
    assert len(together) >= renewed // 3 - 1 + 1, pushes
    assert len(pushes) <= 1 + -(-renewed // 3) + 3, pushes  # claims + rounds + results
    hubt = Tracker(hub)
    assert all(hubt.board(fresh=True).states[i] == "done" for i in ids)


def test_sigterm_lets_the_agent_finish_and_the_hub_hears_of_it(tmp_path: Path) -> None:
    hub, (a,) = hub_and_clones(tmp_path, 1)
    t = Tracker(a, actor="lead")
    iid = t.create_issue("finish me")["id"]
    waiting = t.create_issue("not started after the signal", priority="low")["id"]
    t.push("origin")
    rec = tmp_path / "rec.jsonl"
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a",
                       poll_interval_secs=0.2, agents=[{"id": "w", "command": agent_cmd("--record", str(rec),
                                                                                      "--sleep", "1.5")}])
    p = start_dispatcher(cfg)
    wait_for(lambda: records(rec), timeout=60)
    p.send_signal(signal.SIGTERM)  # on_stop = "finish" (the default)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err[-2000:]
    assert [r["event"] for r in records(rec)] == ["start", "end"]
    assert hub_states(hub) == {iid: "done", waiting: "ready"}  # the result was pushed before the exit
    assert "letting agents finish" in err
