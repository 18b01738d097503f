"""A pull of many moved refs (docs/sharing.md, "Many refs moved"): the moved tips fetched by id,
the tracking and the local refs each moved in one rewrite of ``packed-refs``
(gitjit/git/packedrefs.py), every new event still checked; and a pull after this clone's own
push is a quiet one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synclib import hub_and_clones, jit_tips, tracker

from gitjit.git import CasFailed, RefLocked, packedrefs
from gitjit.git import run as git_run
from gitjit.git.packedrefs import ANY, read_tips, update
from gitjit.store import sync as sync_mod


def _commits(repo: Path, n: int) -> list[str]:
    out = []
    for k in range(n):
        git("commit", "-q", "--allow-empty", "-m", f"c{k}", cwd=repo)
        out.append(git("rev-parse", "HEAD", cwd=repo).stdout.strip())
    return out


def _git_refs(repo: Path, prefix: str = "refs/jit/") -> dict[str, str]:
    return jit_tips(repo, prefix)


def _common(repo: Path) -> str:
    return str(repo / ".git")


# ----------------------------------------------------------------------------- the transaction


def test_one_rewrite_creates_updates_and_deletes_and_git_agrees(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git("config", "core.logAllRefUpdates", "always", cwd=repo)
    c = _commits(repo, 4)
    git("update-ref", "refs/jit/issues/aaa", c[0], cwd=repo)  # loose
    git("update-ref", "refs/jit/issues/bbb", c[0], cwd=repo)
    git("pack-refs", "--all", cwd=repo)
    git("update-ref", "refs/jit/issues/ccc", c[1], cwd=repo)  # loose, over nothing packed
    raced = update(_common(repo), [("refs/jit/issues/aaa", c[0], c[2]), ("refs/jit/issues/ccc", c[1], c[3]),
                                   ("refs/jit/issues/ddd", None, c[1]), ("refs/jit/issues/bbb", ANY, None)],
                   reflog=("Tester <t@example.invalid>", "jit pull from origin"), log_all=True)
    assert raced == set()
    assert _git_refs(repo) == {"refs/jit/issues/aaa": c[2], "refs/jit/issues/ccc": c[3], "refs/jit/issues/ddd": c[1]}
    assert read_tips(_common(repo), "refs/jit/") == _git_refs(repo)
    assert not (repo / ".git/refs/jit/issues/ccc").exists()  # packed now, no loose file shadows it
    assert not list((repo / ".git/refs/jit").rglob("*.lock"))
    log = git("reflog", "show", "--format=%H %gs", "refs/jit/issues/ccc", cwd=repo).stdout.splitlines()
    assert log[0] == f"{c[3]} jit pull from origin"
    git("fsck", "--no-dangling", cwd=repo)


def test_a_wrong_old_value_or_a_held_lock_moves_nothing(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    c = _commits(repo, 3)
    git("update-ref", "refs/jit/issues/aaa", c[0], cwd=repo)
    git("update-ref", "refs/jit/issues/bbb", c[0], cwd=repo)
    git("pack-refs", "--all", cwd=repo)
    before = (repo / ".git/packed-refs").read_bytes()
    with pytest.raises(CasFailed):
        update(_common(repo), [("refs/jit/issues/aaa", c[0], c[1]), ("refs/jit/issues/bbb", c[1], c[2])])
    with pytest.raises(CasFailed):  # must not exist, but does
        update(_common(repo), [("refs/jit/issues/aaa", None, c[1])])
    lock = repo / ".git/refs/jit/issues/bbb.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    with pytest.raises(RefLocked):
        update(_common(repo), [("refs/jit/issues/aaa", c[0], c[1]), ("refs/jit/issues/bbb", c[0], c[2])])
    lock.unlink()
    (repo / ".git/packed-refs.lock").write_text("")
    with pytest.raises(RefLocked):
        update(_common(repo), [("refs/jit/issues/aaa", c[0], c[1])], wait=0.1)
    (repo / ".git/packed-refs.lock").unlink()
    assert (repo / ".git/packed-refs").read_bytes() == before
    assert _git_refs(repo) == {"refs/jit/issues/aaa": c[0], "refs/jit/issues/bbb": c[0]}
    assert not list((repo / ".git").rglob("*.lock"))


def test_a_name_that_clashes_with_another_ref_is_refused(tmp_path: Path) -> None:
    """A hostile remote may advertise both ``x`` and ``x/y``: git cannot hold both as files."""
    repo = make_repo(tmp_path / "r")
    c = _commits(repo, 1)
    git("update-ref", "refs/jit-remotes/o/issues/x", c[0], cwd=repo)
    git("pack-refs", "--all", cwd=repo)
    for name in ("refs/jit-remotes/o/issues/x/y", "refs/jit-remotes/o/issues"):
        with pytest.raises(CasFailed):
            update(_common(repo), [(name, ANY, c[0])])
    with pytest.raises(CasFailed):
        update(_common(repo), [("refs/jit-remotes/o/issues/p", ANY, c[0]), ("refs/jit-remotes/o/issues/p/q", ANY, c[0])])
    with pytest.raises(ValueError):
        update(_common(repo), [("refs/jit/issues/ok", None, "abc")])
    assert _git_refs(repo, "refs/jit-remotes/") == {"refs/jit-remotes/o/issues/x": c[0]}


def test_a_writer_that_takes_a_ref_meanwhile_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer that locked a ref while the new packed-refs went in (so it may have read the old
    value) is returned, for the caller to look at again; the other refs moved."""
    repo = make_repo(tmp_path / "r")
    c = _commits(repo, 3)
    for n in ("aaa", "bbb"):
        git("update-ref", f"refs/jit/issues/{n}", c[0], cwd=repo)
    git("pack-refs", "--all", cwd=repo)
    real = os.rename

    def renaming(src, dst):  # type: ignore[no-untyped-def]
        real(src, dst)
        if str(dst).endswith("packed-refs"):  # another writer locks bbb right then
            (repo / ".git/refs/jit/issues").mkdir(parents=True, exist_ok=True)
            (repo / ".git/refs/jit/issues/bbb.lock").write_text("")

    monkeypatch.setattr(os, "rename", renaming)
    raced = update(_common(repo), [("refs/jit/issues/aaa", c[0], c[1]), ("refs/jit/issues/bbb", c[0], c[1])])
    monkeypatch.undo()
    assert raced == {"refs/jit/issues/bbb"}
    (repo / ".git/refs/jit/issues/bbb.lock").unlink()
    assert _git_refs(repo)["refs/jit/issues/aaa"] == c[1]


NAMES = [f"refs/jit/issues/{n}" for n in ("a1", "a2", "b1", "b2", "c")]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(st.tuples(st.sampled_from(NAMES), st.integers(0, 3), st.booleans(), st.booleans()),
                         min_size=1, max_size=5), min_size=1, max_size=4))
def test_transactions_match_a_model_and_git(tmp_path_factory: pytest.TempPathFactory, rounds) -> None:  # type: ignore[no-untyped-def]
    """Rounds of updates (some with a wrong old value, some refs left loose by git): each round moves
    all of its refs or none, exactly as a dict would, and git reads back what the model holds."""
    repo = make_repo(tmp_path_factory.mktemp("p") / "r")
    c = _commits(repo, 4)
    model: dict[str, str] = {}
    for k, ops in enumerate(rounds):
        ups: list[tuple[str, str | None, str | None]] = []
        for name, target, wrong, delete in ops:
            if any(u[0] == name for u in ups):
                continue
            cur = model.get(name)
            old = (c[(c.index(cur) + 1) % 4] if cur else c[0]) if wrong else cur
            ups.append((name, old, None if delete and cur else c[target]))
        expect_ok = all(old == model.get(name) for name, old, _ in ups)
        try:
            assert update(_common(repo), ups) == set()
            assert expect_ok
            for name, _old, new in ups:
                if new is None:
                    model.pop(name, None)
                else:
                    model[name] = new
        except CasFailed:
            assert not expect_ok
        assert _git_refs(repo) == model == read_tips(_common(repo), "refs/jit/")
        if k % 2 and model:  # git writes one loose, as a local write would
            name = min(model)
            git("update-ref", name, c[3], cwd=repo)
            model[name] = c[3]


# ----------------------------------------------------------------------------- pulls


def test_a_pull_of_many_moved_refs_writes_no_loose_ref_and_checks_each_new_event(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_mod, "FEW_MOVED", 2)  # more than this moved: the bulk pull
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(12)]
    ta.sync()
    tb.pull()
    for n, iid in enumerate(ids[:8]):
        ta.update_issue(iid, title=f"moved {n}")
    local = tb.update_issue(ids[7], title="and here")  # diverged: a merge
    ta.push()
    # a hostile copy of one moved ref: a control character no writer of this version puts there
    bad = ids[3]
    blob = git("--git-dir", str(hub), "show", f"refs/jit/issues/{bad}:events.jsonl", cwd=hub).stdout
    lines = blob.splitlines()
    lines[-1] = lines[-1].replace("moved 3", "moved \\u009b3")
    doc = tmp_path / "doc"
    doc.write_text("\n".join(lines) + "\n")
    blob_id = git("--git-dir", str(hub), "hash-object", "-w", str(doc), cwd=hub).stdout.strip()
    tree = git("--git-dir", str(hub), "mktree", cwd=hub, input=f"100644 blob {blob_id}\tevents.jsonl\n").stdout.strip()
    parent = git("--git-dir", str(hub), "rev-parse", f"refs/jit/issues/{bad}", cwd=hub).stdout.strip()
    forged = git("--git-dir", str(hub), "commit-tree", tree, "-p", parent, "-m", "x", cwd=hub).stdout.strip()
    git("--git-dir", str(hub), "update-ref", f"refs/jit/issues/{bad}", forged, cwd=hub)
    seen: list[str] = []
    real = git_run.run

    def spying(args, **kw):  # type: ignore[no-untyped-def]
        seen.append(" ".join(str(x) for x in args))
        return real(args, **kw)

    monkeypatch.setattr(git_run, "run", spying)
    tb = tracker(b)
    res = tb.pull()
    monkeypatch.setattr(git_run, "run", real)
    assert sorted(res["fast_forwarded"]) == sorted(f"refs/jit/issues/{i}" for i in ids[:7] if i != bad)
    assert res["merged"] == [f"refs/jit/issues/{ids[7]}"]
    assert [s["ref"] for s in res["skipped"]] == [f"refs/jit/issues/{bad}"]
    assert any("U+009B" in w for w in tb.warnings), tb.warnings
    fetches = [s for s in seen if " fetch " in f" {s} "]
    assert len(fetches) == 1 and "--stdin" in fetches[0] and "refs/" not in fetches[0], fetches
    assert not any("update-ref" in s or "pack-refs" in s for s in seen), seen
    # the tracking refs are what the hub holds, none of them a loose file
    assert {k.replace("refs/jit-remotes/origin/", "refs/jit/"): v
            for k, v in jit_tips(b, "refs/jit-remotes/").items()} == jit_tips(hub)
    assert not [p for p in (b / ".git/refs/jit-remotes").rglob("*") if p.is_file()]
    assert tb.show(ids[2])["title"] == "moved 2"
    assert tb.show(bad)["title"] == "t3"  # the hostile copy was not merged
    assert tb.show(ids[7])["title"] in ("moved 7", "and here") and local
    git("fsck", "--no-dangling", cwd=b)
    # and both clones converge on everything but the refused ref
    tb.sync()
    ta.sync()
    assert {k: v for k, v in jit_tips(a).items() if bad not in k} == {k: v for k, v in jit_tips(b).items()
                                                                       if bad not in k}


def test_a_pull_after_this_clones_own_push_is_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(12)]
    ta.sync()
    tb.sync()
    for iid in ids:  # more than a hub claim's few refs: the push writes its tracking refs in bulk
        tb.update_issue(iid, title="b was here")
    assert tracker(b).sync()["push"]["count"] == 12
    calls: list[str] = []
    real = git_run.run

    def counting(args, **kw):  # type: ignore[no-untyped-def]
        calls.append(git_run._name(args))
        return real(args, **kw)

    monkeypatch.setattr(git_run, "run", counting)
    res = tracker(b).pull()
    assert calls == ["git ls-remote"], calls
    assert res["counts"]["unchanged"] == 12
    # someone else moves one: the next pull brings just that
    monkeypatch.setattr(git_run, "run", real)
    ta.sync()
    ta.update_issue(ids[0], title="a again")
    ta.push()
    monkeypatch.setattr(git_run, "run", counting)
    calls.clear()
    res = tracker(b).pull()
    assert res["fast_forwarded"] == [f"refs/jit/issues/{ids[0]}"]
    assert calls.count("git fetch") == 1
    # a push on its own (no pull in the same process) keeps the record too: nothing moved but what
    # it pushed, so the next pull fetches nothing
    monkeypatch.setattr(git_run, "run", real)
    tb = tracker(b)
    tb.update_issue(ids[1], title="b alone")
    tb.pull()
    tracker(b).push()
    monkeypatch.setattr(git_run, "run", counting)
    calls.clear()
    res = tracker(b).pull()
    assert "git fetch" not in calls, calls
    assert res["counts"]["unchanged"] == 12 and tracker(b).show(ids[1])["title"] == "b alone"


def test_a_server_that_refuses_wants_by_id_gets_the_fetch_by_name(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_mod, "FEW_MOVED", 0)
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(3)]
    ta.sync()
    monkeypatch.setattr(sync_mod.Syncer, "fetch_objects", lambda self, remote, oids: False)
    res = tb.pull()
    assert sorted(res["created"]) == sorted(f"refs/jit/issues/{i}" for i in ids)
    assert packedrefs.read_tips(str(b / ".git"), "refs/jit/") == jit_tips(b)
