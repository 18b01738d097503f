"""Data from a remote is never trusted: malformed refs pushed to the hub by hand are skipped with a
warning naming each one, by every clone, while everything else still syncs; `jit doctor` lists
them; rewritten (force-pushed) histories never cost a local event; nothing pulled is executed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo
from synclib import event_sets, hub_and_clones, jit_tips, tracker

from gitjit.core.errors import NotFoundError
from gitjit.core.model import LIMITS


def _event(eid: int, type_: str, iid: str | None, clock: int, **kw) -> str:  # type: ignore[no-untyped-def]
    d = {"v": 1, "id": f"{eid:032x}", "type": type_, "clock": clock, "timestamp": "2026-01-01T00:00:00.000000",
         "actor": "mallory", **kw}
    if iid is not None:
        d["issue_id"] = iid
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


class Evil:
    """A scratch repository that pushes hand-made objects to the hub with plain git."""

    def __init__(self, path: Path, hub: Path):
        self.path = make_repo(path)
        git("remote", "add", "origin", str(hub), cwd=self.path)

    def blob(self, data: bytes) -> str:
        p = self.path / "blob.tmp"
        p.write_bytes(data)
        return git("hash-object", "-w", str(p), cwd=self.path).stdout.strip()

    def commit(self, files: dict[str, bytes]) -> str:
        entries = "".join(f"100644 blob {self.blob(v)}\t{k}\n" for k, v in files.items())
        tree = git("mktree", cwd=self.path, input=entries).stdout.strip()
        return git("commit-tree", tree, "-m", "by hand", cwd=self.path).stdout.strip()

    def push(self, oid: str, ref: str) -> None:
        git("push", "-q", "origin", f"+{oid}:{ref}", cwd=self.path)


BAD = {
    "refs/jit/issues/aaaaaaaaaaaa": "points at a blob, not a commit",
    "refs/jit/issues/bbbbbbbbbbbb": "line 1 is not JSON",
    "refs/jit/issues/cccccccccccc": "over the 4194304-byte limit",
    "refs/jit/issues/dddddddddddd": "names issue 111111111111, not dddddddddddd",
    "refs/jit/issues/eeeeeeeeeeee": "clock leaps from 1 to 1000000001",
    "refs/jit/issues/ffffffffffff": "has no events.jsonl",
    "refs/jit/issues/NOT-AN-ID": "is not an issue id",
    "refs/jit/gates/ok": "the event log is empty",
}


def plant_bad_refs(evil: Evil) -> None:
    evil.push(evil.blob(b"hello\n"), "refs/jit/issues/aaaaaaaaaaaa")
    evil.push(evil.commit({"events.jsonl": b"{not json\n"}), "refs/jit/issues/bbbbbbbbbbbb")
    line = _event(1, "issue_created", "cccccccccccc", 1, title="x").encode() + b"\n"
    evil.push(evil.commit({"events.jsonl": line * (LIMITS["events_blob"] // len(line) + 2)}),
              "refs/jit/issues/cccccccccccc")
    evil.push(evil.commit({"events.jsonl": (_event(2, "issue_created", "111111111111", 1, title="y") + "\n").encode()}),
              "refs/jit/issues/dddddddddddd")
    doc = _event(3, "issue_created", "eeeeeeeeeeee", 1, title="z") + "\n" + \
        _event(4, "issue_updated", "eeeeeeeeeeee", 1_000_000_001, changes={"title": "frozen"}) + "\n"
    evil.push(evil.commit({"events.jsonl": doc.encode()}), "refs/jit/issues/eeeeeeeeeeee")
    evil.push(evil.commit({"README": b"no events here\n"}), "refs/jit/issues/ffffffffffff")
    evil.push(evil.commit({"events.jsonl": (_event(5, "issue_created", "NOT-AN-ID", 1, title="w") + "\n").encode()}),
              "refs/jit/issues/NOT-AN-ID")
    evil.push(evil.commit({"events.jsonl": b"\n"}), "refs/jit/gates/ok")


def test_malformed_refs_on_the_hub_are_skipped_by_every_clone_and_the_rest_syncs(tmp_path: Path) -> None:
    hub, clones = hub_and_clones(tmp_path, 3)
    good = tracker(clones[0]).create_issue("good issue")["id"]
    tracker(clones[0]).push()
    plant_bad_refs(Evil(tmp_path / "evil", hub))
    hub_bad = {r: t for r, t in jit_tips(hub).items() if r in BAD}
    assert len(hub_bad) == len(BAD)

    for n, c in enumerate(clones):
        j = Jit(c)
        tracker(c).create_issue(f"made in clone {n}")
        r = j("sync")
        assert r.exit_code == 0, r.output
        for ref, why in BAD.items():
            tname = ref.replace("refs/jit/", "refs/jit-remotes/origin/")
            lines = [x for x in r.stderr.splitlines() if x.startswith(f"warning: skipping {tname} ")]
            assert len(lines) == 1 and why in lines[0], (ref, r.stderr)
        # never merged into refs/jit/*
        assert not set(BAD) & set(jit_tips(c))
        # doctor lists each one, with the fix (a warning: local data is untouched, the hub needs repair)
        r = j("doctor", "--json")
        assert r.exit_code == 0, r.stdout
        rep = json.loads(r.stdout)
        assert {x["ref"] for x in rep["invalid_refs"]} == {b.replace("refs/jit/", "refs/jit-remotes/origin/")
                                                          for b in BAD}
        assert all(x["scope"] == "remote:origin" for x in rep["invalid_refs"])
        remote_problems = [p for p in rep["problems"] if p["check"] == "remote-refs"]
        assert len(remote_problems) == len(BAD)
        assert all("git push origin :refs/jit/" in p["fix"] for p in remote_problems)
        assert "refs/jit-remotes/origin/issues/aaaaaaaaaaaa" in j("fsck").stdout  # the alias
    for c in clones:
        tracker(c).pull()
    # every clone holds every good issue, identically; the hub's bad refs were never overwritten
    assert len({json.dumps(event_sets(c), sort_keys=True) for c in clones}) == 1
    assert len(event_sets(clones[0])) == 4 and f"refs/jit/issues/{good}" in event_sets(clones[0])
    assert {r: t for r, t in jit_tips(hub).items() if r in BAD} == hub_bad
    assert git("fsck", "--no-dangling", cwd=clones[0], check=False).returncode == 0


def test_a_forced_rewrite_that_drops_events_never_loses_local_ones(tmp_path: Path) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    iid = tracker(a).create_issue("x")["id"]
    tracker(a).push()
    first = jit_tips(hub)[f"refs/jit/issues/{iid}"]
    tracker(a).update_issue(iid, title="second")
    tracker(a).update_issue(iid, priority="high")
    tracker(a).push()
    tracker(b).pull()
    full = event_sets(b)[f"refs/jit/issues/{iid}"]
    # someone with push rights rewinds the hub's ref (branch protection does not cover refs/jit/*)
    git("push", "-q", "--force", str(hub), f"{first}:refs/jit/issues/{iid}", cwd=a)
    tracker(b).pull()
    assert event_sets(b)[f"refs/jit/issues/{iid}"] == full
    assert tracker(b).push()["count"] == 1  # and the next push restores the hub
    # a rewrite to a *different* history holding fewer events is merged, not taken
    evil = Evil(tmp_path / "evil", hub)
    doc = git("cat-file", "blob", f"{first}:events.jsonl", cwd=a).stdout.encode()
    evil.push(evil.commit({"events.jsonl": doc}), f"refs/jit/issues/{iid}")
    res = tracker(b).pull()
    assert res["merged"] == [f"refs/jit/issues/{iid}"]
    assert event_sets(b)[f"refs/jit/issues/{iid}"] == full
    assert tracker(b).show(iid)["title"] == "second"


def test_a_union_over_the_size_limits_is_skipped_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    iid = tracker(a).create_issue("x")["id"]
    tracker(a).push()
    tracker(b).pull()
    tracker(a).update_issue(iid, title="a")
    tracker(a).push()
    tracker(b).update_issue(iid, title="b")
    ref = f"refs/jit/issues/{iid}"
    biggest = max(len(event_sets(a)[ref]), len(event_sets(b)[ref]))
    monkeypatch.setitem(LIMITS, "events", biggest)  # each side fits, their union does not
    before = jit_tips(b)[ref]
    t = tracker(b)
    res = t.pull()
    assert res["skipped"] and res["skipped"][0]["ref"] == ref and "over the limits" in res["skipped"][0]["reason"]
    assert jit_tips(b)[ref] == before
    assert any("not merging into" in w for w in t.warnings)


def test_nothing_pulled_is_ever_executed(tmp_path: Path) -> None:
    """A gate definition that arrives with a `command` field is data: the checker command comes
    only from this clone's configuration, so `gate run` refuses and nothing runs."""
    hub, (a,) = hub_and_clones(tmp_path, 1)
    evil = Evil(tmp_path / "evil", hub)
    marker = tmp_path / "PWNED"
    doc = json.dumps({"v": 1, "id": "9" * 32, "type": "gate_defined", "clock": 1, "actor": "mallory",
                      "timestamp": "2026-01-01T00:00:00.000000", "gate_key": "deploy", "title": "Deploy",
                      "mode": "auto", "command": f"touch {marker}"}, sort_keys=True) + "\n"
    evil.push(evil.commit({"events.jsonl": doc.encode()}), "refs/jit/gates/deploy")
    t = tracker(a)
    assert t.pull()["created"] == ["refs/jit/gates/deploy"]
    shown = t.registry_show("deploy")
    assert shown["mode"] == "auto" and shown["command"] is None
    iid = t.create_issue("ship", gates=["deploy"])["id"]
    with pytest.raises(NotFoundError):
        t.gate_run(iid, "deploy")
    assert not marker.exists()


def test_a_large_pull_reads_in_bulk_and_ends_as_reading_one_by_one(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A pull of many changed refs reads both sides' documents in one stream before reconciling
    (``Syncer`` with ``PREFETCH_MIN``): the same merges, the same skipped refs and warnings, the
    same state as a copy of the clone pulling with that off."""
    import shutil

    from gitjit.app.exchange import import_file
    from gitjit.store import sync as syncmod
    from gitjit.store.entities import EntityStore

    hub, (a, b) = hub_and_clones(tmp_path, 2)
    data = tmp_path / "issues.jsonl"
    data.write_text("".join(json.dumps({"key": f"k{k}", "title": f"task {k}"}) + "\n" for k in range(110)))
    import_file(tracker(a), str(data))
    tracker(a).push()
    tracker(b).pull()
    ids = sorted(tracker(a).board().issues)
    ta, tb = tracker(a, "agent:a"), tracker(b, "agent:b")
    for n, iid in enumerate(ids):  # every issue diverges: a merge each
        ta.update_issue(iid, priority=("high", "low")[n % 2])
        tb.update_issue(iid, labels_add=["side:b"])
    for k in range(5):
        ta.create_issue(f"new on a {k}")
    ta.push()
    plant_bad_refs(Evil(tmp_path / "evil", hub))
    syncer_b = tracker(b)._syncer()
    syncer_b.fetch("origin")
    b2 = tmp_path / "b-copy"
    shutil.copytree(b, b2, symlinks=True)

    streams: list[int] = []
    real = EntityStore.events_many

    def spy(self, items):  # type: ignore[no-untyped-def]
        streams.append(len(items))
        return real(self, items)

    monkeypatch.setattr(EntityStore, "events_many", spy)
    t1 = tracker(b)
    r1 = t1.pull(fetch=False)
    assert streams and streams[0] >= 2 * len(ids), "both sides read in one stream"
    monkeypatch.setattr(syncmod, "PREFETCH_MIN", 10**9)
    t2 = tracker(b2)
    r2 = t2.pull(fetch=False)
    assert len(r1["merged"]) == len(ids) and len(r1["created"]) == 5
    assert {k: v for k, v in r1.items() if k != "remote"} == {k: v for k, v in r2.items() if k != "remote"}
    assert t1.warnings == t2.warnings and len([w for w in t1.warnings if w.startswith("skipping")]) == len(BAD)
    assert jit_tips(b, "refs/jit/issues/") == jit_tips(b2, "refs/jit/issues/")
    assert event_sets(b) == event_sets(b2)
