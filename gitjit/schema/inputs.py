"""Documents people and programs give gitjit: ``jit import`` lines, and ``--context`` values.

Each model checks with the core's own checks (``gitjit.core.model.check_*``), so a value the
model accepts is one the inside accepts, in the same words. ``jit import`` runs ``ImportLine``
on every line (the Rust jit's and Beads' files are read into such lines first); ``--context``
on the command line is checked by ``gitjit.core.rules.check_context`` on the hot path, which
tests/test_schema.py holds equal to ``Context``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, RootModel, field_validator, model_validator

from ..core.errors import GitjitError
from ..core.model import (
    ISSUE_ID_RE,
    LIMITS,
    check_actor,
    check_context_key,
    check_context_value,
    check_description,
    check_gate_key,
    check_label,
    check_title,
    parse_priority,
    parse_state,
    utc_ts,
)

__all__ = [
    "Context",
    "ImportFileLine",
    "ImportGate",
    "ImportGateDef",
    "ImportGateLine",
    "ImportGateResult",
    "ImportLine",
    "iso_time",
]


def _core(fn: Any, *args: Any) -> Any:
    """A core check as a pydantic check: its UsageError becomes the field's error, same words."""
    try:
        return fn(*args)
    except GitjitError as e:
        raise ValueError(e.message) from None


def iso_time(v: str | None, what: str) -> str | None:
    """ISO 8601 (``Z``, offsets and nanoseconds accepted) in the form gitjit stores and prints
    (``utc_ts``: UTC, microseconds, ``+00:00``); a time without an offset is UTC; "" is null."""
    if v is None or v == "":
        return None
    s = v.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in s:  # Python's parser takes at most 6 fraction digits; the Rust jit writes 9
        head, _, tail = s.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        s = head + "." + tail[:min(digits, 6)].ljust(6, "0") + tail[digits:]
    try:
        d = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{what} {v!r} is not an ISO 8601 time") from None
    return utc_ts(d.isoformat(timespec="microseconds"))


class _Lenient(BaseModel):
    """Strict JSON types; keys this version does not read are ignored (as they always were)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, defer_build=True)


class ImportGateResult(_Lenient):
    """A gate's recorded result in an import line."""

    status: Literal["pending", "passed", "failed"] = "pending"
    by: str | None = Field(None, description="who passed or failed it (the Rust jit's updated_by is read too)")
    updated_by: str | None = None
    updated_at: str | None = Field(None, description="ISO 8601; Z, offsets and 9 fraction digits accepted")

    @field_validator("by", "updated_by")
    @classmethod
    def _actor(cls, v: str | None) -> str | None:
        return None if v is None else _core(check_actor, v)

    @field_validator("updated_at")
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        return iso_time(v, "updated_at")

    def result(self) -> dict[str, Any]:
        return {"status": self.status, "by": self.by if self.by is not None else self.updated_by,
                "updated_at": self.updated_at}


class ImportGate(ImportGateResult):
    """A gate an imported issue requires, with its result."""

    key: str

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return str(_core(check_gate_key, v))


def _labels(v: list[str] | None) -> list[str]:
    out = list(dict.fromkeys(_core(check_label, x) for x in v or []))
    if len(out) > LIMITS["labels"]:
        raise ValueError(f"at most {LIMITS['labels']} labels on one issue")
    return out


def _context(v: dict[str, Any] | None) -> dict[str, Any]:
    v = v or {}
    if len(v) > LIMITS["context_keys"]:
        raise ValueError(f"at most {LIMITS['context_keys']} context keys")
    return {_core(check_context_key, k): _core(check_context_value, k, x) for k, x in v.items()}


class ImportLine(_Lenient):
    """One line of ``jit import --format jsonl`` (and of ``jit export``): one issue. ``key`` names
    it inside the file, so that ``depends_on`` can point at it (a key of the file, an ``id`` given
    in the file, or the id or a unique id prefix of an issue already in the repository)."""

    key: str | None = Field(None, description="defaults to the id, else line:N")
    id: str | None = Field(None, description="12 lowercase hex digits, kept if free (leave it out for a new id)")
    title: str
    description: str | None = ""
    priority: str = Field("normal", description="low, normal, high or critical (any case)")
    state: str | None = Field("open", description="open, ready, in_progress, done, rejected or archived")
    assignee: str | None = None
    labels: Annotated[list[str] | None, AfterValidator(_labels)] = Field(None, description="namespace:value")
    context: Annotated[dict[str, Any] | None, AfterValidator(_context)] = None
    gates: list[str | ImportGate] | None = Field(None, description="gate keys, or objects with a key and a result")
    gate_status: dict[str, Literal["pending", "passed", "failed"] | ImportGateResult] | None = Field(
        None, description="gate key -> status, or an object with the result")
    depends_on: list[str] | None = None
    created_at: str | None = None
    created_by: str | None = None
    updated_at: str | None = None
    claimed_at: str | None = None
    completed_at: str | None = None

    @field_validator("title", mode="before")
    @classmethod
    def _title_given(cls, v: Any) -> Any:
        if not isinstance(v, str):
            raise ValueError("title is required (a string)")  # noqa: TRY004 - pydantic reports ValueErrors
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        return str(_core(check_title, v))

    @field_validator("id")
    @classmethod
    def _id(cls, v: str | None) -> str | None:
        if v is not None and not ISSUE_ID_RE.fullmatch(v):
            raise ValueError(f"id {v!r} is not 12 lowercase hex digits (leave it out to get a new id)")
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str | None) -> str | None:
        if v is not None and not v:
            raise ValueError("key must be a non-empty string")
        return v

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str:
        return str(_core(check_description, v or ""))

    @field_validator("priority")
    @classmethod
    def _priority(cls, v: str) -> str:
        return str(_core(parse_priority, v))

    @field_validator("state")
    @classmethod
    def _state(cls, v: str | None) -> str:
        return str(_core(parse_state, v or "open"))

    @field_validator("assignee", "created_by")
    @classmethod
    def _actor(cls, v: str | None) -> str | None:
        return None if v is None else _core(check_actor, v)

    @field_validator("depends_on")
    @classmethod
    def _deps(cls, v: list[str] | None) -> list[str]:
        out = list(dict.fromkeys(v or []))
        if len(out) > LIMITS["dependencies"]:
            raise ValueError(f"at most {LIMITS['dependencies']} dependencies")
        return out

    @field_validator("created_at", "updated_at", "claimed_at", "completed_at")
    @classmethod
    def _time(cls, v: str | None, info: Any) -> str | None:
        return iso_time(v, info.field_name)

    @field_validator("gates")
    @classmethod
    def _gate_names(cls, v: list[Any] | None) -> list[Any] | None:
        for g in v or []:
            if isinstance(g, str):
                _core(check_gate_key, g)
        return v

    @field_validator("gate_status")
    @classmethod
    def _gate_keys(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        for k in v or {}:
            _core(check_gate_key, k)
        return v

    @model_validator(mode="after")
    def _gate_count(self) -> ImportLine:
        if len(self.gate_results()) > LIMITS["gates"]:
            raise ValueError(f"at most {LIMITS['gates']} gates on one issue")
        return self

    def gate_results(self) -> dict[str, dict[str, Any]]:
        """Every gate the issue requires -> ``{"status", "by", "updated_at"}``, in file order."""
        out: dict[str, dict[str, Any]] = {}
        for g in self.gates or []:
            if isinstance(g, str):
                out.setdefault(g, {"status": "pending"})
            else:
                out[g.key] = g.result()
        for k, r in (self.gate_status or {}).items():
            out[k] = ImportGateResult.model_validate({"status": r}).result() if isinstance(r, str) else r.result()
        return out


class ImportGateDef(_Lenient):
    """A gate of the registry, as ``jit export`` writes it before the issues and ``jit import``
    defines it (unless this repository defines that key already): checked as ``registry add``
    checks its arguments."""

    key: str
    title: str | None = Field(None, description="defaults to the key")
    description: str | None = ""
    mode: str = Field("manual", description="manual or auto")
    stage: str = Field("postcheck", description="precheck or postcheck")

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        return str(_core(check_gate_key, v))

    @field_validator("title")
    @classmethod
    def _title(cls, v: str | None) -> str | None:
        return None if v is None else str(_core(check_title, v))

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str:
        return str(_core(check_description, v or ""))

    @field_validator("mode")
    @classmethod
    def _mode(cls, v: str) -> str:
        if v not in ("manual", "auto"):
            raise ValueError("mode must be manual or auto")
        return v

    @field_validator("stage")
    @classmethod
    def _stage(cls, v: str) -> str:
        if v not in ("precheck", "postcheck"):
            raise ValueError("stage must be precheck or postcheck")
        return v


class ImportGateLine(_Lenient):
    """A gate definition line of ``jit import --format jsonl`` (``{"gate": {...}}``, no ``title``
    beside it): ``jit export`` writes one for each gate of the registry, before the issues."""

    gate: ImportGateDef


class ImportFileLine(RootModel[ImportGateLine | ImportLine]):
    """Any line of a ``jit import --format jsonl`` file, and of what ``jit export`` prints: a gate
    definition line (``import-gate-line``) or an issue (``import-line``)."""


class Context(RootModel[dict[str, Any]]):
    """``--context K=V`` (``issue create``/``update``): context keys (letters, digits, ``_``, ``.``,
    ``-``; at most 64) and their JSON values (at most 16 KiB of canonical JSON, 16 levels deep),
    at most 100 keys. A value that parses as a JSON array, object, number, boolean or null is
    stored as that value, anything else as the string."""

    @model_validator(mode="after")
    def _checked(self) -> Context:
        _context(self.root)
        return self
