"""Event hooks: `jit events tail --follow` and webhook POSTs with retry (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from dispatchlib import agent_cmd, wait_for, write_config
from synclib import hub_and_clones

from gitjit.app.feed import EventFeed
from gitjit.app.tracker import Tracker
from gitjit.dispatch.config import WebhookConfig, load_config
from gitjit.dispatch.engine import Dispatcher
from gitjit.dispatch.webhooks import WebhookSender
from gitjit.schema.catalog import adapter


class Receiver:
    """A tiny webhook receiver: fails the first ``fail_first`` requests with 503, records the rest."""

    def __init__(self, fail_first: int = 0, status: int = 200):
        self.got: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.status = status
        rec = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                rec.attempts += 1
                if rec.attempts <= rec.fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                self.send_response(rec.status)
                self.end_headers()
                if rec.status == 200:
                    rec.got.append(json.loads(body))
                    rec.headers.append(dict(self.headers))

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook/jit-event"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    r = Receiver(fail_first=2)
    yield r
    r.close()


def test_dispatcher_posts_events_with_retry(tmp_path: Path, tracker: Tracker, repo: Path, receiver: Receiver) -> None:
    old = tracker.create_issue("before the dispatcher started")["id"]  # its history is not replayed
    cfg_path = write_config(tmp_path / "d.toml", repos=[{"path": str(repo), "name": "main"}],
                            agents=[{"id": "w", "command": agent_cmd()}])
    with open(cfg_path, "a") as f:
        f.write(f'\n[[webhooks]]\nurl = "{receiver.url}"\nsecret = "s3cret"\n')
    cfg = load_config(cfg_path)
    d = Dispatcher(cfg)
    d.open()
    try:
        iid = tracker.create_issue("webhook me")["id"]
        wait_for(lambda: d.cycle() is not None and tracker.board(fresh=True).states[iid] == "done"
                 and not d.pool.runs, timeout=60)
        d.cycle()
        wait_for(lambda: any(e["type"] == "issue_completed" for e in receiver.got), timeout=30,
                 what="issue_completed to arrive")
    finally:
        d.close()
    types = [e["type"] for e in receiver.got]
    for t in ("issue_created", "issue_claimed", "issue_state_changed", "issue_completed"):
        assert t in types, types
    assert all(e["repo"] == "main" for e in receiver.got)
    created = [e["issue_id"] for e in receiver.got if e["type"] == "issue_created"]
    assert created == [iid]  # nothing from before the start (the old issue's later events do come)
    assert any(e["type"] == "issue_claimed" and e["issue_id"] == old for e in receiver.got)
    assert receiver.attempts == len(receiver.got) + 2  # the two 503s were retried
    h = receiver.headers[0]
    body = json.dumps(receiver.got[0], ensure_ascii=False).encode()
    assert h["X-Jit-Event"] == receiver.got[0]["type"] and h["X-Jit-Delivery"] == receiver.got[0]["id"]
    assert h["X-Jit-Signature-256"] == "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    done = next(e for e in receiver.got if e["type"] == "issue_state_changed" and e.get("to") == "done")
    assert done["from"] == "in_progress"
    # a restart resumes from the saved cursor: nothing is sent twice, and what landed while the
    # dispatcher was down is sent, once
    n = len(receiver.got)
    d2 = Dispatcher(load_config(cfg_path))
    d2.open()
    d2.cycle()
    d2.close()
    assert len(receiver.got) == n
    while_down = tracker.create_issue("made while the dispatcher was down")["id"]
    tracker.update_issue(while_down, state="rejected")  # not work for the agent
    for _ in range(2):
        d3 = Dispatcher(load_config(cfg_path))
        d3.open()
        d3.cycle()
        d3.close()
    wait_for(lambda: any(e["issue_id"] == while_down for e in receiver.got), timeout=30, what="the late events")
    late = [e["type"] for e in receiver.got[n:]]
    assert late.count("issue_created") == 1 and all(e["issue_id"] == while_down for e in receiver.got[n:])
    for e in receiver.got:  # every payload is what `jit schema webhook-payload` describes
        adapter("webhook-payload").validate_python(e)


def test_sender_gives_up_after_max_attempts_and_on_4xx() -> None:
    r = Receiver(status=400)
    logs: list[tuple[str, dict[str, Any]]] = []
    try:
        s = WebhookSender((WebhookConfig(url=r.url, max_attempts=3),), lambda kind, message, **f: logs.append((kind, f)),
                          base_delay=0.01)
        s.send("repo", [{"id": "1" * 32, "type": "issue_created"}])
        s.close(timeout=10)
        assert r.attempts == 1 and s.failed == 1  # 400: the receiver refuses it, no point retrying
        assert logs[0][0] == "webhook_failed" and logs[0][1]["error"] == "HTTP 400"
    finally:
        r.close()
    dead = Receiver()
    url = dead.url
    dead.close()  # nobody listens on that port any more
    s = WebhookSender((WebhookConfig(url=url, max_attempts=3, timeout_secs=1),), lambda *a, **k: None,
                      base_delay=0.01)
    s.send("repo", [{"id": "2" * 32, "type": "issue_created"}])
    s.close(timeout=10)
    assert s.failed == 1 and s.delivered == 0


@pytest.mark.parametrize("use_index", [True, False])
def test_event_feed_sees_late_events_from_a_hub(tmp_path: Path, use_index: bool) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = Tracker(a, actor="a"), Tracker(b, actor="b")
    ta.use_index = use_index  # without the index the feed lists the refs itself
    first = ta.create_issue("first")["id"]
    feed = EventFeed(ta)
    assert feed.poll() == []
    late = tb.create_issue("made elsewhere")["id"]  # its timestamp is older than what comes next in a
    ta.update_issue(first, priority="high")
    got = feed.poll()
    assert [e["type"] for e in got] == ["issue_updated"]
    tb.push("origin")
    ta.pull("origin")
    got = feed.poll()
    assert {e["issue_id"] for e in got} == {late} and got[0]["type"] == "issue_created"
    assert feed.poll() == []


def test_event_feed_notices_changes_without_listing_refs(tracker: Tracker, repo: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With the index, a look that finds nothing new costs a stat of the ref folders: listing
    every ref took 0.75 s a look at 100,000 issues (the dispatcher looks every cycle, ``--follow``
    every second). A change by another process is still seen, with its events."""
    from gitjit.git.repo import GitRepo
    from gitjit.store.index import Index

    first = tracker.create_issue("first")["id"]
    feed = EventFeed(tracker)
    read_tips: list[int] = []
    entity_tips = Index.entity_tips
    monkeypatch.setattr(GitRepo, "tips", lambda self, prefix: pytest.fail("the feed listed the refs"))
    monkeypatch.setattr(Index, "entity_tips", lambda self: read_tips.append(1) or entity_tips(self))
    for _ in range(3):
        assert feed.poll() == []
    assert read_tips == []
    other = subprocess.run([sys.executable, "-m", "gitjit", "--repo", str(repo), "issue", "update", first,
                            "--priority", "high", "--json"], capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    got = feed.poll()
    assert [(e["type"], e["issue_id"]) for e in got] == [("issue_updated", first)] and read_tips == [1]
    assert feed.poll() == [] and read_tips == [1]


def test_follow_prints_an_event_that_lands_during_its_start_once(tracker: Tracker, repo: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The newest N are read after the cursor: an event written in between is among them and
    among the first look's too; it is printed once."""
    from gitjit.app.feed import follow

    tracker.create_issue("before")
    events = tracker.events
    made: list[str] = []

    def tail_with_a_write_first(**kw: Any) -> list[dict[str, Any]]:
        if not made:
            made.append(Tracker(repo, actor="agent:other").create_issue("in between")["id"])
        return events(**kw)

    monkeypatch.setattr(tracker, "events", tail_with_a_write_first)
    out: list[dict[str, Any]] = []
    looks = iter(range(5))
    follow(tracker, out.append, n=5, interval=0.01, should_stop=lambda: next(looks, None) is None)
    keys = [(e["id"], e["type"]) for e in out]
    assert len(keys) == len(set(keys))
    assert [e for e in out if e["issue_id"] == made[0]] == events(issue=made[0])  # all of them, once


def test_events_tail_follow_streams_json_lines(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    old = tracker.create_issue("already there")["id"]
    proc = subprocess.Popen([sys.executable, "-m", "gitjit", "--repo", str(repo), "events", "tail", "-n", "1",
                             "--follow", "--json", "--interval", "0.05", "--timeout", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(json.loads(line))

    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        wait_for(lambda: lines, timeout=20, what="the tail")
        assert lines[0]["issue_id"] == old  # -n 1: the newest existing event first
        new = tracker.create_issue("arrives while following")["id"]
        tracker.claim(new, "agent:x")
        wait_for(lambda: any(e["type"] == "issue_claimed" for e in lines), timeout=20, what="the claim event")
        time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    types = [e["type"] for e in lines[1:]]
    assert types[0] == "issue_created" and "issue_claimed" in types
    assert all(e["issue_id"] == new for e in lines[1:])
    assert len({e["id"] for e in lines}) == len(lines)  # never the same event twice
    for e in lines:  # each line is an event as `jit schema event` describes it
        adapter("event").validate_python(e)


def test_events_tail_follow_human_output_and_timeout(tmp_path: Path, tracker: Tracker, repo: Path) -> None:
    tracker.create_issue("quiet repo")
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "gitjit", "--repo", str(repo), "events", "tail", "--follow",
                        "--interval", "0.05", "--timeout", "0.5"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and time.monotonic() - t0 < 20
    assert "issue_created" in p.stdout and "quiet repo" not in p.stderr
