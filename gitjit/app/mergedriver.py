"""The jit merge as a git merge driver, and its registration.

``git merge`` / ``git merge-tree --write-tree`` of two diverged jit commits call
``jit merge-driver %O %A %B %P`` for ``events.jsonl`` (declared in ``$GIT_DIR/info/attributes``;
git quotes each substituted path). The driver unites the event sets of ours and theirs and
writes the canonical document to ``%A``: the very bytes ``jit sync`` writes, so git's merge
and ours agree. An unreadable side is a conflict (exit 1): git keeps ours and reports it, and
nothing is silently dropped.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from ..core.errors import ValidationError
from ..core.fold import parse_events, serialize_events, union_events
from ..core.model import LIMITS
from ..schema.events import check_events

__all__ = ["ATTR_LINE", "DRIVER_NAME", "merge_documents", "merge_files", "register", "unregister"]

DRIVER_NAME = "jit"
ATTR_LINE = "events.jsonl merge=jit"


def merge_documents(ancestor: bytes, ours: bytes, theirs: bytes) -> bytes:
    """Union of ours and theirs (the ancestor's events are in both already). Raises ValidationError."""
    del ancestor  # a union needs no base: every event the base had, both sides still have
    a = parse_events(ours, where="ours")
    b = parse_events(theirs, where="theirs")
    check_events(a, where="ours")  # the schema of record, as for a pull (gitjit/store/sync.py)
    check_events(b, where="theirs")
    merged, _ = union_events(a, b)
    prev = 0
    for e in merged:  # sorted by clock: a leap would freeze later edits (cf. store.checks.check_document)
        if e.clock - prev > LIMITS["clock_jump"]:
            raise ValidationError(f"clock leaps from {prev} to {e.clock} (event {e.id})")
        prev = e.clock
    out = serialize_events(merged)
    # a union over the limits would be a document no reader accepts: a conflict, not a result
    if len(out) > LIMITS["events_blob"] or len(merged) > LIMITS["events"]:
        raise ValidationError(f"the union holds {len(merged)} events / {len(out)} bytes, over the limits "
                              f"({LIMITS['events']} events, {LIMITS['events_blob']} bytes)")
    return out


def merge_files(base: str, ours: str, theirs: str, path: str = "") -> int:
    """The driver's contract: result in ``ours``; 0 clean, 1 conflict."""
    try:
        data = merge_documents(Path(base).read_bytes() if base and Path(base).exists() else b"",
                               Path(ours).read_bytes(), Path(theirs).read_bytes())
    except (ValidationError, OSError) as e:
        msg = getattr(e, "message", str(e))
        print(f"jit merge-driver: {path or ours}: {msg}", file=sys.stderr)
        return 1
    Path(ours).write_bytes(data)
    return 0


def _driver_command() -> str:
    # Run the same interpreter that installed gitjit, so the driver works without `jit` on PATH.
    return f"{shlex.quote(sys.executable)} -m gitjit merge-driver %O %A %B %P"


def register(git) -> list[str]:  # type: ignore[no-untyped-def]
    """Idempotently declare the driver in the repository's config and ``info/attributes``."""
    changed: list[str] = []
    want = {"merge.jit.name": "gitjit event-log union", "merge.jit.driver": _driver_command()}
    for k, v in want.items():
        if git.config_get(k) != v:
            git.config_set(k, v)
            changed.append(k)
    attrs = Path(git.common_dir) / "info" / "attributes"
    text = attrs.read_text() if attrs.exists() else ""
    if ATTR_LINE not in text.splitlines():
        attrs.parent.mkdir(parents=True, exist_ok=True)
        attrs.write_text(text + ("" if not text or text.endswith("\n") else "\n") + ATTR_LINE + "\n")
        changed.append("info/attributes")
    return changed


def unregister(git) -> None:  # type: ignore[no-untyped-def]
    git.config_unset("merge.jit.driver")
    git.config_unset("merge.jit.name")
    attrs = Path(git.common_dir) / "info" / "attributes"
    if attrs.exists():
        lines = [x for x in attrs.read_text().splitlines() if x != ATTR_LINE]
        attrs.write_text("".join(x + "\n" for x in lines))


def is_registered(git) -> bool:  # type: ignore[no-untyped-def]
    attrs = Path(git.common_dir) / "info" / "attributes"
    return bool(git.config_get("merge.jit.driver")) and attrs.exists() and ATTR_LINE in attrs.read_text().splitlines()
