"""The ``Tracker``: the library every front end calls (the CLI, the dispatcher, the hooks, the
tests), put together from one mixin per idea over the kernel in ``gitjit.app.base``.

Methods take keyword-only options, raise ``gitjit.core.errors.GitjitError`` subclasses, return
plain JSON-ready values (the shapes in docs/json.md), print nothing and never read the environment.
"""

from __future__ import annotations

from .base import TrackerBase
from .batch import Batch
from .claims import ClaimOps
from .docs import DocOps
from .gates import GateOps
from .issues import IssueOps
from .planning import PlanningOps
from .sharing import SharingOps
from .views import ViewOps

__all__ = ["Tracker"]


class Tracker(IssueOps, PlanningOps, DocOps, ClaimOps, GateOps, ViewOps, SharingOps, TrackerBase):
    """One repository's tracker. ``actor`` is who writes (``--by`` / ``JIT_ACTOR`` / git identity)."""

    @property
    def use_index(self) -> bool:
        """False: every read folds the refs themselves (the index stays untouched)."""
        return self.index.enabled

    @use_index.setter
    def use_index(self, on: bool) -> None:
        self.index.enabled = on

    def batch(self, *, by: str | None = None) -> Batch:
        """Stage many new issues and publish them at once (``with tracker.batch() as b:
        b.create_issue(...)``): each call only checks and stages, the end of the block writes them
        all through the bulk path of ``jit import``, or nothing if the block raises. See gitjit/app/batch.py."""
        self._ensure_init()
        return Batch(self, by=by)
