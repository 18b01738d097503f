"""Finding the repository a command runs in, the way git does, without pygit2.

``discover_light`` walks up from a directory like ``git rev-parse --git-dir`` (and libgit2's
discovery) for the ordinary layouts: a ``.git`` directory, a ``.git`` file (worktrees,
submodules: ``gitdir: <path>``) or a bare repository, and reads ``commondir`` (linked worktrees
share the main repository's refs). Anything it does not know for sure (``GIT_DIR`` and friends
in the environment, a ``.git`` file of another form, ceiling directories) answers None: the
caller then opens the repository through libgit2 (``open_repo``), which knows every case.
"""

from __future__ import annotations

import os

__all__ = ["discover_light", "common_dir"]

#: environment variables that change where git looks for the repository
_REPO_ENV = ("GIT_DIR", "GIT_COMMON_DIR", "GIT_WORK_TREE", "GIT_CEILING_DIRECTORIES", "GIT_DISCOVERY_ACROSS_FILESYSTEM")


def discover_light(start: str) -> tuple[str, str, str | None] | None:
    """``(git_dir, common_dir, workdir)`` of the repository containing ``start`` (``workdir`` None
    for a bare repository), or None when only libgit2 can tell."""
    if any(os.environ.get(k) for k in _REPO_ENV) or not os.path.isdir(start):
        return None
    d = os.path.abspath(start)
    while True:
        dot = os.path.join(d, ".git")
        if os.path.isdir(dot):
            return dot, common_dir(dot), d
        if os.path.isfile(dot):
            try:
                with open(dot, encoding="utf-8") as f:
                    line = f.readline().strip()
            except (OSError, UnicodeDecodeError):
                return None
            if not line.startswith("gitdir: "):
                return None
            gd = os.path.normpath(os.path.join(d, line[8:]))
            return gd, common_dir(gd), d
        if os.path.isfile(os.path.join(d, "HEAD")) and os.path.isdir(os.path.join(d, "objects")) \
                and os.path.isdir(os.path.join(d, "refs")):
            return d, common_dir(d), None
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def common_dir(git_dir: str) -> str:
    """The directory holding the refs and objects (``commondir`` of a linked worktree)."""
    cd = os.path.join(git_dir, "commondir")
    if os.path.isfile(cd):
        with open(cd, encoding="utf-8") as f:
            return os.path.normpath(os.path.join(git_dir, f.read().strip()))
    return git_dir
