"""Turning command-line words into library arguments, without click: shared by the full CLI
(gitjit/cli/) and the light write path (gitjit/fast.py), so both read ``--context k=v`` and
comma-separated lists the same way."""

from __future__ import annotations

import json
from typing import Any

from .errors import UsageError


def parse_kv(values: tuple[str, ...] | list[str], what: str = "--context") -> dict[str, Any]:
    """``k=v`` pairs; a value that parses as a JSON array, object, number, boolean or null is stored
    as that JSON value (``tags=["build","test"]``), anything else as the string."""
    out: dict[str, Any] = {}
    for item in values:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"{what} {item!r} is not key=value", hint=f"e.g. {what} tags='[\"build\"]'")
        val: Any = v
        s = v.strip()
        if s[:1] in "[{" or s in ("true", "false", "null") or _is_number(s):
            try:
                val = json.loads(s)
            except (ValueError, RecursionError):
                val = v
        out[k.strip()] = val
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return bool(s) and s.lower() not in ("nan", "inf", "-inf", "infinity", "+inf")


def split_commas(values: tuple[str, ...] | list[str]) -> list[str]:
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


#: said when an id is the human output of ``jit issue create`` ("Created issue: <id>") captured
#: whole, e.g. ``ID=$(jit issue create -t x)`` where seed 004 captures the bare id
CAPTURED_CREATE = "that is the output of 'jit issue create' (\"Created issue: <id>\"), not an id"
CAPTURED_CREATE_HINT = "capture the bare id with -q, e.g. ID=$(jit issue create -q -t \"Title\"), or set JIT_QUIET=1"


def captured_create_output(words: list[str] | tuple[str, ...]) -> bool:
    """Whether ``words`` hold ``jit issue create``'s human output where an id belongs: a word
    "Created" followed by "issue:", or one word starting "Created issue:" (the quoted capture)."""
    for i, w in enumerate(words):
        t = w.strip().lower()
        if t.startswith("created issue:") or (t == "created" and i + 1 < len(words)
                                              and words[i + 1].strip().lower() == "issue:"):
            return True
    return False
