"""Pure tests of the board (no git): derived readiness, blockers, ordering, filters, status and
the issue JSON shape."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.board import Board, issue_json
from gitjit.core.model import GateDef, GateState, GateStatus, IssueState

ISSUE_KEYS = {
    "id", "short_id", "title", "description", "state", "priority", "assignee", "dependencies", "gates",
    "context", "labels", "created_at", "updated_at", "created_by", "claimed_at", "completed_at", "commits",
    "conflicts", "blocked_reasons",
}


def mk(iid: str, *deps: str, state: str = "open", priority: str = "normal", created: str = "2026-01-01T00:00:00",
       gates: dict[str, str] | None = None, assignee: str | None = None, labels: list[str] | None = None,
       title: str = "", description: str = "", deleted: bool = False) -> IssueState:
    return IssueState(
        id=iid, title=title or iid, description=description, state=state, priority=priority, created_at=created,
        dependencies=list(deps), assignee=assignee, labels=labels or [], deleted=deleted,
        gates={k: GateState(key=k, status=GateStatus(v)) for k, v in (gates or {}).items()},
    )


def board(*issues: IssueState, gates: dict[str, GateDef] | None = None) -> Board:
    return Board({i.id: i for i in issues}, gates)


def test_ready_is_derived_from_dependencies() -> None:
    b = board(mk("a"), mk("b", "a"), mk("c", "a", "d"), mk("d", state="done"), mk("e", "r"),
              mk("r", state="rejected"))
    assert b.states == {"a": "ready", "b": "open", "c": "open", "d": "done", "e": "ready", "r": "rejected"}
    assert b.blockers("c") == [{"type": "dependency", "issue_id": "a", "title": "a", "state": "ready"}]
    b2 = board(mk("a", state="done"), mk("b", "a"), mk("c", "a", "d"), mk("d", state="done"))
    assert b2.states["b"] == "ready" and b2.states["c"] == "ready"


def test_precheck_gates_block_ready_postcheck_gates_block_done() -> None:
    defs = {"design": GateDef(key="design", stage="precheck"), "review": GateDef(key="review")}
    b = board(mk("p", gates={"design": "pending"}), mk("q", gates={"review": "pending"}),
              mk("x", gates={"design": "passed", "review": "failed"}), gates=defs)
    assert b.states == {"p": "open", "q": "ready", "x": "ready"}
    assert b.blockers("p") == [{"type": "gate", "gate_key": "design", "status": "pending", "stage": "precheck"}]
    assert b.blockers("q") == []
    assert b.blockers("q", for_done=True) == [{"type": "gate", "gate_key": "review", "status": "pending",
                                               "stage": "postcheck"}]
    assert [r["gate_key"] for r in b.blockers("x", for_done=True)] == ["review"]
    # an undefined gate is a postcheck gate
    assert board(mk("u", gates={"nodef": "pending"})).states["u"] == "ready"


def test_missing_dependency_blocks() -> None:
    b = board(mk("a", "not-here"))
    assert b.states["a"] == "open"
    assert b.blockers("a")[0]["type"] == "missing_dependency"


def test_ready_order_priority_then_oldest_then_id() -> None:
    b = board(
        mk("low", priority="low", created="2026-01-01T00:00:00"),
        mk("n2", created="2026-01-03T00:00:00"),
        mk("n1", created="2026-01-02T00:00:00"),
        mk("c2", priority="critical", created="2026-01-05T00:00:00"),
        mk("c1", priority="critical", created="2026-01-04T00:00:00"),
        mk("h", priority="high", created="2026-01-09T00:00:00"),
        mk("tie-b", created="2026-01-02T00:00:00"),
        mk("taken", priority="critical", assignee="w"),
        mk("busy", priority="critical", state="in_progress", assignee="w"),
    )
    assert b.ready() == ["c1", "c2", "h", "n1", "tie-b", "n2", "low"]


def test_blocked_lists_unfinished_blocked_work_only() -> None:
    b = board(mk("a"), mk("b", "a"), mk("c", "a", state="in_progress", assignee="w"),
              mk("d", "a", state="done"), mk("e", "a", state="archived"))
    assert b.blocked() == ["b", "c"]


def test_select_and_search() -> None:
    b = board(mk("a", priority="high", labels=["team:web", "type:bug"], assignee="w", title="Fix Login"),
              mk("b", labels=["team:api"], description="the LOGIN form"), mk("c", "a"), mk("d", deleted=True))
    assert b.select() == ["a", "b", "c"]
    assert b.select(state="open") == ["c"]
    assert b.select(state="ready") == ["a", "b"]
    assert b.select(assignee="w") == ["a"]
    assert b.select(priority="high") == ["a"]
    assert b.select(labels=["team:*"]) == ["a", "b"]
    assert b.select(labels=["team:*", "type:bug"]) == ["a"]
    assert b.select(labels=["team:w?b"]) == ["a"]
    assert b.search("login") == ["a", "b"]
    assert b.search("type:") == ["a"]
    assert b.search("FORM") == ["b"]
    assert b.search("d") == []  # the deleted issue "d" is never found


def test_status() -> None:
    b = board(mk("a"), mk("b", "a"), mk("c", state="in_progress", assignee="w1"),
              IssueState(id="d", title="D", state="done", completed_at="2026-01-02T00:00:00"),
              IssueState(id="e", title="E", state="done", completed_at="2026-01-03T00:00:00"),
              mk("x", deleted=True))
    s = b.status()
    assert (s["open"], s["ready"], s["in_progress"], s["done"], s["blocked"], s["total"]) == (1, 1, 1, 2, 1, 5)
    assert [c["id"] for c in s["recent_completions"]] == ["e", "d"]
    assert s["assignments"] == {"w1": [{"id": "c", "title": "c", "state": "in_progress", "since": ""}]}
    assert s["conflicts"] == []


def test_status_reports_broken_cycles() -> None:
    a = mk("a", "b")
    b_ = mk("b", "a")
    s = board(a, b_).status()
    assert [c["type"] for c in s["conflicts"]] == ["cycle"]


@pytest.mark.parametrize("state", ["open", "in_progress", "done", "rejected", "archived"])
def test_issue_json_key_set_is_stable(state: str) -> None:
    b = board(mk("a", "gone", state=state, gates={"g": "passed"}), mk("gone", deleted=True))
    j = issue_json(b, "a")
    assert set(j) == ISSUE_KEYS
    assert j["dependencies"] == []  # the deleted dependency is not shown
    assert j["gates"] == [{"key": "g", "status": "passed", "by": None, "updated_at": None, "reason": None, "title": "g",
                           "mode": "manual", "stage": "postcheck", "defined": False}]
    assert isinstance(j["blocked_reasons"], list)
    assert set(issue_json(b, "gone")) == ISSUE_KEYS and issue_json(b, "gone")["state"] == "deleted"


# ----------------------------------------------------------------------------- properties

NODES = [f"{i:02d}" for i in range(8)]


@st.composite
def boards(draw):  # type: ignore[no-untyped-def]
    issues = []
    for n in NODES:
        older = [m for m in NODES if m < n]  # edges only to older nodes: a DAG
        deps = draw(st.lists(st.sampled_from(older), max_size=3, unique=True)) if older else []
        issues.append(mk(
            n, *deps,
            state=draw(st.sampled_from(["open", "open", "in_progress", "done", "rejected", "archived"])),
            priority=draw(st.sampled_from(["low", "normal", "high", "critical"])),
            created=f"2026-01-0{draw(st.integers(1, 3))}T00:00:00",
            assignee=draw(st.sampled_from([None, None, "w"])),
            gates=draw(st.dictionaries(st.sampled_from(["pre", "post"]),
                                       st.sampled_from(["pending", "passed", "failed"]), max_size=2)),
            deleted=draw(st.booleans()) and draw(st.booleans()),
        ))
    return issues


DEFS = {"pre": GateDef(key="pre", stage="precheck"), "post": GateDef(key="post")}
RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}


@settings(max_examples=200)
@given(boards(), st.randoms(use_true_random=False))
def test_board_invariants(issues: list[IssueState], rnd: random.Random) -> None:
    b = Board({i.id: i for i in issues}, DEFS)
    shuffled = list(issues)
    rnd.shuffle(shuffled)
    b2 = Board({i.id: i for i in shuffled}, DEFS)
    assert b.states == b2.states and b.ready() == b2.ready() and b.blocked() == b2.blocked()
    assert b.status() == b2.status()
    ready = b.ready()
    # ordered by priority, then age, then id
    keys = [(RANK[b.issues[i].priority], b.issues[i].created_at, i) for i in ready]
    assert keys == sorted(keys)
    live = {i.id: i for i in issues if not i.deleted}
    for iid in ready:
        st_ = live[iid]
        assert st_.state == "open" and st_.assignee is None
        for d in st_.dependencies:  # every live dependency is finished
            if d in live:
                assert live[d].state in ("done", "rejected")
            else:
                assert any(i.id == d and i.deleted for i in issues)
        assert all(g.status == GateStatus.passed for k, g in st_.gates.items() if k == "pre")
    assert not set(ready) & set(b.blocked())
    for iid, s in b.states.items():
        assert s in ("open", "ready", "in_progress", "done", "rejected", "archived")
        assert (s == "ready") == (live[iid].state == "open" and not b.blockers(iid))


def test_a_parked_issue_is_blocked_with_its_reason_and_listed_by_status() -> None:
    from gitjit.core.model import Parked

    p = mk("p")
    p.parked = Parked(reason="5 failed runs in a row", by="jit-dispatch:m", since="2026-01-01T00:00:00.000000+00:00")
    b = board(p, mk("q", "p"), mk("r"))
    assert b.states == {"p": "open", "q": "open", "r": "ready"}
    assert b.blockers("p") == [{"type": "parked", "reason": "5 failed runs in a row", "by": "jit-dispatch:m",
                                "since": "2026-01-01T00:00:00.000000+00:00"}]
    assert b.blockers("p", for_done=True) == []  # it may still be finished by hand
    assert b.blocked() == ["p", "q"] and b.ready() == ["r"]
    assert b.status()["parked"] == [{"id": "p", "title": "p", "reason": "5 failed runs in a row",
                                     "by": "jit-dispatch:m", "since": "2026-01-01T00:00:00.000000+00:00"}]
    assert issue_json(b, "p")["blocked_reasons"][0]["type"] == "parked"
