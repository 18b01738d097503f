"""Plain ``git push`` / ``git pull`` / ``git fetch`` keeping the tracker in step through the hooks:
pre-push sends refs/jit/* to the same remote, post-merge / post-rewrite / post-checkout reconcile
what git fetched, with no jit command typed. Real git binary, a bare hub, two clones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo

REFUSE_JIT = """#!/bin/sh
while read old new ref; do
  case "$ref" in refs/jit/*) echo "this host takes branches and tags only" >&2; exit 1;; esac
done
exit 0
"""


@pytest.fixture(autouse=True)
def jit_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def hub(tmp_path: Path, name: str = "hub.git") -> Path:
    return make_repo(tmp_path / name, bare=True)


def clone(tmp_path: Path, hub_path: Path, name: str) -> tuple[Path, Jit]:
    """A clone wired as a user would: git clone, identity, 'jit init --remote origin', 'jit hooks install'."""
    path = tmp_path / name
    git("clone", "-q", str(hub_path), str(path), cwd=tmp_path)
    git("config", "user.name", f"User {name}", cwd=path)
    git("config", "user.email", f"{name}@example.invalid", cwd=path)
    j = Jit(path, actor=f"agent:{name}")
    assert j("init", "--remote", "origin").exit_code == 0
    assert j("hooks", "install").exit_code == 0
    return path, j


def remote_jit_refs(hub_path: Path) -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", "refs/jit/", cwd=hub_path).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())  # type: ignore[misc]


def local_jit_refs(path: Path) -> dict[str, str]:
    return remote_jit_refs(path)


def commit(repo: Path, msg: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return git("commit", "-q", "--allow-empty", "-m", msg, *extra, cwd=repo, check=False)


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, Jit, Path, Jit]:
    h = hub(tmp_path)
    seed = make_repo(tmp_path / "seed")
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=seed)
    git("push", "-q", str(h), "main", cwd=seed)
    a, ja = clone(tmp_path, h, "a")
    b, jb = clone(tmp_path, h, "b")
    return h, a, ja, b, jb


def test_git_push_carries_jit_refs_and_git_pull_reconciles_them(pair) -> None:  # type: ignore[no-untyped-def]
    h, a, ja, b, jb = pair
    iid = ja.json("issue", "create", "-t", "Shared work")["id"]
    assert commit(a, f"start\n\nRefs: {iid[:6]}").returncode == 0
    push = git("push", "-q", "origin", "main", cwd=a)
    assert "jit: pushed 1 jit ref to origin" in push.stderr
    assert remote_jit_refs(h) == {k: v for k, v in local_jit_refs(a).items()}
    assert f"refs/jit/issues/{iid}" in remote_jit_refs(h)

    # clone b: a plain 'git pull' (no jit command) brings the issue and its linked commit
    assert f"refs/jit/issues/{iid}" not in local_jit_refs(b)
    git("pull", "-q", cwd=b)
    shown = jb.json("issue", "show", iid)
    assert shown["title"] == "Shared work" and shown["commits"] == [git("rev-parse", "HEAD", cwd=a).stdout.strip()]

    # both edit the issue; b also has a local commit, so 'git pull --rebase' rewrites it
    ja("issue", "update", iid, "--title", "Shared work, renamed")
    assert commit(a, "more") .returncode == 0
    git("push", "-q", "origin", "main", cwd=a)
    jb("issue", "update", iid, "--priority", "high")
    assert commit(b, "local") .returncode == 0
    git("pull", "-q", "--rebase", cwd=b)
    got = jb.json("issue", "show", iid)
    assert (got["title"], got["priority"]) == ("Shared work, renamed", "high")  # merged, nothing lost

    # b's 'git push' sends the merged issue; a's next pull (a fast-forward) takes it
    git("push", "-q", "origin", "main", cwd=b)
    git("pull", "-q", cwd=a)
    assert ja.json("issue", "show", iid)["priority"] == "high"
    assert local_jit_refs(a)[f"refs/jit/issues/{iid}"] == local_jit_refs(b)[f"refs/jit/issues/{iid}"]
    assert ja.json("hooks", "status")["problems"] == [] and jb.json("hooks", "status")["problems"] == []


def test_fetch_then_switch_reconciles_and_a_pulled_closes_commit_closes(pair) -> None:  # type: ignore[no-untyped-def]
    h, a, ja, b, jb = pair
    iid = ja.json("issue", "create", "-t", "Close me")["id"]
    git("push", "-q", "origin", "main", cwd=a)  # nothing new on main: the pre-push still sends the issue
    assert f"refs/jit/issues/{iid}" in remote_jit_refs(h)
    git("fetch", "-q", cwd=b)  # fetch fires no hook ...
    assert f"refs/jit/issues/{iid}" not in local_jit_refs(b)
    git("switch", "-q", "-c", "topic", cwd=b)  # ... the next branch switch reconciles
    assert jb.json("issue", "show", iid)["state"] == "ready"
    git("switch", "-q", "main", cwd=b)

    # a commit made without hooks in clone a closes the issue once b's 'git pull' brings it onto main
    assert commit(a, f"done\n\nCloses: {iid[:6]}", "--no-verify").returncode == 0
    git("push", "-q", "--no-verify", "origin", "main", cwd=a)
    pull = git("pull", "-q", cwd=b)
    sha = git("rev-parse", "HEAD", cwd=a).stdout.strip()
    assert f"jit: {iid[:8]} marked done (Closes: in {sha[:10]} on main)" in pull.stderr
    shown = jb.json("issue", "show", iid)
    assert shown["state"] == "done" and shown["commits"] == [sha]


def test_reconciling_is_skipped_by_a_stat_of_the_tracking_refs(pair, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A branch switch or pull that fetched nothing does not list the tracking refs (0.3 s at
    100,000 issues): their stat signature says nothing moved. One that did fetch still reconciles."""
    import time

    from gitjit.app import hooks as h

    hub_path, a, ja, b, jb = pair
    iid = ja.json("issue", "create", "-t", "Seen by b")["id"]
    git("push", "-q", "origin", "main", cwd=a)
    git("fetch", "-q", cwd=b)
    common = b / ".git"

    def age() -> None:  # as if the fetch were a while ago (a signature of files this fresh is not trusted)
        old = time.time() - 60
        for d, _sub, names in os.walk(common / "refs" / "jit-remotes"):
            for n in names:
                os.utime(Path(d) / n, (old, old))
        if (common / "packed-refs").exists():
            os.utime(common / "packed-refs", (old, old))

    def hook() -> None:
        h.run_hook("post-checkout", ["0" * 40, "0" * 40, "1"], repo=str(b), actor=None, stdin=b"",
                   echo=lambda m: None, enabled=True, run_legacy=False, pushing=False)

    listed: list[str] = []
    tips = h.LightRepo.tips
    monkeypatch.setattr(h.LightRepo, "tips", lambda self, prefix: listed.append(prefix) or tips(self, prefix))
    age()
    hook()  # reconciles what the fetch brought, and records the signature
    assert jb.json("issue", "show", iid)["title"] == "Seen by b" and listed
    age()  # reconciling may have packed the refs; aged again, that state is recorded once more
    hook()
    listed.clear()
    hook()
    hook()
    assert listed == []  # nothing moved: not listed
    ja("issue", "update", iid, "--title", "Renamed by a")
    git("push", "-q", "origin", "main", cwd=a)
    git("fetch", "-q", cwd=b)
    age()  # the moved tracking ref is a new file: the signature changes
    hook()
    assert listed and jb.json("issue", "show", iid)["title"] == "Renamed by a"
    # refs kept in reftables (git 2.45+) are not files: then the refs are always listed
    age()
    hook()
    listed.clear()
    (common / "reftable").mkdir()
    hook()
    assert listed


def test_a_host_refusing_custom_refs_warns_and_the_code_push_goes_on(tmp_path: Path) -> None:
    h = hub(tmp_path)
    (h / "hooks" / "pre-receive").write_text(REFUSE_JIT)
    (h / "hooks" / "pre-receive").chmod(0o755)
    a = make_repo(tmp_path / "a")
    git("remote", "add", "origin", str(h), cwd=a)
    ja = Jit(a)
    ja("init", "--remote", "origin")
    ja("hooks", "install")
    iid = ja.json("issue", "create", "-t", "Stays local")["id"]
    assert commit(a, f"code\n\nRefs: {iid[:6]}").returncode == 0
    push = git("push", "-q", "origin", "main", cwd=a, check=False)
    assert push.returncode == 0, push.stderr
    assert "jit: pre-push: warning: the jit refs were not pushed to origin" in push.stderr
    assert "the code push goes on" in push.stderr
    assert git("rev-parse", "main", cwd=h).stdout == git("rev-parse", "main", cwd=a).stdout
    assert remote_jit_refs(h) == {}
    problems = ja.json("hooks", "status")["problems"]
    assert len(problems) == 1 and "pre-push: warning: the jit refs were not pushed" in problems[0]
    assert ja.json("hooks", "status", "--clear")["problem_count"] == 1
    assert ja.json("hooks", "status")["problem_count"] == 0


def test_jit_push_under_the_pre_push_hook_does_not_recurse(pair) -> None:  # type: ignore[no-untyped-def]
    h, a, ja, b, jb = pair
    # a chained pre-push runs once per 'git push', not again for gitjit's extra push of refs/jit/*
    ja("hooks", "uninstall")
    (a / ".git" / "hooks" / "pre-push").write_text('#!/bin/sh\necho "$1 $(cat)" >> "$(git rev-parse --git-common-dir)/prepush.log"\n')
    (a / ".git" / "hooks" / "pre-push").chmod(0o755)
    ja("hooks", "install")
    first = ja.json("issue", "create", "-t", "Counted")["id"]
    assert commit(a, "code").returncode == 0
    push = git("push", "-q", "origin", "main", cwd=a)
    assert "jit: pushed 1 jit ref to origin" in push.stderr
    log = (a / ".git" / "prepush.log").read_text().splitlines()
    assert len(log) == 1 and log[0].startswith("origin refs/heads/main ")
    assert f"refs/jit/issues/{first}" in remote_jit_refs(h)
    iid = ja.json("issue", "create", "-t", "Once")["id"]
    res = subprocess.run([sys.executable, "-m", "gitjit", "push", "origin"], cwd=a, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0 and "Pushed 1 ref to origin" in res.stdout
    assert "jit: pushed" not in res.stderr  # its own git push fired pre-push, which added nothing
    assert f"refs/jit/issues/{iid}" in remote_jit_refs(h)


def test_pre_push_under_the_pre_commit_framework_reads_its_variables(pair, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    h, a, ja, b, jb = pair
    iid = ja.json("issue", "create", "-t", "Framework")["id"]
    monkeypatch.setenv("PRE_COMMIT_REMOTE_NAME", "origin")
    monkeypatch.setenv("PRE_COMMIT_REMOTE_URL", str(h))
    res = subprocess.run(["jit", "hook", "run", "pre-push", "--pre-commit-framework"], cwd=a, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert res.returncode == 0 and "jit: pushed 1 jit ref to origin" in res.stderr
    assert f"refs/jit/issues/{iid}" in remote_jit_refs(h)


def test_the_pre_push_of_gitjits_own_push_starts_no_python(pair, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    h, a, ja, b, jb = pair
    from gitjit.app.hooks import install
    from gitjit.git import open_repo

    log = tmp_path / "started.log"
    py = tmp_path / "bin" / "counting-python"  # the hooks' interpreter: records each hook it starts
    py.write_text(f'#!/bin/sh\n[ "$3" = hook ] && echo "$5" >> "{log}"\nexec "{sys.executable}" "$@"\n')
    py.chmod(0o755)
    install(open_repo(a), python=str(py))
    iid = ja.json("issue", "create", "-t", "Carried")["id"]
    assert commit(a, "code").returncode == 0
    log.unlink(missing_ok=True)
    push = git("push", "-q", "origin", "main", cwd=a)
    assert "jit: pushed 1 jit ref to origin" in push.stderr
    assert f"refs/jit/issues/{iid}" in remote_jit_refs(h)
    # the code push's pre-push ran gitjit; the jit push it made fired pre-push again, which the shim ended
    assert log.read_text().split() == ["pre-push"]
