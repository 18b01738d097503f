"""The local write path: writes under the ref's lock (``GitRepo.write_locked``), ``claim_next``
skipping a candidate another writer holds, and the writer folding its own write into the index
(``note_write``) without ever recording an older tip over a newer one."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from conftest import ref_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.core.errors import AlreadyClaimedError
from gitjit.git import RefLocked


def _fresh(repo: Path) -> Tracker:
    return Tracker(repo, actor="agent:reader")


def test_write_locked_refusal_and_no_op_leave_the_ref_and_release_the_lock(repo: Path, tracker: Tracker) -> None:
    iid = tracker.create_issue("one")["id"]
    ref = f"refs/jit/issues/{iid}"
    before = ref_snapshot(repo)

    def refuse(tip: str | None) -> str | None:
        assert tip == before[ref]  # read under the lock: the current tip
        raise AlreadyClaimedError("no")

    with pytest.raises(AlreadyClaimedError):
        tracker.git.write_locked(ref, refuse, "m")
    assert tracker.git.write_locked(ref, lambda tip: None, "m") == before[ref]
    assert ref_snapshot(repo) == before
    assert not (repo / ".git" / (ref + ".lock")).exists()


def test_write_locked_reports_a_held_lock_without_calling_make(repo: Path, tracker: Tracker) -> None:
    iid = tracker.create_issue("one")["id"]
    ref = f"refs/jit/issues/{iid}"
    lock = repo / ".git" / (ref + ".lock")
    lock.write_text("held\n")
    called = []
    with pytest.raises(RefLocked):
        tracker.git.write_locked(ref, lambda tip: called.append(tip), "m")  # type: ignore[func-returns-value]
    assert called == [] and lock.read_text() == "held\n"


def test_claim_next_skips_a_candidate_whose_ref_is_being_written(repo: Path, tracker: Tracker) -> None:
    first = tracker.create_issue("first", priority="critical")["id"]
    second = tracker.create_issue("second", priority="high")["id"]
    lock = repo / ".git" / "refs" / "jit" / "issues" / f"{first}.lock"
    lock.write_text("")  # a live writer (fresh lock) is in the middle of writing the first one
    got = Tracker(repo, actor="agent:b").claim_next("agent:b")
    assert got["id"] == second and got["assignee"] == "agent:b"
    lock.unlink()
    assert Tracker(repo, actor="agent:c").claim_next("agent:c")["id"] == first  # free again: taken in order


def test_claim_next_removes_a_stale_lock_and_claims_in_order(repo: Path, tracker: Tracker,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    first = tracker.create_issue("first", priority="critical")["id"]
    tracker.create_issue("second", priority="high")
    lock = repo / ".git" / "refs" / "jit" / "issues" / f"{first}.lock"
    lock.write_text("")
    old = time.time() - 60
    os.utime(lock, (old, old))  # left by a writer that was killed a minute ago: nobody owns it
    monkeypatch.setenv("JIT_STALE_LOCK_SECONDS", "10")
    assert Tracker(repo, actor="agent:b").claim_next("agent:b")["id"] == first
    assert not lock.exists()


def test_a_write_answers_what_a_fresh_reader_sees(repo: Path, tracker: Tracker) -> None:
    dep = tracker.create_issue("dep")["id"]
    top = tracker.create_issue("top")["id"]
    tracker.add_dependency(top, [dep])
    claimed = tracker.claim(dep, "agent:a")
    assert claimed == _fresh(repo).show(dep)
    updated = tracker.update_issue(dep, state="done")
    assert updated == _fresh(repo).show(dep)
    assert _fresh(repo).show(top)["state"] == "ready"  # the dependent's row was recomputed too
    assert tracker.show(top) == _fresh(repo).show(top)


def test_note_write_never_records_an_older_tip_over_a_newer_one(repo: Path, tracker: Tracker) -> None:
    iid = tracker.create_issue("one")["id"]
    ref = f"refs/jit/issues/{iid}"
    old_tip = tracker.git.tip(ref)
    tracker.update_issue(iid, title="two")
    new_tip = tracker.git.tip(ref)
    assert old_tip != new_tip
    ix = tracker.index.indexer()
    assert ix is not None
    tracker.index.note_write(ref, old_tip)  # a slow writer reporting a write that is no longer the tip
    assert ix.ix.tips([ref])[ref] == new_tip
    assert _fresh(repo).show(iid)["title"] == "two"


def test_writes_after_pack_refs_removed_the_refs_directory(repo: Path, tracker: Tracker) -> None:
    """``git pack-refs --all --prune`` deletes the loose refs and the directories it emptied, so
    ``refs/jit/issues`` is gone; the next write (and the next create) must make it again."""
    from conftest import git

    a = tracker.create_issue("a")["id"]
    git("pack-refs", "--all", "--prune", cwd=repo)
    assert not (repo / ".git" / "refs" / "jit" / "issues").exists()
    assert Tracker(repo, actor="agent:x").claim(a, "agent:x")["assignee"] == "agent:x"
    git("pack-refs", "--all", "--prune", cwd=repo)
    b = Tracker(repo, actor="agent:x").create_issue("b")["id"]
    assert {i["id"] for i in _fresh(repo).query("all")["issues"]} == {a, b}
    git("pack-refs", "--all", "--prune", cwd=repo)
    assert Tracker(repo, actor="agent:y").claim_next("agent:y")["id"] == b


def test_a_long_lived_session_caches_one_parsed_log_per_ref(repo: Path, tracker: Tracker) -> None:
    """The parsed-events cache follows the refs, not the writes: a library session (an agent, the
    dispatcher) that writes thousands of times must not keep every old tip's events."""
    ids = [tracker.create_issue(f"n{i}")["id"] for i in range(3)]
    for k in range(40):
        tracker.update_issue(ids[k % 3], context={"k": k})
    other = Tracker(repo, actor="agent:other")  # and moves made by someone else, read back here
    for k in range(10):
        other.update_issue(ids[k % 3], context={"o": k})
        tracker.show(ids[k % 3])
    store = tracker.store
    assert 0 < len(store._parsed) <= len(ids), len(store._parsed)
    # one entry a ref: its tip as this session last saw it (its own write, or what it read)
    assert set(store._parsed) == set(store._tip_of.values())
    for tip, evs in store._parsed.items():
        assert [e.id for e in evs] == [e.id for e in Tracker(repo).store.events_at(tip, where="x")]
    assert tracker.show(ids[0])["context"] == other.show(ids[0])["context"]


def test_local_writes_do_not_load_the_sync_machinery(repo: Path, tracker: Tracker) -> None:
    """A claim or an update (no hub) validates each log it reads (``store.checks``) without
    importing ``gitjit.store.sync`` and what it pulls in: every write process would pay for it."""
    import subprocess
    import sys

    iid = tracker.create_issue("one")["id"]
    code = (
        "import sys; from gitjit.app.tracker import Tracker\n"
        f"t = Tracker({str(repo)!r}, actor='agent:w')\n"
        f"t.claim({iid!r}, 'agent:w'); t.update_issue({iid!r}, title='two')\n"
        "print(sorted(m for m in ('gitjit.store.sync', 'uuid', 'platform') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    assert _fresh(repo).show(iid)["title"] == "two"


# ---------------------------------------------------------------------- racing claimers spread out

def _racing(monkeypatch: pytest.MonkeyPatch, me: Tracker, rival: Tracker, steals: int) -> list[str]:
    """Another agent (a real write, through ``rival``) claims each of the first ``steals``
    candidates ``me`` tries, just before ``me``'s own attempt: a race ``me`` loses."""
    orig = Tracker._claim
    tried: list[str] = []

    def racing(self: Tracker, prefix: str, assignee: str, **kw: object) -> dict[str, object]:
        if self is me:
            tried.append(prefix)
            if len(tried) <= steals:
                rival.claim(prefix, "agent:rival")
        return orig(self, prefix, assignee, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Tracker, "_claim", racing)
    return tried


def test_a_claimer_that_loses_races_passes_over_a_few_candidates_and_loses_none(
        repo: Path, tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.app.claims import SPREAD_MAX

    ids = [tracker.create_issue(f"task {k}")["id"] for k in range(12)]
    assert tracker.board().ready() == ids  # one priority: oldest first
    me, rival = Tracker(repo, actor="agent:me"), Tracker(repo, actor="agent:rival")
    me.board()
    tried = _racing(monkeypatch, me, rival, steals=3)
    got = me.claim_next("agent:me")["id"]
    assert tried[0] == ids[0]  # a claimer that has lost nothing takes the first candidate
    assert tried[-1] == got and len(tried) == 4
    pos = [ids.index(i) for i in tried]
    # after its n-th loss it passes over at most min(n, SPREAD_MAX) candidates
    assert all(1 <= b - a <= min(n + 1, SPREAD_MAX) + 1 for n, (a, b) in enumerate(zip(pos, pos[1:])))
    states = {i: tracker.show(i) for i in ids}
    assert {i for i, s in states.items() if s["assignee"] == "agent:rival"} == set(tried[:3])
    assert states[got]["assignee"] == "agent:me"


def test_a_claimer_that_loses_every_race_tries_every_candidate_before_giving_up(
        repo: Path, tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.core.errors import NoWorkError

    ids = [tracker.create_issue(f"task {k}")["id"] for k in range(10)]
    me, rival = Tracker(repo, actor="agent:me"), Tracker(repo, actor="agent:rival")
    me.board()
    tried = _racing(monkeypatch, me, rival, steals=len(ids))
    with pytest.raises(NoWorkError):
        me.claim_next("agent:me")
    # the ones passed over after a loss were tried after the rest: none was left untried
    assert sorted(tried) == sorted(ids) and tried[0] == ids[0]
    assert all(tracker.show(i)["assignee"] == "agent:rival" for i in ids)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 40), st.data())
def test_spread_yields_each_wanted_candidate_once_and_keeps_order_until_a_loss(n: int, data: st.DataObject) -> None:
    from gitjit.app.claims import SPREAD_MAX, _Spread

    ids = [f"i{k}" for k in range(n)]
    wanted = data.draw(st.sets(st.sampled_from(ids)) if ids else st.just(set()))
    losses = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    spread = _Spread(random.Random(data.draw(st.integers(0, 2**32))))
    out, lost_at = [], None
    for k, iid in enumerate(spread.order(iter(ids), lambda i: i in wanted)):
        out.append(iid)
        if losses[k]:
            spread.lost()
            lost_at = len(out) if lost_at is None else lost_at
    expect = [i for i in ids if i in wanted]
    assert sorted(out) == sorted(expect) and len(out) == len(expect)  # nothing twice, nothing lost
    first = lost_at if lost_at is not None else len(out)
    assert out[:first] == expect[:first]  # before its first loss, a claimer keeps the ready order
    # the ones it passes over come back in order, after the rest; never more than SPREAD_MAX at once
    pos = [expect.index(i) for i in out]
    # the walk, then the ones held back, each part in order
    cut = next((k + 1 for k, (a, b) in enumerate(zip(pos, pos[1:])) if b < a), len(pos))
    walk, back = pos[:cut], pos[cut:]
    assert back == sorted(back) and set(back) == set(range(len(expect))) - set(walk)
    # after a loss, never more than SPREAD_MAX passed over at once
    assert all(b - a <= SPREAD_MAX + 1 for a, b in zip(walk, walk[1:]))
    assert spread.losses == 0 or len(back) <= min(spread.losses, SPREAD_MAX) * spread.losses


def test_a_long_lived_tracker_sees_config_that_git_changed(repo: Path, tracker: Tracker) -> None:
    """Config values are kept with the snapshot they were read from; ``git config`` in another
    process rewrites the file, and the next read takes a new snapshot (and reads afresh)."""
    import subprocess

    assert tracker.hub() is None and tracker.git.config_get("jit.hub") is None  # read, and kept
    subprocess.run(["git", "config", "jit.hub", "origin"], cwd=repo, check=True)
    assert tracker.hub() == "origin"
    subprocess.run(["git", "config", "user.email", "someone@example.org"], cwd=repo, check=True)
    assert tracker._author("agent:x") == ("agent:x", "someone@example.org")
    subprocess.run(["git", "config", "--unset", "jit.hub"], cwd=repo, check=True)
    assert tracker.hub() is None
