"""The index answers exactly what folding every ref answers, and never goes stale.

Every check compares a tracker reading through the index with one that folds every ref
(``use_index = False``): the same JSON for every issue, query, status, event list and graph.
Changes come from this process, from another process, from ``git update-ref`` and from
``git pack-refs``; the index file is deleted, corrupted and outdated on purpose.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import git

import gitjit.store.index as index_mod
from gitjit.app.tracker import Tracker
from gitjit.core.errors import GitjitError
from gitjit.core.event import Event
from gitjit.core.fold import serialize_events
from gitjit.core.model import new_event_id, now_ts
from gitjit.store.index import INDEX_FILE, Index


def reference(repo: Path) -> Tracker:
    t = Tracker(repo, actor="agent:ref")
    t.use_index = False
    return t


def snapshot(t: Tracker) -> dict:
    """Everything a reader can see, as plain JSON."""
    b = t.board()
    ids = sorted(b.issues)
    out = {
        "show": {i: t.show(i) for i in ids},
        "status": t.status(),
        "events": t.events(),
        "export": t.graph_export(),
        "roots": t.graph_roots(),
        "tree": t.graph_tree(),
        "list": t.list_issues(labels=["team:*"]),
        "search": t.search("task"),
        "registry": t.registry_list(),
    }
    # the index answers these from its own tables (search, events_issue, events_type): each must
    # answer what a scan of every issue and event answers
    for text in ("RENAMED 1", "team:", "Ünï", "KEL", "\u212a", "a\0b", "a\x1fb", "", *(i[:3] for i in ids[:3])):
        out[f"search-{text!r}"] = t.search(text)
    for i in ids[:3]:
        out[f"events-{i}"] = t.events(issue=i)
        out[f"events-{i}-2"] = t.events(issue=i, limit=2)
    for typ in ("issue_claimed", "gate_passed", "issue_deleted", "issue_state_changed"):
        out[f"events-{typ}"] = t.events(event_type=typ)
        out[f"events-{typ}-3"] = t.events(event_type=typ, limit=3)
    for kind in ("ready", "blocked", "all"):
        out[f"q-{kind}"] = t.query(kind)
    for s in ("open", "ready", "in_progress", "done", "rejected", "archived"):
        out[f"q-state-{s}"] = t.query("state", s)
    out["q-prio"] = t.query("priority", "high")
    out["q-assignee"] = t.query("assignee", "agent:a")
    for i in ids[:5]:
        out[f"deps-{i}"] = t.graph_deps(i)
        out[f"down-{i}"] = t.graph_downstream(i)
        out[f"tree-{i}"] = t.graph_tree(i)
    return out


def assert_same(repo: Path, t: Tracker) -> None:
    got, want = snapshot(t), snapshot(reference(repo))
    for k in want:
        if k == "status":  # conflicts are listed in id order by the index, load order by the fold
            for s in (got, want):
                s[k]["conflicts"] = sorted(s[k]["conflicts"], key=lambda c: json.dumps(c, sort_keys=True))
        if k in ("events",):
            assert got[k] == want[k], k
        if k.startswith("down-"):
            continue  # same members; their order among equals follows each board's iteration order
        assert got[k] == want[k], k


def random_ops(t: Tracker, rng: random.Random, n: int, ids: list[str]) -> None:
    gates = ["review", "tests", "pre"]
    for _ in range(n):
        op = rng.choice(["create", "create", "dep", "dep", "rmdep", "state", "claim", "release", "gate",
                         "pass", "title", "describe", "registry", "unregistry", "delete", "label"])
        try:
            if op == "create" or not ids:
                d = t.create_issue(f"task {len(ids)}", priority=rng.choice(["low", "normal", "high", "critical"]),
                                   gates=rng.sample(gates, rng.randint(0, 2)),
                                   labels=rng.sample(["team:a", "team:b", "type:bug"], rng.randint(0, 2)))
                ids.append(d["id"])
            elif op == "dep" and len(ids) > 1:
                a, b = rng.sample(ids, 2)
                t.add_dependency(a, [b])
            elif op == "rmdep":
                a = rng.choice(ids)
                deps = t.show(a)["dependencies"]
                if deps:
                    t.remove_dependency(a, [rng.choice(deps)])
            elif op == "state":
                t.update_issue(rng.choice(ids), state=rng.choice(["done", "rejected", "archived", "open",
                                                                  "in_progress", "done"]))
            elif op == "claim":
                t.claim(rng.choice(ids), rng.choice(["agent:a", "agent:b"]))
            elif op == "release":
                t.release(rng.choice(ids), "test")
            elif op == "gate":
                t.gate_add(rng.choice(ids), [rng.choice(gates)])
            elif op == "pass":
                t.gate_set(rng.choice(ids), rng.choice(gates), rng.random() < 0.7)
            elif op == "title":
                t.update_issue(rng.choice(ids), title=rng.choice(["task renamed", "ÜNÏCODE", "\u212aelvin"])
                               + f" {rng.randint(0, 99)}", priority="high")
            elif op == "describe":
                t.update_issue(rng.choice(ids), description=rng.choice(["", "about TEAM: work", "ünï"]))
            elif op == "registry":
                t.registry_add(rng.choice(gates), title="G", stage=rng.choice(["precheck", "postcheck"]))
            elif op == "unregistry":
                t.registry_remove(rng.choice(gates))
            elif op == "delete" and rng.random() < 0.3:
                t.delete_issue(rng.choice(ids))
            elif op == "label":
                t.update_issue(rng.choice(ids), labels_add=["team:c"])
        except GitjitError:
            pass  # refused operations are part of the mix


@pytest.mark.parametrize("seed", [1, 2])
def test_random_operations_match_full_fold(tracker: Tracker, repo: Path, seed: int) -> None:
    rng = random.Random(seed)
    ids: list[str] = []
    for _ in range(4):
        random_ops(tracker, rng, 25, ids)
        assert_same(repo, tracker)


def test_ref_changed_by_git_update_ref_is_seen(tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("first")["id"]
    old = git("rev-parse", f"refs/jit/issues/{a}", cwd=repo).stdout.strip()
    tracker.update_issue(a, title="second")
    assert tracker.show(a)["title"] == "second"
    git("update-ref", f"refs/jit/issues/{a}", old, cwd=repo)  # someone else rolls it back
    assert tracker.show(a)["title"] == "first"
    assert tracker.query("ready")["issues"][0]["title"] == "first"
    git("update-ref", "-d", f"refs/jit/issues/{a}", cwd=repo)
    assert tracker.query("all")["count"] == 0
    assert_same(repo, tracker)


def test_write_from_another_process_is_seen(tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("mine")["id"]
    b = tracker.create_issue("blocker")["id"]
    tracker.add_dependency(a, [b])
    assert tracker.show(a)["state"] == "open"
    code = ("import sys; from gitjit.app.tracker import Tracker; t = Tracker(sys.argv[1], actor='agent:other'); "
            "t.use_index = False; t.update_issue(sys.argv[2], state='done')")
    subprocess.run([sys.executable, "-c", code, str(repo), b], check=True)
    # the other process did not touch the index: the stat check must notice the ref moved
    assert tracker.show(a)["state"] == "ready"
    assert tracker.query("ready")["issues"][0]["id"] == a
    assert_same(repo, tracker)


@pytest.mark.parametrize("how", ["create", "claim", "claim after packing"])
def test_a_ref_deleted_right_after_this_process_wrote_it_is_seen_gone(tracker: Tracker, repo: Path,
                                                                      how: str) -> None:
    """A write folds its own ref into the index from the loose file, outside any snapshot of the
    loose refs. If git deletes that ref before any freshness check has listed it, the next check
    must still notice: a snapshot that never held it cannot say "every ref that was loose still
    is". (Found by ``test_rows_written_in_place_match_a_rebuild``: the deleted issue stayed in
    the index, for every process, until ``packed-refs`` next changed.)"""
    keep = tracker.create_issue("kept")["id"]
    other = Tracker(repo, actor="agent:other")
    if how == "create":
        tracker.board()
        other.board()  # another long-lived process, with a snapshot of its own
        gone = tracker.create_issue("deleted by git before any check")["id"]
    else:
        gone = tracker.create_issue("claimed, then deleted by git")["id"]
        if how == "claim after packing":
            git("pack-refs", "--all", cwd=repo)
        tracker.board()
        other.board()
        tracker.claim(gone, "agent:test")
    git("update-ref", "-d", f"refs/jit/issues/{gone}", cwd=repo)
    assert set(tracker.board().issues) == {keep}
    assert set(other.board().issues) == {keep}
    assert set(Tracker(repo).board().issues) == {keep}
    assert_same(repo, tracker)


def test_a_ref_put_back_to_its_listed_tip_after_this_process_wrote_it(tracker: Tracker, repo: Path) -> None:
    """The snapshot lists a ref at tip A; this process writes B and folds it in from the loose file;
    git puts the ref back to A. The loose file now holds what the snapshot lists, but not what the
    index holds: the check must compare it with the index (found by
    ``test_index_freshness_property.py``: ``[('update', 0), ('rewind', 0)]``)."""
    a = tracker.create_issue("as listed")["id"]
    other = Tracker(repo, actor="agent:other")
    other.board()  # a check lists the loose ref at its first tip
    listed = git("rev-parse", f"refs/jit/issues/{a}", cwd=repo).stdout.strip()
    tracker.update_issue(a, title="written, then undone by git")
    git("update-ref", f"refs/jit/issues/{a}", listed, cwd=repo)
    assert tracker.show(a)["title"] == "as listed"
    assert other.show(a)["title"] == "as listed"
    assert Tracker(repo).show(a)["title"] == "as listed"
    assert_same(repo, tracker)


def test_index_is_disposable(tracker: Tracker, repo: Path) -> None:
    rng = random.Random(3)
    ids: list[str] = []
    random_ops(tracker, rng, 30, ids)
    before = snapshot(tracker)
    path = Path(git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip())
    path = (repo / path if not path.is_absolute() else path) / INDEX_FILE
    assert path.exists()
    path.unlink()
    assert indexed_snapshot(repo, path) == before
    path.write_bytes(b"this is not a database" * 100)
    for s in ("-wal", "-shm"):
        Path(str(path) + s).unlink(missing_ok=True)
    assert indexed_snapshot(repo, path) == before
    # an index from another version of the code is rebuilt, not trusted
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET v='other' WHERE k='stamp'")
    db.execute("UPDATE issues SET eff='done'")
    db.execute("UPDATE docs SET dlen=NULL")
    db.commit()
    db.close()
    assert indexed_snapshot(repo, path) == before


def indexed_snapshot(repo: Path, path: Path) -> dict:
    """``snapshot`` from a new Tracker that really answered from the index at ``path`` (a tracker
    that gave the index up answers the same, only slower: that must not pass for a working one)."""
    t = Tracker(repo)
    out = snapshot(t)
    assert not t.store.warnings, t.store.warnings
    ix = t.index.indexer()
    assert not ix.disabled and ix.ix.db is not None
    assert os.stat(path).st_ino == ix.ix.ino[1]
    assert ix.ix.c.execute("SELECT count(*) FROM issues WHERE deleted=0").fetchone()[0] == len(out["export"]["nodes"])
    return out


def _index_path(repo: Path) -> Path:
    path = Path(git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip())
    return (repo / path if not path.is_absolute() else path) / INDEX_FILE


def test_index_deleted_under_a_long_lived_tracker_is_made_again(tracker: Tracker, repo: Path) -> None:
    """A library session (a dispatcher, an agent) keeps its connection open: deleting the index
    (it is disposable) must not leave it answering from, or writing into, the deleted file."""
    a = tracker.create_issue("first")["id"]
    path = _index_path(repo)
    for s in ("", "-wal", "-shm"):
        Path(str(path) + s).unlink(missing_ok=True)
    other = Tracker(repo, actor="agent:other")
    b = other.create_issue("second")["id"]
    tracker.update_issue(a, title="first, edited")
    assert {i["id"] for i in tracker.query("all")["issues"]} == {a, b}
    assert not tracker.store.warnings, tracker.store.warnings
    ix = tracker.index.indexer()
    assert ix.ix.ino[1] == os.stat(path).st_ino  # the new file, not the deleted one
    assert indexed_snapshot(repo, path) == snapshot(reference(repo))
    assert Tracker(repo).show(a)["title"] == "first, edited"


def test_outdated_schema_is_rebuilt_in_place(tracker: Tracker, repo: Path) -> None:
    """An index written by another version (other tables and columns, another stamp) is rebuilt
    inside the same file: replacing the file under processes that have it open would make them
    write into a deleted file or mix its WAL with the new one's."""
    ids = [tracker.create_issue(f"t{i}")["id"] for i in range(5)]
    tracker.add_dependency(ids[0], ids[1:3])
    path = _index_path(repo)
    tracker.index.indexer().ix.close()
    ino = os.stat(path).st_ino
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET v='older' WHERE k='stamp'")
    db.execute("DROP INDEX issues_conflicts")
    db.execute("ALTER TABLE issues DROP COLUMN conflicts")
    db.execute("DROP TABLE gates_on")
    db.execute("CREATE TABLE from_an_old_version(x)")
    db.commit()
    db.close()
    assert indexed_snapshot(repo, path) == snapshot(reference(repo))
    assert os.stat(path).st_ino == ino
    names = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert "from_an_old_version" not in names and "gates_on" in names


def test_a_busy_index_is_not_taken_for_a_damaged_one(tracker: Tracker, repo: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Only SQLite's 'damaged' and 'not a database' errors make the index be deleted: a locked one
    makes this process fold the refs instead (correct, slower) and leaves the file to its owner."""
    from gitjit.store.index import corrupt

    a = tracker.create_issue("first")["id"]
    path = _index_path(repo)
    ino = os.stat(path).st_ino
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # in WAL mode: a writer that never lets go
    real_open = Index.open
    monkeypatch.setattr(Index, "open", lambda self, **kw: real_open(self, **{**kw, "timeout": 0.3}))
    try:
        t = Tracker(repo)
        t.update_issue(a, title="edited while the index is locked")
        assert t.show(a)["title"] == "edited while the index is locked"
        assert any("index unavailable" in w and "locked" in w for w in t.store.warnings), t.store.warnings
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    monkeypatch.undo()
    assert os.stat(path).st_ino == ino
    assert Tracker(repo).show(a)["title"] == "edited while the index is locked"
    assert corrupt(sqlite3.DatabaseError("file is not a database")) or sys.version_info >= (3, 11)
    assert not corrupt(sqlite3.OperationalError("database is locked"))


def test_pack_refs_keeps_answers(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gitjit.store.indexer as indexed

    ids = [tracker.create_issue(f"t{i}")["id"] for i in range(6)]
    tracker.add_dependency(ids[0], ids[1:3])
    git("pack-refs", "--all", "--prune", cwd=repo)
    assert not list((repo / ".git/refs/jit/issues").glob("*")) if (repo / ".git/refs/jit/issues").exists() else True
    tracker.update_issue(ids[1], state="done")
    assert_same(repo, tracker)
    # a refresh packs once loose refs pile up
    monkeypatch.setattr(indexed, "PACK_THRESHOLD", 3)
    more = [tracker.create_issue(f"u{i}")["id"] for i in range(5)]
    tracker.status()
    packed = (repo / ".git/packed-refs").read_text()
    assert f"refs/jit/issues/{more[0]}" in packed
    loose = [p for p in (repo / ".git/refs/jit/issues").glob("*")] if (repo / ".git/refs/jit/issues").exists() else []
    assert len(loose) < 3
    assert_same(repo, tracker)


def test_bad_ref_is_skipped_with_the_same_warning(tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("good")["id"]
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="not a commit").stdout.strip()
    git("update-ref", "refs/jit/issues/0123456789ab", blob, cwd=repo)
    t = Tracker(repo)
    assert [i["id"] for i in t.query("all")["issues"]] == [a]
    ref = reference(repo)
    ref.query("all")
    assert t.warnings == ref.warnings and t.warnings
    assert_same(repo, t)


def _append_raw(repo: Path, iid: str, events: list[dict]) -> None:
    """Write events onto an issue ref behind the tracker's back (as a merge from a clone would)."""
    t = reference(repo)
    cur = t.store.load("refs/jit/issues/", iid)
    clock = max(e.clock for e in cur.events)
    evs = list(cur.events)
    for spec in events:
        clock += 1
        evs.append(Event.build(id=new_event_id(), clock=clock, timestamp=now_ts(), actor="agent:x", issue_id=iid, **spec))
    commit = t.git.write_commit({"events.jsonl": serialize_events(evs)}, [cur.tip], "raw", author=("x", "x@x"))
    git("update-ref", f"refs/jit/issues/{iid}", commit, cur.tip, cwd=repo)


def test_cycle_from_a_merge_is_broken_like_the_full_fold(tracker: Tracker, repo: Path) -> None:
    a, b, c, d = (tracker.create_issue(n)["id"] for n in "abcd")
    tracker.add_dependency(a, [b])
    tracker.add_dependency(b, [c])
    tracker.add_dependency(d, [a])
    assert_same(repo, tracker)
    _append_raw(repo, c, [{"type": "dependency_added", "dependency": a}])  # closes a -> b -> c -> a
    assert tracker.status()["conflicts"], "the broken edge is reported"
    assert_same(repo, tracker)
    tracker.remove_dependency(b, [c])  # the cycle is gone: the broken edge comes back
    assert not tracker.status()["conflicts"]
    assert_same(repo, tracker)
    tracker.update_issue(b, state="done")
    assert_same(repo, tracker)


def test_dependency_on_an_issue_arriving_later(tracker: Tracker, repo: Path) -> None:
    a = tracker.create_issue("waits")["id"]
    _append_raw(repo, a, [{"type": "dependency_added", "dependency": "abcdefabcdef"}])
    assert tracker.show(a)["blocked_reasons"][0]["type"] == "missing_dependency"
    assert_same(repo, tracker)
    # the missing issue arrives (as from a pull): the waiting issue sees it at once
    other = Tracker(repo, actor="agent:o")
    other.use_index = False
    spec = {"type": "issue_created", "title": "late", "description": "", "priority": "normal", "labels": [],
            "context": {}, "gates": []}
    ev = Event.build(id=new_event_id(), clock=1, timestamp=now_ts(), actor="agent:o", issue_id="abcdefabcdef", **spec)
    commit = other.git.write_commit({"events.jsonl": serialize_events([ev])}, [], "create", author=("o", "o@o"))
    git("update-ref", "refs/jit/issues/abcdefabcdef", commit, "", cwd=repo)
    assert tracker.show(a)["blocked_reasons"][0]["type"] == "dependency"
    assert_same(repo, tracker)


def test_a_time_in_another_form_turns_the_rows_times_to_text(tracker: Tracker, repo: Path) -> None:
    """The issue rows keep their times as integers, which sort as the canonical texts do; a
    created_at that has no canonical form (a crafted event: year 1 at UTC+01:00 parses, but
    cannot be moved to UTC) turns every row's times into text, and the orders stay the fold's."""
    a = tracker.create_issue("first", priority="high")["id"]
    b = tracker.create_issue("second", priority="high")["id"]
    tracker.claim(b, "agent:a")
    tracker.status()
    db = sqlite3.connect(repo / ".git" / INDEX_FILE)
    assert {type(v) for (v,) in db.execute("SELECT created_at FROM issues")} == {int}
    other = Tracker(repo, actor="agent:o")
    other.use_index = False
    spec = {"type": "issue_created", "title": "odd time", "description": "", "priority": "high", "labels": [],
            "context": {}, "gates": []}
    ev = Event.build(id=new_event_id(), clock=1, timestamp="0001-01-01T00:00:00+01:00", actor="agent:o",
                     issue_id="abcdefabcdef", **spec)
    commit = other.git.write_commit({"events.jsonl": serialize_events([ev])}, [], "create", author=("o", "o@o"))
    git("update-ref", "refs/jit/issues/abcdefabcdef", commit, "", cwd=repo)
    assert tracker.query("all")["issues"][0]["id"] in (a, "abcdefabcdef")
    assert_same(repo, tracker)
    assert {type(v) for (v,) in db.execute("SELECT created_at FROM issues")} == {str}
    assert db.execute("SELECT v FROM meta WHERE k='ts_text'").fetchone() == ("1",)
    tracker.update_issue(a, title="first, renamed")
    assert_same(repo, tracker)
    db.close()


def test_index_lives_in_the_common_dir_of_a_worktree(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    git("commit", "--allow-empty", "-q", "-m", "init", cwd=repo)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    a = tracker.create_issue("shared")["id"]
    t2 = Tracker(tmp_path / "wt")
    assert t2.show(a)["title"] == "shared"
    assert os.path.exists(repo / ".git" / INDEX_FILE)
    assert not list((repo / ".git/worktrees").rglob("index.sqlite3"))


def test_scan_notices_every_kind_of_ref_change(tracker: Tracker, repo: Path) -> None:
    """The stat signature, loose listing and packed-refs diff, driven directly."""
    a = tracker.create_issue("x")["id"]
    tracker.status()
    ix = Index(tracker.git.common_dir)
    ix.open()
    tip = git("rev-parse", f"refs/jit/issues/{a}", cwd=repo).stdout.strip()
    d = ix.check()
    assert d is None or d.empty
    git("pack-refs", "--all", "--prune", cwd=repo)
    d = ix.check()
    assert d is not None and d.full and d.empty  # packed-refs changed, the tips did not
    tracker.update_issue(a, title="y")
    d2 = Index(tracker.git.common_dir)
    d2.open()
    assert (d2.check() or d).empty  # the writer brought the index in step itself
    git("update-ref", f"refs/jit/issues/{a}", tip, cwd=repo)
    d = ix.check()
    assert d is not None and d.changed == {f"refs/jit/issues/{a}": tip}


def test_a_long_chain_of_open_issues(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    """1,500 open issues each depending on the previous one: states are computed without
    recursing down the chain (it used to be quadratic and hit the recursion limit)."""
    from gitjit.app.exchange import import_file

    lines = [{"key": f"k{i}", "title": f"step {i}", "depends_on": [f"k{i - 1}"] if i else []} for i in range(1500)]
    (tmp_path / "chain.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    ids = import_file(tracker, str(tmp_path / "chain.jsonl"))["ids"]
    assert [i["id"] for i in tracker.query("ready")["issues"]] == [ids["k0"]]
    last = tracker.show(ids["k1499"])
    assert last["state"] == "open" and last["blocked_reasons"][0]["state"] == "open"
    ref = reference(repo)
    assert ref.show(ids["k1499"]) == last and ref.query("ready") == tracker.query("ready")
    tracker.update_issue(ids["k0"], state="done")
    assert tracker.show(ids["k1"])["state"] == "ready" and tracker.show(ids["k2"])["blocked_reasons"][0]["state"] == "ready"


def test_search_issue_events_and_registry_read_only_what_they_answer(tracker: Tracker, repo: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """At 100,000 issues ``issue search`` took 1.4 s reading every issue's description, ``events
    query --issue`` 0.6-0.9 s reading every event row, and ``registry list`` 0.4 s listing every
    ref. Now a search reads the narrow ``search`` table (never the documents), an issue's events
    come through ``events_issue``, and the registry comes from the index without listing refs;
    the answers are checked against a full fold in test_random_operations_match_full_fold."""
    from gitjit.git.repo import GitRepo

    ids = [tracker.create_issue(f"task {n}", description=f"about thing {n}", labels=["team:a"])["id"]
           for n in range(12)]
    tracker.registry_add("review", title="Code review")
    tracker.claim(ids[3], "agent:a")
    tracker.status()
    c = tracker.index.indexer().ix.c
    read: set[str] = set()
    sql: list[str] = []

    def auth(action: int, arg1: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and arg1:
            read.add(arg1)
        return sqlite3.SQLITE_OK

    c.set_authorizer(auth)
    c.set_trace_callback(sql.append)
    try:
        assert tracker.search("THING 1")["count"] == 3  # 1, 10, 11
        # the match ran on the stored states (one scan), then the documents of the three found, by id
        assert "docs" in read and "search" not in read, read
        scans = [q for q in sql if " docs" in q and " id IN (" not in q and "id=?" not in q]
        assert len(scans) == 1 and "deleted=0" in scans[0], sql
        sql.clear()
        types = [e["type"] for e in tracker.events(issue=ids[3])]
        assert types[0] == "issue_created" and "issue_claimed" in types, types
        plans = [" ".join(str(r[-1]) for r in c.execute("EXPLAIN QUERY PLAN " + q))
                 for q in sql if q.startswith("SELECT ts, clock, rno, seq FROM events")]
    finally:
        c.set_authorizer(None)
        c.set_trace_callback(None)
    # the issue's own ref's documents, the events elsewhere naming it by their partial index: no scan
    assert plans and all("events_iss" in p and "SCAN" not in p for p in plans), plans
    monkeypatch.setattr(GitRepo, "tips", lambda *a, **k: pytest.fail("listed every ref"))
    assert [g["key"] for g in tracker.registry_list()["gates"]] == ["review"]
    assert tracker.registry_show("review")["title"] == "Code review"


def test_a_write_recomputes_dependents_only_when_what_they_show_changed(tracker: Tracker, repo: Path,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A dependent shows a dependency's title and effective state, and follows whether it is
    finished: a write that changes neither (priority, labels, context) recomputes the written
    issue alone; one that does recomputes its dependents (and, where their state moved, theirs).
    Before, every write recomputed every dependent: 5,000 of them for a new priority."""
    from gitjit.app.exchange import import_file
    from gitjit.store.indexer import Indexer

    lines = [{"key": "base", "title": "base"}]
    lines += [{"key": f"d{i}", "title": f"dependent {i}", "depends_on": ["base"]} for i in range(30)]
    lines += [{"key": "top", "title": "top", "depends_on": ["d0"]}]
    (tmp_path / "fan.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    ids = import_file(tracker, str(tmp_path / "fan.jsonl"))["ids"]
    base, deps = ids["base"], {ids[f"d{i}"] for i in range(30)}
    tracker.status()
    seen: list[set[str]] = []
    recompute = Indexer._recompute
    monkeypatch.setattr(Indexer, "_recompute",
                        lambda self, todo, extra: seen.append(set(todo or ())) or recompute(self, todo, extra))

    def recomputed(change: Callable[[], object]) -> set[str]:
        seen.clear()
        change()
        tracker.status()
        return set().union(*seen) if seen else set()

    assert recomputed(lambda: tracker.update_issue(base, priority="high")) == {base}
    assert recomputed(lambda: tracker.update_issue(base, labels_add=["team:x"], context={"k": "v"})) == {base}
    assert recomputed(lambda: tracker.update_issue(base, title="base renamed")) == {base} | deps
    # claimed: its effective state moves, so dependents show it; theirs does not move
    assert recomputed(lambda: tracker.claim(base, "agent:a")) == {base} | deps
    # done: the dependents become ready, so what depends on them (top) shows that too
    assert recomputed(lambda: tracker.update_issue(base, state="done")) == {base, ids["top"]} | deps
    assert tracker.show(ids["d0"])["state"] == "ready"
    assert tracker.show(ids["top"])["blocked_reasons"][0]["state"] == "ready"
    assert_same(repo, tracker)


def test_pack_threshold_grows_with_packed_refs() -> None:
    """Loose refs are packed at 200 up to ~10,000 refs, later as packed-refs grows (each pack makes
    every process re-read it), never above PACK_MAX."""
    from gitjit.store.index import Delta
    from gitjit.store.indexer import PACK_MAX, PACK_THRESHOLD, pack_threshold

    def at(size: int | None) -> int:
        d = Delta()
        d.sig = {"stats": {"packed-refs": [1, 2, size] if size is not None else [None]}}
        return pack_threshold(d)

    assert at(None) == at(0) == at(700_000) == PACK_THRESHOLD
    assert at(3_000_000) == 300 and at(7_000_000) == PACK_MAX
    assert at(10**9) == PACK_MAX


# ---------------------------------------------------------------------------------- tables in place

_TABLES = {  # every table a fold writes, in a stable order (``loose`` and ``meta`` are bookkeeping)
    "refs": "SELECT ref, tip, kind, key, warning FROM refs ORDER BY ref",
    "issues": "SELECT * FROM issues ORDER BY id",
    "docs": "SELECT id, dlen, body FROM docs ORDER BY id",
    "edges": "SELECT * FROM edges ORDER BY src, pos",
    "gates_on": "SELECT * FROM gates_on ORDER BY issue, gate",
    "gatedefs": "SELECT * FROM gatedefs ORDER BY key",
    # by the ref's name: its number (``rno``) depends on the order the refs were first seen
    "events": "SELECT r.ref, e.seq, e.ts, e.clock, t.type, e.iss FROM events e JOIN refs r ON r.rno=e.rno "
              "JOIN evtypes t ON t.code=e.type ORDER BY r.ref, e.seq",
    "evblobs": "SELECT r.ref, b.events FROM evblobs b JOIN refs r ON r.rno=b.rno ORDER BY r.ref",
}


def _tables(t: Tracker) -> dict[str, list]:
    t.board()  # in step with the refs
    ix = t.index.indexer().ix
    c = ix.c
    out = {}
    for name, q in _TABLES.items():
        # states and JSON are compressed against samples a rebuild took: compared as text
        out[name] = [(row[0], ix.body_doc(*row[1:]), ix.body_state(*row[1:])) if name == "docs" else row
                     for row in c.execute(q)]
    return out


def _rebuilt_tables(repo: Path, tmp: Path) -> dict[str, list]:
    """The tables of an index built from nothing over a copy of the repository."""
    import shutil

    copy = tmp / f"copy{len(list(tmp.iterdir()))}"
    shutil.copytree(repo, copy, symlinks=True)
    for s in ("", "-wal", "-shm"):
        Path(str(_index_path(copy)) + s).unlink(missing_ok=True)
    return _tables(Tracker(copy))


def _insert_raw(repo: Path, iid: str, spec: dict, at: int) -> None:
    """An event that sorts *between* two events of the log (a clock already used, an id that sorts
    first), as a merge with a clone can leave it: the log changes in the middle, not at the end."""
    t = reference(repo)
    cur = t.store.load("refs/jit/issues/", iid)
    evs = list(cur.events)
    clock = evs[min(at, len(evs) - 1)].clock
    evs.append(Event.build(id="0" * 31 + "1", clock=clock, timestamp=now_ts(), actor="agent:x", issue_id=iid, **spec))
    evs.sort(key=lambda e: (e.clock, e.id))
    commit = t.git.write_commit({"events.jsonl": serialize_events(evs)}, [cur.tip], "raw", author=("x", "x@x"))
    git("update-ref", f"refs/jit/issues/{iid}", commit, cur.tip, cwd=repo)


def test_rows_written_in_place_match_a_rebuild(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    """A fold writes only the rows and columns that changed (``Indexer._write_issues``, events
    appended rather than rewritten): after writes of every kind, refs moved back, logs changed in
    the middle and refs removed, every table holds exactly what a rebuild from nothing holds."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as hs

    tmp = tmp_path / "copies"
    tmp.mkdir()
    ids: list[str] = [tracker.create_issue(f"seed {n}", gates=["review"] if n % 3 == 0 else [])["id"]
                      for n in range(8)]
    for a, b in zip(ids, ids[1:]):
        tracker.add_dependency(a, [b])  # a chain: a change deep in it shows two levels up
    history: dict[str, list[str]] = {}

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(hs.lists(hs.tuples(hs.sampled_from(["ops", "rewind", "middle", "remove", "pack"]),
                              hs.integers(0, 10_000)), min_size=1, max_size=5))
    def run(steps: list[tuple[str, int]]) -> None:
        for kind, n in steps:
            rng = random.Random(n)
            if kind == "ops":
                random_ops(tracker, rng, 12, ids)
            live = [i for i in ids if git("rev-parse", "-q", "--verify", f"refs/jit/issues/{i}", cwd=repo,
                                          check=False).returncode == 0]
            for i in live:
                tip = git("rev-parse", f"refs/jit/issues/{i}", cwd=repo).stdout.strip()
                history.setdefault(i, [])
                if tip not in history[i]:
                    history[i].append(tip)
            if not live:
                continue
            iid = rng.choice(live)
            if kind == "rewind" and len(history[iid]) > 1:
                git("update-ref", f"refs/jit/issues/{iid}", rng.choice(history[iid][:-1]), cwd=repo)
            elif kind == "middle":
                _insert_raw(repo, iid, {"type": "issue_updated", "changes": {"title": f"mid {n}"},
                                        "fields": ["title"]}, rng.randint(0, 3))
            elif kind == "remove" and rng.random() < 0.5:
                git("update-ref", "-d", f"refs/jit/issues/{iid}", cwd=repo)
            elif kind == "pack":
                git("pack-refs", "--all", cwd=repo)
            if kind in ("rewind", "middle") and rng.random() < 0.5:
                try:  # and this process writes on top of what changed behind its back
                    tracker.update_issue(iid, priority=rng.choice(["low", "high"]))
                except GitjitError:
                    pass
        got, want = _tables(tracker), _rebuilt_tables(repo, tmp)
        for name in _TABLES:
            assert set(got[name]) ^ set(want[name]) == set(), name
            assert got[name] == want[name], name

    run()


def test_a_rebuild_in_slices_writes_the_same_tables(tracker: Tracker, repo: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild writes the issues' rows and the events ``WRITE_CHUNK`` refs at a time (its peak
    memory at 100,000 issues): in slices of 3 it leaves exactly the tables of one slice."""
    import gitjit.store.indexer as indexed

    tmp = tmp_path / "copies"
    tmp.mkdir()
    ids = [tracker.create_issue(f"t{i}", gates=["review"] if i % 4 == 0 else [],
                                priority=("high", "normal", "low")[i % 3])["id"] for i in range(17)]
    for a, b in zip(ids, ids[2:]):
        tracker.add_dependency(a, [b])
    random_ops(tracker, random.Random(7), 25, ids)
    want = _rebuilt_tables(repo, tmp)
    monkeypatch.setattr(indexed, "WRITE_CHUNK", 3)
    got = _rebuilt_tables(repo, tmp)
    assert got == want
    assert len(want["issues"]) >= 17


def test_the_code_stamp_covers_modules_that_exist() -> None:
    """The stamp names the modules whose output the index stores: each must exist, or an edit of
    the fold or of the JSON shapes would leave a stale index in use (the paths went stale once,
    when the modules moved into core/ and store/)."""
    from gitjit.store.index import code_stamp

    parts = code_stamp().split("|")[2:]
    assert parts and not [p for p in parts if p.endswith(":-")], parts
    assert any(p.startswith(os.path.join("core", "model.py")) for p in parts)


def test_documents_read_by_id_or_in_one_pass_are_the_same(tracker: Tracker, repo: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``Index.docs`` reads a few documents by id and most of the table in one pass (``issue list``
    of everything): the same texts either way, in the order asked, deleted issues' left out."""
    ids = [tracker.create_issue(f"task {n}", description=f"about {n}")["id"] for n in range(10)]
    tracker.delete_issue(ids[4])
    tracker.status()
    ix = tracker.index.indexer().ix
    monkeypatch.setattr(index_mod, "DOCS_PASS_FROM", 2)
    few = [ids[7], ids[2]]  # 2 * 3 < 10: by id
    many = ids[::-1]  # every row: one pass
    many.remove(ids[4])
    by_id = ix.docs(few)
    in_one_pass = ix.docs(many)
    assert [json.loads(d)["id"] for d in by_id] == few
    assert [json.loads(d)["id"] for d in in_one_pass] == many
    assert in_one_pass[many.index(ids[7])] == by_id[0] and in_one_pass[many.index(ids[2])] == by_id[1]
