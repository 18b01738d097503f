"""A hub ``claim-next`` builds its claim on the tips it just fetched and pushes it BEFORE anything
local moves (docs/sharing.md, "Claims across machines"): the push is the compare-and-swap, a lost
push leaves nothing claimed here, and the clone converges with the hub once the window is merged
after the push. Step by step in-process, then a property test: racing clones (separate processes)
through a real `git daemon`, with dependencies and local edits the hub has not seen, every issue
won exactly once and each clone agreeing with the hub afterwards."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import daemon_hub
from synclib import hub_and_clones, jit_tips, make_clone, tracker

from gitjit.store import sync as syncmod

PRIORITIES = ["low", "normal", "high", "critical"]


@pytest.fixture
def hub2(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub, clones = hub_and_clones(tmp_path, 2)
    t = tracker(clones[0])
    ids = [t.create_issue(f"task {n}")["id"] for n in range(4)]
    t.push()
    tracker(clones[1]).pull()
    return hub, clones, ids


def _claimed_by(path: Path, agent: str) -> list[str]:
    return sorted(e["issue_id"] for e in tracker(path).events(event_type="issue_claimed") if e["assignee"] == agent)


def test_the_claim_is_pushed_before_the_window_is_merged(hub2, monkeypatch: pytest.MonkeyPatch) -> None:
    """At the push, b's local refs are still where they were before the fetch (a's claim of one issue
    is only in the tracking ref); after it, the window is merged and b's own claim is local too."""
    hub, (a, b), ids = hub2
    tb = tracker(b)
    tb.board()
    took = tracker(a).claim(ids[0], "agent:a", remote="origin")["id"]
    before = jit_tips(b)
    at_push: list[dict[str, str]] = []
    orig = syncmod.Syncer.push_batch

    def spy(self, remote, updates, **kw):  # type: ignore[no-untyped-def]
        at_push.append(jit_tips(b))
        return orig(self, remote, updates, **kw)

    monkeypatch.setattr(syncmod.Syncer, "push_batch", spy)
    got = tb.claim_next("agent:b", remote="origin")
    monkeypatch.undo()
    assert got["assignee"] == "agent:b" and got["id"] != took
    assert len(at_push) == 1
    assert {r: t for r, t in at_push[0].items() if r.startswith("refs/jit/issues/")} == \
        {r: t for r, t in before.items() if r.startswith("refs/jit/issues/")}
    # after: b has a's claim merged and its own at the hub's tip
    hub_tips = jit_tips(hub)
    mine = jit_tips(b)
    for iid in (took, got["id"]):
        assert mine[f"refs/jit/issues/{iid}"] == hub_tips[f"refs/jit/issues/{iid}"]
    assert tracker(b).show(took)["assignee"] == "agent:a"


def test_a_lost_push_leaves_nothing_claimed_here_and_the_next_try_wins(hub2, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, (a, b), _ids = hub2
    tb = tracker(b)
    tb.board()
    orig = syncmod.Syncer.push_batch
    lost: list[str] = []

    def racing(self, remote, updates, **kw):  # type: ignore[no-untyped-def]
        if not lost:
            # between b's fetch and b's push, a claims the very issue b is pushing for
            iid = updates[0][0].rsplit("/", 1)[1]
            lost.append(iid)
            tracker(a).claim(iid, "agent:a", remote="origin")
        return orig(self, remote, updates, **kw)

    monkeypatch.setattr(syncmod.Syncer, "push_batch", racing)
    got = tb.claim_next("agent:b", remote="origin")
    monkeypatch.undo()
    assert got["id"] != lost[0] and got["assignee"] == "agent:b"
    assert _claimed_by(b, "agent:b") == [got["id"]]  # the refused claim commit never became local
    assert tracker(b).show(lost[0])["assignee"] == "agent:a"
    hub_tips = jit_tips(hub)
    assert {r: t for r, t in jit_tips(b).items() if r.startswith("refs/jit/issues/")} == \
        {r: t for r, t in hub_tips.items() if r.startswith("refs/jit/issues/")}


def test_a_local_edit_the_hub_has_not_seen_goes_along_with_the_claim(hub2) -> None:
    """b edited every issue locally without pushing: its claim is built on its own tip (which holds
    the hub's), so the edit reaches the hub with the claim; where the hub moved too, b merges first."""
    hub, (a, b), ids = hub2
    tb = tracker(b)
    for iid in ids:
        tb.update_issue(iid, labels_add=["from:b"])
    tracker(a).update_issue(ids[0], labels_add=["from:a"])  # a diverged copy on the hub
    tracker(a).push()
    got = tracker(b).claim_next("agent:b", remote="origin")
    probe = make_clone(hub.parent / "probe", str(hub))
    tracker(probe).pull()
    shown = tracker(probe).show(got["id"])
    assert shown["assignee"] == "agent:b" and "from:b" in shown["labels"]
    if got["id"] == ids[0]:
        assert "from:a" in shown["labels"]


def test_a_blocker_closed_only_on_the_hub_counts(hub2) -> None:
    """Readiness is decided on the hub's tips: a dependency done there (not yet here) frees its
    dependent, and an edge added there blocks it."""
    _hub, (a, b), ids = hub2
    ta, tb = tracker(a), tracker(b)
    for iid in ids[2:]:
        ta.claim(iid, "agent:a", remote="origin")
    ta.add_dependency(ids[0], [ids[1]])  # ids[0] waits for ids[1]
    ta.push()
    tb.pull()
    ta.add_dependency(ids[1], [ids[2]])  # on the hub only: ids[1] now waits for ids[2], in progress
    ta.push()
    with pytest.raises(Exception) as e:
        tb.claim_next("agent:b", remote="origin")
    assert type(e.value).__name__ == "NoWorkError"
    ta.update_issue(ids[2], state="done")
    ta.push()
    assert tb.claim_next("agent:b", remote="origin")["id"] == ids[1]


# ----------------------------------------------------------------------------- the race, as a property

WORKER = r"""
import contextlib, io, json, os, sys, time
from gitjit.cli import main
repo, agent, barrier = sys.argv[1:4]
open(os.path.join(barrier, agent.replace(":", "_")), "w").close()
while not os.path.exists(os.path.join(barrier, "go")):
    time.sleep(0.005)
won, errors = [], []
while True:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["--repo", repo, "issue", "claim-next", agent, "--remote", "origin", "--json"])
    if rc == 8:
        break
    if rc == 0:
        won.append(json.loads(out.getvalue())["id"])
    else:
        errors.append([rc, out.getvalue()[-500:]])
        if len(errors) > 20:
            break
print(json.dumps({"agent": agent, "won": won, "errors": errors}))
"""


@pytest.mark.slow
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck))
@given(prios=st.lists(st.sampled_from(PRIORITIES), min_size=6, max_size=24),
       edges=st.lists(st.tuples(st.integers(0, 23), st.integers(0, 23)), max_size=6),
       edited=st.lists(st.integers(0, 23), max_size=4),
       workers=st.integers(3, 6))
def test_racing_clones_win_every_issue_once_and_converge(tmp_path_factory: pytest.TempPathFactory, prios: list[str],
                                                          edges: list[tuple[int, int]], edited: list[int],
                                                          workers: int) -> None:
    tmp = tmp_path_factory.mktemp("race")
    with daemon_hub() as hub:
        seed = make_clone(tmp / "seed", hub.url)
        t = tracker(seed, "lead")
        ids = [t.create_issue(f"job {n}", priority=p)["id"] for n, p in enumerate(prios)]
        blocked: set[str] = set()
        for x, y in edges:
            src, dst = ids[x % len(ids)], ids[y % len(ids)]
            if src == dst or dst in blocked or src in blocked:
                continue
            t.add_dependency(src, [dst])  # src waits for dst, which nobody finishes in this race
            blocked.add(src)
        t.push()
        clones = [make_clone(tmp / f"w{k}", hub.url) for k in range(workers)]
        for c in clones:
            tracker(c).pull()
        # a clone's local edits the hub has not seen yet: they must reach the hub with a claim
        for n in edited:
            tracker(clones[0], "agent:0").update_issue(ids[n % len(ids)], labels_add=["edit:local"])
        barrier = tmp / "barrier"
        barrier.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(c), f"agent:{k}", str(barrier)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for k, c in enumerate(clones)]
        deadline = time.monotonic() + 120
        while len(list(barrier.iterdir())) < workers:
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "workers did not start"
            time.sleep(0.01)
        (barrier / "go").touch()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        assert all(not r["errors"] for r in results), results
        won = [(iid, r["agent"]) for r in results for iid in r["won"]]
        free = set(ids) - blocked
        assert sorted(i for i, _ in won) == sorted(free)  # each ready issue won exactly once, no blocked one
        tracker(seed).pull()
        final = {i["id"]: i for i in tracker(seed).query("all")["issues"]}
        for iid, agent in won:
            assert final[iid]["assignee"] == agent and final[iid]["state"] == "in_progress"
            assert not final[iid]["conflicts"]
        # every clone agrees with the hub: its won issues exactly as the hub has them, and after a
        # sync everything (its local edits went up with its claims or with the sync)
        hub_tips = jit_tips(hub.path)
        for k, c in enumerate(clones):
            mine = jit_tips(c)
            for iid, agent in won:
                if agent == f"agent:{k}":
                    assert mine[f"refs/jit/issues/{iid}"] == hub_tips[f"refs/jit/issues/{iid}"]
                    assert _claimed_by(c, f"agent:{k}").count(iid) == 1
            assert sorted(_claimed_by(c, f"agent:{k}")) == sorted(i for i, a in won if a == f"agent:{k}")
        tracker(clones[0]).sync("origin")
        tracker(seed).pull()
        for n in edited:
            assert "edit:local" in tracker(seed).show(ids[n % len(ids)])["labels"]
        assert {r: x for r, x in jit_tips(clones[0]).items() if r.startswith("refs/jit/issues/")} == \
            {r: x for r, x in jit_tips(hub.path).items() if r.startswith("refs/jit/issues/")}
