"""New events as they land: ``jit events tail --follow``, the dispatcher's webhooks, and any
surface that shows changes live.

``EventFeed`` remembers the tip of every ``refs/jit/issues/*`` and ``refs/jit/gates/*`` ref. An
event is *new* when it is in a ref's current tip and was not in the tip seen before: a local
write, an agent's write, or events merged in from a hub by a sync all count, and an event
with an old timestamp that arrives late from another clone is not missed (a timestamp cursor
would miss it). The cursor is one tip per ref, so it is small and survives restarts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.board import event_json, event_order
from ..core.errors import ValidationError
from ..core.fold import conflict_events
from ..core.refs import GATES, ISSUES

if TYPE_CHECKING:
    from .base import TrackerBase as Tracker

__all__ = ["Cursor", "EventCursors", "EventFeed", "follow"]

Cursor = dict[str, str]  # ref -> tip


class EventFeed:
    """The events that land in one repository, as they land (see the module's docstring)."""

    def __init__(self, tracker: Tracker, cursor: Cursor | None = None):
        self.tracker = tracker
        #: the index generation the cursor was read at: while it stays, nothing moved
        self._gen: str | None = None
        self.cursor: Cursor = dict(cursor) if cursor is not None else (self._tips() or {})

    def _tips(self, *, changed_only: bool = False) -> Cursor | None:
        """Every issue and gate ref's tip; None (with ``changed_only``) when nothing moved since
        the cursor was read. From the index when it is in use: it notices a change with a stat
        of the ref folders, where listing every ref took 0.75 s a look at 100,000 issues."""
        got = self.tracker.index.tips(since=self._gen if changed_only else None)
        if got is not None:
            self._gen = got[0]
            return got[1]
        self._gen = None
        git = self.tracker.git
        return {**git.tips(ISSUES), **git.tips(GATES)}

    def _events(self, ref: str, tip: str) -> list[Any]:
        try:
            evs = list(self.tracker.store.events_at(tip, where=ref))
        except ValidationError:
            return []  # a malformed ref is skipped (the tracker warns about it elsewhere)
        if ref.startswith(ISSUES):
            # conflicts the fold resolved (a losing claim...) show as events, as in 'jit events tail'
            evs += conflict_events(ref[len(ISSUES):], evs)
        return evs

    def poll(self) -> list[dict[str, Any]]:
        """Events that landed since the last poll, oldest first; advances the cursor."""

        tips = self._tips(changed_only=True)
        if tips is None:
            return []
        new: list[Any] = []
        for ref, tip in tips.items():
            old = self.cursor.get(ref)
            if old == tip:
                continue
            seen = {e.id for e in self._events(ref, old)} if old else set()
            new.extend(e for e in self._events(ref, tip) if e.id not in seen)
        self.cursor = tips
        new.sort(key=event_order)
        return [event_json(e) for e in new]


def follow(tracker: Tracker, emit: Callable[[dict[str, Any]], None], *, n: int, interval: float = 1.0,
           timeout: float | None = None, should_stop: Callable[[], bool] = lambda: False) -> None:
    """``jit events tail --follow``: the last ``n`` events, then every new one as it lands, until
    ``timeout`` seconds pass (None: forever) or ``should_stop``."""
    feed = EventFeed(tracker)
    # the newest n as ``jit events tail`` reads them (from the index: reading every ref's log
    # for them took 40 s and 1 GB at 100,000 issues). They are read after the cursor, so one
    # that lands in between may be among them and in the first look too: it is printed once.
    shown = tracker.events(limit=n) if n else []
    for ev in shown:
        emit(ev)
    printed = {_event_key(ev) for ev in shown}
    deadline = None if timeout is None else time.monotonic() + timeout
    while not should_stop():
        if deadline is not None and time.monotonic() >= deadline:
            return
        time.sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))
        for ev in feed.poll():
            if printed and _event_key(ev) in printed:
                continue
            emit(ev)


def _event_key(ev: dict[str, Any]) -> tuple[Any, ...]:
    return ev.get("id"), ev.get("type"), ev.get("issue_id")


class EventCursors:
    """Events since a cursor, for a long-lived surface (``jit mcp``'s ``events``): a caller gets an
    opaque cursor with each answer and passes it back to get only what landed since. A cursor
    stands for an ``EventFeed`` position (one tip per ref, so late events merged from another clone
    are not missed) kept in this process; the newest ``keep`` are kept, an older or unknown one is
    refused with a hint to start again without it."""

    def __init__(self, tracker: Tracker, *, keep: int = 64) -> None:
        self.tracker = tracker
        self.keep = keep
        self._seen: dict[str, tuple[Cursor, str | None]] = {}
        self._n = 0

    def _remember(self, feed: EventFeed) -> str:
        import secrets

        self._n += 1
        token = f"c{self._n}-{secrets.token_hex(4)}"
        self._seen[token] = (feed.cursor, feed._gen)
        while len(self._seen) > self.keep:
            del self._seen[next(iter(self._seen))]
        return token

    def page(self, since: str | None, limit: int) -> dict[str, Any]:
        """``{"events": [...], "cursor": ...}``: without ``since`` the newest ``limit`` events;
        with it, every event that landed since that cursor was given (oldest first)."""
        from ..core.errors import NotFoundError

        if since is None:
            feed = EventFeed(self.tracker)  # the position first: an event landing meanwhile comes next time too
            return {"events": self.tracker.events(limit=limit), "cursor": self._remember(feed)}
        got = self._seen.get(since)
        if got is None:
            raise NotFoundError(f"unknown or expired events cursor {since!r}",
                                hint="call events without 'since' for the newest events and a new cursor "
                                     "(cursors live as long as the server, the newest 64 of them)",
                                details={"cursor": since})
        feed = EventFeed(self.tracker, got[0])
        feed._gen = got[1]
        evs = feed.poll()
        return {"events": evs, "cursor": self._remember(feed)}
