"""What a plain ``git pull`` / ``git fetch`` brings is seen by the next jit command, even when git
runs no hook: a pull that merges nothing ("Already up to date") runs no post-merge, a fetch runs
none at all (gitjit/store/fetched.py, gitjit.app.sharing.catch_up). Real git, a bare hub, two clones
(``jit init --remote origin``), the full CLI, the light read path and the hooks; and a clone
without the refspec is told so by ``jit hooks status`` and ``jit doctor``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(autouse=True)
def jit_on_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path_factory.mktemp("bin")
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def clone(tmp: Path, hub: Path, name: str, *, refspec: bool = True, hooks: bool = True) -> tuple[Path, Jit]:
    path = tmp / name
    git("clone", "-q", str(hub), str(path), cwd=tmp)
    git("config", "user.name", f"User {name}", cwd=path)
    git("config", "user.email", f"{name}@example.invalid", cwd=path)
    j = Jit(path, actor=f"agent:{name}")
    assert j("init", *(["--remote", "origin"] if refspec else [])).exit_code == 0
    if hooks:
        assert j("hooks", "install").exit_code == 0
    return path, j


def hub_and_a(tmp: Path) -> tuple[Path, Path, Jit]:
    hub = make_repo(tmp / "hub.git", bare=True)
    a, ja = clone(tmp, hub, "a")
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=a)
    git("push", "-q", "origin", "main", cwd=a)
    return hub, a, ja


def created_there(j: Jit, title: str) -> str:
    """An issue created in another clone and pushed with 'jit push' (no code moves: B's pull merges nothing)."""
    iid: str = j.json("issue", "create", "-t", title)["id"]
    assert j("push", "origin").exit_code == 0
    return iid


def light(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``jit`` console script's entry (gitjit.cli), as a real process."""
    code = "import sys; from gitjit.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True, text=True, check=False,
                          env={k: v for k, v in os.environ.items() if k not in ("JIT_REPO", "JIT_ACTOR")})


def test_a_git_pull_that_merges_nothing_still_brings_the_issues(tmp_path: Path) -> None:
    hub, _a, ja = hub_and_a(tmp_path)
    b, jb = clone(tmp_path, hub, "b")
    assert light(b, "issue", "list").stdout == "No issues.\n"  # the index exists and is current
    first = created_there(ja, "Made in A")
    pulled = git("pull", "--no-rebase", cwd=b)
    assert "Already up to date" in pulled.stdout  # git ran no post-merge
    assert f"refs/jit-remotes/origin/issues/{first}" in git("for-each-ref", cwd=b).stdout
    # the index reader notices the fetch and hands over to the Tracker, which merges first
    shown = light(b, "issue", "list")
    assert shown.returncode == 0 and first[:8] in shown.stdout and "Made in A" in shown.stdout, shown
    assert git("rev-parse", f"refs/jit/issues/{first}", cwd=b).stdout.strip()
    from gitjit.app.reader import open_reader

    def answers() -> bool:
        r = open_reader(str(b))
        if r is not None:
            r.close()
        return r is not None

    assert answers()  # caught up: the index reader answers again

    # a plain 'git fetch' then any jit command (the full CLI in-process here)
    second = created_there(ja, "Made in A later")
    assert answers()  # nothing fetched yet
    git("fetch", "-q", "origin", cwd=b)
    assert not answers()  # fetched: the Tracker must merge first
    assert jb.json("issue", "show", second[:6])["title"] == "Made in A later"

    # a commit naming an issue that a no-op pull brought: commit-msg merges it, then resolves the trailer
    third = created_there(ja, "Named in a commit")
    assert "Already up to date" in git("pull", "--no-rebase", cwd=b).stdout
    res = git("commit", "-q", "--allow-empty", "-m", f"work\n\nRefs: {third[:6]}", cwd=b, check=False)
    assert res.returncode == 0, res.stderr
    assert len(jb.json("issue", "show", third)["commits"]) == 1


def test_catching_up_needs_no_hooks_and_writes_after_a_fetch_see_the_issue(tmp_path: Path) -> None:
    hub, _a, ja = hub_and_a(tmp_path)
    b, jb = clone(tmp_path, hub, "b", hooks=False)
    iid = created_there(ja, "Claim me")
    git("fetch", "-q", "origin", cwd=b)
    # the light write path (jit issue claim) merges what the fetch brought before it claims
    res = light(b, "issue", "claim", iid[:6], "agent:b")
    assert res.returncode == 0 and f"Claimed issue {iid}" in res.stdout, res
    assert jb.json("issue", "show", iid)["assignee"] == "agent:b"


def test_a_clone_without_the_refspec_is_told_how_to_get_one(tmp_path: Path) -> None:
    hub, _a, ja = hub_and_a(tmp_path)
    c, jc = clone(tmp_path, hub, "c", refspec=False)
    created_there(ja, "Never arrives by git pull")
    git("pull", "-q", "--no-rebase", cwd=c)
    assert jc("issue", "list").stdout == "No issues.\n"
    st = jc.json("hooks", "status")
    assert st["remotes"] == [{"remote": "origin", "refspec": False, "fix": "jit init --remote origin"}]
    human = jc("hooks", "status").stdout
    assert "warning: 'git fetch'/'git pull' from origin do not bring its jit refs" in human
    assert "fix: jit init --remote origin" in human
    doc = jc.json("doctor")
    p = [p for p in doc["problems"] if p["code"] == "no_jit_refspec"]
    assert p and p[0]["subject"] == "remote.origin.fetch" and p[0]["fix"] == "jit init --remote origin"
    # following the advice fixes it
    assert jc("init", "--remote", "origin").exit_code == 0
    assert jc.json("hooks", "status")["remotes"][0]["refspec"] is True
    git("pull", "-q", "--no-rebase", cwd=c)
    assert "Never arrives by git pull" in jc("issue", "list").stdout
    assert not [p for p in jc.json("doctor")["problems"] if p["code"] == "no_jit_refspec"]


# ---------------------------------------------------------------------- property

STEPS = st.lists(st.sampled_from(["create", "push", "fetch", "pull", "read"]), min_size=3, max_size=8)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_after_any_fetch_schedule_b_sees_every_issue_a_pushed_before_its_last_fetch(
        tmp_path_factory: pytest.TempPathFactory, steps: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("sched")
    hub, _a, ja = hub_and_a(tmp)
    b, jb = clone(tmp, hub, "b", hooks=bool(len(steps) % 2))
    made: list[str] = []
    pushed: set[str] = set()
    fetched: set[str] = set()
    for step in steps + ["fetch", "read"]:
        if step == "create":
            made.append(ja.json("issue", "create", "-t", f"issue {len(made)}")["id"])
        elif step == "push":
            assert ja("push", "origin").exit_code == 0
            pushed |= set(made)
        elif step in ("fetch", "pull"):
            args = ["fetch", "-q", "origin"] if step == "fetch" else ["pull", "-q", "--no-rebase"]
            git(*args, cwd=b)
            fetched = set(pushed)
        else:
            seen = {i["id"] for i in jb.json("issue", "list")["issues"]}
            assert seen == fetched, (steps, step)
