"""``git commit`` firing gitjit's commit-msg, pre-commit and post-commit hooks (real git binary):
trailers checked, commits linked, ``Closes:`` marking done on the main branch once gates pass,
auto gates run before the commit and stopping it when they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Jit, git, make_repo

from gitjit.app.tracker import Tracker

ME = "Repo User <repo@example.invalid>"  # the committer's actor: git user.name <user.email> (make_repo)


@pytest.fixture
def r(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo = make_repo(tmp_path / "r")
    Jit(repo)("init")
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=repo)
    assert Jit(repo)("hooks", "install").exit_code == 0
    return repo


def commit(repo: Path, msg: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return git("commit", "-q", "--allow-empty", "-m", msg, *extra, cwd=repo, check=False)


def head(repo: Path) -> str:
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def events(j: Jit, iid: str, type_: str) -> list[dict]:
    return [e for e in j.json("events", "query", "--issue", iid) if e["type"] == type_]


# ---------------------------------------------------------------------- commit-msg

def test_unknown_ambiguous_and_malformed_ids_stop_the_commit(r: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = iter(["abcd00000001", "abcd00000002"])
    monkeypatch.setattr("gitjit.app.issues.new_issue_id", lambda: next(ids))
    t = Tracker(r, actor="lead")
    t.create_issue("One")
    t.create_issue("Two")
    before = head(r)
    for msg, why in [
        ("fix\n\nCloses: deadbeef", "Closes: deadbeef  -> no issue matches 'deadbeef'"),
        ("fix\n\nRefs: abcd", "Refs: abcd  -> id prefix 'abcd' matches 2 issues: abcd00000001 (One), abcd00000002 (Two)"),
        ("fix\n\nRefs: JIRA-12", "Refs: jira-12  -> not an issue id (4 to 12 hex digits of one)"),
        ("fix\n\nRefs: abcd0000000", "matches 2 issues"),
    ]:
        res = commit(r, msg)
        assert res.returncode == 1, msg
        assert "jit: commit stopped: the message names issues that cannot be linked:" in res.stderr
        assert why in res.stderr, res.stderr
        assert "hint: fix the trailer" in res.stderr and "--no-verify" in res.stderr
        assert head(r) == before
    # a trailer in the body (not the trailer block) is not a trailer; lowercase keys and lists are
    assert commit(r, "fix\n\nRefs: deadbeef is mentioned here\n\nmore text").returncode == 0
    assert commit(r, "ok\n\nrefs: abcd00000001, abcd00000002").returncode == 0
    # --no-verify is the documented bypass
    assert commit(r, "wip\n\nCloses: deadbeef", "--no-verify").returncode == 0


def test_trailer_ids_resolve_alike_with_and_without_the_index(r: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit-msg hook resolves a trailer's id through the index (one query) when it can, and
    folds just the issues with that prefix when the index is off: the same answers and errors."""
    from gitjit.app import hooks
    from gitjit.core.errors import GitjitError

    ids = iter(["abcd00000001", "abcd00000002", "beef00000003"])
    monkeypatch.setattr("gitjit.app.issues.new_issue_id", lambda: next(ids))
    t = Tracker(r, actor="lead")
    for title in ("One", "Two", "Three"):
        t.create_issue(title)

    def answers(use_index: bool) -> list[str]:
        ctx = hooks._Ctx(hooks.LightRepo(str(r)), "commit-msg", actor=None, echo=lambda m: None)
        ctx.t.use_index = use_index
        out = []
        for tok in ("abcd00000001", "abcd0000000", "abcd", "beef", "BEEF0000", "dead", "abcd00000002"):
            try:
                out.append(hooks._resolve(ctx, tok.lower()))
            except GitjitError as e:
                out.append(f"{type(e).__name__}: {e.message}")
        return out

    with_index = answers(True)
    assert with_index[0] == "abcd00000001" and with_index[3] == with_index[4] == "beef00000003"
    assert "matches 2 issues" in with_index[1] and "no issue matches 'dead'" in with_index[5]
    assert answers(False) == with_index


# ---------------------------------------------------------------------- post-commit

def test_refs_links_the_commit_and_issue_show_lists_it(r: Path) -> None:
    j = Jit(r)
    a = j.json("issue", "create", "-t", "Parser")["id"]
    b = j.json("issue", "create", "-t", "Lexer")["id"]
    git("switch", "-q", "-c", "feature", cwd=r)
    assert commit(r, f"parse things\n\nRefs: {a[:6]}\nRefs: {b[:8]}").returncode == 0
    sha = head(r)
    for iid in (a, b):
        shown = j.json("issue", "show", iid)
        assert shown["commits"] == [sha] and shown["state"] == "ready"  # Refs never changes the state
        assert f"  commit {sha}" in j("issue", "show", iid).stdout
    ev = events(j, a, "commit_linked")
    assert len(ev) == 1 and ev[0]["ref"] == "refs/heads/feature" and "closes" not in ev[0]
    # amending links the new commit; the issue lists both (the old one stays in its history)
    assert git("commit", "-q", "--amend", "--allow-empty", "-m", f"parse\n\nRefs: {a}", cwd=r).returncode == 0
    assert j.json("issue", "show", a)["commits"] == [sha, head(r)]


def test_closes_on_main_marks_done_only_when_gates_pass(r: Path) -> None:
    j = Jit(r)
    easy = j.json("issue", "create", "-t", "Easy")["id"]
    j("registry", "add", "review", "--title", "Review")
    gated = j.json("issue", "create", "-t", "Gated", "--gate", "review")["id"]
    res = commit(r, f"finish both\n\nCloses: {easy[:6]}\nCloses: {gated[:6]}")
    assert res.returncode == 0
    assert f"jit: {easy[:8]} marked done (Closes: in {head(r)[:10]} on main)" in res.stderr
    assert f"jit: {gated[:8]} not marked done yet" in res.stderr and "gate 'review'" in res.stderr
    assert j.json("issue", "show", easy)["state"] == "done"
    assert j.json("issue", "show", gated)["state"] == "ready"
    assert events(j, gated, "commit_linked")[0]["closes"] is True

    # the gate passes later: the next hook on main that looks (here: switching back to main) closes it
    j("gate", "pass", gated, "review", "--by", "human:rev")
    git("switch", "-q", "-c", "elsewhere", cwd=r)
    assert j.json("issue", "show", gated)["state"] == "ready"
    git("switch", "-q", "main", cwd=r)
    assert j.json("issue", "show", gated)["state"] == "done"


def test_closes_on_a_branch_waits_for_the_merge_into_main(r: Path) -> None:
    j = Jit(r)
    iid = j.json("issue", "create", "-t", "Feature")["id"]
    j("issue", "claim", iid, ME)
    git("switch", "-q", "-c", "jit/feature", cwd=r)
    assert commit(r, f"implement\n\nCloses: {iid[:6]}").returncode == 0
    sha = head(r)
    st = j.json("issue", "show", iid)
    assert st["state"] == "in_progress" and st["commits"] == [sha]
    git("switch", "-q", "main", cwd=r)
    res = git("merge", "-q", "--no-ff", "-m", "merge feature", "jit/feature", cwd=r)
    assert f"jit: {iid[:8]} marked done (Closes: in {sha[:10]} on main)" in res.stderr
    assert j.json("issue", "show", iid)["state"] == "done"
    assert len(events(j, iid, "commit_linked")) == 1  # the merge did not link the commit twice


def test_a_state_decision_after_the_link_wins_over_the_closing_commit(r: Path) -> None:
    j = Jit(r)
    j("registry", "add", "review", "--title", "Review")
    iid = j.json("issue", "create", "-t", "Disputed", "--gate", "review")["id"]
    assert commit(r, f"attempt\n\nCloses: {iid[:6]}").returncode == 0
    j("issue", "update", iid, "--state", "rejected")
    j("issue", "update", iid, "--state", "open")  # reopened by a person after the closing commit
    j("gate", "pass", iid, "review")
    git("switch", "-q", "-c", "x", cwd=r)
    git("switch", "-q", "main", cwd=r)
    assert j.json("issue", "show", iid)["state"] == "ready"  # not re-closed by the old commit


# ---------------------------------------------------------------------- pre-commit

def test_pre_commit_runs_auto_gates_of_my_work_and_stops_on_failure(r: Path) -> None:
    j = Jit(r)
    j("registry", "add", "tests", "--title", "Tests", "--auto", "--command", "test -f ok.txt")
    mine = j.json("issue", "create", "-t", "Mine", "--gate", "tests")["id"]
    other = j.json("issue", "create", "-t", "Someone else's", "--gate", "tests")["id"]
    j("issue", "claim", mine, ME)
    j("issue", "claim", other, "agent:other")
    res = commit(r, "not yet")
    assert res.returncode == 1
    assert f"jit: gate 'tests' of {mine[:8]}: running test -f ok.txt" in res.stderr
    assert f"jit: commit stopped: gate tests ({mine[:8]}) failed" in res.stderr and "--no-verify" in res.stderr
    assert [e["reason"] for e in events(j, mine, "gate_failed")] == ["exit 1"]
    assert events(j, other, "gate_failed") == []  # not the committer's issue: not checked
    (r / "ok.txt").write_text("fine\n")
    git("add", "ok.txt", cwd=r)
    res = commit(r, "now")
    assert res.returncode == 0 and "jit: gate 'tests' passed" in res.stderr
    assert j.json("issue", "show", mine)["gates"][0]["status"] == "passed"
    assert commit(r, "skip", "--no-verify").returncode == 0


def test_pre_commit_follows_the_branch_name_and_never_runs_commands_it_lacks(r: Path) -> None:
    j = Jit(r)
    j("registry", "add", "lint", "--title", "Lint", "--auto", "--command", "exit 0")
    j("registry", "add", "remote-only", "--title", "Defined elsewhere", "--auto")
    iid = j.json("issue", "create", "-t", "Branch work", "--gate", "lint", "--gate", "remote-only")["id"]
    git("switch", "-q", "-c", f"jit/{iid[:6]}-branch-work", cwd=r)
    res = commit(r, "work")
    assert res.returncode == 0, res.stderr
    assert f"jit: gate 'lint' of {iid[:8]}: running exit 0" in res.stderr
    assert "gate 'remote-only'" in res.stderr and "no checker command in this clone" in res.stderr
    gates = {g["key"]: g["status"] for g in j.json("issue", "show", iid)["gates"]}
    assert gates == {"lint": "passed", "remote-only": "pending"}


def test_the_configured_main_branch_decides(r: Path) -> None:
    j = Jit(r)
    assert j("config", "set", "main-branch", "trunk").exit_code == 0
    assert j.json("hooks", "status")["main_branch"] == "trunk"
    iid = j.json("issue", "create", "-t", "Trunk based")["id"]
    res = commit(r, f"on main, which is not the main branch here\n\nCloses: {iid[:6]}")
    assert res.returncode == 0 and "marked done" not in res.stderr
    assert j.json("issue", "show", iid)["state"] == "ready"
    git("switch", "-q", "-c", "trunk", cwd=r)  # the closing commit is now on the main branch
    assert j.json("issue", "show", iid)["state"] == "done"


# ---------------------------------------------------------------------- the shims' own test

@pytest.fixture
def counted(r: Path) -> tuple[Path, Path]:
    """``r`` with hooks that run, as their interpreter, a script that records each hook it is
    started for (``<python> -m gitjit hook run NAME``) and then runs gitjit."""
    from gitjit.app.hooks import install
    from gitjit.git import open_repo

    log = r.parent / "started.log"
    py = r.parent / "bin" / "counting-python"
    py.write_text(f'#!/bin/sh\n[ "$3" = hook ] && echo "$5" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    py.chmod(0o755)
    install(open_repo(r), python=str(py))
    return r, log


def started(log: Path) -> list[str]:
    got = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return got


def test_a_commit_with_nothing_for_gitjit_starts_no_python(counted: tuple[Path, Path]) -> None:
    r, log = counted
    j = Jit(r)
    iid = j.json("issue", "create", "-t", "Parser")["id"]
    assert commit(r, "plain work\n\nSigned-off-by: A <a@example.invalid>").returncode == 0
    assert started(log) == []
    # a trailer: commit-msg checks it, post-commit links it (no gate defined: pre-commit still skips)
    assert commit(r, f"parse\n\nRefs: {iid[:6]}").returncode == 0
    assert started(log) == ["commit-msg", "post-commit"]
    assert j.json("issue", "show", iid)["commits"] == [head(r)]
    # an unknown id is still stopped
    res = commit(r, "typo\n\nCloses: deadbeef")
    assert res.returncode == 1 and "no issue matches 'deadbeef'" in res.stderr
    assert started(log) == ["commit-msg"]
    # a gate defined anywhere: pre-commit runs (it finds the committer's work to check)
    j("registry", "add", "lint", "--title", "Lint", "--auto", "--command", "exit 0")
    assert commit(r, "more").returncode == 0
    assert started(log) == ["pre-commit"]


def test_a_kept_hook_or_another_tracker_repository_always_starts_gitjit(counted: tuple[Path, Path],
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    r, log = counted
    hooks = r / ".git" / "hooks"
    # a hook that was there before gitjit's: the shim hands over, and gitjit runs it first
    (hooks / "post-commit.legacy").write_text(f'#!/bin/sh\necho legacy >> "{log}"\n')
    (hooks / "post-commit.legacy").chmod(0o755)
    assert commit(r, "plain").returncode == 0
    assert started(log) == ["post-commit", "legacy"]
    (hooks / "post-commit.legacy").unlink()
    # JIT_REPO sends the hook's Python to another repository, which the shim's test cannot see
    other = make_repo(r.parent / "tracker")
    Jit(other)("init")
    Jit(other)("registry", "add", "lint", "--title", "Lint", "--auto", "--command", "exit 0")
    monkeypatch.setenv("JIT_REPO", str(other))
    assert commit(r, "plain").returncode == 0
    assert started(log) == ["pre-commit", "commit-msg", "post-commit"]


def test_a_trailer_alias_from_git_config_is_seen_by_the_shim(counted: tuple[Path, Path]) -> None:
    r, log = counted
    j = Jit(r)
    iid = j.json("issue", "create", "-t", "Parser")["id"]
    git("config", "trailer.ref.key", "Refs", cwd=r)  # 'ref: x' is git's 'Refs: x' here
    assert commit(r, f"parse\n\nref: {iid[:6]}").returncode == 0
    assert started(log) == ["commit-msg", "post-commit"]
    assert j.json("issue", "show", iid)["commits"] == [head(r)]
    res = commit(r, "typo\n\nref: deadbeef")
    assert res.returncode == 1 and "Refs: deadbeef  -> no issue matches" in res.stderr


def test_an_amend_or_a_file_checkout_starts_no_python(counted: tuple[Path, Path]) -> None:
    r, log = counted
    (r / "f.txt").write_text("one\n")
    git("add", "f.txt", cwd=r)
    assert commit(r, "add f").returncode == 0
    assert git("commit", "-q", "--amend", "-m", "add f, reworded", cwd=r).returncode == 0  # post-rewrite "amend"
    (r / "f.txt").write_text("changed\n")
    git("checkout", "--", "f.txt", cwd=r)  # post-checkout with flag 0
    assert (r / "f.txt").read_text() == "one\n"
    assert started(log) == []
    git("switch", "-q", "-c", "other", cwd=r)  # a branch switch: gitjit looks for fetched jit refs
    assert started(log) == ["post-checkout"]


def test_the_hooks_never_load_every_issue(r: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """pre-commit finds the committer's work and the sweep of the main branch finds the pending
    ``Closes:`` links through index queries: loading every issue took 4-5 s a hook at 100,000."""
    from gitjit.app import hooks
    from gitjit.store.indexboard import Issues

    j = Jit(r)
    j("registry", "add", "lint", "--title", "Lint", "--auto", "--command", "exit 0")
    j("registry", "add", "review", "--title", "Review")
    mine = j.json("issue", "create", "-t", "Mine", "--gate", "lint")["id"]
    j("issue", "claim", mine, ME)
    pending = j.json("issue", "create", "-t", "Pending", "--gate", "review")["id"]
    assert commit(r, f"finish\n\nCloses: {pending[:6]}", "--no-verify").returncode == 0
    assert hooks.run_hook("post-commit", [], repo=r) == 0  # links it; the gate still blocks done
    j("gate", "pass", pending, "review")

    def every_issue(self: Issues) -> Any:
        raise AssertionError("a hook loaded every issue")

    monkeypatch.setattr(Issues, "_load_all", every_issue)
    said: list[str] = []
    assert hooks.run_hook("pre-commit", [], repo=r, echo=said.append) == 0
    assert "jit: gate 'lint' passed" in said
    assert hooks.run_hook("post-checkout", ["0" * 40, "0" * 40, "1"], repo=r, echo=said.append) == 0
    assert not any("failed" in s for s in said), said
    monkeypatch.undo()
    assert j.json("issue", "show", mine)["gates"][0]["status"] == "passed"
    assert j.json("issue", "show", pending)["state"] == "done"
