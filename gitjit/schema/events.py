"""Events: a stored line of ``events.jsonl`` (the schema of record for what arrives from remotes),
an event as the commands print it, the payload of a dispatcher's webhook; and the folded state of
an issue as the index keeps it."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any, Literal

from pydantic import Field, TypeAdapter, field_validator

from ..core.errors import ValidationError
from ..core.model import FIELD_CHECKS, Event
from .base import Open, PydanticError, Shape, first_problem

__all__ = ["StoredEvent", "PrintedEvent", "WebhookPayload", "IssueStateDoc", "check_events"]


def _check(name: str, v: Any) -> Any:
    msg = FIELD_CHECKS[name](v)
    if msg is not None:
        raise ValueError(msg)
    return v


class StoredEvent(Open):
    """One line of an issue's or gate's ``events.jsonl`` (docs/storage-format.md), as every clone
    must accept it: exact JSON types, the fields below where present, and any other key (a field
    of a newer version), kept and written back untouched. ``gitjit.core.model.Event.from_json`` is
    the hot path's reader of the same rules (tests/test_schema.py holds them equal)."""

    v: int = Field(1, description="format version of the event")
    id: str = Field(description="32 lowercase hex digits, random")
    type: str = Field(description="lowercase letters and '_' (issue_created, issue_claimed, ...)")
    issue_id: str | None = Field(None, description="the issue; null for gate-definition events")
    clock: int = Field(description="per-entity Lamport clock, 1 <= clock < 2**53")
    timestamp: str = Field(description="UTC, ISO 8601, no offset suffix")
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
    completed_at: str | None
    deleted: bool
    conflicts: list[_Conflict]
    commits: list[str]
    clock: int
    event_count: int
    dep_events: dict[str, str]
