"""What a ref's event log must satisfy beyond the parser's schema (``check_document``).

Kept apart from ``gitjit.store.sync`` so that every read of an entity (``EntityStore._check``,
on each write) does not import the whole sync machinery (and ``uuid``, ``platform`` with it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..core.errors import ValidationError
from ..core.event import Event
from ..core.model import GATE_KEY_RE, ISSUE_ID_RE, LIMITS
from ..core.refs import LOCAL

__all__ = ["LOCAL", "check_document"]

_NS_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def check_document(ref: str, events: Iterable[Event]) -> None:
    """Raise ValidationError unless ``events`` may live on local ref ``ref`` (``refs/jit/<ns>/<key>``).

    The parser (``parse_events``) already enforced the schema and the size limits; this adds
    what depends on the ref: the key's format, that an issue's ``issue_created`` names *this*
    issue, that a gate's events name this gate, and that Lamport clocks never leap by more
    than ``LIMITS["clock_jump"]`` (a hostile clock near 2^53 would freeze every later edit)."""
    rest = ref[len(LOCAL):] if ref.startswith(LOCAL) else ""
    ns, sep, key = rest.partition("/")
    if not sep or not _NS_RE.fullmatch(ns) or not _KEY_RE.fullmatch(key):
        raise ValidationError(f"{ref}: not a jit entity ref (expected refs/jit/<namespace>/<key>)")
    evs = sorted(events, key=Event.sort_key)
    if ns == "issues":
        if not ISSUE_ID_RE.fullmatch(key):
            raise ValidationError(f"{ref}: {key!r} is not an issue id (12 lowercase hex digits)")
        created = [e for e in evs if e.type == "issue_created" and not e.derived]
        if not created:
            raise ValidationError(f"{ref}: no issue_created event")
        other = sorted({e.issue_id or "(none)" for e in created if e.issue_id != key})
        if other:
            raise ValidationError(f"{ref}: its issue_created event names issue {other[0]}, not {key}")
    elif ns == "gates":
        if not GATE_KEY_RE.fullmatch(key):
            raise ValidationError(f"{ref}: {key!r} is not a gate key")
        other = sorted({e.gate_key for e in evs if e.gate_key is not None and e.gate_key != key})
        if other:
            raise ValidationError(f"{ref}: events name gate {other[0]!r}, not {key!r}")
    if not evs:
        raise ValidationError(f"{ref}: the event log is empty")
    prev = 0
    for e in evs:
        if e.clock - prev > LIMITS["clock_jump"]:
            raise ValidationError(
                f"{ref}: clock leaps from {prev} to {e.clock} (event {e.id}); "
                f"the limit is {LIMITS['clock_jump']} per event")
        prev = e.clock
