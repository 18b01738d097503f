"""Read-only views over the whole tracker: the dependency graph and the event log. Methods of
``Tracker`` (gitjit/app/tracker.py), kept in their own module to keep each one readable."""

from __future__ import annotations

from typing import Any

from ..core.board import event_json, event_order
from ..core.event import Event
from ..core.fold import conflict_events
from ..core.model import utc_ts
from ..core.refs import GATES, ISSUES
from .base import TrackerBase


class ViewOps(TrackerBase):
    """``Tracker``'s graph and event methods (a mixin: ``self`` is the Tracker)."""






    # ------------------------------------------------------------------ events

    def all_events(self) -> list[Event]:
        evs: list[Event] = []
        for prefix in (ISSUES, GATES):
            for ld in self.store.load_all(prefix).values():
                evs.extend(ld.events)
                if prefix == ISSUES:  # a loser's claim etc. as claim_conflict events (docs/merge.md)
                    evs.extend(conflict_events(ld.key, ld.events))
        evs.sort(key=event_order)
        return evs

    def _events(self, *, event_type: str | None, issue_id: str | None, since: str | None,
                limit: int | None) -> list[dict[str, Any]]:
        got = self.index.events(event_type=event_type, issue_id=issue_id, since=since, limit=limit)
        if got is not None:
            return got
        out = []
        for e in self.all_events():
            if event_type and e.type != event_type:
                continue
            if issue_id and e.issue_id != issue_id:
                continue
            if since and utc_ts(e.timestamp) < since:
                continue
            out.append(e)
        if limit is not None:
            out = out[-limit:] if limit else []
        return [event_json(e) for e in out]
