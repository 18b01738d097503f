"""The sync machinery's own contracts: merge commits written as one pack are byte-identical to the
ones pygit2 writes (so clones agree whichever path each took), the batched ref transaction falls
back to per-ref compare-and-swap when a local writer got in, and the document checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from synclib import hub_and_clones, jit_tips, tracker

from gitjit.core.errors import ValidationError
from gitjit.core.event import Event
from gitjit.git.packwrite import merge_objects, write_pack
from gitjit.store import sync as syncmod
from gitjit.store.sync import MERGE_AUTHOR, MERGE_MESSAGE, check_document


def diverged(tmp_path: Path, n: int) -> tuple[Path, Path, list[str]]:
    """Two clones that both changed the same ``n`` issues, each having fetched the other's tips."""
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a)
    ids = [ta.create_issue(f"i{k}")["id"] for k in range(n)]
    ta.push()
    tracker(b).pull()
    for k, iid in enumerate(ids):
        tracker(a, "agent:a").update_issue(iid, context={"a": k})
        tracker(b, "agent:b").update_issue(iid, context={"b": k})
    git("remote", "add", "peer", str(b), cwd=a)
    git("remote", "add", "peer", str(a), cwd=b)
    tracker(a)._syncer().fetch("peer")
    tracker(b)._syncer().fetch("peer")
    return a, b, ids


def test_pack_written_merges_are_byte_identical_to_pygit2_ones(tmp_path: Path) -> None:
    a, b, ids = diverged(tmp_path, 1)
    ref = f"refs/jit/issues/{ids[0]}"
    ours = jit_tips(a)[ref]
    theirs = jit_tips(a, "refs/jit-remotes/peer/")[ref.replace("refs/jit/", "refs/jit-remotes/peer/")]
    s = tracker(a)._syncer()
    doc = b'{"x":1}\n'
    via_pygit2 = s.merge_commit(ours, theirs, doc)
    cid, objs = merge_objects(doc, "events.jsonl", sorted([ours, theirs]), s._merge_time(ours, theirs),
                              MERGE_AUTHOR, MERGE_MESSAGE)
    assert cid == via_pygit2
    # and a pack of them is readable by git and libgit2 alike
    doc2 = b'{"y":2}\n'
    cid2, objs2 = merge_objects(doc2, "events.jsonl", sorted([ours, theirs]), 1, MERGE_AUTHOR, MERGE_MESSAGE)
    assert write_pack(a / ".git", objs2)
    assert git("cat-file", "-t", cid2, cwd=a).stdout.strip() == "commit"
    assert git("show", f"{cid2}:events.jsonl", cwd=a).stdout == doc2.decode()
    assert s.git.read_file(cid2, "events.jsonl") == doc2
    assert git("fsck", "--strict", "--no-dangling", cwd=a, check=False).returncode == 0


def test_bulk_and_per_ref_reconcile_agree_on_every_merge_commit(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, ids = diverged(tmp_path, 10)
    packs_before = len(list((a / ".git" / "objects" / "pack").glob("*.pack")))
    ra = tracker(a).pull("peer", fetch=False)  # 10 merges >= PACK_MIN: one pack, one ref transaction
    assert len(ra["merged"]) == 10
    assert len(list((a / ".git" / "objects" / "pack").glob("*.pack"))) == packs_before + 1
    monkeypatch.setattr(syncmod, "PACK_MIN", 10_000)
    monkeypatch.setattr(syncmod, "BATCH_REFS", 1)  # and one CAS per ref through pygit2
    rb = tracker(b).pull("peer", fetch=False)
    assert len(rb["merged"]) == 10
    assert jit_tips(a) == jit_tips(b)
    for repo in (a, b):
        assert git("fsck", "--strict", "--no-dangling", cwd=repo, check=False).returncode == 0
    # reflogs record each move of a jit ref, by either path
    assert all(git("reflog", "show", f"refs/jit/issues/{i}", cwd=a).stdout.count("jit pull") == 1 for i in ids)


def test_a_local_write_during_the_batch_falls_back_to_per_ref_cas(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, ids = diverged(tmp_path, 9)
    orig = syncmod.Syncer._apply_batch
    raced: list[str] = []

    def racing(self, plans, what):  # type: ignore[no-untyped-def]
        if not raced:  # another process moves one of the refs between planning and the transaction
            raced.append(tracker(a, "agent:other").update_issue(ids[3], title="raced in")["id"])
        return orig(self, plans, what)

    monkeypatch.setattr(syncmod.Syncer, "_apply_batch", racing)
    res = tracker(a).pull("peer", fetch=False)
    assert sorted(res["merged"]) == sorted(f"refs/jit/issues/{i}" for i in ids)
    st = tracker(a).show(ids[3])
    assert st["title"] == "raced in" and st["context"] == {"a": 3, "b": 3}


def _e(eid: int, type_: str, clock: int, iid: str | None = "0123456789ab", **kw) -> Event:  # type: ignore[no-untyped-def]
    return Event.build(id=f"{eid:032x}", type=type_, issue_id=iid, clock=clock, timestamp="2026-01-01T00:00:00",
                       actor="x", **kw)


@pytest.mark.parametrize("ref,events,why", [
    ("refs/jit/issues/0123456789ab", [_e(1, "issue_updated", 1)], "no issue_created"),
    ("refs/jit/issues/0123456789ab", [_e(1, "issue_created", 1, iid="ba9876543210")], "names issue ba9876543210"),
    ("refs/jit/issues/0123456789ab", [_e(1, "issue_created", 1), _e(2, "issue_updated", 1_000_002)], "leaps"),
    ("refs/jit/issues/0123456789ab", [_e(1, "issue_created", 2_000_000)], "leaps from 0"),
    ("refs/jit/issues/XYZ", [_e(1, "issue_created", 1, iid="XYZ")], "not an issue id"),
    ("refs/jit/gates/Bad Key", [], "not a jit entity ref"),
    ("refs/jit/gates/review", [_e(1, "gate_defined", 1, iid=None, gate_key="other")], "name gate 'other'"),
    ("refs/jit/gates/review", [], "empty"),
    ("refs/jit/issues/a/b", [], "not a jit entity ref"),
])
def test_check_document_refuses(ref: str, events: list[Event], why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        check_document(ref, events)


def test_check_document_accepts_real_documents() -> None:
    check_document("refs/jit/issues/0123456789ab", [
        _e(1, "issue_created", 1), _e(2, "issue_updated", 2),
        _e(3, "issue_state_changed", 3, iid="ba9876543210", derived=True)])  # a notice for a dependent
    check_document("refs/jit/gates/review", [_e(1, "gate_defined", 1, iid=None, gate_key="review")])
    check_document("refs/jit/leases/worker-1", [_e(1, "lease_renewed", 5, iid=None)])  # future namespaces
