"""Sharing through remotes (docs/sharing.md): pull, push, sync, and the refspecs that let plain
``git fetch``/``git pull`` bring the jit refs. The machinery itself (fetch, reconcile, push, hub
claims) is ``gitjit.store.sync``."""

from __future__ import annotations

from typing import Any

from .base import TrackerBase

__all__ = ["SharingOps"]


class SharingOps(TrackerBase):
    def pull(self, remote: str = "origin", *, fetch: bool = True) -> dict[str, Any]:
        """Fetch ``remote``'s jit refs and reconcile them into ours (``fetch=False``: reconcile what a
        plain ``git fetch`` already brought). Invalid remote refs are skipped with a warning."""
        self._ensure_init()
        res = self._syncer().pull(remote, fetch=fetch).to_json()
        self._board = None
        return res

    def push(self, remote: str = "origin") -> dict[str, Any]:
        """Push every jit ref that ``remote`` does not have yet (leased; retried after a merge)."""
        self._ensure_init()
        res: dict[str, Any] = self._syncer().push(remote)
        self._board = None
        return res

    def sync(self, remote: str = "origin") -> dict[str, Any]:
        """Pull, then push."""
        pulled = self.pull(remote)
        return {"remote": remote, "pull": pulled, "push": self.push(remote)}

    def add_refspecs(self, remote: str) -> dict[str, Any]:
        """Add ``+refs/jit/*:refs/jit-remotes/<remote>/*`` to ``remote.<remote>.fetch`` (idempotent), so
        plain ``git fetch``/``git pull`` bring the remote's jit refs; ``jit pull`` then reconciles them."""
        res: dict[str, Any] = self._syncer().add_refspecs(remote)
        res["undo"] = f"jit remote remove-refspecs {remote}"
        return res

    def remove_refspecs(self, remote: str) -> dict[str, Any]:
        res: dict[str, Any] = self._syncer().remove_refspecs(remote)
        return res
