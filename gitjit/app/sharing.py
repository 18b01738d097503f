"""Sharing through remotes (docs/sharing.md): pull, push, sync, the refspecs that let plain
``git fetch``/``git pull`` bring the jit refs, and catching up with what they brought. The machinery itself (fetch, reconcile, push, hub
claims) is ``gitjit.store.sync``."""

from __future__ import annotations

from typing import Any

from ..core.errors import GitjitError, NotFoundError
from ..core.progress import Progress
from ..core.refs import refspec_for
from ..store import fetched
from .base import TrackerBase

__all__ = ["SharingOps"]


class SharingOps(TrackerBase):
    def pull(self, remote: str = "origin", *, fetch: bool = True, progress: Progress | None = None) -> dict[str, Any]:
        """Fetch ``remote``'s jit refs and reconcile them into ours (``fetch=False``: reconcile what a
        plain ``git fetch`` already brought). Invalid remote refs are skipped with a warning.
        ``progress``: told of each ref read and merged (gitjit/core/progress.py)."""
        self._ensure_init()
        res = self._syncer().pull(remote, fetch=fetch, progress=progress).to_json()
        self._board = None
        return res

    def push(self, remote: str = "origin") -> dict[str, Any]:
        """Push every jit ref that ``remote`` does not have yet (leased; retried after a merge)."""
        self._ensure_init()
        res: dict[str, Any] = self._syncer().push(remote)
        self._board = None
        return res

    def sync(self, remote: str = "origin", *, progress: Progress | None = None) -> dict[str, Any]:
        """Pull, then push, through one syncer: the push knows what the pull found (the remote's
        advertisement), so the next pull of an unchanged remote stays a quiet one."""
        self._ensure_init()
        syncer = self._syncer()
        pulled = syncer.pull(remote, progress=progress).to_json()
        self._board = None
        pushed: dict[str, Any] = syncer.push(remote)
        self._board = None
        return {"remote": remote, "pull": pulled, "push": pushed}

    def add_refspecs(self, remote: str) -> dict[str, Any]:
        """Add ``+refs/jit/*:refs/jit-remotes/<remote>/*`` to ``remote.<remote>.fetch`` (idempotent), so
        plain ``git fetch``/``git pull`` bring the remote's jit refs; ``jit pull`` then reconciles them."""
        res: dict[str, Any] = self._syncer().add_refspecs(remote)
        res["undo"] = f"jit remote remove-refspecs {remote}"
        return res

    def remove_refspecs(self, remote: str) -> dict[str, Any]:
        res: dict[str, Any] = self._syncer().remove_refspecs(remote)
        return res

    def check_hub(self, remote: str) -> None:
        """Refuse a hub that is not a configured remote (every claim would then fail with exit 3):
        ``UsageError`` for a malformed name, ``NotFoundError`` naming the remotes there are. The empty
        string is allowed: it means no hub."""
        if remote == "":
            return
        try:
            self._syncer().check_remote(remote)
        except NotFoundError as e:
            have = self.git.remote_names()
            e.message = f"cannot set hub: {e.message}, so every claim would fail"
            e.hint = (f"use one of the remotes here ({', '.join(have)}), or " if have else "") + \
                f"add it first: git remote add {remote} <url>"
            e.details = {**e.details, "remotes": have}
            raise

    def fetch_remotes(self) -> list[str]:
        """The remotes whose plain ``git fetch`` brings their jit refs (the refspec of ``add_refspecs``)."""
        return [r for r in self.git.remote_names() if refspec_for(r) in self.git.config_get_all(f"remote.{r}.fetch")]

    def catch_up(self) -> list[dict[str, Any]]:
        """Merge into ``refs/jit/*`` what plain ``git fetch``/``git pull`` brought into the tracking refs
        since the last time, as ``jit pull --no-fetch`` would, for each remote with the jit refspec:
        git runs no hook for a fetch, nor for a pull that merges nothing (gitjit/store/fetched.py).
        Costs a ``stat`` or two when nothing was fetched. A remote that cannot be merged becomes a
        warning on the tracker (``warnings``), and is tried again next time; nothing raises.
        Returns each remote's pull result."""
        common = self.git.common_dir
        seen = fetched.fetch_signature(common)  # taken first: a fetch after this shows up next time
        state = fetched.read_state(common)
        if seen == state.get("fetch_head", []) or not self.is_initialized():
            return []
        out: list[dict[str, Any]] = []
        ok = True
        for remote in self.fetch_remotes():
            try:
                out.append(self.pull(remote, fetch=False))
            except GitjitError as e:
                ok = False
                self.warnings.append(f"could not merge the jit refs 'git fetch' brought from {remote}: {e.message} "
                                     f"(retried by the next jit command; by hand: jit pull {remote} --no-fetch)")
            except OSError as e:  # a read-only clone, a full disk: reading goes on
                ok = False
                self.warnings.append(f"could not merge the jit refs 'git fetch' brought from {remote}: {e}")
        if ok and fetched.settled(seen):
            state = fetched.read_state(common)
            state["fetch_head"] = seen
            fetched.write_state(common, state)
        return out
