"""Manual pages (gitjit/cli/manpage.py): the committed pages are the click commands', and
``git jit --help`` (git runs ``man git-jit``) prints jit's help where a virtual environment puts
them: ``<venv>/share/man/man1`` beside ``<venv>/bin`` on PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import ROOT, Jit

from gitjit.cli.manpage import MAN_DIR, pages

needs_man = pytest.mark.skipif(shutil.which("man") is None, reason="man not installed (apt-get install man-db)")


def test_committed_pages_are_up_to_date() -> None:
    want = pages()
    have = {p.name: p.read_text(encoding="utf-8") for p in MAN_DIR.glob("*.1")}
    assert sorted(have) == sorted(want), "run python -m gitjit.cli.manpage"
    stale = [n for n in want if have[n] != want[n]]
    assert not stale, f"stale manual pages {stale}: run python -m gitjit.cli.manpage"
    assert {"jit.1", "git-jit.1", "jit-issue.1", "jit-query.1"} <= set(want)
    assert "jit-merge-driver.1" not in want and "jit-fsck.1" not in want  # hidden


def test_pyproject_installs_the_pages_into_share_man() -> None:
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert conf["tool"]["setuptools"]["data-files"]["share/man/man1"] == ["gitjit/man/man1/*.1"]


def _venv_like(tmp: Path, pages_from: Path) -> dict[str, str]:
    """<tmp>/venv/bin/git-jit (this interpreter running gitjit) and its pages in share/man/man1."""
    v = tmp / "venv"
    (v / "bin").mkdir(parents=True)
    shutil.copytree(pages_from, v / "share" / "man" / "man1")
    script = v / "bin" / "git-jit"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    script.chmod(0o755)
    git_dir = os.path.dirname(shutil.which("git") or "/usr/bin/git")
    return {"HOME": os.environ["HOME"], "PATH": os.pathsep.join([str(v / "bin"), git_dir, "/usr/bin", "/bin"]),
            "PYTHONPATH": os.pathsep.join(sys.path), "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80",
            "LC_ALL": "C.UTF-8", "GIT_CONFIG_NOSYSTEM": "1"}


@needs_man
def test_git_jit_help_prints_the_manual_in_a_venv(jit: Jit, tmp_path: Path) -> None:
    env = _venv_like(tmp_path, MAN_DIR)
    p = subprocess.run(["git", "jit", "--help"], cwd=jit.repo, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "No manual entry" not in p.stderr
    assert "GIT-JIT(1)" in p.stdout and "git jit [OPTIONS] COMMAND" in p.stdout
    assert "jit query ready --json" in p.stdout
    p = subprocess.run(["man", "jit-issue"], env=env, capture_output=True, text=True, timeout=60)
    text = " ".join(p.stdout.replace("\u2010", "-").split())  # man's hyphens, its line breaks
    assert p.returncode == 0 and "jit issue claim-next" in text and "Atomically claim" in text


@needs_man
def test_jit_man_installs_the_pages_where_man_finds_them(jit: Jit, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**_venv_like(tmp_path, MAN_DIR), "XDG_DATA_HOME": str(data)}
    shutil.rmtree(tmp_path / "venv" / "share")  # a venv without the pages (pipx, a checkout)
    p = subprocess.run(["git", "jit", "--help"], cwd=jit.repo, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "No manual entry for git-jit" in p.stderr
    r = subprocess.run([sys.executable, "-m", "gitjit", "man"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and str(data / "man" / "man1") in r.stdout
    # man looks in MANPATH, or where PATH suggests: ~/.local/bin on PATH gives ~/.local/share/man
    env["MANPATH"] = f"{data / 'man'}:"
    p = subprocess.run(["git", "jit", "--help"], cwd=jit.repo, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "GIT-JIT(1)" in p.stdout


@needs_man
def test_every_page_renders_without_warnings(tmp_path: Path) -> None:
    for page in sorted(MAN_DIR.glob("*.1")):
        p = subprocess.run(["man", "--warnings", "-l", str(page)], env={**os.environ, "MANPAGER": "cat",
                                                                           "MANWIDTH": "80"},
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (page.name, p.stderr)
        assert not p.stderr.strip(), (page.name, p.stderr)
