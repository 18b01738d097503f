"""Refs read as the files git keeps them in, without pygit2: what the fastest paths (a claim's
look at its neighbours, the index's freshness check) need and nothing more. A loose ref file is
``<common dir>/<ref name>``, its lock file ``<ref name>.lock`` (gitrepository-layout(5))."""

from __future__ import annotations

import os
import time

__all__ = ["loose_tip", "ref_locked"]


def loose_tip(common: str | os.PathLike[str], ref: str) -> str | None:
    """The tip in the loose ref file, or None (a write always leaves one; packing it meanwhile
    removes it)."""
    try:
        with open(os.path.join(common, ref), "rb") as f:
            data = f.read(41)
    except OSError:
        return None
    return data[:40].decode("ascii", "replace")


def ref_locked(common: str | os.PathLike[str], ref: str, *, stale_after: float) -> bool:
    """Someone is writing ``ref`` right now: git's and libgit2's ``<ref>.lock`` is there, and
    younger than ``stale_after`` seconds (an older one is a stale lock the write path recovers)."""
    try:
        age = time.time() - os.stat(os.path.join(common, ref + ".lock")).st_mtime
    except OSError:
        return False
    return age < stale_after
