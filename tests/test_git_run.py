"""The one ``git`` runner (gitjit/git/run.py): the repository it names and no other, no terminal
input, timeouts, failures as ExternalError; and the commands that go through it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import git, make_repo

from gitjit.app.tracker import Tracker
from gitjit.core.errors import ExternalError
from gitjit.git import run


def _commit(repo: Path) -> str:
    git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def test_a_named_repository_wins_over_the_environment_a_hook_inherits(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a git hook (or below ``git -c``, or in a pre-receive hook) the environment names
    the hook's repository, index and object store; a command given ``git_dir`` must not follow them."""
    a, b = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    in_b = _commit(b)
    empty = tmp_path / "no-objects"
    empty.mkdir()
    monkeypatch.setenv("GIT_DIR", str(a / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(a / ".git" / "index"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(empty))
    monkeypatch.setenv("GIT_WORK_TREE", str(a))
    p = run.run(["rev-parse", "--absolute-git-dir"], git_dir=b / ".git", check=True)
    assert p.stdout.strip() == str(b / ".git")
    assert run.run(["cat-file", "-e", in_b], git_dir=b / ".git").returncode == 0
    # the user's configuration still reaches git (``git -c`` hands it to hooks this way)
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'jit.probe'='yes'")
    assert run.run(["config", "jit.probe"], git_dir=b / ".git", check=True).stdout == "yes\n"
    # scrub=False: the environment as it is (a hook's own git would see the hook's repository)
    assert run.run(["rev-parse", "--absolute-git-dir"], scrub=False, cwd=b).stdout.strip() == str(a / ".git")


def test_git_reads_no_terminal_input(repo: Path) -> None:
    """Without ``input``, stdin is /dev/null: ``hash-object --stdin`` hashes nothing instead of
    waiting for a terminal (or eating a hook's stdin)."""
    p = run.run(["hash-object", "--stdin"], git_dir=repo / ".git", check=True, timeout=30)
    assert p.stdout.strip() == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert run.run(["hash-object", "--stdin"], git_dir=repo / ".git", input=b"x", text=False).stdout.strip() == \
        b"c1b0730e0133447badcfd47fd144e254807b06e1"


def test_failures_are_external_errors_with_git_s_message_and_a_hint(repo: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(run.GitFailed) as e:
        run.run(["rev-parse", "--verify", "refs/heads/nope"], git_dir=repo / ".git", check=True)
    assert isinstance(e.value, ExternalError) and e.value.exit_code == 10
    assert e.value.message.startswith("git rev-parse failed: ") and "Needed a single revision" in e.value.message
    assert e.value.hint and e.value.returncode == 128 and "Needed a single revision" in e.value.details["stderr"]
    # not checked: the caller reads the status itself
    assert run.run(["rev-parse", "--verify", "refs/heads/nope"], git_dir=repo / ".git").returncode == 128
    # not finished in time: killed, and said so
    with pytest.raises(run.GitTimeout) as t:
        run.run(["-c", "alias.slow=!sleep 5", "slow"], cwd=repo, timeout=0.5, what="the slow thing")
    assert t.value.message == "the slow thing: git did not finish within 0.5s" and t.value.exit_code == 10
    # no git at all
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(run.GitNotRun) as n:
        run.run(["status"], cwd=repo)
    assert n.value.message == "the git command was not found" and "install git" in (n.value.hint or "")
    with pytest.raises(run.GitNotRun):
        run.popen(["cat-file", "--batch"], git_dir=repo / ".git")


def test_messages_name_the_git_command() -> None:
    assert run._name(["-c", "core.fsync=reference", "update-ref", "--stdin"]) == "git update-ref"
    assert run._name(["-C", "/x", "remote", "add"]) == "git remote"
    assert run.last_lines("warning: a\n\nfatal: b\n  c  \n") == "warning: a / fatal: b /   c"
    assert run.last_lines(b"") == "(no message)"


def test_import_writes_to_the_repository_opened_not_the_one_a_hook_names(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``jit --repo B`` run from a hook of repository A (git exports A's GIT_DIR to hooks in a
    linked worktree, and GIT_INDEX_FILE always): the bulk write (``git fast-import``, ``git
    update-ref``) went to A, and B got nothing."""
    a, b = make_repo(tmp_path / "a"), make_repo(tmp_path / "b")
    Tracker(b, actor="lead").init()
    monkeypatch.setenv("GIT_DIR", str(a / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(a / ".git" / "index"))
    t = Tracker(b, actor="lead")
    with t.batch() as batch:
        one = batch.create_issue("one")
        two = batch.create_issue("two")
    monkeypatch.delenv("GIT_DIR")
    monkeypatch.delenv("GIT_INDEX_FILE")
    assert {i["title"] for i in Tracker(b).list_issues()["issues"]} == {"one", "two"}
    assert {one["id"], two["id"]} <= {r.rsplit("/", 1)[-1] for r in git(
        "for-each-ref", "--format=%(refname)", "refs/jit/issues/", cwd=b).stdout.split()}
    assert git("for-each-ref", "refs/jit/", cwd=a).stdout == ""


def test_a_bare_hub_under_safe_bare_repository_explicit(tmp_path: Path) -> None:
    """``safe.bareRepository=explicit`` (git 2.38) refuses a bare repository git finds from its
    working directory; jit names it (``--git-dir``), so its imports and ref packing still work."""
    hub = make_repo(tmp_path / "hub.git", bare=True)
    Tracker(hub, actor="lead").init()
    git("config", "--global", "safe.bareRepository", "explicit", cwd=tmp_path)
    assert git("rev-parse", "--git-dir", cwd=hub, check=False).returncode != 0  # git itself refuses it here
    t = Tracker(hub, actor="lead")
    with t.batch() as batch:
        for k in range(3):
            batch.create_issue(f"issue {k}")
    assert len(Tracker(hub).list_issues()["issues"]) == 3
    from gitjit.git.housekeeping import pack_refs

    assert pack_refs(hub)
    assert "refs/jit/issues/" in (hub / "packed-refs").read_text()


def test_environment_scrub_keeps_everything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_DIR", "/elsewhere")
    monkeypatch.setenv("GIT_SSH_COMMAND", "ssh -i key")
    env = run.git_env({"LC_ALL": "C"})
    assert "GIT_DIR" not in env and env["GIT_SSH_COMMAND"] == "ssh -i key" and env["LC_ALL"] == "C"
    assert env["PATH"] == os.environ["PATH"]
    assert run.git_env(scrub=False)["GIT_DIR"] == "/elsewhere"
