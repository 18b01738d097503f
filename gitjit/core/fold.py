"""Events in, state out: the deterministic fold, and the event documents it reads.

Pure logic (no git, no I/O). The state of an issue is a function of the *set* of its
events: they are ordered by ``(clock, id)`` and applied in that order, so two clones
holding the same events compute the same state whatever order the events arrived in.
That is the whole convergence argument; ``merge.py`` only unites sets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from .errors import ValidationError
from .event import Event, EventError
from .model import (
    LIMITS,
    Conflict,
    GateDef,
    GateState,
    GateStatus,
    IssueState,
    Parked,
    canonical_json,
    utc_ts,
)

__all__ = [
    "BASE_OF",
    "conflict_events",
    "fold_gate",
    "fold_issue",
    "json_depth",
    "parse_events",
    "serialize_events",
    "union_events",
]

#: effective state named in a state event -> stored base state ("ready" is derived, so it is stored as open)
BASE_OF = {
    "open": "open", "ready": "open", "in_progress": "in_progress",
    "done": "done", "rejected": "rejected", "archived": "archived",
}


def parse_events(blob: bytes, *, where: str = "document", memo: dict[str, Event] | None = None) -> list[Event]:
    """Parse an ``events.jsonl`` document, enforcing the size limits and the schema.

    Raises ``ValidationError`` naming the line; never anything else, whatever the bytes.
    ``memo``: lines already parsed (by this call or an earlier one given the same dict) and the
    event each one is; an identical line is the identical (immutable) event, so it is not parsed
    again: a pull reads both sides of every changed ref, which share all but their new events.
    """
    if len(blob) > LIMITS["events_blob"]:
        raise ValidationError(f"{where}: {len(blob)} bytes, over the {LIMITS['events_blob']}-byte limit")
    try:
        text = blob.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValidationError(f"{where}: not UTF-8 ({e.reason} at byte {e.start})") from None
    events: list[Event] = []
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if len(line) > LIMITS["event_line"]:
            raise ValidationError(f"{where}: line {n} is over the {LIMITS['event_line']}-byte limit")
        if memo is not None:
            hit = memo.get(line)
            if hit is not None:
                events.append(hit)
                if len(events) > LIMITS["events"]:
                    raise ValidationError(f"{where}: more than {LIMITS['events']} events")
                continue
        try:
            # NaN/Infinity are not JSON (RFC 8259): refuse them rather than write them back
            obj = json.loads(line, parse_constant=_no_constant)
        except (ValueError, RecursionError) as e:
            raise ValidationError(f"{where}: line {n} is not JSON ({str(e)[:80]})") from None
        if not isinstance(obj, dict):
            raise ValidationError(f"{where}: line {n} is not a JSON object")
        if line.count("[") + line.count("{") > LIMITS["json_depth"] and json_depth(obj) > LIMITS["json_depth"]:
            # json.loads takes ~1,000 levels, but every reader that walks the value recursively
            # (the index, --json output, the fold's copies) would then crash on this one line
            raise ValidationError(f"{where}: line {n} is nested more than {LIMITS['json_depth']} levels deep")
        if "\\u" in line and _has_surrogate(obj):
            # an escaped lone surrogate is valid JSON but not Unicode: it could never be
            # encoded again, so every later write of this ref would crash
            raise ValidationError(f"{where}: line {n} holds a lone surrogate (not valid Unicode)")
        try:
            ev = Event.from_json(obj)
        except EventError as e:
            raise ValidationError(f"{where}: line {n}: {e}") from None
        events.append(ev)
        if memo is not None:
            memo[line] = ev
        if len(events) > LIMITS["events"]:
            raise ValidationError(f"{where}: more than {LIMITS['events']} events")
    return events


def json_depth(obj: Any) -> int:
    """Levels of arrays and objects in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            v = list(v.values())
        elif not isinstance(v, list):
            continue
        deepest = max(deepest, d)
        stack.extend((x, d + 1) for x in v if isinstance(x, (dict, list)))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _has_surrogate(obj: Any) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    except (ValueError, RecursionError):
        return False
    return False


def serialize_events(events: Iterable[Event]) -> bytes:
    """Canonical document: one canonical JSON line per event, sorted by (clock, id), newline-terminated."""
    evs = sorted(events, key=Event.sort_key)
    return "".join(e.to_line() + "\n" for e in evs).encode("utf-8")


def union_events(*sides: Iterable[Event]) -> tuple[list[Event], list[Conflict]]:
    """Union by event id. Two different events under one id (a forgery or corruption) keep the
    one whose canonical line sorts first, on every clone alike, and report the other."""
    by_id: dict[str, Event] = {}
    conflicts: list[Conflict] = []
    for side in sides:
        for e in side:
            old = by_id.get(e.id)
            if old is None:
                by_id[e.id] = e
            elif old != e:
                a, b = sorted([old, e], key=lambda x: x.to_line())
                by_id[e.id] = a
                conflicts.append(Conflict(type="duplicate_event", event_id=e.id, actor=b.actor,
                                          detail="two different events carry this id; kept one"))
    return sorted(by_id.values(), key=Event.sort_key), conflicts


def fold_issue(issue_id: str, events: Iterable[Event]) -> IssueState:
    """Apply events in (clock, id) order. Events for other issues (derived notices stored on this
    ref for watchers) and derived state notices are skipped; they never change state."""
    st = IssueState(id=issue_id)
    created = False
    evs = sorted(events, key=Event.sort_key)
    # Merge rule "edit racing a delete" (docs/merge.md): our writers refuse to write to a deleted
    # issue, so an event whose Lamport clock is >= the delete's was written without seeing the
    # delete. It is ignored and reported whatever the random ids say about its order.
    del_clock = min((e.clock for e in evs if e.type == "issue_deleted" and not e.derived
                     and e.issue_id in (None, issue_id)), default=None)
    seen: dict[str, tuple[int, Any]] = {}  # field -> (clock, value) of the write that set it
    for e in evs:
        st.event_count += 1
        st.clock = max(st.clock, e.clock)
        if e.derived or (e.issue_id is not None and e.issue_id != issue_id):
            continue
        t = e.type
        if t == "commit_linked" and e.commit and e.commit not in st.commits:
            st.commits.append(e.commit)
            continue
        if t == "issue_deleted" and st.deleted:
            continue  # two clones deleted it: one tombstone is enough
        if st.deleted or (del_clock is not None and e.clock >= del_clock and t != "issue_deleted"):
            st.conflicts.append(Conflict(type="edit_after_delete", event_id=e.id, actor=e.actor,
                                         detail=f"{t} by {e.actor} was made without seeing the delete; ignored",
                                         timestamp=utc_ts(e.timestamp)))
            continue
        if t == "issue_created":
            if created:
                continue
            created = True
            st.title = e.title or ""
            st.description = e.description or ""
            st.priority = e.priority or "normal"
            st.labels = list(dict.fromkeys(e.labels or []))
            st.context = dict(e.context or {})
            for k in e.gates or []:
                st.gates.setdefault(k, GateState(key=k))
            st.created_at = utc_ts(e.timestamp)
            st.created_by = e.actor
        elif t == "issue_updated":
            ch = e.changes or {}
            for f in ("title", "description", "priority"):
                _concurrent_field(st, seen, f, ch.get(f), e)
            if isinstance(ch.get("title"), str):
                st.title = ch["title"]
            if isinstance(ch.get("description"), str):
                st.description = ch["description"]
            if isinstance(ch.get("priority"), str):
                st.priority = ch["priority"]
            for lab in ch.get("labels_add") or []:
                if isinstance(lab, str) and lab not in st.labels:
                    st.labels.append(lab)
            for lab in ch.get("labels_remove") or []:
                if lab in st.labels:
                    st.labels.remove(lab)
            ctx = ch.get("context_set")
            if isinstance(ctx, dict):
                st.context.update(ctx)
            for k in ch.get("context_unset") or []:
                if isinstance(k, str):
                    st.context.pop(k, None)
        elif t == "issue_state_changed":
            base = BASE_OF.get(e.to or "")
            _concurrent_field(st, seen, "state", base, e)
            if base is not None:
                st.state = base
                if base != "in_progress":
                    st.lease_expires_at = None
                if base == "done":
                    st.completed_at = utc_ts(e.timestamp)
                if base in ("done", "rejected", "archived"):
                    # finished: earlier failed runs and parking no longer say anything about it
                    st.failures, st.retry_after, st.parked = 0, None, None
        elif t == "issue_claimed":
            if st.state in ("done", "rejected", "archived"):
                st.conflicts.append(Conflict(type="claim_after_close", event_id=e.id, actor=e.assignee,
                                             detail=f"claimed after the issue became {st.state}; "
                                                    "the claim does not hold",
                                             timestamp=utc_ts(e.timestamp)))
            elif st.assignee is None or st.assignee == e.assignee:
                st.assignee = e.assignee
                st.state = "in_progress"
                st.claimed_at = utc_ts(e.timestamp)
                st.lease_expires_at = _utc_or_none(e.expires_at)
            else:
                st.conflicts.append(Conflict(type="claim", event_id=e.id, actor=e.assignee, winner=st.assignee,
                                             detail=f"{e.assignee} claimed while {st.assignee} held the issue; "
                                                    f"{st.assignee} keeps it, {e.assignee} should stop",
                                             timestamp=utc_ts(e.timestamp)))
        elif t == "issue_released":
            if st.assignee is not None and (e.assignee is None or e.assignee == st.assignee):
                st.assignee = None
                st.claimed_at = None
                st.lease_expires_at = None
                if st.state == "in_progress":
                    st.state = "open"
                if e.retry_after is not None:  # a dispatcher's agent failed it: one more failed run
                    st.failures += 1
                    st.retry_after = utc_ts(e.retry_after)
        elif t == "issue_parked":
            if st.state not in ("done", "rejected", "archived"):
                st.parked = Parked(reason=e.reason or "", by=e.actor, since=utc_ts(e.timestamp))
        elif t == "issue_unparked":
            st.parked, st.failures, st.retry_after = None, 0, None
        elif t == "issue_assigned":
            if e.assignee != st.assignee:
                st.lease_expires_at = None
            st.assignee = e.assignee
        elif t == "issue_unassigned":
            if e.assignee is None or e.assignee == st.assignee:
                st.assignee = None
                st.claimed_at = None
                st.lease_expires_at = None
        elif t == "dependency_added":
            d = e.dependency
            if d and d != issue_id and d not in st.dependencies:
                st.dependencies.append(d)
                st.dep_events[d] = f"{e.timestamp}|{e.id}"
        elif t == "dependency_removed":
            d = e.dependency
            if d in st.dependencies:
                st.dependencies.remove(d)
                st.dep_events.pop(d, None)
        elif t == "gate_added":
            if e.gate_key:
                st.gates.setdefault(e.gate_key, GateState(key=e.gate_key))
        elif t == "gate_removed":
            st.gates.pop(e.gate_key or "", None)
        elif t in ("gate_passed", "gate_failed"):
            if e.gate_key:
                g = st.gates.setdefault(e.gate_key, GateState(key=e.gate_key))
                new = GateStatus.passed if t == "gate_passed" else GateStatus.failed
                prev = seen.get("gate:" + e.gate_key)
                if prev is not None and prev[0] == e.clock and g.status != new:
                    # passed on one clone, failed on another, neither seeing the other (same
                    # Lamport clock): failed wins whatever the ids say, so nobody ships on it
                    st.conflicts.append(Conflict(
                        type="gate", event_id=e.id, actor=e.by or e.actor, winner=None,
                        detail=f"gate {e.gate_key} was passed and failed concurrently "
                               f"({g.by} / {e.by or e.actor}); failed wins, run it again",
                        timestamp=utc_ts(e.timestamp)))
                    if new == GateStatus.passed:
                        continue
                seen["gate:" + e.gate_key] = (e.clock, new)
                g.status = new
                g.by = e.by or e.actor
                g.updated_at = utc_ts(e.timestamp)
                g.reason = e.reason
        elif t == "issue_deleted":
            st.deleted = True
        elif t == "lease_renewed":
            # only the current holder's renewal counts; it is bookkeeping, so updated_at stays
            if st.state == "in_progress" and e.assignee is not None and e.assignee == st.assignee:
                st.lease_expires_at = _utc_or_none(e.expires_at)
            continue
        else:
            continue  # unknown or informational types (issue_completed, ...) change nothing
        st.updated_at = e.timestamp
    # one form for every timestamp the state shows (``utc_ts``): old events carry no offset
    st.updated_at = utc_ts(st.updated_at) if st.updated_at else st.updated_at
    return st


def _utc_or_none(ts: str | None) -> str | None:
    return utc_ts(ts) if ts is not None else None


def _concurrent_field(st: IssueState, seen: dict[str, tuple[int, Any]], name: str, value: Any, e: Event) -> None:
    """Merge rule "same field set on both sides": the write later in (clock, id) order wins, as
    for any field; when both writes carry the same Lamport clock (neither saw the other) and
    differ, the loser is also reported so its author can look."""
    if value is None:
        return
    prev = seen.get(name)
    if prev is not None and prev[0] == e.clock and prev[1] != value:
        st.conflicts.append(Conflict(type="field", event_id=e.id, actor=e.actor,
                                     detail=f"{name} set concurrently to {_short(prev[1])} and "
                                            f"{_short(value)}; {_short(value)} kept",
                                     timestamp=utc_ts(e.timestamp)))
    seen[name] = (e.clock, value)


def _short(v: Any) -> str:
    text = str(v)
    return repr(text if len(text) <= 40 else text[:37] + "...")


#: synthesized event type for each kind of fold conflict (``conflict_events``)
CONFLICT_EVENT_TYPES = {
    "claim": "claim_conflict", "claim_after_close": "claim_conflict", "edit_after_delete": "delete_conflict",
    "gate": "gate_conflict", "field": "field_conflict",
}


def conflict_events(issue_id: str, events: Iterable[Event]) -> list[Event]:
    """The conflicts the fold resolved, as events for ``jit events tail/query``: a loser's claim
    becomes a ``claim_conflict`` event, and so on. Never stored; derived from the event set, so
    every clone shows the same ones (the id is a hash of the losing event's id)."""
    import hashlib

    evs = list(events)
    by_id = {e.id: e for e in evs}
    out: list[Event] = []
    for c in fold_issue(issue_id, evs).conflicts:
        kind = CONFLICT_EVENT_TYPES.get(c.type)
        src = by_id.get(c.event_id)
        if kind is None or src is None:
            continue
        extra: dict[str, Any] = {"synthesized": True, "conflict": c.type, "lost_event": c.event_id}
        if c.winner is not None:
            extra["winner"] = c.winner
        out.append(Event(
            id=hashlib.sha256(f"{kind}|{c.event_id}".encode()).hexdigest()[:32], type=kind, issue_id=issue_id,
            clock=src.clock, timestamp=src.timestamp, actor=src.actor, derived=True, reason=c.detail,
            assignee=c.actor if c.type in ("claim", "claim_after_close") else None,
            gate_key=src.gate_key if c.type == "gate" else None, extra=extra))
    return out


def fold_gate(key: str, events: Iterable[Event]) -> GateDef:
    g = GateDef(key=key)
    for e in sorted(events, key=Event.sort_key):
        g.clock = max(g.clock, e.clock)
        if e.type in ("gate_defined", "gate_definition_updated"):
            if e.type == "gate_defined" and not g.created_at:
                g.created_at = utc_ts(e.timestamp)
            g.removed = False
            if e.title is not None:
                g.title = e.title
            if e.description is not None:
                g.description = e.description
            if e.mode in ("auto", "manual"):
                g.mode = e.mode
            if e.stage in ("precheck", "postcheck"):
                g.stage = e.stage
            g.updated_at = utc_ts(e.timestamp)
        elif e.type == "gate_definition_removed":
            g.removed = True
            g.updated_at = utc_ts(e.timestamp)
    return g


def document_digest(events: Iterable[Event]) -> str:
    """A stable fingerprint of an event set, used by tests and `jit doctor` to compare clones."""
    import hashlib

    return hashlib.sha256(canonical_json(sorted(e.id for e in events)).encode()).hexdigest()
