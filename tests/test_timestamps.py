"""Timestamps carry an explicit UTC offset (field defect 7): new events and every JSON output show
``…+00:00``; events written before (no offset) stay readable as UTC, keep their bytes, and sort
with the new ones by their instants."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import git, run_jit
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.core.event import Event
from gitjit.core.model import new_event_id, now_ts, parse_ts, utc_ts
from gitjit.core.refs import DOC, ISSUES

CANONICAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

naive = st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9998, 12, 30))
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda m: timezone(timedelta(minutes=m)))


def _slow(s: str) -> str:
    d = datetime.fromisoformat(s)
    d = d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)
    return d.isoformat(timespec="microseconds")


def test_now_is_utc_with_an_offset() -> None:
    ts = now_ts()
    assert CANONICAL.match(ts), ts
    assert parse_ts(ts).utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - parse_ts(ts)) < timedelta(seconds=5)


@settings(max_examples=300, deadline=None)
@given(naive)
def test_utc_ts_fast_paths_agree_with_the_parser(d: datetime) -> None:
    old = d.isoformat(timespec="microseconds")  # the form written before: no offset, UTC
    assert utc_ts(old) == _slow(old) == old + "+00:00"
    assert utc_ts(utc_ts(old)) == utc_ts(old)
    assert parse_ts(old) == parse_ts(utc_ts(old))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(naive, st.none() | offsets), min_size=2, max_size=12))
def test_utc_ts_strings_sort_as_their_instants(items: list[tuple[datetime, timezone | None]]) -> None:
    """Whatever offsets (or none) the timestamps were written with, their canonical strings sort
    as the instants do: one canonical width, so old and new events order correctly."""
    stamps = [d.replace(tzinfo=tz).isoformat(timespec="microseconds") for d, tz in items]
    by_text = sorted(stamps, key=utc_ts)
    by_instant = sorted(stamps, key=parse_ts)
    assert [parse_ts(s) for s in by_text] == [parse_ts(s) for s in by_instant]
    assert all(CANONICAL.match(utc_ts(s)) for s in stamps)


def test_utc_ts_leaves_what_is_not_a_time() -> None:
    assert utc_ts("") == "" and utc_ts("yesterday") == "yesterday"
    assert utc_ts("2026-01-01T09:00:00+09:00") == "2026-01-01T00:00:00.000000+00:00"
    assert utc_ts("2026-01-01T00:00:00Z") == "2026-01-01T00:00:00.000000+00:00"


def _old_events(iid: str, base: datetime) -> list[Event]:
    """An issue as gitjit wrote it before 2026-12-07: timestamps without an offset."""
    def ts(minutes: int) -> str:
        return (base + timedelta(minutes=minutes)).isoformat(timespec="microseconds")

    return [
        Event(id=new_event_id(), type="issue_created", issue_id=iid, clock=1, timestamp=ts(0), actor="human:old",
              title="written by an older gitjit", description="", priority="normal", labels=[], context={},
              gates=[]),
        Event(id=new_event_id(), type="issue_claimed", issue_id=iid, clock=2, timestamp=ts(1), actor="agent:old",
              assignee="agent:old", nonce=new_event_id()),
    ]


def _json_times(obj: object) -> list[str]:
    """Every string value under a key that names a time."""
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, str) and (k in ("timestamp", "since", "expires_at", "lease_expires_at")
                                       or k.endswith("_at")):
                out.append(v)
            else:
                out += _json_times(v)
    elif isinstance(obj, list):
        for v in obj:
            out += _json_times(v)
    return out


def test_old_events_read_as_utc_keep_their_bytes_and_sort_with_new_ones(tracker: Tracker, repo: Path) -> None:
    iid = "0123456789ab"
    base = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=2)
    old = _old_events(iid, base)
    tracker.store.append(ISSUES, iid, lambda cur: old, message="old", author=("old", "old@example.invalid"),
                         what="test")
    old_doc = git("cat-file", "blob", f"{ISSUES}{iid}:{DOC}", cwd=repo).stdout
    assert "+00:00" not in old_doc
    newer = tracker.create_issue("written now")["id"]
    tracker.update_issue(newer, state="done")
    tracker.claim(tracker.create_issue("held now")["id"], "agent:new")
    tracker.release(iid, "handing it back")  # a new event on the old issue's ref

    # the stored lines of the old events are untouched: the new one is appended after them
    doc = git("cat-file", "blob", f"{ISSUES}{iid}:{DOC}", cwd=repo).stdout.splitlines()
    assert doc[:2] == old_doc.splitlines() and doc[2].count("+00:00") == 1 and len(doc) >= 3

    for args in (["issue", "show", iid], ["events", "query"], ["events", "tail", "-n", "50"], ["status"],
                 ["query", "all"]):
        r = run_jit(*args, "--json", cwd=repo)
        assert r.returncode == 0, r.stderr
        times = _json_times(json.loads(r.stdout))
        assert times and all(CANONICAL.match(t) for t in times), (args, times)
    shown = json.loads(run_jit("issue", "show", iid, "--json", cwd=repo).stdout)
    assert shown["created_at"] == old[0].timestamp + "+00:00"

    # across issues, events sort by instant: the old (naive) ones first, then the new ones
    evs = json.loads(run_jit("events", "query", "--json", cwd=repo).stdout)
    instants = [parse_ts(e["timestamp"]) for e in evs]
    assert instants == sorted(instants)
    assert [e["issue_id"] for e in evs[:2]] == [iid, iid] and newer in {e["issue_id"] for e in evs[2:]}
    # --since (no offset: UTC) takes old and new events alike
    since = (base + timedelta(seconds=30)).isoformat()
    got = json.loads(run_jit("events", "query", "--since", since, "--json", cwd=repo).stdout)
    assert [e["id"] for e in got] == [e["id"] for e in evs[1:]]
    got = json.loads(run_jit("events", "query", "--since", since + "+00:00", "--json", cwd=repo).stdout)
    assert [e["id"] for e in got] == [e["id"] for e in evs[1:]]


def test_index_status_carries_the_offset(tracker: Tracker, repo: Path) -> None:
    tracker.create_issue("x")
    r = run_jit("index", "status", "--json", cwd=repo)
    assert r.returncode == 0, r.stderr
    built = json.loads(r.stdout)["built_at"]
    assert built.endswith("+00:00") and parse_ts(built).utcoffset() == timedelta(0)


def test_new_events_are_stored_with_the_offset(tracker: Tracker, repo: Path) -> None:
    iid = tracker.create_issue("now")["id"]
    tracker.claim(iid, "agent:a")
    for line in git("cat-file", "blob", f"{ISSUES}{iid}:{DOC}", cwd=repo).stdout.splitlines():
        assert CANONICAL.match(json.loads(line)["timestamp"])
    shown = tracker.show(iid)
    assert CANONICAL.match(shown["created_at"]) and CANONICAL.match(shown["claimed_at"])
