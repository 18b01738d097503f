"""The data model: ids, states and priorities, limits and input checks, timestamps, and the folded
state of an issue and a gate.

Pure: no git, no files, no environment. Events, the only thing ever stored, are in
``gitjit.core.event``; ``IssueState`` and ``GateDef`` are computed from them by ``gitjit.core.fold``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import Enum
from typing import Any, NamedTuple, NewType

from .errors import UsageError

__all__ = [
    "LIMITS",
    "PRIORITY_RANK",
    "TERMINAL_STATES",
    "Conflict",
    "EventId",
    "GateDef",
    "GateMode",
    "GateStage",
    "GateState",
    "GateStatus",
    "IssueId",
    "IssueState",
    "Parked",
    "Priority",
    "State",
    "canonical_json",
    "check_actor",
    "check_context_key",
    "check_context_value",
    "check_description",
    "check_gate_key",
    "check_label",
    "check_title",
    "compact_json",
    "new_event_id",
    "new_issue_id",
    "now_ts",
    "parse_priority",
    "parse_state",
    "parse_ts",
    "text_problem",
    "utc_ts",
]

IssueId = NewType("IssueId", str)
EventId = NewType("EventId", str)

#: Size limits, documented in docs/storage-format.md. Checked on input and on every document read.
LIMITS = {
    "title": 500,             # characters
    "description": 65_536,    # characters
    "label": 200,
    "labels": 100,            # per issue
    "context_key": 64,
    "context_value": 16_384,  # bytes of canonical JSON
    "context_keys": 100,
    "actor": 200,
    "reason": 2_000,
    "gates": 50,              # per issue
    "dependencies": 1_000,    # per issue
    "events_blob": 4 * 1024 * 1024,   # bytes of one events.jsonl document
    "events": 20_000,          # events per issue
    "event_line": 256 * 1024,  # bytes of one event line
    "clock_jump": 1_000_000,   # a clock may not run further ahead than this in one event
    "json_depth": 64,          # levels of arrays and objects in one event line
}

ISSUE_ID_RE = re.compile(r"^[0-9a-f]{12}$")
EVENT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
GATE_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
CONTEXT_KEY_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
LABEL_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*:[^\s:][^\s]*$")
TYPE_RE = re.compile(r"^[a-z][a-z_]{0,39}$")
_CANONICAL_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(\+00:00)?", re.ASCII)
#: control characters a one-line field refuses: C0 (newline included), DEL and C1 (U+0080-U+009F:
#: U+009B alone is a CSI, the start of a terminal escape sequence, as ESC [ is)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: what a multi-line field refuses: the same, but tab, LF and CR are text
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Priority(str, Enum):
    low = "low"
    normal = "normal"
    high = "high"
    critical = "critical"


PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}


class State(str, Enum):
    """Effective states. ``open``/``ready`` are derived from dependencies and gates, never stored as such."""

    open = "open"
    ready = "ready"
    in_progress = "in_progress"
    done = "done"
    rejected = "rejected"
    archived = "archived"


#: States that satisfy a dependency on the issue (rejected work no longer holds anyone up).
TERMINAL_STATES = frozenset({"done", "rejected"})


class GateStatus(str, Enum):
    pending = "pending"
    passed = "passed"
    failed = "failed"


class GateMode(str, Enum):
    manual = "manual"
    auto = "auto"


class GateStage(str, Enum):
    precheck = "precheck"    # must pass before work starts: blocks ready
    postcheck = "postcheck"  # must pass before done (the default)


def new_issue_id() -> IssueId:
    """48 random bits as 12 lowercase hex digits: short, case-safe in ref names, and with
    100,000 issues created offline in separate clones the chance of any collision stays near 2e-5."""
    import secrets  # here: only writes make ids (random, hashlib and hmac come with it)

    return IssueId(secrets.token_hex(6))


def new_event_id() -> EventId:
    import secrets

    return EventId(secrets.token_hex(16))


def now_ts() -> str:
    """UTC, ISO 8601, microseconds, with an explicit ``+00:00`` offset (``2026-12-07T19:01:55.123456+00:00``):
    ``datetime.fromisoformat`` gives an *aware* datetime, so a consumer on a host at UTC+9 computes
    the right age instead of one off by nine hours (before 2026-12-07 the offset was left out)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def utc_ts(ts: str) -> str:
    """The canonical form of a stored timestamp, as every JSON output shows it: UTC, microseconds,
    ``+00:00``. A timestamp without an offset (every event written before 2026-12-07) is UTC, so it
    only gains the suffix; one with another offset is converted. All canonical strings have the
    same width, so comparing them as strings compares the instants, old and new events alike.
    Anything that does not parse is returned unchanged (never raised: this runs on every read)."""
    m = _CANONICAL_TS.fullmatch(ts)
    if m:  # fast paths: the form gitjit writes now, and the naive form it wrote before
        return ts if m.group(1) else ts + "+00:00"
    try:
        d = datetime.fromisoformat(ts)
        d = d.replace(tzinfo=UTC) if d.tzinfo is None else d.astimezone(UTC)
        return d.isoformat(timespec="microseconds")
    except (ValueError, TypeError, OverflowError):
        return ts


def parse_ts(ts: str) -> datetime:
    """An aware datetime (UTC when the string carries no offset); ValueError if it is not ISO 8601."""
    d = datetime.fromisoformat(ts)
    return d.replace(tzinfo=UTC) if d.tzinfo is None else d


#: one encoder, built once: ``json.dumps`` with options builds a new one per call
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(obj: Any) -> str:
    """Keys sorted, no spaces, non-ASCII kept as is: the form of every stored line."""
    return _CANONICAL.encode(obj)


# ----------------------------------------------------------------------------- input checks

def _check_text(kind: str, value: str, limit: int, *, multiline: bool) -> str:
    if not isinstance(value, str):
        raise UsageError(f"{kind} must be text")
    if any("\ud800" <= c <= "\udfff" for c in value):
        raise UsageError(f"{kind} is not valid UTF-8", hint="pass text encoded as UTF-8")
    pattern = _CONTROL_MULTILINE if multiline else _CONTROL
    m = pattern.search(value)
    if m:
        what = "newline" if m.group() in "\r\n" else f"control character U+{ord(m.group()):04X}"
        raise UsageError(
            f"{kind} contains a {what}",
            hint="titles are one line; put longer text in --desc" if not multiline else "remove control characters",
        )
    if len(value) > limit:
        raise UsageError(f"{kind} is {len(value)} characters; the limit is {limit}",
                         hint=f"shorten the {kind}" + ("; put longer text in --desc" if kind == "title" else ""))
    return value


def check_title(title: str) -> str:
    title = _check_text("title", title, LIMITS["title"], multiline=False)
    if not title.strip():
        raise UsageError("title is empty", hint="give a title with -t/--title")
    return title


def check_description(desc: str) -> str:
    return _check_text("description", desc, LIMITS["description"], multiline=True)


def check_actor(actor: str) -> str:
    actor = _check_text("actor", actor, LIMITS["actor"], multiline=False)
    if not actor.strip():
        raise UsageError("actor is empty", hint="pass --by NAME or set JIT_ACTOR")
    return actor


#: what git trims from the ends of a signature's name (libgit2's ``is_crud``)
_SIG_CRUD = "".join(chr(c) for c in range(33)) + ".,:;<>\"\\'"
#: what a signature may not hold anywhere: the angle brackets around its email, control characters
_SIG_DROP = frozenset("<>\x7f" + "".join(chr(c) for c in range(32)))


def signature_of(actor: str, email: str | None) -> tuple[str, str]:
    """The name and email of a commit made for ``actor``: the actor up to a `` <email>`` part and
    the email, without the angle brackets git forbids and the characters it trims from the ends,
    ``jit`` / ``jit@localhost`` when nothing usable is left. The actor itself is kept whole in the
    event; this is only the commit's author line."""
    def clean(text: str) -> str:
        return "".join(c for c in text if c not in _SIG_DROP).strip(_SIG_CRUD)

    return clean(actor.split(" <")[0]) or "jit", clean(email or "") or "jit@localhost"


def check_label(label: str) -> str:
    _check_text("label", label, LIMITS["label"], multiline=False)
    if not LABEL_RE.fullmatch(label):
        raise UsageError(f"label {label!r} is not of the form namespace:value", hint="e.g. --label type:task")
    return label


def check_gate_key(key: str) -> str:
    if not isinstance(key, str) or not GATE_KEY_RE.fullmatch(key):
        raise UsageError(
            f"gate key {key!r} is not valid",
            hint="use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (max 64)",
        )
    return key


def check_context_key(key: str) -> str:
    if not CONTEXT_KEY_RE.fullmatch(key or ""):
        raise UsageError(f"context key {key!r} is not valid", hint="use letters, digits, '_', '.', '-' (max 64)")
    return key


def check_context_value(key: str, value: Any) -> Any:
    try:
        size = len(canonical_json(value).encode())
    except (TypeError, ValueError, RecursionError) as e:  # pragma: no cover - only from library callers
        raise UsageError(f"context value for {key!r} is not JSON: {e}") from None
    if size > LIMITS["context_value"]:
        raise UsageError(f"context value for {key!r} is {size} bytes; the limit is {LIMITS['context_value']}",
                         hint="store large data elsewhere and put a reference in the context")
    _check_depth(value, 0, key)
    bad = _control_in(value, _CONTROL_MULTILINE)
    if bad is not None:
        raise UsageError(f"context value for {key!r} contains a control character U+{ord(bad):04X}",
                         hint="remove control characters (tab and newline are fine)")
    return value


def _control_in(value: Any, pattern: re.Pattern[str]) -> str | None:
    """The first character of ``pattern`` in any string of a JSON value (object keys included)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            m = pattern.search(v)
            if m:
                return m.group()
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


#: event fields that hold one line of text, and those that may hold several; every writer checks
#: them on input (``check_title``, ``check_actor``, ``check_description``, ``check_label``,
#: ``check_context_value``), so an event that breaks them was made by hand or by an older version
_ONE_LINE_FIELDS = ("title", "actor", "assignee", "by")
_TEXT_FIELDS = ("description", "reason")


def text_problem(d: dict[str, Any]) -> str | None:
    """``event_text_problem`` of an event's JSON object (``"labels holds control character U+009B"``)."""
    checks: list[tuple[str, Any, re.Pattern[str]]] = []
    checks += [(f, d.get(f), _CONTROL) for f in _ONE_LINE_FIELDS]
    checks += [(f, d.get(f), _CONTROL_MULTILINE) for f in _TEXT_FIELDS]
    checks += [("labels", d.get("labels"), _CONTROL), ("context", d.get("context"), _CONTROL_MULTILINE)]
    ch = d.get("changes")
    if isinstance(ch, dict):
        checks += [("changes.title", ch.get("title"), _CONTROL)]
        checks += [(f"changes.{k}", v, _CONTROL_MULTILINE) for k, v in ch.items() if k != "title"]
    for name, value, pattern in checks:
        bad = _control_in(value, pattern) if value is not None else None
        if bad is not None:
            return f"{name} holds control character U+{ord(bad):04X}"
    return None


def _check_depth(value: Any, depth: int, key: str) -> None:
    if depth > 16:
        raise UsageError(f"context value for {key!r} is nested more than 16 levels deep",
                         hint="flatten the value")
    if isinstance(value, dict):
        for v in value.values():
            _check_depth(v, depth + 1, key)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1, key)


_STATE_ALIASES = {"backlog": "open", "inprogress": "in_progress", "in-progress": "in_progress"}


def parse_state(value: str) -> str:
    v = _STATE_ALIASES.get(value.lower(), value.lower()) if isinstance(value, str) else value
    if v not in State.__members__:
        raise UsageError(
            f"unknown state {value!r}", hint="use one of: " + ", ".join(State.__members__)
        )
    return v


def parse_priority(value: str) -> str:
    v = value.lower() if isinstance(value, str) else value
    if v not in Priority.__members__:
        raise UsageError(f"unknown priority {value!r}", hint="use one of: low, normal, high, critical")
    return v


# ----------------------------------------------------------------------------- folded state
#
# Written out by hand rather than with ``dataclasses``: the index-served reads build these (and
# only these) objects, and importing ``dataclasses`` (with ``inspect``, ``ast``, ``dis``,
# ``tokenize``) and generating the classes cost ~9 ms of a ~25 ms read. ``_Record`` gives what
# ``@dataclass(slots=True)`` gave: equality by fields, a repr, no hash (they are mutable), and no
# attribute that is not a field; the immutable ones are named tuples.

class _Record:
    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self.__slots__)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{f}={getattr(self, f)!r}' for f in self.__slots__)})"


class GateState(_Record):
    __slots__ = ("by", "key", "note", "reason", "status", "updated_at")

    def __init__(self, key: str, status: GateStatus = GateStatus.pending, by: str | None = None,
                 updated_at: str | None = None, note: str | None = None, reason: str | None = None) -> None:
        self.key = key
        self.status = status
        self.by = by
        self.updated_at = updated_at
        #: set when the event that passed the gate was written by an actor the local policy does
        #: not trust for it (see docs/reliability.md); the pass still counts, but is shown as such
        self.note = note
        #: the ``reason`` of the event that set the status (``gate fail --reason``, a checker's exit)
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status.value, "by": self.by, "updated_at": self.updated_at,
                "note": self.note, "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GateState:
        """The inverse of ``to_json``, for the index's own rows (not checked). A row written before
        gates carried a reason has none (the index's code stamp rebuilds such rows anyway)."""
        return cls(d["key"], GateStatus(d["status"]), d["by"], d["updated_at"], d["note"], d.get("reason"))


class Parked(NamedTuple):
    """Why an issue is parked (``issue_parked``): no one starts it until a person un-parks it."""

    reason: str = ""
    by: str | None = None
    since: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "since": self.since}


class Conflict(NamedTuple):
    """A true conflict the fold resolved deterministically; shown by ``issue show`` and ``status``."""

    type: str          # "claim" | "claim_after_close" | "edit_after_delete" | "cycle" | "duplicate_event" | ...
    event_id: str
    actor: str | None = None
    winner: str | None = None
    detail: str = ""
    timestamp: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "event_id": self.event_id, "actor": self.actor, "winner": self.winner,
                "detail": self.detail, "timestamp": self.timestamp}


class IssueState(_Record):
    """The fold of one issue's events. ``state`` here is the stored base state; the effective
    state (``open`` vs ``ready``) needs the other issues and is computed in ``gitjit.core.board``.
    Mutable (the fold assigns its fields; an unknown attribute is refused). The index stores it
    as ``to_json`` and reads it back with ``from_json`` (its own data: not checked again)."""

    #: in declaration order, the order of the keys of the index's JSON (``to_json``)
    __slots__ = ("id", "title", "description", "priority", "state", "assignee", "dependencies", "gates",  # noqa: RUF023
                 "context", "labels", "created_at", "updated_at", "created_by", "claimed_at",
                 "lease_expires_at", "failures", "retry_after", "parked", "completed_at", "deleted",
                 "conflicts", "commits", "clock", "event_count", "dep_events")

    def __init__(self, id: str, title: str = "", description: str = "", priority: str = "normal",
                 state: str = "open", assignee: str | None = None, dependencies: list[str] | None = None,
                 gates: dict[str, GateState] | None = None, context: dict[str, Any] | None = None,
                 labels: list[str] | None = None, created_at: str = "", updated_at: str = "",
                 created_by: str | None = None, claimed_at: str | None = None,
                 lease_expires_at: str | None = None, failures: int = 0, retry_after: str | None = None,
                 parked: Parked | None = None, completed_at: str | None = None, deleted: bool = False,
                 conflicts: list[Conflict] | None = None, commits: list[str] | None = None, clock: int = 0,
                 event_count: int = 0, dep_events: dict[str, str] | None = None) -> None:
        self.id = id
        self.title = title
        self.description = description
        self.priority = priority
        self.state = state
        self.assignee = assignee
        self.dependencies: list[str] = [] if dependencies is None else dependencies
        self.gates: dict[str, GateState] = {} if gates is None else gates
        self.context: dict[str, Any] = {} if context is None else context
        self.labels: list[str] = [] if labels is None else labels
        self.created_at = created_at
        self.updated_at = updated_at
        self.created_by = created_by
        self.claimed_at = claimed_at
        #: when the holder's dispatcher lease runs out (claim ``expires_at`` / ``lease_renewed``); None: no lease
        self.lease_expires_at = lease_expires_at
        #: failed runs in a row that dispatchers reported (``issue_released`` with ``retry_after``), and
        #: the time before which no dispatcher starts it again; reset by ``issue_unparked`` and by finishing
        self.failures = failures
        self.retry_after = retry_after
        #: set by ``issue_parked`` (a dispatcher after too many failed runs, or a person): blocks starting
        self.parked = parked
        self.completed_at = completed_at
        self.deleted = deleted
        self.conflicts: list[Conflict] = [] if conflicts is None else conflicts
        self.commits: list[str] = [] if commits is None else commits
        self.clock = clock
        self.event_count = event_count
        #: clock and id of the edge events, so a cycle formed by a merge is broken the same way everywhere
        self.dep_events: dict[str, str] = {} if dep_events is None else dep_events

    def to_json(self) -> dict[str, Any]:
        """Every field in declaration order, as JSON values (gates and conflicts as objects)."""
        d = {f: getattr(self, f) for f in self.__slots__}
        d["gates"] = {k: g.to_json() for k, g in self.gates.items()}
        d["conflicts"] = [c.to_json() for c in self.conflicts]
        d["parked"] = self.parked.to_json() if self.parked is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> IssueState:
        """The inverse of ``to_json``, for the index's own rows (not checked)."""
        d = dict(d)
        d["gates"] = {k: GateState.from_json(g) for k, g in d["gates"].items()}
        d["conflicts"] = [Conflict(**c) for c in d["conflicts"]]
        if d.get("parked") is not None:
            d["parked"] = Parked(**d["parked"])
        return cls(**d)


class GateDef(_Record):
    #: in declaration order, the order of the keys of the index's JSON (``to_json``)
    __slots__ = ("key", "title", "description", "mode", "stage", "created_at", "updated_at", "removed", "clock")  # noqa: RUF023

    def __init__(self, key: str, title: str = "", description: str = "", mode: str = "manual",
                 stage: str = "postcheck", created_at: str = "", updated_at: str = "", removed: bool = False,
                 clock: int = 0) -> None:
        self.key = key
        self.title = title
        self.description = description
        self.mode = mode
        self.stage = stage
        self.created_at = created_at
        self.updated_at = updated_at
        self.removed = removed
        self.clock = clock

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GateDef:
        return cls(**d)


#: compact JSON in declaration order, non-ASCII kept: how the index stores a state
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def compact_json(obj: Any) -> str:
    return _COMPACT.encode(obj)
