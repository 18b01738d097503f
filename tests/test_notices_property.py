"""Derived notices, as a property: after any write, the ``issue_state_changed … derived`` notices
it recorded name exactly the issues whose effective state changed and that the write did not state
itself, as a full fold of every ref sees them before and after.

The write path decides this from the index's local boards, and skips the dependents outright when
the write cannot move them (a claim, an edit, an assignment: ``Tracker._derived_notices``); this
checks both against the whole board. Real repositories, so max_examples stays modest."""

from __future__ import annotations

import tempfile
from pathlib import Path

from conftest import make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.core.board import Board
from gitjit.core.errors import GitjitError
from gitjit.core.fold import fold_gate, fold_issue
from gitjit.store.index import GATES, ISSUES

pick = st.integers(0, 99)
op = st.one_of(
    st.tuples(st.just("create"), pick, st.booleans()),
    st.tuples(st.just("claim"), pick),
    st.tuples(st.just("release"), pick),
    st.tuples(st.just("title"), pick),
    st.tuples(st.just("assign"), pick),
    st.tuples(st.just("dep"), pick, pick),
    st.tuples(st.just("undep"), pick, pick),
    st.tuples(st.just("gate"), pick, st.booleans()),
    st.tuples(st.just("state"), pick, st.sampled_from(["done", "rejected", "open", "in_progress", "archived"])),
    st.tuples(st.just("delete"), pick),
)


def full(t: Tracker) -> dict[str, str]:
    """Every live issue's effective state, from a fold of every ref (no index)."""
    issues = {k: fold_issue(k, ld.events) for k, ld in t.store.load_all(ISSUES).items()}
    gates = {k: fold_gate(k, ld.events) for k, ld in t.store.load_all(GATES).items()}
    return dict(Board(issues, gates).states)


def write(t: Tracker, o: tuple, ids: list[str]) -> str | None:  # type: ignore[type-arg]
    """Apply ``o``; the id of the issue whose ref it wrote (None: refused or nothing to do)."""
    kind = o[0]
    if kind == "create":
        return str(t.create_issue(f"issue {o[1]}", gates=["review"] if o[2] else [])["id"])
    if not ids:
        return None
    iid = ids[o[1] % len(ids)]
    try:
        if kind == "claim":
            t.claim(iid, "agent:a")
        elif kind == "release":
            t.release(iid, "back")
        elif kind == "title":
            t.update_issue(iid, title=f"renamed {o[1]}")
        elif kind == "assign":
            t.assign(iid, "agent:b")
        elif kind in ("dep", "undep"):
            other = ids[o[2] % len(ids)]
            (t.add_dependency if kind == "dep" else t.remove_dependency)(iid, [other])
        elif kind == "gate":
            t.gate_set(iid, "review", o[2])
        elif kind == "state":
            t.update_issue(iid, state=o[2])
        elif kind == "delete":
            t.delete_issue(iid)
    except GitjitError:
        return None  # refused (blocked, a cycle, not required, ...): nothing was written
    return iid


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=3, max_size=18))
def test_each_write_announces_exactly_the_effective_changes_it_did_not_state(ops) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as d:
        repo = make_repo(Path(d) / "r")
        t = Tracker(repo, actor="agent:a")
        t.init()
        t.registry_add("review", title="Review", stage="precheck")
        seeds = [t.create_issue(f"seed {k}")["id"] for k in range(4)]
        t.add_dependency(seeds[1], [seeds[0]])  # a chain and a fan-in for the writes to move
        t.add_dependency(seeds[2], [seeds[1], seeds[3]])
        for o in ops:
            before = full(t)
            ids = sorted(before)
            tips = {r: tip for r, tip in t.git.tips(ISSUES).items()}
            if write(t, o, ids) is None:
                continue
            after = full(t)
            # the events this write added, on whichever ref it moved (a create adds a ref)
            added = []
            for ref, tip in t.git.tips(ISSUES).items():
                if tips.get(ref) != tip:
                    old = {e.id for e in t.store.events_at(tips[ref], where=ref)} if ref in tips else set()
                    added += [e for e in t.store.events_at(tip, where=ref) if e.id not in old]
            stated = {e.issue_id for e in added if e.type == "issue_state_changed" and not e.derived}
            notices = {e.issue_id: (e.from_, e.to) for e in added
                       if e.type == "issue_state_changed" and e.derived}
            changed = {i for i in set(before) | set(after) if i in after and before.get(i) != after[i]}
            assert set(notices) == changed - stated, (o, notices, before, after)
            for i, (frm, to) in notices.items():
                assert to == after[i] and frm == before.get(i, "open")
