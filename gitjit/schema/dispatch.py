"""``dispatch.toml``: the schema of the dispatcher's configuration file (docs/dispatch.md).

``check_dispatch`` holds the parsed TOML to ``DispatchFile`` and words the first problem the way
``jit-dispatch`` always has (``agents[1].max_concurrent: must be an integer >= 1 (got 0)``), with
its path, so ``gitjit.dispatch.config`` can name the file's line. What spans tables (a name used
twice, an agent naming a repository that is not configured) is checked there, after this.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StringConstraints

from .base import PydanticError

__all__ = [
    "ID_RE",
    "TYPE_RE",
    "ConfigProblem",
    "DispatchAgent",
    "DispatchFile",
    "DispatchRepo",
    "DispatchWebhook",
    "check_dispatch",
]

ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")  # no '@': it separates agent and dispatcher
TYPE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,49}$")

Text = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]
Ident = Annotated[str, StringConstraints(pattern=ID_RE.pattern)]
TypeName = Annotated[str, StringConstraints(pattern=TYPE_RE.pattern)]
Number = StrictInt | StrictFloat
Strings = Annotated[list[Text], Field(description='a list of strings, or "a,b" as one string')] | Text
Table = dict[str, StrictInt | StrictFloat | str]


class _File(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class DispatchRepo(_File):
    """``[[repos]]``: exactly one of ``path`` (a local clone) or ``url`` (cloned into the cache)."""

    name: TypeName | None = Field(None, description="default: the last part of the path or url")
    path: Text | None = None
    url: Text | None = None
    hub: Text | None = Field(None, description="the remote that decides claims (default for url: origin)")


class DispatchAgent(_File):
    """``[[agents]]``: one agent pool."""

    id: Ident
    command: Text | Annotated[list[str], Field(min_length=1)] = Field(
        description="run per issue: a string split like a shell would, or a list of arguments")
    type: TypeName = "agent"
    max_concurrent: StrictInt = Field(1, ge=1)
    capacity: StrictInt | None = Field(None, ge=1, description="an alias of max_concurrent")
    tags: Strings | None = None
    repos: Strings | None = Field(None, description="names of [[repos]] this agent takes work from")
    env: Table = Field(default_factory=dict)
    working_dir: Text | None = None
    on_failure: Literal["release", "retry"] | None = None
    max_retries: StrictInt | None = Field(None, ge=0)
    failure_threshold: StrictInt | None = Field(None, ge=0)
    timeout_secs: Number | None = Field(None, gt=0)


class DispatchWebhook(_File):
    """``[[webhooks]]``: where new events are POSTed (``webhook-payload``)."""

    url: Annotated[str, StringConstraints(pattern=r"^https?://")]
    events: Strings | None = Field(None, description="event types to send (default: all)")
    max_attempts: StrictInt = Field(5, ge=1)
    timeout_secs: Number = Field(5.0, gt=0)
    secret: Text | None = Field(None, description="signs each body: X-Jit-Signature-256")
    headers: Table = Field(default_factory=dict)


class DispatchFile(_File):
    """``dispatch.toml``, the configuration of ``jit-dispatch``. Relative paths are relative to
    the file's directory."""

    id: Ident | None = Field(None, description="this dispatcher's name (default: host and a hash of the path)")
    poll_interval_secs: Number = Field(30.0, gt=0)
    lease_secs: Number = Field(900.0, ge=1)
    lease_grace_secs: Number = Field(60.0, ge=0)
    escalation_hours: Number = Field(24.0, ge=0)
    on_stop: Literal["finish", "release"] = "finish"
    stop_timeout_secs: Number | None = Field(None, gt=0)
    kill_grace_secs: Number = Field(10.0, ge=0)
    state_dir: Text | None = None
    cache_dir: Text | None = None
    on_failure: Literal["release", "retry"] = "release"
    max_retries: StrictInt = Field(1, ge=0)
    failure_threshold: StrictInt = Field(3, ge=0)
    backoff_secs: Number = Field(60.0, ge=0, description="an issue whose run failed waits this long before "
                                 "any dispatcher starts it again, doubling with each failed run in a row")
    backoff_max_secs: Number = Field(3600.0, ge=0, description="the longest such wait")
    park_after_failures: StrictInt = Field(5, ge=0, description="failed runs in a row after which the issue "
                                           "is parked until 'jit issue unpark' (0: never)")
    log_max_bytes: StrictInt = Field(10 * 1024 * 1024, ge=0, description="the log file is rotated at this size")
    log_backups: StrictInt = Field(5, ge=0, description="rotated log files kept")
    repos: list[DispatchRepo] = Field(default_factory=list)
    agents: list[DispatchAgent] = Field(default_factory=list)
    webhooks: list[DispatchWebhook] = Field(default_factory=list)


class ConfigProblem(ValueError):
    """The first problem of a dispatch.toml: where (a path of keys and indexes), what, the next step."""

    def __init__(self, path: tuple[Any, ...], message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.path, self.message, self.hint = path, message, hint


def check_dispatch(data: dict[str, Any]) -> DispatchFile:
    """``data`` (the parsed TOML) as a ``DispatchFile``; ConfigProblem for the first problem."""
    try:
        return DispatchFile.model_validate(data)
    except PydanticError as err:
        raise _problem(dict(err.errors()[0])) from None


_MODELS: dict[str, type[BaseModel]] = {"repos": DispatchRepo, "agents": DispatchAgent, "webhooks": DispatchWebhook}


def _owner(path: tuple[Any, ...]) -> type[BaseModel]:
    return _MODELS[path[0]] if len(path) >= 2 and path[0] in _MODELS and isinstance(path[1], int) else DispatchFile


def _field_loc(loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], str]:
    """The key path the user wrote (without pydantic's union branch names) and the field's name."""
    out: list[Any] = []
    for part in loc:
        if isinstance(part, str) and (part.startswith(("str", "list[", "dict[", "constrained-str", "int", "float"))
                                      or part in ("function-after", "json-or-python")):
            break  # a union member: the error is about the field as a whole
        out.append(part)
    field = next((p for p in reversed(out) if isinstance(p, str)), "")
    return tuple(out), field


def _problem(e: dict[str, Any]) -> ConfigProblem:
    path, field = _field_loc(tuple(e["loc"]))
    t, v = e["type"], e.get("input")
    model = _owner(path)
    if t == "missing":
        hint = {"id": 'e.g. id = "worker-1"', "command": 'e.g. command = "python worker.py"'}.get(field)
        return ConfigProblem(path[:-1], f"missing {field}", hint)
    if t == "extra_forbidden":
        known = sorted(n for n in model.model_fields)
        return ConfigProblem(path, "unknown key", "known keys here: " + ", ".join(known))
    if len(path) >= 3 and path[-2] in ("env", "headers"):
        return ConfigProblem(path, "must be a string or a number")
    if field in ("env", "headers"):
        return ConfigProblem(path, "must be a table", hint=f'e.g. {field} = {{ NAME = "value" }}')
    if field in ("repos", "agents", "webhooks") and model is DispatchFile:
        return ConfigProblem(path[:1], f"must be an array of tables ([[{field}]])")
    if field in ("tags", "events") or (field == "repos" and model is DispatchAgent):
        return ConfigProblem(path[:path.index(field) + 1], "must be a list of strings",
                             hint='e.g. tags = ["build", "test"]')
    if field == "command":
        return ConfigProblem(path[:path.index(field) + 1], "must be a string or a non-empty list of strings")
    if field == "url" and model is DispatchWebhook:
        return ConfigProblem(path, "must be an http:// or https:// URL")
    info = model.model_fields.get(field)
    if info is not None:
        bound = _bound(info)
        if bound is not None:
            integer = "int" in str(info.annotation) and "float" not in str(info.annotation)
            op, n = bound
            return ConfigProblem(path, f"must be {'an integer' if integer else 'a number'} {op} {n:g} (got {v!r})")
        choices = _choices(info)
        if choices:
            return ConfigProblem(path, f"must be one of {', '.join(choices)} (got {v!r})")
        if t == "string_pattern_mismatch" and field in ("id", "type", "name"):
            return ConfigProblem(path, f"{v!r} is not valid",
                                 hint="use letters, digits, '_', '.', ':' or '-' (no '@', no spaces)")
    return ConfigProblem(path, f"must be a non-empty string (got {v!r})")


def _bound(info: Any) -> tuple[str, float] | None:
    for m in info.metadata:
        for attr, op in (("gt", ">"), ("ge", ">=")):
            n = getattr(m, attr, None)
            if n is not None:
                return op, float(n)
    return None


def _choices(info: Any) -> tuple[str, ...]:
    ann = info.annotation
    args = getattr(ann, "__args__", ())
    for a in (ann, *args):
        if getattr(a, "__origin__", None) is Literal:
            return tuple(a.__args__)
    return ()
