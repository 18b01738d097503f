"""The merge's conflict rules (docs/merge.md), one test each: first on the pure fold with hand-made
events (so the order of random ids is pinned both ways), then as a story between two real clones
that edit offline and sync, checking that both end identical and that `status`, `issue show` and
`events` tell the loser."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from conftest import Jit
from synclib import event_sets, hub_and_clones, snapshot, tracker

from gitjit.core.event import Event
from gitjit.core.fold import conflict_events, fold_issue

I = "0123456789ab"


def ev(eid: int, type_: str, clock: int, actor: str = "x", **kw) -> Event:  # type: ignore[no-untyped-def]
    return Event.build(id=f"{eid:032x}", type=type_, issue_id=I, clock=clock,
                       timestamp=f"2026-01-01T00:00:{clock:02d}.{eid:06d}", actor=actor, **kw)


CREATED = ev(1, "issue_created", 1, title="t", gates=["review"])


def folds_alike(events: list[Event]):  # type: ignore[no-untyped-def]
    """The fold of every permutation of the input is the same (state is a function of the set)."""
    states = {repr(fold_issue(I, list(p))) for p in itertools.permutations(events)}
    assert len(states) == 1
    return fold_issue(I, events)


# ----------------------------------------------------------------------------- pure rules

@pytest.mark.parametrize("ids", [(10, 20), (20, 10)])
def test_rule_same_field_later_write_wins_and_concurrent_sets_are_reported(ids: tuple[int, int]) -> None:
    a = ev(ids[0], "issue_updated", 2, "a", changes={"title": "from a"})
    b = ev(ids[1], "issue_updated", 2, "b", changes={"title": "from b"})
    st = folds_alike([CREATED, a, b])
    winner = max([a, b], key=Event.sort_key)
    assert st.title == winner.changes["title"]  # type: ignore[index]
    assert [c.type for c in st.conflicts] == ["field"]
    # a later write (higher clock) is not a conflict: it saw the earlier one
    st = folds_alike([CREATED, a, ev(30, "issue_updated", 3, "b", changes={"title": "later"})])
    assert st.title == "later" and st.conflicts == []


@pytest.mark.parametrize("ids", [(10, 20), (20, 10)])
def test_rule_double_claim_has_one_deterministic_winner_and_a_recorded_loser(ids: tuple[int, int]) -> None:
    a = ev(ids[0], "issue_claimed", 2, "agent:a", assignee="agent:a", nonce="1" * 32)
    b = ev(ids[1], "issue_claimed", 2, "agent:b", assignee="agent:b", nonce="2" * 32)
    st = folds_alike([CREATED, a, b])
    first, second = sorted([a, b], key=Event.sort_key)
    assert st.assignee == first.assignee and st.state == "in_progress"
    (c,) = st.conflicts
    assert (c.type, c.actor, c.winner, c.event_id) == ("claim", second.assignee, first.assignee, second.id)
    # the loser's later release does not free the winner's claim
    st = folds_alike([CREATED, a, b, ev(40, "issue_released", 3, second.assignee, assignee=second.assignee)])
    assert st.assignee == first.assignee
    # and the loss shows as a synthesized claim_conflict event, the same on every clone
    (ce,) = conflict_events(I, [CREATED, b, a])
    assert ce == conflict_events(I, [a, b, CREATED])[0]
    assert (ce.type, ce.assignee, ce.extra["winner"]) == ("claim_conflict", second.assignee, first.assignee)


@pytest.mark.parametrize("ids", [(10, 20), (20, 10)])
def test_rule_edit_racing_a_delete_is_ignored_and_reported_whatever_the_ids(ids: tuple[int, int]) -> None:
    delete = ev(ids[0], "issue_deleted", 2, "a")
    edit = ev(ids[1], "issue_updated", 2, "b", changes={"title": "too late"})
    st = folds_alike([CREATED, delete, edit])
    assert st.deleted and st.title == "t"
    assert [(c.type, c.event_id) for c in st.conflicts] == [("edit_after_delete", edit.id)]
    # an edit the deleter had seen (lower clock) is plain history, not a conflict
    st = folds_alike([CREATED, ev(5, "issue_updated", 2, "b", changes={"title": "seen"}), ev(6, "issue_deleted", 3)])
    assert st.deleted and st.conflicts == []
    # two clones deleting is one tombstone, not a conflict
    st = folds_alike([CREATED, ev(7, "issue_deleted", 2, "a"), ev(8, "issue_deleted", 2, "b")])
    assert st.deleted and st.conflicts == []
    assert [e.type for e in conflict_events(I, [CREATED, delete, edit])] == ["delete_conflict"]


@pytest.mark.parametrize("ids", [(10, 20), (20, 10)])
def test_rule_gate_passed_on_one_side_and_failed_on_the_other_fails(ids: tuple[int, int]) -> None:
    p = ev(ids[0], "gate_passed", 2, "a", gate_key="review", by="a")
    f = ev(ids[1], "gate_failed", 2, "b", gate_key="review", by="b")
    st = folds_alike([CREATED, p, f])
    assert st.gates["review"].status.value == "failed" and st.gates["review"].by == "b"
    assert [c.type for c in st.conflicts] == ["gate"]
    # a pass made after seeing the failure (higher clock) wins
    st = folds_alike([CREATED, p, f, ev(30, "gate_passed", 3, "a", gate_key="review", by="a")])
    assert st.gates["review"].status.value == "passed"


# ----------------------------------------------------------------------------- stories between clones

@pytest.fixture
def clones(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    return a, b


def share(a: Path, b: Path) -> None:
    """Sync until both clones hold the hub's state."""
    tracker(a).sync()
    tracker(b).sync()
    tracker(a).pull()


def converged(a: Path, b: Path) -> dict:  # type: ignore[type-arg]
    share(a, b)
    sa, sb = snapshot(a), snapshot(b)
    assert sa == sb
    return sa


def test_story_same_field_set_on_both_clones(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    iid = tracker(a).create_issue("original")["id"]
    share(a, b)
    tracker(a, "agent:a").update_issue(iid, title="title from a", priority="high")
    tracker(b, "agent:b").update_issue(iid, title="title from b", description="desc from b")
    snap = converged(a, b)
    (issue,) = snap["issues"]
    assert issue["title"] in ("title from a", "title from b")
    assert issue["priority"] == "high" and issue["description"] == "desc from b"  # other fields both kept
    assert [c["type"] for c in snap["status"]["conflicts"]] == ["field"]
    assert "title set concurrently" in Jit(b)("issue", "show", iid).stdout


def test_story_issue_claimed_on_both_clones_offline(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    iid = tracker(a).create_issue("contested")["id"]
    share(a, b)
    tracker(a).claim(iid, "agent:a")
    tracker(b).claim(iid, "agent:b")
    snap = converged(a, b)
    (issue,) = snap["issues"]
    claims = sorted((e for e in tracker(a).store.load("refs/jit/issues/", iid).events if e.type == "issue_claimed"),
                    key=Event.sort_key)
    winner, loser = claims[0].assignee, claims[1].assignee
    assert issue["assignee"] == winner and issue["state"] == "in_progress"
    (c,) = snap["status"]["conflicts"]
    assert (c["type"], c["actor"], c["winner"]) == ("claim", loser, winner)
    # every way the loser can look tells it to stop
    for repo in (a, b):
        j = Jit(repo)
        assert f"{loser} should stop" in j("status").stdout
        assert f"CONFLICT (claim): {loser} claimed while {winner} held the issue" in j("issue", "show", iid).stdout
        (ce,) = j.json("events", "query", "--event-type", "claim_conflict")
        assert ce["assignee"] == loser and ce["winner"] == winner and ce["issue_id"] == iid
        assert any(e["type"] == "claim_conflict" for e in j.json("events", "tail", "-n", "5"))


def test_story_dependency_cycle_formed_only_by_the_merge(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    x = tracker(a).create_issue("x")["id"]
    y = tracker(a).create_issue("y")["id"]
    share(a, b)
    tracker(a).add_dependency(x, [y])  # fine alone
    tracker(b).add_dependency(y, [x])  # fine alone
    snap = converged(a, b)
    cyc = [c for c in snap["status"]["conflicts"] if c["type"] == "cycle"]
    assert len(cyc) == 1 and "ignored: it closed the cycle" in cyc[0]["detail"]
    # exactly one edge still counts, the same on both clones; the other issue is ready
    assert sorted(len(i["blocked_reasons"]) for i in snap["issues"]) == [0, 1]
    assert [i["state"] for i in snap["issues"]].count("ready") == 1
    assert tracker(a).graph_tree()["broken_edges"] == tracker(b).graph_tree()["broken_edges"] != []


def test_story_edit_racing_a_delete(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    iid = tracker(a).create_issue("doomed")["id"]
    keep = tracker(a).create_issue("kept")["id"]
    share(a, b)
    tracker(a, "agent:a").delete_issue(iid)
    tracker(b, "agent:b").update_issue(iid, title="edited offline")
    snap = converged(a, b)
    assert [i["id"] for i in snap["issues"]] == [keep]
    c = [c for c in snap["status"]["conflicts"] if c["type"] == "edit_after_delete"]
    assert len(c) == 1 and c[0]["issue_id"] == iid and c[0]["actor"] == "agent:b"
    assert "made without seeing the delete" in Jit(b)("status").stdout
    assert Jit(a).json("events", "query", "--event-type", "delete_conflict", "--issue", iid)[0]["actor"] == "agent:b"


def test_story_gate_passed_on_one_clone_and_failed_on_the_other(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    iid = tracker(a).create_issue("gated", gates=["review"])["id"]
    share(a, b)
    tracker(a).gate_set(iid, "review", True, by="alice")
    tracker(b).gate_set(iid, "review", False, by="bob")
    snap = converged(a, b)
    (issue,) = snap["issues"]
    (g,) = issue["gates"]
    assert (g["status"], g["by"]) == ("failed", "bob")
    assert [c["type"] for c in snap["status"]["conflicts"]] == ["gate"]
    # done is refused until someone passes it again, after seeing the failure
    r = Jit(a)("issue", "update", iid, "--state", "done")
    assert r.exit_code == 4
    tracker(a).gate_set(iid, "review", True, by="alice")
    snap = converged(a, b)
    assert snap["issues"][0]["gates"][0]["status"] == "passed"


def test_story_nothing_either_side_recorded_is_lost(clones) -> None:  # type: ignore[no-untyped-def]
    a, b = clones
    iid = tracker(a).create_issue("x")["id"]
    share(a, b)
    for n in range(3):
        tracker(a).update_issue(iid, context={f"a{n}": n})
        tracker(b).update_issue(iid, context={f"b{n}": n})
    before = set(event_sets(a)[f"refs/jit/issues/{iid}"]) | set(event_sets(b)[f"refs/jit/issues/{iid}"])
    snap = converged(a, b)
    assert set(snap["events"][f"refs/jit/issues/{iid}"]) == before
    assert snap["issues"][0]["context"] == {"a0": 0, "a1": 1, "a2": 2, "b0": 0, "b1": 1, "b2": 2}
