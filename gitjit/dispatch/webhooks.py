"""New events as they land, for orchestrators that react instead of polling (seed 000 pattern 4).

``EventFeed`` remembers the tip of every ``refs/jit/issues/*`` and ``refs/jit/gates/*`` ref. An
event is *new* when it is in a ref's current tip and was not in the tip seen before: a local
write, an agent's write, or events merged in from a hub by a sync all count, and an event
with an old timestamp that arrives late from another clone is not missed (a timestamp cursor
would miss it). The cursor is one tip per ref, so it is small and survives restarts.

``WebhookSender`` POSTs each event as JSON to the configured URLs from one background thread
per URL (so a slow receiver never holds up dispatching, and events reach each URL in order),
retrying connection errors, 429 and 5xx with exponential backoff up to ``max_attempts``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from ..errors import ValidationError
from ..store import GATES, ISSUES
from .config import WebhookConfig

__all__ = ["EventFeed", "WebhookSender", "follow"]

Cursor = dict[str, str]  # ref -> tip


class EventFeed:
    def __init__(self, tracker: Any, cursor: Cursor | None = None):
        self.tracker = tracker
        #: the index generation the cursor was read at: while it stays, nothing moved
        self._gen: str | None = None
        self.cursor: Cursor = dict(cursor) if cursor is not None else (self._tips() or {})

    def _tips(self, *, changed_only: bool = False) -> Cursor | None:
        """Every issue and gate ref's tip; None (with ``changed_only``) when nothing moved since
        the cursor was read. From the index when it is in use: it notices a change with a stat
        of the ref folders, where listing every ref took 0.75 s a look at 100,000 issues."""
        from ..indexed import indexed_tips

        got = indexed_tips(self.tracker, since=self._gen if changed_only else None)
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
            try:
                from ..fold import conflict_events
            except ImportError:  # pragma: no cover - older fold without synthesized conflict events
                return evs
            evs += conflict_events(ref[len(ISSUES):], evs)
        return evs

    def poll(self) -> list[dict[str, Any]]:
        """Events that landed since the last poll, oldest first; advances the cursor."""
        from ..api import event_json
        from ..api_views import event_order

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


def follow(tracker: Any, emit: Callable[[dict[str, Any]], None], *, n: int, interval: float = 1.0,
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


# ---------------------------------------------------------------------------- webhooks

class WebhookSender:
    def __init__(self, hooks: tuple[WebhookConfig, ...], log: Callable[..., None],
                 base_delay: float = 0.5, max_delay: float = 30.0):
        self.hooks = hooks
        self.log = log
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.delivered = 0
        self.failed = 0
        self._queues: list[queue.Queue[dict[str, Any] | None]] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        for h in hooks:
            q: queue.Queue[dict[str, Any] | None] = queue.Queue()
            t = threading.Thread(target=self._worker, args=(h, q), name=f"webhook {h.url}", daemon=True)
            self._queues.append(q)
            self._threads.append(t)
            t.start()

    def send(self, repo: str, events: list[dict[str, Any]]) -> None:
        for h, q in zip(self.hooks, self._queues):
            for ev in events:
                if h.events is None or ev.get("type") in h.events:
                    q.put({**ev, "repo": repo})

    def pending(self) -> int:
        return sum(q.unfinished_tasks for q in self._queues)

    def close(self, timeout: float = 10.0) -> None:
        """Deliver what is queued (up to ``timeout`` seconds), then stop the threads."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        self._stop.set()
        for q in self._queues:
            q.put(None)
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))

    def _worker(self, hook: WebhookConfig, q: queue.Queue[dict[str, Any] | None]) -> None:
        while True:
            item = q.get()
            try:
                if item is None:
                    return
                self._deliver(hook, item)
            finally:
                q.task_done()

    def _deliver(self, hook: WebhookConfig, ev: dict[str, Any]) -> None:
        body = json.dumps(ev, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": "jit-dispatch",
                   "X-Jit-Event": str(ev.get("type")), "X-Jit-Delivery": str(ev.get("id")),
                   "X-Jit-Repo": str(ev.get("repo")), **hook.headers}
        if hook.secret:
            sig = hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Jit-Signature-256"] = f"sha256={sig}"
        delay = self.base_delay
        for attempt in range(1, hook.max_attempts + 1):
            err = ""
            try:
                req = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
                with urllib.request.urlopen(req, timeout=hook.timeout_secs) as resp:
                    resp.read()
                self.delivered += 1
                return
            except urllib.error.HTTPError as e:
                err = f"HTTP {e.code}"
                if e.code < 500 and e.code != 429:  # the receiver refuses this event: retrying will not help
                    break
            except (urllib.error.URLError, OSError, ValueError) as e:
                err = str(getattr(e, "reason", e))
            if attempt < hook.max_attempts and not self._stop.is_set():
                time.sleep(random.uniform(delay / 2, delay))
                delay = min(delay * 2, self.max_delay)
            elif self._stop.is_set():
                break
        self.failed += 1
        self.log("webhook_failed", url=hook.url, event_id=ev.get("id"), event_type=ev.get("type"), error=err,
                 message=f"webhook {hook.url}: gave up on event {ev.get('id')} ({ev.get('type')}): {err}")
