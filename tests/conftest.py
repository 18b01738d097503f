"""Shared fixtures: real git repositories in tmp_path, with a scrubbed environment.

Every test runs with HOME pointing into tmp_path, no system git config, a fixed git
identity and no JIT_* variables, so a developer's own configuration never leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Committer",
    "GIT_COMMITTER_EMAIL": "committer@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
    "TZ": "UTC",
    "LC_ALL": "C.UTF-8",
}


@pytest.fixture(autouse=True)
def scrub_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    for k in list(os.environ):
        if k.startswith(("JIT_", "GIT_")):
            monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    for k, v in GIT_ENV.items():
        monkeypatch.setenv(k, v)


def git(*args: str, cwd: Path | str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real git binary."""
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True, input=input)


def make_repo(path: Path, *, bare: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git("init", "-q", *(["--bare"] if bare else []), "-b", "main", str(path), cwd=path)
    if not bare:
        git("config", "user.name", "Repo User", cwd=path)
        git("config", "user.email", "repo@example.invalid", cwd=path)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A fresh non-bare repository with an identity, not yet `jit init`-ed."""
    return make_repo(tmp_path / "repo")


@pytest.fixture
def tracker(repo: Path):  # type: ignore[no-untyped-def]
    from gitjit.app.tracker import Tracker

    t = Tracker(repo, actor="agent:test")
    t.init()
    return t


def ref_snapshot(path: Path) -> dict[str, str]:
    """Every ref and its target: compare before/after to prove a failed command changed nothing."""
    out = git("for-each-ref", "--format=%(refname) %(objectname)", cwd=path).stdout
    return dict(tuple(line.split(" ", 1)) for line in out.splitlines() if line)  # type: ignore[misc]


class Jit:
    """Runs the CLI in-process (click's CliRunner through main(argv)) against one repository."""

    def __init__(self, repo: Path, actor: str = "agent:test"):
        self.repo = repo
        self.actor = actor

    def __call__(self, *args: str, input: str | None = None, actor: str | None = None):  # type: ignore[no-untyped-def]
        from gitjit.cli import main

        runner = CliRunner()
        env = {"JIT_REPO": str(self.repo), "JIT_ACTOR": actor or self.actor}
        result = runner.invoke(_Main(main), list(args), env=env, input=input, catch_exceptions=False)
        if _json_asked(args):
            check_json_output(args, result.stdout)
        return result

    def json(self, *args: str, **kw):  # type: ignore[no-untyped-def]
        r = self(*args, "--json", **kw)
        assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
        return json.loads(r.stdout)


class _Main:
    """Adapter so CliRunner.invoke calls main(argv) (our error handling) instead of the bare click group."""

    def __init__(self, main):  # type: ignore[no-untyped-def]
        self._main = main
        self.name = "jit"

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[no-untyped-def]
        raise SystemExit(self._main(list(args or [])))


@pytest.fixture
def jit(repo: Path) -> Jit:
    j = Jit(repo)
    r = j("init")
    assert r.exit_code == 0, r.output
    return j


def run_jit(*args: str, cwd: Path | str, env: dict[str, str] | None = None, check: bool = False,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m gitjit` as a real process (for concurrency, examples and crash tests)."""
    e = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "gitjit", *args], cwd=cwd, env=e, capture_output=True,
                          text=True, check=check, timeout=timeout)
    if proc.returncode >= 0 and _json_asked(args, e):
        check_json_output(args, proc.stdout)
    return proc


def _json_asked(args: tuple[str, ...] | list[str], env: dict[str, str] | None = None) -> bool:
    return "--json" in args or (env if env is not None else os.environ).get("JIT_JSON", "") not in ("", "0")


def check_json_output(args: tuple[str, ...] | list[str], stdout: str) -> None:
    """Every ``--json`` output the suite produces is held to its command's schema (``jit schema``;
    gitjit/schema/catalog.py says which command prints which shape)."""
    from gitjit.schema.catalog import validate_output

    problems = validate_output(list(args), stdout)
    assert not problems, "\n".join(problems)
