"""Convergence, as a property: a bare hub and three clones make random offline edits and sync in
random orders; once everyone has synced, every clone shows the identical state and holds the
identical event sets, and no event any clone recorded is missing.

Real repositories and real git per example, so max_examples stays modest (about 1 s each)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from conftest import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synclib import event_sets, hub_and_clones, jit_tips, snapshot, tracker

from gitjit.core.errors import GitjitError

N = 3
clone = st.integers(0, N - 1)
pick = st.integers(0, 99)
op = st.one_of(
    st.tuples(st.just("create"), clone, pick),
    st.tuples(st.just("title"), clone, pick, st.sampled_from(["alpha", "beta", "gamma"])),
    st.tuples(st.just("priority"), clone, pick, st.sampled_from(["low", "high", "critical"])),
    st.tuples(st.just("claim"), clone, pick),
    st.tuples(st.just("release"), clone, pick),
    st.tuples(st.just("dep"), clone, pick, pick),
    st.tuples(st.just("gate"), clone, pick, st.booleans()),
    st.tuples(st.just("state"), clone, pick, st.sampled_from(["done", "rejected", "open"])),
    st.tuples(st.just("delete"), clone, pick),
    st.tuples(st.just("sync"), clone),
    st.tuples(st.just("pull"), clone),
    st.tuples(st.just("push"), clone),
)


def apply(repo: Path, n: int, o: tuple) -> None:  # type: ignore[type-arg]
    t = tracker(repo, f"agent:{n}")
    kind = o[0]
    if kind == "sync":
        t.sync()
        return
    if kind == "pull":
        t.pull()
        return
    if kind == "push":
        t.push()
        return
    if kind == "create":
        t.create_issue(f"new {o[2]} in {n}", gates=["review"] if o[2] % 2 else [])
        return
    ids = sorted(t.board().issues)
    if not ids:
        return
    iid = ids[o[2] % len(ids)]
    try:
        if kind == "title":
            t.update_issue(iid, title=o[3])
        elif kind == "priority":
            t.update_issue(iid, priority=o[3])
        elif kind == "claim":
            t.claim(iid, f"agent:{n}")
        elif kind == "release":
            t.release(iid, "changed my mind")
        elif kind == "dep":
            t.add_dependency(iid, [ids[o[3] % len(ids)]])
        elif kind == "gate":
            t.gate_set(iid, "review", o[3])
        elif kind == "state":
            t.update_issue(iid, state=o[3])
        elif kind == "delete":
            t.delete_issue(iid)
    except GitjitError:
        pass  # refused (blocked, cycle, claimed, not required...): nothing was written


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=4, max_size=16), order=st.permutations(range(N)))
def test_clones_converge_whatever_the_edits_and_the_sync_order(ops, order) -> None:  # type: ignore[no-untyped-def]
    converge(ops, order)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                HealthCheck.too_slow])
@given(ops=st.lists(op, min_size=4, max_size=16), order=st.permutations(range(N)))
def test_clones_converge_when_every_pull_packs_the_refs(ops, order) -> None:  # type: ignore[no-untyped-def]
    """The same, with the tracking refs packed by every pull that leaves one loose
    (``pack_loose_tracking`` waits for 256 otherwise, more than these examples make)."""
    from gitjit.git import housekeeping

    before = housekeeping.LOOSE_TRACKING_MAX
    housekeeping.LOOSE_TRACKING_MAX = 1
    try:
        converge(ops, order)
    finally:
        housekeeping.LOOSE_TRACKING_MAX = before


def converge(ops: list, order: list[int]) -> None:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as d:
        hub, clones = hub_and_clones(Path(d), N)
        seed = tracker(clones[0], "agent:0")
        for k in range(3):
            seed.create_issue(f"seed {k}", gates=["review"] if k == 0 else [])
        seed.push()
        for c in clones[1:]:
            tracker(c).pull()
        for o in ops:
            apply(clones[o[1]], o[1], o)
        recorded: dict[str, set[str]] = {}
        for c in clones:
            for ref, ids in event_sets(c).items():
                recorded.setdefault(ref, set()).update(ids)
        # everyone syncs once in the drawn order, then pulls: the last pusher's merge reaches all
        for n in order:
            tracker(clones[n]).sync()
        for n in order:
            tracker(clones[n]).pull()
        snaps = [snapshot(c) for c in clones]
        for s in snaps[1:]:
            assert s == snaps[0]
        assert {ref: set(ids) for ref, ids in snaps[0]["events"].items()} == recorded
        assert all(jit_tips(c) == jit_tips(hub) for c in clones)
        assert json.dumps(snaps[0]["status"])  # JSON-ready


def test_fsck_clean_after_a_busy_run(tmp_path: Path) -> None:
    hub, clones = hub_and_clones(tmp_path, N)
    t0 = tracker(clones[0])
    ids = [t0.create_issue(f"i{k}")["id"] for k in range(4)]
    t0.push()
    for c in clones[1:]:
        tracker(c).pull()
    for n, c in enumerate(clones):
        t = tracker(c, f"agent:{n}")
        t.update_issue(ids[n], title=f"by {n}")
        t.update_issue(ids[3], priority=["low", "high", "critical"][n])
        try:
            t.claim(ids[3], f"agent:{n}")
        except GitjitError:
            pass
    for c in clones + clones:
        tracker(c).sync()
    for repo in [hub, *clones]:
        r = git("fsck", "--strict", "--no-dangling", cwd=repo, check=False)
        noise = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith("notice:")]
        assert r.returncode == 0 and not noise, r.stderr
