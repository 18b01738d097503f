"""How the hook shims start gitjit when no virtualenv is active (a new terminal, an IDE's git
client, a CI step), driven through real ``git commit`` and ``git push``.

``jit hooks install`` records the interpreter it ran in; the shims run that one, else ``jit`` on
PATH, else ``python3 -m gitjit``. When none can start, a plain commit or push goes on with a
warning, and only a ``pre-commit`` with a gate in the registry stops the commit.

The virtualenvs here are real (``venv``, without pip: ~40 ms) and see this checkout's gitjit and
its dependencies through a ``.pth`` file; git runs with a PATH holding git and grep only, and
without PYTHONPATH, so nothing but the recorded interpreter can find gitjit.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo

import gitjit

ROOT = Path(gitjit.__file__).resolve().parents[1]


def make_venv(path: Path) -> Path:
    """A real virtualenv whose interpreter imports this checkout's gitjit and its dependencies; its python."""
    venv.create(path, with_pip=False, symlinks=True)
    py = path / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, env=_clean_env()).stdout.strip()
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    deps |= {p for p in sys.path if p.endswith(("site-packages", "dist-packages"))}
    Path(site, "gitjit-under-test.pth").write_text("\n".join([str(ROOT), *sorted(deps)]) + "\n")
    return py


def _clean_env(path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    if path is not None:
        env["PATH"] = path
    return env


def bare_path(tmp_path: Path, python3: str | None = None) -> str:
    """A PATH with git and grep (the shims' tests use them) and, when given, a ``python3`` script."""
    b = tmp_path / "bin-bare"
    b.mkdir(exist_ok=True)
    for tool in ("git", "grep"):
        if not (b / tool).exists():
            (b / tool).symlink_to(shutil.which(tool) or f"/usr/bin/{tool}")
    if python3 is not None:
        (b / "python3").write_text(python3)
        (b / "python3").chmod(0o755)
    return str(b)


def run(args: list[str], cwd: Path, path: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False, env={**_clean_env(path), **extra},
                          stdin=subprocess.DEVNULL)


def commit(repo: Path, path: str, msg: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["git", "commit", "-q", "--allow-empty", "-m", msg, *extra], repo, path, **env)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path, Jit]:
    """A clone with jit initialised and an issue, its bare hub, and a virtualenv that installed the
    hooks (with a foreign pre-commit kept as pre-commit.legacy). Returns (repo, hub, venv python, jit)."""
    hub = make_repo(tmp_path / "hub.git", bare=True)
    r = make_repo(tmp_path / "r")
    git("remote", "add", "origin", str(hub), cwd=r)
    j = Jit(r)
    assert j("init").exit_code == 0
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=r)
    git("push", "-q", "origin", "main", cwd=r)
    (r / ".git" / "hooks" / "pre-commit").write_text(
        '#!/bin/sh\necho legacy >> "$(git rev-parse --git-common-dir)/legacy.log"\n')
    (r / ".git" / "hooks" / "pre-commit").chmod(0o755)
    py = make_venv(tmp_path / "venv")
    res = run([str(py), "-m", "gitjit", "hooks", "install"], r, os.environ["PATH"])
    assert res.returncode == 0, res.stderr
    assert f"py={py} " in (r / ".git" / "hooks" / "commit-msg").read_text()
    return r, hub, py, j


def test_the_hooks_run_the_interpreter_they_were_installed_with(setup: tuple[Path, Path, Path, Jit],
                                                                 tmp_path: Path) -> None:
    r, hub, _py, j = setup
    path = bare_path(tmp_path)  # no jit, no python3, no virtualenv: only what the shim recorded
    iid = j.json("issue", "create", "-t", "Parser")["id"]
    bad = commit(r, path, "x\n\nRefs: 0000cccc")
    assert bad.returncode == 1 and "no issue matches '0000cccc'" in bad.stderr, bad.stderr
    ok = commit(r, path, f"y\n\nRefs: {iid[:6]}")
    assert ok.returncode == 0, ok.stderr
    assert len(j.json("issue", "show", iid)["commits"]) == 1  # post-commit linked it
    pushed = run(["git", "push", "-q", "origin", "main"], r, path)
    assert pushed.returncode == 0, pushed.stderr
    assert f"refs/jit/issues/{iid}" in git("ls-remote", str(hub), cwd=r).stdout  # pre-push pushed the tracker
    assert (r / ".git" / "legacy.log").read_text().count("legacy") == 2  # the kept hook ran each commit


def test_when_gitjit_is_gone_commits_and_pushes_go_on_with_a_warning(setup: tuple[Path, Path, Path, Jit],
                                                                      tmp_path: Path) -> None:
    r, hub, py, j = setup
    j.json("issue", "create", "-t", "Parser")
    shutil.rmtree(py.parent.parent)  # the virtualenv is deleted
    path = bare_path(tmp_path)
    res = commit(r, path, "x\n\nRefs: 0000cccc")
    assert res.returncode == 0, res.stderr
    assert f"jit: the 'commit-msg' hook cannot start gitjit: {py} is gone or has no gitjit, no working jit on " \
           "PATH, no gitjit in python3" in res.stderr
    assert "hint: run 'jit hooks install' from where gitjit is installed, or 'jit hooks uninstall'" in res.stderr
    assert "the Refs:/Closes: trailers of this commit were not checked; git goes on" in res.stderr
    assert "this commit was not linked to the issues its trailers name" in res.stderr  # post-commit
    assert (r / ".git" / "legacy.log").read_text().count("legacy") == 1  # the kept pre-commit still ran
    # a plain commit (nothing for gitjit) is as quiet as ever
    plain = commit(r, path, "plain")
    assert plain.returncode == 0 and plain.stderr == ""
    pushed = run(["git", "push", "-q", "origin", "main"], r, path)
    assert pushed.returncode == 0, pushed.stderr
    assert "refs/jit/* were not pushed with this push" in pushed.stderr
    assert git("rev-parse", "main", cwd=r).stdout == git("rev-parse", "main", cwd=hub).stdout
    # the other hooks say what they left undone, and never fail git
    switched = run(["git", "switch", "-q", "-c", "side"], r, path)
    assert switched.returncode == 0 and "fetched jit refs were not merged" in switched.stderr, switched.stderr
    assert run(["git", "switch", "-q", "main"], r, path).returncode == 0

    # a gate in the registry: a check was asked for, so the commit stops (and says how to skip it)
    assert j("registry", "add", "lint", "-t", "Lint", "--auto", "--command", "true").exit_code == 0
    head = git("rev-parse", "HEAD", cwd=r).stdout
    stopped = commit(r, path, "gated")
    assert stopped.returncode == 1 and git("rev-parse", "HEAD", cwd=r).stdout == head
    assert "jit: commit stopped: a gate is registered and its checks could not run (git commit --no-verify " \
           "skips them)" in stopped.stderr
    assert commit(r, path, "skipped", "--no-verify").returncode == 0
    assert commit(r, path, "no hooks", JIT_NO_HOOKS="1").returncode == 0

    # status and doctor say what happened, and reinstalling from a working gitjit fixes it
    st = j.json("hooks", "status")
    assert st["interpreters"] == [{"python": str(py), "works": False}]
    assert "is gone or has lost its gitjit" in j("hooks", "status").stdout
    doc = j.json("doctor")
    assert any(p["code"] == "hooks_interpreter_missing" and p["fix"] == "jit hooks install" for p in doc["problems"])
    j.json("hooks", "install")
    again = commit(r, path, "x\n\nRefs: 0000cccc")
    assert again.returncode == 1 and "no issue matches '0000cccc'" in again.stderr


def test_a_python3_gitjit_without_its_dependencies_stops_only_a_gated_commit(tmp_path: Path) -> None:
    """``python3`` finds gitjit but not pygit2 (gitjit on PYTHONPATH, the interpreter without the
    virtualenv): a commit-msg check is skipped with a warning, a pre-commit with a gate stops."""
    from gitjit.app.hooks import install
    from gitjit.git import open_repo

    r = make_repo(tmp_path / "r")
    j = Jit(r)
    assert j("init").exit_code == 0
    install(open_repo(r), python=str(tmp_path / "gone" / "python"))
    base = getattr(sys, "_base_executable", sys.executable)
    path = bare_path(tmp_path, python3=f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{base}" -S "$@"\n')
    res = commit(r, path, "x\n\nRefs: 0000cccc")
    assert res.returncode == 0 and "gitjit cannot start here: ModuleNotFoundError" in res.stderr, res.stderr
    assert j("registry", "add", "lint", "-t", "Lint", "--auto", "--command", "true").exit_code == 0
    stopped = commit(r, path, "gated")
    assert stopped.returncode == 1, stopped.stderr
    assert "jit: commit stopped: a gate is registered and its checks could not run" in stopped.stderr
    assert commit(r, path, "skipped", "--no-verify").returncode == 0
