"""Events: a stored line of ``events.jsonl`` (the schema of record for what arrives from remotes),
an event as the commands print it, the payload of a dispatcher's webhook; and the folded state of
an issue as the index keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator

from ..core.errors import ValidationError
from ..core.event import FIELD_CHECKS, Event
from ..core.model import text_problem
from .base import Open, PydanticError, Shape, first_problem, problems

__all__ = [
    "IssueStateDoc",
    "PrintedEvent",
    "RemoteEvent",
    "StoredEvent",
    "WebhookPayload",
    "check_events",
    "remote_event_problem",
]


def _check(name: str, v: Any) -> Any:
    msg = FIELD_CHECKS[name](v)
    if msg is not None:
        raise ValueError(msg)
    return v


class StoredEvent(Open):
    """One line of an issue's or gate's ``events.jsonl`` (docs/storage-format.md), as every clone
    must accept it: exact JSON types, the fields below where present, and any other key (a field
    of a newer version), kept and written back untouched. ``gitjit.core.event.Event.from_json`` is
    the hot path's reader of the same rules (tests/test_schema.py holds them equal)."""

    v: int = Field(1, description="format version of the event")
    id: str = Field(description="32 lowercase hex digits, random")
    type: str = Field(description="lowercase letters and '_' (issue_created, issue_claimed, ...)")
    issue_id: str | None = Field(None, description="the issue; null for gate-definition events")
    clock: int = Field(description="per-entity Lamport clock, 1 <= clock < 2**53")
    timestamp: str = Field(description="UTC, ISO 8601 with microseconds and +00:00 (events written before "
                           "2026-12-07 carry no offset: they are UTC too)")
    actor: str = Field(description="who wrote the event")
    title: str | None = None
    description: str | None = None
    priority: str | None = None
    labels: list[str] | None = None
    context: dict[str, Any] | None = None
    gates: list[str] | None = None
    from_: str | None = Field(None, alias="from")
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
    retry_after: str | None = Field(None, description="issue_released by a dispatcher whose agent failed the "
                                    "issue: no dispatcher starts it again before then")

    @field_validator("id", "type", "clock", "timestamp")
    @classmethod
    def _well_formed(cls, v: Any, info: Any) -> Any:
        return _check(info.field_name, v)


@cache
def _document() -> TypeAdapter[list[StoredEvent]]:
    return TypeAdapter(list[StoredEvent])


def check_events(events: Iterable[Event], *, where: str) -> None:
    """Hold events read from outside (a remote's ref, a merge driver's input) to ``StoredEvent``.
    Raises the core's ValidationError naming ``where``, the event's position and the field."""
    docs = [e.to_json() for e in events]
    try:
        _document().validate_python(docs)
    except PydanticError as err:
        n = err.errors()[0]["loc"][0]
        raise ValidationError(f"{where}: event {int(n) + 1}: {first_problem(err).split('.', 1)[1]}") from None


class RemoteEvent(StoredEvent):
    """An event a remote brings that this clone does not hold yet (a pull, a sync, a hub claim's
    fetch): a stored event that also holds no control character where a writer of this version
    never puts one: C0 (tab, LF and CR are text in ``description``, ``reason``, context values and
    the other ``changes``), DEL and C1 (U+0080-U+009F) in ``title``, ``actor``, ``assignee``,
    ``by``, labels and the rest. The core's input checks refuse the same characters
    (``gitjit.core.model``); events stored before are read as they are and escaped on output."""

    @model_validator(mode="after")
    def _no_controls(self) -> RemoteEvent:
        why = text_problem(self.__dict__)  # the declared fields by name; ``from`` holds no text it checks
        if why is not None:
            raise ValueError(f"event {self.id} ({self.type}): {why}")
        return self


@cache
def _remote() -> TypeAdapter[list[RemoteEvent]]:
    return TypeAdapter(list[RemoteEvent])


def remote_event_problem(events: Iterable[Event]) -> str | None:
    """Why these events, new to this clone, may not be merged (``RemoteEvent``), or None: the first
    problem, in the core's words (``event ID (TYPE): title holds control character U+009B``)."""
    docs = [e.to_json() for e in events]
    if not docs:
        return None
    try:
        _remote().validate_python(docs)
    except PydanticError as err:
        loc, msg = problems(err)[0]
        return msg if len(loc) == 1 else f"event {int(loc[0]) + 1}: {'.'.join(str(x) for x in loc[1:])}: {msg}"
    return None


class PrintedEvent(Open):
    """An event as ``events tail|query`` print it: the stored fields by their JSON names without
    ``v``, ``issue_id`` always present (null for gate-definition events), objects in the payload
    with their keys sorted; plus any field of a newer version."""

    id: str
    type: str
    issue_id: str | None
    clock: int
    timestamp: str
    actor: str
    title: str | None = None
    description: str | None = None
    priority: str | None = None
    labels: list[str] | None = None
    context: dict[str, Any] | None = None
    gates: list[str] | None = None
    from_: str | None = Field(None, alias="from")
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
    retry_after: str | None = None


class WebhookPayload(PrintedEvent):
    """What ``jit-dispatch`` POSTs to a webhook for each new event: the event as printed, plus the
    name of the repository it happened in. Headers: ``X-Jit-Event`` (the type), ``X-Jit-Delivery``
    (the event id), ``X-Jit-Repo``, and ``X-Jit-Signature-256`` when a secret is set."""

    repo: str = Field(description="the [[repos]] name in dispatch.toml")


class _GateState(Shape):
    key: str
    status: Literal["pending", "passed", "failed"]
    by: str | None
    updated_at: str | None
    note: str | None
    reason: str | None


class _Parked(Shape):
    reason: str
    by: str | None
    since: str | None


class _Conflict(Shape):
    type: str
    event_id: str
    actor: str | None
    winner: str | None
    detail: str
    timestamp: str | None


class IssueStateDoc(Shape):
    """The fold of one issue's events (``gitjit.core.model.IssueState.to_json``), as the index
    stores it: ``state`` is the stored base state (``ready`` is derived, never stored)."""

    id: str
    title: str
    description: str
    priority: str
    state: Literal["open", "in_progress", "done", "rejected", "archived"]
    assignee: str | None
    dependencies: list[str]
    gates: dict[str, _GateState]
    context: dict[str, Any]
    labels: list[str]
    created_at: str
    updated_at: str
    created_by: str | None
    claimed_at: str | None
    lease_expires_at: str | None
    failures: int = Field(description="failed runs in a row that dispatchers reported")
    retry_after: str | None = Field(description="no dispatcher starts it again before then")
    parked: _Parked | None = Field(description="set by issue_parked: nobody starts it until it is un-parked")
    completed_at: str | None
    deleted: bool
    conflicts: list[_Conflict]
    commits: list[str]
    clock: int
    event_count: int
    dep_events: dict[str, str]
