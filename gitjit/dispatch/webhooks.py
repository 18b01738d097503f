"""New events as they land, for orchestrators that react instead of polling (seed 000 pattern 4).

The events come from ``gitjit.app.feed.EventFeed`` (one cursor of ref tips per repository).

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

from .config import WebhookConfig

__all__ = ["WebhookSender"]

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
