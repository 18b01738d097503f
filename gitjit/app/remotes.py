"""Use cases around sharing that sit on top of ``gitjit.app.tracker.Tracker``: the remote refspecs.
The machinery itself (fetch, reconcile, push, hub claims) lives in ``gitjit.store.sync``; the
Tracker's ``push``/``pull``/``sync`` call it directly, and ``jit doctor`` (gitjit.app.doctor) reuses
its document checks.
"""

from __future__ import annotations

from typing import Any

__all__ = ["add_refspecs", "remove_refspecs"]


def add_refspecs(tracker: Any, remote: str) -> dict[str, Any]:
    """Add ``+refs/jit/*:refs/jit-remotes/<remote>/*`` to ``remote.<remote>.fetch`` (idempotent), so
    plain ``git fetch``/``git pull`` bring the remote's jit refs; ``jit pull`` then reconciles them."""
    res: dict[str, Any] = tracker._syncer().add_refspecs(remote)  # noqa: SLF001 - same package
    res["undo"] = f"jit remote remove-refspecs {remote}"
    return res


def remove_refspecs(tracker: Any, remote: str) -> dict[str, Any]:
    res: dict[str, Any] = tracker._syncer().remove_refspecs(remote)  # noqa: SLF001
    return res

