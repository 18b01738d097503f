"""A pull or push that finds nothing moved stops early (docs/sharing.md, "When nothing moved"):
one `git ls-remote` and two stat signatures instead of a fetch and a listing of every ref. These
check that it never stops early when something did move, whoever moved it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from synclib import hub_and_clones, jit_tips, tracker

from gitjit.git import run as git_run


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = git_run.run

    def counting(args, **kw):  # type: ignore[no-untyped-def]
        seen.append(git_run._name(args))
        return real(args, **kw)

    monkeypatch.setattr(git_run, "run", counting)
    return seen


def test_a_sync_with_nothing_moved_is_one_ls_remote(tmp_path: Path, calls: list[str]) -> None:
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(3)]
    ta.sync()
    tb.sync()
    tb.sync()  # records what it found in step
    calls.clear()
    res = tb.sync()
    assert calls == ["git ls-remote"], calls
    assert res["pull"]["counts"]["unchanged"] == 3 and res["push"]["count"] == 0
    # the hub moves: the next pull fetches and brings it
    ta.update_issue(ids[0], title="renamed")
    ta.push()
    calls.clear()
    assert tb.pull()["fast_forwarded"] == [f"refs/jit/issues/{ids[0]}"]
    assert "git fetch" in calls
    assert tb.show(ids[0])["title"] == "renamed"


def test_a_local_write_after_a_quiet_push_is_pushed(tmp_path: Path) -> None:
    hub, (a, _b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a)
    iid = ta.create_issue("t")["id"]
    ta.sync()
    assert ta.push()["count"] == 0  # quiet now
    ta.update_issue(iid, title="changed here")
    assert ta.push()["pushed"] == [f"refs/jit/issues/{iid}"]
    assert jit_tips(hub)[f"refs/jit/issues/{iid}"] == jit_tips(a)[f"refs/jit/issues/{iid}"]
    new = ta.create_issue("new here")["id"]
    assert ta.sync()["push"]["pushed"] == [f"refs/jit/issues/{new}"]


def test_tracking_refs_moved_by_plain_git_are_reconciled(tmp_path: Path) -> None:
    """A plain `git fetch` (with jit's refspec) or a deleted tracking ref changes the tracking refs
    behind jit's back: the stat signature differs, so the pull does the whole work."""
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    iid = ta.create_issue("t")["id"]
    ta.sync()
    tb.pull()
    tb.pull()
    git("update-ref", "-d", f"refs/jit-remotes/origin/issues/{iid}", cwd=b)
    res = tb.pull()
    assert res["counts"]["unchanged"] == 1
    assert f"refs/jit-remotes/origin/issues/{iid}" in jit_tips(b, "refs/jit-remotes/")
    # the hub moves, and a plain fetch brings it before jit looks
    ta.update_issue(iid, title="moved")
    ta.push()
    tb.add_refspecs("origin")
    git("fetch", "-q", "origin", cwd=b)
    tb2 = tracker(b)
    tb2.pull()
    assert tracker(b).show(iid)["title"] == "moved"


def test_a_pull_of_a_few_moved_refs_fetches_just_those(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = tracker(a), tracker(b)
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(5)]
    ta.sync()
    tb.pull()
    ta.update_issue(ids[2], title="moved")
    ta.push()
    fetched: list[list[str]] = []
    real = git_run.run

    def spying(args, **kw):  # type: ignore[no-untyped-def]
        if git_run._name(args) == "git fetch":
            fetched.append([x for x in args if "refs/" in x])
        return real(args, **kw)

    monkeypatch.setattr(git_run, "run", spying)
    res = tracker(b).pull()
    monkeypatch.undo()
    assert res["fast_forwarded"] == [f"refs/jit/issues/{ids[2]}"] and res["counts"]["unchanged"] == 4
    assert len(fetched) == 1 and len(fetched[0]) == 1 and ids[2] in fetched[0][0], fetched
    assert tracker(b).show(ids[2])["title"] == "moved"
    # and a ref deleted on the hub takes the whole pull, which says so
    git("update-ref", "-d", f"refs/jit/issues/{ids[0]}", cwd=_hub)
    res = tracker(b).pull()
    assert [r["ref"] for r in res["rewritten"]] == [f"refs/jit/issues/{ids[0]}"]
