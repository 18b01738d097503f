"""The one way gitjit starts the ``git`` program (``tests/test_layering.py`` checks that no module
outside ``gitjit/git/`` starts it on its own).

What every call gets:

* **The repository it names, and no other.** A call given ``git_dir`` runs ``git --git-dir
  <git_dir>`` with the variables that would point git at another repository, work tree, index or
  object store removed from its environment (``REPO_ENV``). git exports some of them to the hooks
  it runs (``GIT_INDEX_FILE`` always, ``GIT_DIR`` in a linked worktree), a pre-receive hook gets
  ``GIT_OBJECT_DIRECTORY`` and ``GIT_QUARANTINE_PATH``, and a user may export any of them: jit
  started from there must still fetch into, write to and read from the repository it opened,
  which libgit2 opened without looking at them either. ``--git-dir`` rather than a ``cwd`` in the
  git dir also keeps ``safe.bareRepository=explicit`` (git 2.38) from refusing a bare repository.
  The rest of the environment is passed on: the user's configuration (``GIT_CONFIG_*``, which
  ``git -c`` hands to hooks), ``HOME``, ``PATH``, the SSH and credential settings of a fetch.
* **No terminal input.** Without ``input``, git's stdin is ``/dev/null``: no git command jit runs
  reads it, and one started from a hook must never eat the hook's own stdin (pre-push's refs).
* **A timeout when asked, and failures as ``ExternalError``** (exit 10): git missing or not
  startable (``GitNotRun``), not finished in time (``GitTimeout``), and, with ``check=True``, a
  non-zero exit (``GitFailed``, with git's last stderr lines in the message, the whole stderr in
  ``details`` and a hint). Without ``check`` the caller reads ``returncode`` itself.

Callers that only try (a best-effort cleanup) catch ``ExternalError``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ..core.errors import ExternalError

__all__ = ["DEVNULL", "GIT", "PIPE", "REPO_ENV", "GitFailed", "GitNotRun", "GitTimeout", "git_env", "last_lines",
           "popen", "run"]

GIT = "git"
DEVNULL = subprocess.DEVNULL
PIPE = subprocess.PIPE
#: what makes git look at another repository, work tree, index or object store than the one named
#: (git(1), "ENVIRONMENT VARIABLES"); GIT_PREFIX only describes where a hook's git was started
REPO_ENV = frozenset({"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY",
                      "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH", "GIT_NAMESPACE",
                      "GIT_REPLACE_REF_BASE", "GIT_IMPLICIT_WORK_TREE", "GIT_PREFIX"})


class GitNotRun(ExternalError):
    """git could not be started: not installed, not on PATH, not executable."""


class GitTimeout(ExternalError):
    """git did not finish within the time given; the process was killed."""


class GitFailed(ExternalError):
    """git exited non-zero (``run(..., check=True)``)."""

    def __init__(self, message: str, *, returncode: int, stderr: str, hint: str | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message, hint=hint, details=details)
        self.returncode = returncode
        self.stderr = stderr


def git_env(extra: Mapping[str, str] | None = None, *, scrub: bool = True) -> dict[str, str]:
    """This process's environment for a git child: without ``REPO_ENV`` when ``scrub``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not (scrub and k in REPO_ENV)}
    if extra:
        env.update(extra)
    return env


def last_lines(text: str | bytes, n: int = 3) -> str:
    """The last ``n`` non-empty lines of git's stderr, joined: where git says what went wrong."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    lines = [x for x in text.strip().splitlines() if x.strip()]
    return " / ".join(lines[-n:]) if lines else "(no message)"


def _command(args: Sequence[str], git_dir: str | os.PathLike[str] | None) -> list[str]:
    return [GIT, *(("--git-dir", os.fspath(git_dir)) if git_dir is not None else ()), *args]


def _name(args: Sequence[str]) -> str:
    """``git <subcommand>`` for messages: the first word that is not a global option (``-c k=v``)."""
    skip = False
    for a in args:
        if skip:
            skip = False
        elif a in ("-c", "-C"):
            skip = True
        elif not a.startswith("-"):
            return f"git {a}"
    return "git"


def _not_run(e: OSError) -> GitNotRun:
    if isinstance(e, FileNotFoundError):
        return GitNotRun("the git command was not found", hint="install git (>= 2.38) and put it on PATH")
    return GitNotRun(f"could not start git: {e}", hint="check that git is installed and can run")


def run(
    args: Sequence[str],
    *,
    git_dir: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    text: bool = True,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    scrub: bool = True,
    check: bool = False,
    what: str | None = None,
    hint: str | None = None,
    start_new_session: bool = False,
) -> subprocess.CompletedProcess[Any]:
    """Run ``git [--git-dir GIT_DIR] ARGS`` to completion, stdout and stderr captured (str with
    ``text``, else bytes). ``env`` adds variables to the (scrubbed, see the module docstring)
    environment; ``scrub=False`` passes the environment as it is, for commands that must see
    the repository the way a hook's own git does. ``what`` names the operation in errors."""
    what = what or _name(args)
    try:
        proc = subprocess.run(
            _command(args, git_dir), cwd=cwd, input=input, stdin=DEVNULL if input is None else None,
            capture_output=True, text=text, timeout=timeout, env=git_env(env, scrub=scrub),
            start_new_session=start_new_session, check=False)
    except subprocess.TimeoutExpired:
        raise GitTimeout(f"{what}: git did not finish within {timeout:g}s",
                         hint="try again; if it keeps happening, run the git command by hand to see why") from None
    except OSError as e:
        raise _not_run(e) from None
    if check and proc.returncode != 0:
        err = proc.stderr if isinstance(proc.stderr, str) else proc.stderr.decode(errors="replace")
        raise GitFailed(f"{what} failed: {last_lines(err)}", returncode=proc.returncode, stderr=err,
                        hint=hint or "run the git command by hand to see the whole message",
                        details={"command": _command(args, git_dir), "exit": proc.returncode,
                                 "stderr": err[-2000:]})
    return proc


def popen(
    args: Sequence[str],
    *,
    git_dir: str | os.PathLike[str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    scrub: bool = True,
    stdin: int | IO[Any] | None = DEVNULL,
    stdout: int | IO[Any] | None = PIPE,
    stderr: int | IO[Any] | None = DEVNULL,
) -> subprocess.Popen[bytes]:
    """Start ``git [--git-dir GIT_DIR] ARGS`` and return the process (bytes streams), for a caller
    that talks to it while it runs (``git cat-file --batch``). ``GitNotRun`` if it cannot start."""
    try:
        return subprocess.Popen(_command(args, git_dir), cwd=cwd, env=git_env(env, scrub=scrub), stdin=stdin,
                                stdout=stdout, stderr=stderr)
    except OSError as e:
        raise _not_run(e) from None
