"""The data model: ids, enums, events and the folded state of an issue and a gate.

Pure: no git, no files, no environment. ``Event`` is the only thing ever stored;
``IssueState`` and ``GateDef`` are computed from events by ``gitjit.core.fold``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime, timezone
from enum import Enum
from typing import Any, NewType

from .errors import UsageError

__all__ = [
    "IssueId", "EventId", "Priority", "State", "GateStatus", "GateMode", "GateStage",
    "Event", "EventError", "IssueState", "GateState", "GateDef", "Conflict", "Parked",
    "new_issue_id", "new_event_id", "now_ts", "utc_ts", "parse_ts", "canonical_json", "compact_json",
    "FIELD_CHECKS",
    "PRIORITY_RANK", "TERMINAL_STATES", "LIMITS",
    "check_title", "check_description", "check_label", "check_gate_key", "check_actor",
    "check_context_key", "check_context_value", "parse_state", "parse_priority", "event_text_problem",
    "text_problem",
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
    return IssueId(secrets.token_hex(6))


def new_event_id() -> EventId:
    return EventId(secrets.token_hex(16))


def now_ts() -> str:
    """UTC, ISO 8601, microseconds, with an explicit ``+00:00`` offset (``2026-12-07T19:01:55.123456+00:00``):
    ``datetime.fromisoformat`` gives an *aware* datetime, so a consumer on a host at UTC+9 computes
    the right age instead of one off by nine hours (before 2026-12-07 the offset was left out)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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
        d = d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)
        return d.isoformat(timespec="microseconds")
    except (ValueError, TypeError, OverflowError):
        return ts


def parse_ts(ts: str) -> datetime:
    """An aware datetime (UTC when the string carries no offset); ValueError if it is not ISO 8601."""
    d = datetime.fromisoformat(ts)
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d


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


def event_text_problem(e: Event) -> str | None:
    """What in ``e`` a writer of this version would have refused as a control character (C0 but
    tab/LF/CR in multi-line text, DEL, C1), or None. A pull refuses new remote events that fail
    it (``gitjit.store.sync``, through the schema of record ``gitjit.schema.events.RemoteEvent``);
    what is stored already is escaped on output (``gitjit.cli.termsafe``)."""
    why = text_problem(e._json_items())
    return f"event {e.id} ({e.type}): {why}" if why is not None else None


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


# ----------------------------------------------------------------------------- events

class EventError(ValueError):
    """A stored event document breaks the event schema (``Event.from_json``). ``loc`` is where
    (``("clock",)``, ``("labels", 1)``), ``msg`` what is wrong, in the words of the pydantic model
    that is the schema of record (``gitjit.schema.events.EventDoc``)."""

    def __init__(self, loc: tuple[Any, ...], msg: str) -> None:
        self.loc, self.msg = loc, msg
        super().__init__(f"{'.'.join(str(x) for x in loc) or '(input)'}: {msg}")


@dataclass(frozen=True, kw_only=True)
class Event:
    """One change. Stored as one canonical JSON line; ordered within an issue by ``(clock, id)``.

    Common fields are declared; the payload fields of every known type are optional fields;
    unknown fields from newer versions are kept in ``extra`` and written back untouched, so a
    document is written back byte for byte. Immutable. ``from_`` is ``"from"`` in JSON.

    Two ways in: ``Event.from_json`` reads a stored document's line, strictly (JSON types only:
    ``"5"`` is not taken for ``5``; raises ``EventError``); the constructor and ``Event.build``
    are for events this process makes itself, and check nothing (``docs/design.md``: validate at
    the edges, trust the inside).
    """

    v: int = 1
    id: str
    type: str
    issue_id: str | None = None
    clock: int
    timestamp: str
    actor: str

    # payload (each type uses a few of these; see docs/storage-format.md)
    title: str | None = None
    description: str | None = None
    priority: str | None = None
    labels: list[str] | None = None
    context: dict[str, Any] | None = None
    gates: list[str] | None = None
    from_: str | None = None
    to: str | None = None
    assignee: str | None = None
    reason: str | None = None
    nonce: str | None = None
    dependency: str | None = None
    gate_key: str | None = None
    by: str | None = None
    changes: dict[str, Any] | None = None
    fields: list[str] | None = None
    derived: bool | None = None
    mode: str | None = None
    stage: str | None = None
    commit: str | None = None
    ref: str | None = None
    expires_at: str | None = None
    #: on ``issue_released`` by a dispatcher whose agent failed the issue: no dispatcher should
    #: start it again before then (docs/dispatch.md, "Failing issues")
    retry_after: str | None = None

    #: fields this version does not declare, kept as read (by their JSON names)
    extra: dict[str, Any] = field(default_factory=dict)

    # equal events have equal ids and clocks; hashing the containers would fail (lists, dicts)
    def __hash__(self) -> int:
        return hash((self.id, self.clock))

    @classmethod
    def build(cls, **fields: Any) -> Event:
        """An event this process makes, fields by their JSON names (``"from"``); names this
        version does not declare go to ``extra``. Not checked."""
        extra = {k: fields.pop(k) for k in [k for k in fields if k not in _ATTR_OF]}
        if "from" in fields:
            fields["from_"] = fields.pop("from")
        return cls(**fields, extra=extra)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Event:
        """An event read from a document: each declared field must hold its JSON type exactly
        (``None`` only where optional), the required ones must be present, and ``id``, ``type``,
        ``clock`` and ``timestamp`` must be well formed. Raises ``EventError`` naming the first
        problem in declaration order. The containers are the caller's (a freshly parsed line)."""
        values = dict(_EVENT_DEFAULTS)
        extra: dict[str, Any] = {}
        ok = True
        for k, v in obj.items():
            spec = _EVENT_SPEC.get(k)
            if spec is None:
                extra[k] = v
            elif (v is None and spec[1]) or spec[2](v):
                values[spec[0]] = v
            else:
                ok = False
        if not ok or not _REQUIRED.issubset(obj) or not _well_formed(values):
            raise _first_error(obj)
        values["extra"] = extra
        e = object.__new__(cls)
        object.__setattr__(e, "__dict__", values)
        return e

    def sort_key(self) -> tuple[int, str]:
        return (self.clock, self.id)

    def _json_items(self) -> dict[str, Any]:
        """The fields by JSON name, declared nulls left out, then the extras (nulls kept: dropping
        one would make this clone's copy of the event differ from the writer's). Shares containers."""
        d = {_JSON_NAME.get(k, k): v for k, v in self.__dict__.items() if v is not None and k != "extra"}
        for k, v in self.extra.items():
            d.setdefault(k, v)
        return d

    def to_json(self) -> dict[str, Any]:
        """The event as stored (JSON names, declaration order, then extras); containers copied."""
        return {k: _copy_json(v) for k, v in self._json_items().items()}

    def to_line(self) -> str:
        return canonical_json(self._json_items())


#: JSON name of each field whose Python name differs
_JSON_NAME = {"from_": "from"}
_EVENT_FIELDS = [f for f in fields(Event) if f.name != "extra"]
_ATTR_OF = {_JSON_NAME.get(f.name, f.name): f.name for f in _EVENT_FIELDS}
_EVENT_DEFAULTS = {f.name: (None if f.default is MISSING else f.default) for f in fields(Event)}
_REQUIRED = frozenset(_JSON_NAME.get(f.name, f.name) for f in _EVENT_FIELDS if f.default is MISSING)


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_bool(v: Any) -> bool:
    return v is True or v is False


def _is_str_list(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


def _is_object(v: Any) -> bool:
    return type(v) is dict and all(type(k) is str for k in v)


_CHECK_OF = {"str": _is_str, "int": _is_int, "bool": _is_bool, "list[str]": _is_str_list,
             "dict[str, Any]": _is_object}
#: JSON name -> (field name, may be null, type test)
_EVENT_SPEC: dict[str, tuple[str, bool, Callable[[Any], bool]]] = {}
for _f in _EVENT_FIELDS:
    _t = str(_f.type)
    _opt = _t.endswith(" | None")
    _EVENT_SPEC[_JSON_NAME.get(_f.name, _f.name)] = (_f.name, _opt, _CHECK_OF[_t.removesuffix(" | None")])
del _f, _t, _opt


def _well_formed(values: dict[str, Any]) -> bool:
    return (EVENT_ID_RE.fullmatch(values["id"]) is not None and TYPE_RE.fullmatch(values["type"]) is not None
            and 0 < values["clock"] < 2**53 and _isoformat(values["timestamp"]))


def _isoformat(v: str) -> bool:
    try:
        datetime.fromisoformat(v)
    except ValueError:
        return False
    return True


_TYPE_MSG = {"str": "Input should be a valid string", "int": "Input should be a valid integer",
             "bool": "Input should be a valid boolean", "list[str]": "Input should be a valid list",
             "dict[str, Any]": "Input should be a valid dictionary"}


def _first_error(obj: dict[str, Any]) -> EventError:
    """The first problem of ``obj`` in declaration order (the slow path: only for bad input),
    worded as pydantic words it for the schema of record (without its "Value error, " prefix)."""
    for f in _EVENT_FIELDS:
        key = _JSON_NAME.get(f.name, f.name)
        t = str(f.type)
        optional = t.endswith(" | None")
        kind = t.removesuffix(" | None")
        if key not in obj:
            if f.default is MISSING:
                return EventError((key,), "Field required")
            continue
        v = obj[key]
        if v is None and optional:
            continue
        if not _CHECK_OF[kind](v):
            if kind == "list[str]" and type(v) is list:
                bad = next(i for i, x in enumerate(v) if type(x) is not str)
                return EventError((key, bad), _TYPE_MSG["str"])
            if kind == "dict[str, Any]" and type(v) is dict:
                bad = next(k for k in v if type(k) is not str)
                return EventError((key, bad, "[key]"), _TYPE_MSG["str"])
            return EventError((key,), _TYPE_MSG[kind])
        msg = FIELD_CHECKS.get(key, lambda _: None)(v)
        if msg is not None:
            return EventError((key,), msg)
    raise AssertionError("from_json refused a valid event")  # pragma: no cover


def _check_id(v: str) -> str | None:
    # fullmatch: ``$`` in the pattern would also let a trailing "\n" through
    return None if EVENT_ID_RE.fullmatch(v) else "event id must be 32 lowercase hex digits"


def _check_type(v: str) -> str | None:
    return None if TYPE_RE.fullmatch(v) else "event type must be lowercase letters and '_'"


def _check_clock(v: int) -> str | None:
    return None if 0 < v < 2**53 else "clock out of range"


def _check_timestamp(v: str) -> str | None:
    try:
        datetime.fromisoformat(v)
    except ValueError as e:
        return str(e)
    return None


#: the checks beyond the JSON type, by field: the message, or None when the value is well formed
#: (``gitjit.schema.events.EventDoc`` runs the same functions)
FIELD_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "id": _check_id, "type": _check_type, "clock": _check_clock, "timestamp": _check_timestamp}


def _copy_json(v: Any) -> Any:
    t = type(v)
    if t is dict:
        return {k: _copy_json(x) for k, x in v.items()}
    if t is list:
        return [_copy_json(x) for x in v]
    return v


# ----------------------------------------------------------------------------- folded state

@dataclass(slots=True)
class GateState:
    key: str
    status: GateStatus = GateStatus.pending
    by: str | None = None
    updated_at: str | None = None
    #: set when the event that passed the gate was written by an actor the local policy does
    #: not trust for it (see docs/reliability.md); the pass still counts, but is shown as such
    note: str | None = None
    #: the ``reason`` of the event that set the status (``gate fail --reason``, a checker's exit)
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "status": self.status.value, "by": self.by, "updated_at": self.updated_at,
                "note": self.note, "reason": self.reason}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GateState:
        """The inverse of ``to_json``, for the index's own rows (not checked). A row written before
        gates carried a reason has none (the index's code stamp rebuilds such rows anyway)."""
        return cls(d["key"], GateStatus(d["status"]), d["by"], d["updated_at"], d["note"], d.get("reason"))


@dataclass(frozen=True, slots=True)
class Parked:
    """Why an issue is parked (``issue_parked``): no one starts it until a person un-parks it."""

    reason: str = ""
    by: str | None = None
    since: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "by": self.by, "since": self.since}


@dataclass(frozen=True, slots=True)
class Conflict:
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


@dataclass(slots=True)
class IssueState:
    """The fold of one issue's events. ``state`` here is the stored base state; the effective
    state (``open`` vs ``ready``) needs the other issues and is computed in ``gitjit.core.board``.
    Mutable (the fold assigns its fields; an unknown attribute is refused). The index stores it
    as ``to_json`` and reads it back with ``from_json`` (its own data: not checked again)."""

    id: str
    title: str = ""
    description: str = ""
    priority: str = "normal"
    state: str = "open"
    assignee: str | None = None
    dependencies: list[str] = field(default_factory=list)
    gates: dict[str, GateState] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""
    created_by: str | None = None
    claimed_at: str | None = None
    #: when the holder's dispatcher lease runs out (claim ``expires_at`` / ``lease_renewed``); None: no lease
    lease_expires_at: str | None = None
    #: failed runs in a row that dispatchers reported (``issue_released`` with ``retry_after``), and
    #: the time before which no dispatcher starts it again; reset by ``issue_unparked`` and by finishing
    failures: int = 0
    retry_after: str | None = None
    #: set by ``issue_parked`` (a dispatcher after too many failed runs, or a person): blocks starting
    parked: Parked | None = None
    completed_at: str | None = None
    deleted: bool = False
    conflicts: list[Conflict] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    clock: int = 0
    event_count: int = 0
    #: clock and id of the edge events, so a cycle formed by a merge is broken the same way everywhere
    dep_events: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Every field in declaration order, as JSON values (gates and conflicts as objects)."""
        d = {f: getattr(self, f) for f in _STATE_FIELDS}
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


_STATE_FIELDS = tuple(f.name for f in fields(IssueState))


@dataclass(slots=True)
class GateDef:
    key: str
    title: str = ""
    description: str = ""
    mode: str = "manual"
    stage: str = "postcheck"
    created_at: str = ""
    updated_at: str = ""
    removed: bool = False
    clock: int = 0

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in _GATEDEF_FIELDS}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> GateDef:
        return cls(**d)


_GATEDEF_FIELDS = tuple(f.name for f in fields(GateDef))

#: compact JSON in declaration order, non-ASCII kept: how the index stores a state
_COMPACT = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def compact_json(obj: Any) -> str:
    return _COMPACT.encode(obj)
