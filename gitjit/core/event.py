"""Events: the one thing ever stored. ``Event`` is an issue's or gate's change, read from a stored
document line by ``Event.from_json`` (strictly) or made by this process (``Event.build``).

Pure: no git, no files, no environment. Apart from the rest of the model (``gitjit.core.model``: the
vocabulary and the folded state) because it is a ``dataclass``: the index-served reads, which
never see an event object, need not import ``dataclasses`` (and ``inspect``) at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from datetime import datetime
from typing import Any

from .model import EVENT_ID_RE, TYPE_RE, canonical_json, text_problem

__all__ = ["FIELD_CHECKS", "Event", "EventError", "event_text_problem"]


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


def event_text_problem(e: Event) -> str | None:
    """What in ``e`` a writer of this version would have refused as a control character (C0 but
    tab/LF/CR in multi-line text, DEL, C1), or None. A pull refuses new remote events that fail
    it (``gitjit.store.sync``, through the schema of record ``gitjit.schema.events.RemoteEvent``);
    what is stored already is escaped on output (``gitjit.cli.termsafe``)."""
    why = text_problem(e._json_items())
    return f"event {e.id} ({e.type}): {why}" if why is not None else None
