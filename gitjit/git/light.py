"""A repository read through the ``git`` program alone, for code that must start fast.

Importing pygit2 costs more CPU than a whole no-op git hook, so the hooks' fast path asks git
itself for the little it needs: where the repository is (``discover``, from the file system in the
usual layouts), a few config values (one ``git config`` for all of them), the tips under a prefix
(``git for-each-ref``). Every git it starts goes through ``gitjit.git.run`` and names the
repository found (``--git-dir``), so a variable a hook inherited from git cannot point it elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import run
from .discover import Location, discover

__all__ = ["LightRepo"]


class LightRepo:
    """The repository git would use in ``start`` (default: the current directory; ``GIT_DIR`` and
    the like count, as for git), with ``git_dir``, ``common_dir``, ``workdir`` as Paths.

    ``config``: a regular expression of the config keys the caller will read (canonical names:
    section and variable in lower case), fetched together by the first ``config_get``."""

    def __init__(self, start: str | os.PathLike[str] | None = None, *, config: str | None = None) -> None:
        self.cwd = Path(start) if start else Path.cwd()
        self.location: Location = discover(self.cwd)
        self.git_dir = Path(self.location.git_dir)
        self.common_dir = Path(self.location.common_dir)
        self.workdir = Path(self.location.workdir) if self.location.workdir is not None else None
        self._pattern = config
        self._cfg: dict[str, str] | None = None

    def run(self, *args: str, text: bool = True) -> Any:
        """``git --git-dir <git dir> ARGS`` run in ``start`` (where the paths a hook is given are
        relative to); the CompletedProcess, whatever its exit status."""
        return run.run(args, git_dir=self.git_dir, cwd=self.cwd, text=text)

    def _out(self, *args: str) -> str | None:
        p = self.run(*args)
        return p.stdout if p.returncode == 0 else None  # type: ignore[no-any-return]

    def config_get(self, key: str) -> str | None:
        sec, _, rest = key.partition(".")
        name, _, var = rest.rpartition(".")
        # git prints section and variable names in lower case (a subsection keeps its case)
        canon = ".".join(x for x in (sec.lower(), name, var.lower()) if x)
        if self._pattern is not None:
            import re

            if re.search(self._pattern, canon):
                if self._cfg is None:
                    out = self._out("config", "-z", "--get-regexp", self._pattern) or ""
                    self._cfg = dict(item.partition("\n")[::2] for item in out.split("\0") if item)
                return self._cfg.get(canon)
        got = self._out("config", "--get", key)
        return got[:-1] if got is not None and got.endswith("\n") else got

    def tips(self, prefix: str) -> dict[str, str]:
        """``{refname: object id}`` of the refs under ``prefix``, as git lists them."""
        out = self._out("for-each-ref", "--format=%(refname) %(objectname)", prefix) or ""
        return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)  # type: ignore[misc]

    def has_refs(self, prefix: str) -> bool:
        return bool((self._out("for-each-ref", "--count=1", "--format=x", prefix) or "").strip())
