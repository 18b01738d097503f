"""Bulk reads of event documents (``GitRepo.read_files``, ``EntityStore.events_many``) give
exactly what reading each commit with libgit2 gives: the same bytes, the same errors, in order,
whether ``git cat-file --batch`` does the reading or not.

Index rebuilds and large refreshes read through it, so the last test rebuilds a 250-issue index
(with a broken ref and a malformed document among them) and compares it with folding every ref.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from conftest import git
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app.exchange import import_file
from gitjit.app.tracker import Tracker
from gitjit.core.errors import ValidationError
from gitjit.git import BadRef, GitRepo
from gitjit.git import repo as repo_mod
from gitjit.store.entities import DOC
from gitjit.store.index import INDEX_FILE

AUTHOR = ("Bulk Test", "bulk@example.invalid")


def one_by_one(g: GitRepo, commits: list[str]) -> list[bytes | str]:
    out: list[bytes | str] = []
    for c in commits:
        try:
            out.append(g.read_file(c, DOC))
        except BadRef as e:
            out.append(f"BadRef: {e}")
    return out


def bulk(g: GitRepo, commits: list[str]) -> list[bytes | str]:
    return [f"BadRef: {x}" if isinstance(x, BadRef) else x for x in g.read_files(commits, DOC)]


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many objects each ``git cat-file`` process was asked for (the bulk path was taken)."""
    calls: list[int] = []
    real = repo_mod._CatFile.start.__func__  # type: ignore[attr-defined]

    def start(cls, git_dir, oids):  # type: ignore[no-untyped-def]
        calls.append(len(oids))
        return real(cls, git_dir, oids)

    monkeypatch.setattr(repo_mod._CatFile, "start", classmethod(start))
    return calls


def _populate(repo: Path, n: int) -> tuple[GitRepo, list[str], dict[str, str]]:
    """``n`` good commits (documents of varied sizes, chained so that gc deltifies them) and one
    commit of each broken kind; returns them shuffled, and the broken ones by kind."""
    g = GitRepo(str(repo))
    rng = random.Random(7)
    good = []
    doc = b""
    for k in range(n):
        doc += json.dumps({"n": k, "pad": "x" * rng.randrange(0, 300)}).encode() + b"\n"
        if len(doc) > 4000:
            doc = doc[-1000:]
        good.append(g.write_commit({DOC: doc}, [], f"c{k}", author=AUTHOR))
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="a blob, not a commit").stdout.strip()
    other = g.write_commit({"other.txt": b"no events here"}, [], "no doc", author=AUTHOR)
    tree_doc = git("mktree", cwd=repo, input=f"040000 tree {git('write-tree', cwd=repo).stdout.strip()}\t{DOC}\n")
    as_tree = git("commit-tree", tree_doc.stdout.strip(), "-m", "doc is a dir", cwd=repo).stdout.strip()
    # a commit whose document blob is gone (its loose file removed: a damaged object store)
    lost = g.write_commit({DOC: b'{"lost": true}\n'}, [], "lost", author=AUTHOR)
    lost_blob = g.file_id(lost, DOC)
    broken = {"blob": blob, "no_doc": other, "doc_is_tree": as_tree, "missing_commit": "ab" * 20,
              "missing_blob": lost}
    for name, ref in [(f"refs/test/{k}", c) for k, c in enumerate(good)]:
        git("update-ref", name, ref, cwd=repo)
    git("gc", "-q", cwd=repo)  # a pack with delta chains, as users' repositories have
    (repo / ".git/objects" / lost_blob[:2] / lost_blob[2:]).unlink(missing_ok=True)
    commits = good + list(broken.values())
    rng.shuffle(commits)
    return g, commits, broken


def test_bulk_read_gives_the_same_bytes_and_errors_as_libgit2(repo: Path, spied: list[int]) -> None:
    g, commits, broken = _populate(repo, 260)
    want = one_by_one(g, commits)
    assert sum(isinstance(x, str) for x in want) == len(broken)  # every broken kind is an error
    assert bulk(g, commits) == want
    assert spied and spied[0] >= 260, "read through git cat-file"
    # repeated commits, and a list too short for the bulk path, read the same
    twice = commits[:150] + commits[:150]
    assert bulk(g, twice) == want[:150] * 2
    assert bulk(g, commits[:5]) == want[:5] and len(spied) == 2


def test_without_git_on_path_libgit2_reads_everything(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    g, commits, _ = _populate(repo, 210)
    want = one_by_one(g, commits)
    empty = repo.parent / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert repo_mod._CatFile.start(g.git_dir, ["ab" * 20]) is None
    assert bulk(g, commits) == want


def test_replace_objects_are_ignored_like_libgit2(repo: Path, spied: list[int]) -> None:
    """``git replace`` must not change what jit reads (libgit2 does not honour replace refs)."""
    g = GitRepo(str(repo))
    commits = [g.write_commit({DOC: f'{{"n": {k}}}\n'.encode()}, [], "c", author=AUTHOR) for k in range(210)]
    fake = git("hash-object", "-w", "--stdin", cwd=repo, input='{"forged": true}\n').stdout.strip()
    git("replace", g.file_id(commits[3], DOC), fake, cwd=repo)
    got = bulk(g, commits)
    assert got[3] == b'{"n": 3}\n'
    assert got == one_by_one(g, commits) and spied


def _children_named_git() -> list[int]:
    me = str(os.getpid())
    out = []
    for d in Path("/proc").iterdir():
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if rest[1] == me and name.startswith("git"):
            out.append(int(d.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_stopping_early_leaves_no_git_process(repo: Path, spied: list[int]) -> None:
    g, commits, _ = _populate(repo, 220)
    it = g.read_files(commits, DOC)
    next(it)
    next(it)
    assert _children_named_git(), "git cat-file is running"
    it.close()
    assert _children_named_git() == []
    # and when the caller stops before the first object
    it = g.read_files(commits, DOC)
    it.close()
    assert _children_named_git() == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=30),
       cached=st.sets(st.integers(min_value=0, max_value=9)))
def test_events_many_is_events_at_in_order(tmp_path_factory: pytest.TempPathFactory,
                                           monkeypatch: pytest.MonkeyPatch, picks: list[int],
                                           cached: set[int]) -> None:
    """Any sequence of refs (repeats, broken documents, some already parsed) comes back as
    ``events_at`` gives it, through the bulk path (its threshold lowered to 1)."""
    monkeypatch.setattr(repo_mod, "BULK_READ_MIN", 1)
    repo = _events_repo(tmp_path_factory)
    t = Tracker(repo)
    items = _EVENTS_ITEMS[str(repo)]
    sel = [items[k] for k in picks]

    def expect(ref: str, tip: str) -> object:
        try:
            return Tracker(repo).store.events_at(tip, where=ref)
        except ValidationError as e:
            return e.message

    want = [expect(r, tp) for r, tp in sel]
    for k in cached:
        try:
            t.store.events_at(items[k][1], where=items[k][0])
        except ValidationError:
            pass
    got = [x.message if isinstance(x, ValidationError) else x for x in t.store.events_many(sel)]
    assert got == want


_EVENTS_ITEMS: dict[str, list[tuple[str, str]]] = {}


def _events_repo(factory: pytest.TempPathFactory) -> Path:
    """One repository for every example: 8 issues and two refs with unreadable documents."""
    if _EVENTS_ITEMS:
        return Path(next(iter(_EVENTS_ITEMS)))
    repo = factory.mktemp("events-many")
    git("init", "-q", str(repo), cwd=repo)
    t = Tracker(repo, actor="agent:t")
    t.init()
    ids = [t.create_issue(f"issue {k}")["id"] for k in range(8)]
    items = [(f"refs/jit/issues/{i}", t.git.tip(f"refs/jit/issues/{i}")) for i in ids]
    g = t.git
    bad_json = g.write_commit({DOC: b"{not json\n"}, [], "bad", author=AUTHOR)
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="x").stdout.strip()
    items += [("refs/jit/issues/0123456789ab", bad_json), ("refs/jit/issues/0123456789ac", blob)]
    _EVENTS_ITEMS[str(repo)] = [(r, tp) for r, tp in items if tp is not None]
    return repo


def test_cold_rebuild_through_bulk_reads_equals_folding_every_ref(repo: Path, tracker: Tracker,
                                                                   spied: list[int]) -> None:
    from test_index import assert_same, reference

    lines = []
    for k in range(250):
        deps = [f"k{j}" for j in (k - 1, k - 7) if j >= 0 and k % 3]
        lines.append(json.dumps({"key": f"k{k}", "title": f"task {k}", "depends_on": deps,
                                 "state": ("open", "done", "in_progress")[k % 3], "labels": ["team:bulk"]}))
    data = repo.parent / "issues.jsonl"
    data.write_text("\n".join(lines) + "\n")
    import_file(tracker, str(data))
    g = tracker.git
    bad = g.write_commit({DOC: b"{not json\n"}, [], "bad", author=AUTHOR)
    git("update-ref", "refs/jit/issues/0123456789ab", bad, cwd=repo)
    git("gc", "-q", cwd=repo)
    (repo / ".git" / INDEX_FILE).unlink()
    spied.clear()
    t = Tracker(repo)  # a new process's view: nothing parsed yet
    assert t.query("all")["count"] == 250
    assert spied and spied[0] >= 250, "the rebuild read through git cat-file"
    ref = reference(repo)
    ref.query("all")
    assert t.warnings == ref.warnings and any("0123456789ab" in w for w in t.warnings)
    assert_same(repo, t)
