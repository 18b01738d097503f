"""Claims from a long-lived library session under other processes' writes (``claim_board``).

A claim works from the index as last folded, without listing every ref or taking the index's
write lock to fold in what other processes have just written: it checks only the refs of its
own neighbourhood (``IndexBoard.moved``). These tests make such writes
with trackers that bypass the index (``use_index = False``: exactly a write whose writer has not
folded it in yet, or a ``git`` command) and check that the claims stay exact: a moved candidate
is passed over, never claimed twice; a claim whose neighbourhood moved sees the fresh state;
"no work" is only said from a fully fresh board; and a session's own view of the refs
(``Index.own``) never hides a change, whatever mix of writes, rewinds and packs happens."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.core.errors import AlreadyClaimedError, BlockedError, NoWorkError


def _raw(repo: Path, actor: str = "agent:other") -> Tracker:
    """Another process's writes that are not folded into the index (yet)."""
    t = Tracker(repo, actor=actor)
    t.use_index = False
    return t


def _dependency_and_work(tracker: Tracker) -> tuple[str, str]:
    """``work`` depends on ``dep``, which agent:x has claimed."""
    dep = tracker.create_issue("dependency")["id"]
    work = tracker.create_issue("work")["id"]
    tracker.add_dependency(work, [dep])
    tracker.claim(dep, "agent:x")
    return dep, work


def _truth(repo: Path) -> dict[str, tuple[str, str | None]]:
    t = _raw(repo, "agent:truth")
    b = t.board()
    return {i: (b.states[i], b.issues[i].assignee) for i in b.issues}


def test_claim_next_passes_over_a_pending_candidate(repo: Path, tracker: Tracker) -> None:
    first = tracker.create_issue("first", priority="critical")["id"]
    second = tracker.create_issue("second", priority="high")["id"]
    session = Tracker(repo, actor="agent:a")
    session.board()  # the index is in step
    _raw(repo).claim(first, "agent:other")  # landed, not folded in
    b = session.index.claim_board()
    assert b is not None and b.moved([first, second]) == {first}
    got = session.claim_next("agent:a")
    assert got["id"] == second and got["assignee"] == "agent:a"
    assert _truth(repo)[first] == ("in_progress", "agent:other")
    with pytest.raises(NoWorkError):
        session.claim_next("agent:a")  # said from a fully fresh board: the first one is taken


def test_a_moved_candidate_is_read_once_and_a_rewound_one_is_still_claimed(repo: Path, tracker: Tracker,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With 8 racing claimers at 100,000 issues each ``claim_next`` read ~165 ref files of claims
    their writers had not folded in yet. A session remembers a candidate it found moved away
    from the tip the index holds and does not read it again while the index holds that tip; a
    ref set back to that tip is still claimed, by the fully fresh look that ends a lazy walk."""

    x = tracker.create_issue("x", priority="critical")["id"]
    y = tracker.create_issue("y", priority="high")["id"]
    z = tracker.create_issue("z", priority="normal")["id"]
    session = Tracker(repo, actor="agent:a")
    session.board()  # the index is in step
    old = git("rev-parse", f"refs/jit/issues/{x}", cwd=repo).stdout.strip()
    _raw(repo).claim(x, "agent:other")  # landed, not folded in
    reads: list[str] = []
    import gitjit.store.indexboard as indexboard

    real = indexboard.loose_tip
    monkeypatch.setattr(indexboard, "loose_tip", lambda common, ref: reads.append(ref) or real(common, ref))
    assert session.claim_next("agent:a")["id"] == y
    assert reads.count(f"refs/jit/issues/{x}") == 1
    assert session.claim_next("agent:b")["id"] == z
    assert reads.count(f"refs/jit/issues/{x}") == 1  # remembered: the index still holds its old tip
    git("update-ref", f"refs/jit/issues/{x}", old, cwd=repo)  # back to the tip the index holds
    assert session.claim_next("agent:c")["id"] == x
    assert _truth(repo)[x] == ("in_progress", "agent:c")


def test_no_work_is_never_said_while_a_change_is_pending(repo: Path, tracker: Tracker) -> None:
    only = tracker.create_issue("only")["id"]
    session = Tracker(repo, actor="agent:a")
    session.claim(only, "agent:a")
    with pytest.raises(NoWorkError):
        session.claim_next("agent:a")
    new = _raw(repo).create_issue("arrived from another process")["id"]
    assert session.index.claim_board().moved([only, new]) == {new}  # type: ignore[union-attr]
    assert session.claim_next("agent:a")["id"] == new


def test_a_claim_whose_dependency_moved_sees_its_fresh_state(repo: Path, tracker: Tracker) -> None:
    dep, work = _dependency_and_work(tracker)
    tracker.update_issue(dep, state="done")
    session = Tracker(repo, actor="agent:a")
    assert session.board().states[work] == "ready"
    _raw(repo).update_issue(dep, state="open")  # reopened elsewhere: work is blocked again
    assert session.index.claim_board().moved([dep, work]) == {dep}  # type: ignore[union-attr]
    with pytest.raises(BlockedError):
        session.claim(work, "agent:a")
    assert _truth(repo)[work] == ("open", None)  # open, with an unfinished dependency
    truth = _truth(repo)
    ready = [i for i, (state, who) in truth.items() if state == "ready" and who is None]
    assert work not in ready
    if ready:
        assert session.claim_next("agent:a")["id"] in ready
    else:
        with pytest.raises(NoWorkError):
            session.claim_next("agent:a")


def test_claim_of_a_pending_issue_reads_it_under_its_lock(repo: Path, tracker: Tracker) -> None:
    iid = tracker.create_issue("one")["id"]
    session = Tracker(repo, actor="agent:a")
    session.board()
    _raw(repo).claim(iid, "agent:other")
    with pytest.raises(AlreadyClaimedError):
        session.claim(iid, "agent:a")
    assert _truth(repo)[iid] == ("in_progress", "agent:other")


def test_a_claim_whose_dependency_moved_into_packed_refs_sees_it(repo: Path, tracker: Tracker) -> None:
    """A neighbour that is no longer a loose ref (``git pack-refs`` ran after it moved) is read
    through ``packed-refs``, as git resolves it."""
    dep, work = _dependency_and_work(tracker)
    tracker.update_issue(dep, state="done")
    session = Tracker(repo, actor="agent:a")
    assert session.board().states[work] == "ready"
    _raw(repo).update_issue(dep, state="open")
    git("pack-refs", "--all", "--prune", cwd=repo)
    assert not (repo / ".git" / "refs" / "jit" / "issues").exists()
    assert session.index.claim_board().moved([dep, work]) == {dep}  # type: ignore[union-attr]
    with pytest.raises(BlockedError):
        session.claim(work, "agent:a")
    assert _truth(repo)[work] == ("open", None)


def test_a_claim_sees_a_gate_definition_changed_elsewhere(repo: Path, tracker: Tracker) -> None:
    """The gate definitions a claim's issues name are checked like its neighbours' refs: a gate
    turned into a precheck by another process, not folded in yet, blocks the claim."""
    tracker.registry_add("lint", title="lint", stage="postcheck")
    iid = tracker.create_issue("gated", gates=["lint"])["id"]
    session = Tracker(repo, actor="agent:a")
    assert session.board().states[iid] == "ready"
    other = _raw(repo)
    other.registry_remove("lint")
    other.registry_add("lint", title="lint", stage="precheck")
    with pytest.raises(BlockedError, match="gate 'lint'"):
        session.claim(iid, "agent:a")
    assert _truth(repo)[iid] == ("open", None)


def test_a_moved_neighbourhood_is_folded_in_without_a_full_refresh(repo: Path, tracker: Tracker,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the refs the claim found moved are read again (``fold_moved``): no process lists every
    ref or folds everyone's writes because one neighbour moved."""
    from gitjit.store.indexer import Indexer

    dep, work = _dependency_and_work(tracker)
    session = Tracker(repo, actor="agent:a")
    session.board()
    elsewhere = _raw(repo)
    unrelated = elsewhere.create_issue("unrelated, also not folded in")["id"]
    elsewhere.update_issue(dep, state="done")  # work becomes ready: only the refs know yet
    refreshes: list[int] = []
    real = Indexer.refresh
    monkeypatch.setattr(Indexer, "refresh", lambda self: refreshes.append(1) or real(self))
    assert session.claim(work, "agent:a")["assignee"] == "agent:a"
    assert refreshes == []
    ix = session.index.indexer()
    assert ix is not None
    ref = f"refs/jit/issues/{dep}"
    assert ix.ix.tips([ref])[ref] == session.git.tip(ref)  # folded in
    assert ix.ix.tips([f"refs/jit/issues/{unrelated}"]) == {}  # left to the next refresh
    assert Tracker(repo, actor="agent:b").show(unrelated)["title"].startswith("unrelated")


def test_a_claim_does_not_wait_for_a_busy_index(repo: Path, tracker: Tracker) -> None:
    """While another connection holds the index's write lock, a claim lands and answers from its
    own fold; this process folds it in with its next write that gets the lock."""
    import sqlite3

    a = tracker.create_issue("a")["id"]
    b = tracker.create_issue("b")["id"]
    # a neighbourhood for the answer to show: a finished dependency, and a dependent waiting on a
    done = tracker.create_issue("done first")["id"]
    tracker.add_dependency(a, [done])
    tracker.update_issue(done, state="done")
    later = tracker.create_issue("after a")["id"]
    tracker.add_dependency(later, [a])
    session = Tracker(repo, actor="agent:s")
    session.board()
    ix = session.index.indexer()
    assert ix is not None
    ref_a, ref_b = f"refs/jit/issues/{a}", f"refs/jit/issues/{b}"
    before = ix.ix.tips([ref_a])[ref_a]
    other = sqlite3.connect(ix.ix.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        out = session.claim(a, "agent:s")
        assert out["assignee"] == "agent:s" and out["state"] == "in_progress"
        assert out == _raw(repo, "agent:r").show(a)  # the same answer as a fold of the refs
        assert out["dependencies"] == [done] and out["blocked_reasons"] == []
        assert ix.ix.tips([ref_a])[ref_a] == before  # not folded in: the lock was held
    finally:
        other.execute("ROLLBACK")
        other.close()
    session.claim(b, "agent:s")
    assert ix.ix.tips([ref_a, ref_b]) == {ref_a: session.git.tip(ref_a), ref_b: session.git.tip(ref_b)}
    assert Tracker(repo, actor="agent:r").show(a) == out


def test_the_write_result_survives_a_delete_right_after_it(repo: Path, tracker: Tracker,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A write is acknowledged even if another process deletes the issue before its result is read."""
    from gitjit.store.indexer import ReadModel

    iid = tracker.create_issue("one")["id"]

    def deleted_meanwhile(rm: ReadModel, i: str) -> None:
        _raw(repo).delete_issue(i)
        return None

    monkeypatch.setattr(ReadModel, "written_json", deleted_meanwhile)
    out = Tracker(repo, actor="agent:a").update_issue(iid, title="renamed")
    assert out["id"] == iid and out["title"] == "renamed"


# ---------------------------------------------------------------------------------- property

OPS = ("write", "claim", "rewind", "pack", "read", "create")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(st.sampled_from(OPS), min_size=4, max_size=24), seed=st.integers(0, 2**16),
       racy=st.booleans())
def test_a_session_never_answers_from_a_stale_view(tmp_path_factory: pytest.TempPathFactory, ops: list[str],
                                                   seed: int, racy: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever other processes and git do between two calls of a long-lived session (writes not
    folded in, refs rewound with ``git update-ref``, ``git pack-refs``), the session's board and
    claims match the refs. ``racy``: every stat counts as racy, so the checksum of ``packed-refs``
    and the re-reading of loose refs carry the whole check."""
    import gitjit.store.index as sindex

    if racy:
        monkeypatch.setattr(sindex, "RACY_NS", 10**18)
    rnd = random.Random(seed)
    repo = make_repo(tmp_path_factory.mktemp("prop") / "r")
    setup = Tracker(repo, actor="agent:setup")
    ids = [setup.create_issue(f"issue {k}", priority=("high", "normal")[k % 2])["id"] for k in range(6)]
    session = Tracker(repo, actor="agent:s")
    other = _raw(repo)
    for op in ops:
        iid = rnd.choice(ids)
        if op == "write":
            other.update_issue(iid, title=f"t{rnd.random():.6f}")
        elif op == "claim":
            try:
                other.claim(iid, "agent:other")
            except (AlreadyClaimedError, BlockedError):
                pass
        elif op == "rewind":
            ref = f"refs/jit/issues/{iid}"
            parent = git("rev-parse", "--verify", "-q", ref + "^", cwd=repo, check=False).stdout.strip()
            if parent:
                git("update-ref", ref, parent, cwd=repo)
        elif op == "pack":
            git("pack-refs", "--all", "--prune", cwd=repo)
        elif op == "create":
            ids.append(other.create_issue("late")["id"])
        truth = _truth(repo)
        if op == "read":  # first, from whatever the session's index last saw
            ready = [i for i, (s, a) in truth.items() if s == "ready" and a is None]
            if ready:
                got = session.claim_next("agent:s")["id"]
                assert got in ready
                truth = _truth(repo)
                assert truth[got] == ("in_progress", "agent:s")
            else:
                with pytest.raises(NoWorkError):
                    session.claim_next("agent:s")
        b = session.board()
        assert {i: (b.states[i], b.issues[i].assignee) for i in b.issues} == truth
    assert session.index.indexer() is not None and not session.index.indexer().disabled  # type: ignore[union-attr]


def test_a_packed_refs_rewrite_that_keeps_its_stat_is_caught_while_racy(repo: Path, tracker: Tracker,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Two rewrites of ``packed-refs`` inside one clock tick can leave the same mtime, inode and
    size. The index records ``packed-refs`` as racy when it read it that soon after its write, and
    then trusts its checksum, not its stat: this rewrites it in place (same inode and size) and
    puts its mtime back."""
    import os

    import gitjit.store.index as sindex

    iid = tracker.create_issue("before")["id"]
    tracker.update_issue(iid, title="after")
    git("pack-refs", "--all", "--prune", cwd=repo)
    session = Tracker(repo, actor="agent:s")
    normal = sindex.RACY_NS
    monkeypatch.setattr(sindex, "RACY_NS", 10**18)  # read "within a tick" of the pack
    assert session.board().issues[iid].title == "after"
    monkeypatch.setattr(sindex, "RACY_NS", normal)  # ... and looked at again later
    time.sleep(2 * normal / 1e9)
    packed = repo / ".git" / "packed-refs"
    st = os.stat(packed)
    tip = git("rev-parse", f"refs/jit/issues/{iid}", cwd=repo).stdout.strip()
    parent = git("rev-parse", f"refs/jit/issues/{iid}^", cwd=repo).stdout.strip()
    data = packed.read_bytes()
    assert tip.encode() in data
    with open(packed, "r+b") as f:  # in place: same inode, same size
        f.write(data.replace(tip.encode(), parent.encode()))
    os.utime(packed, ns=(st.st_atime_ns, st.st_mtime_ns))
    now = os.stat(packed)
    assert (now.st_ino, now.st_size, now.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    assert session.board().issues[iid].title == "before"
    assert Tracker(repo, actor="agent:t").board().issues[iid].title == "before"


def test_no_work_when_the_only_ready_issue_is_being_written(repo: Path, tracker: Tracker) -> None:
    """A live lock on the only ready issue: claim_next passes over it, looks again from a fresh
    board a bounded number of times, and says there is no work (it must not spin until the lock
    turns stale)."""
    only = tracker.create_issue("only")["id"]
    lock = repo / ".git" / "refs" / "jit" / "issues" / f"{only}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    started = time.monotonic()
    with pytest.raises(NoWorkError):
        Tracker(repo, actor="agent:a").claim_next("agent:a")
    assert time.monotonic() - started < 2
    lock.unlink()
    assert Tracker(repo, actor="agent:a").claim_next("agent:a")["id"] == only
