"""Bulk import and export of issues: ``jit import FILE --format jsonl|rust-jit|beads`` and
``jit export [-o FILE] --format jsonl``.

The JSON-lines format (docs/index.md) is one issue per line::

    {"key": "parser", "title": "Write the parser", "description": "...", "priority": "high",
     "state": "open", "labels": ["team:core"], "context": {"k": "v"}, "gates": ["review"],
     "depends_on": ["lexer"]}

``key`` names the issue inside the file so that ``depends_on`` can point at it (a key of the
file, an ``id`` given in the file, or the id or a unique id prefix of an issue already in the
repository), so a whole graph comes in one run. Optional: ``id`` (12 hex digits, kept if free:
an export re-imports with its ids), ``assignee``, ``gate_status``, ``created_at``,
``created_by``, ``updated_at``, ``claimed_at``, ``completed_at``. A line
``{"gate": {"key", "title", "description", "mode", "stage"}}`` defines a gate of the registry
(``jit export`` writes one for each definition, before the issues). The Rust jit's ``.jit/``
directory and a Beads ``issues.jsonl`` are read into the same records first.

**All or nothing.** The whole input is read and checked (every field, every limit, every
dependency, no cycle, no id already taken) before anything is written; a bad line is reported
with its number. ``skip_missing_deps`` drops (and reports) the dependencies that name an issue
neither in the input nor in the repository, instead of refusing the input. Then every object goes into one pack (``git fast-import``) and every ref is
created in one step: for large imports by adding them to ``packed-refs`` under git's own
``packed-refs.lock`` (after checking, under that lock, that none exists), for small ones with
one ``git update-ref --stdin`` transaction of create-only updates.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import (
    CycleError,
    ExternalError,
    GitjitError,
    NotFoundError,
    UsageError,
    ValidationError,
)
from ..core.event import Event
from ..core.model import (
    LIMITS,
    check_actor,
    check_description,
    check_gate_key,
    check_label,
    check_title,
    new_event_id,
    new_issue_id,
    now_ts,
)
from ..core.progress import Progress, counted
from ..core.refs import ISSUES
from ..git.files import add_packed_refs
from ..schema.base import PydanticError, describe
from ..schema.inputs import ImportGateDef, ImportLine, iso_time

if TYPE_CHECKING:  # pragma: no cover
    from .base import TrackerBase as Tracker
    from .gates import GateOps

__all__ = [
    "FORMATS",
    "GateIn",
    "Item",
    "export_lines",
    "import_file",
    "import_items",
    "make_gate",
    "read_beads",
    "read_jsonl",
    "read_rust_jit",
]

FORMATS = ("jsonl", "rust-jit", "beads")
#: above this many refs, import adds them to packed-refs in one rename instead of loose files
PACKED_WRITE_MIN = 200
_MAX_ERRORS = 20


@dataclass
class Item:
    """One issue to import, already checked."""

    line: int
    key: str
    title: str
    id: str | None = None
    description: str = ""
    priority: str = "normal"
    state: str = "open"
    assignee: str | None = None
    labels: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    gates: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {status, by, updated_at}
    depends_on: list[str] = field(default_factory=list)
    created_at: str | None = None
    created_by: str | None = None
    updated_at: str | None = None
    claimed_at: str | None = None
    completed_at: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # {"timestamp", "actor", "source_type", "data"}


@dataclass
class GateIn:
    key: str
    title: str
    description: str = ""
    mode: str = "manual"
    stage: str = "postcheck"


class _Bad(Exception):
    pass


# ---------------------------------------------------------------------------------- field checks

def _ts(v: Any, what: str) -> str | None:
    """ISO 8601 (``Z``, offsets and nanoseconds accepted) as UTC with microseconds and ``+00:00``."""
    if v is not None and not isinstance(v, str):
        raise _Bad(f"{what} must be an ISO 8601 time")
    try:
        return iso_time(v, what)
    except ValueError as e:
        raise _Bad(str(e)) from None


def _check(fn: Any, *a: Any) -> Any:
    try:
        return fn(*a)
    except GitjitError as e:
        raise _Bad(e.message) from None


def make_item(obj: Any, line: int) -> Item:
    """Check one JSON-lines record against ``ImportLine`` (the schema of record of the format,
    ``jit schema import-line``) and return it as an Item."""
    if not isinstance(obj, dict):
        raise _Bad("not a JSON object")
    try:
        m = ImportLine.model_validate(obj)
    except PydanticError as e:
        raise _Bad(describe(e)) from None
    return Item(line=line, key=m.key or m.id or f"line:{line}", title=m.title, id=m.id,
                description=m.description or "", priority=m.priority, state=m.state or "open", assignee=m.assignee,
                labels=m.labels or [], context=m.context or {}, gates=m.gate_results(),
                depends_on=m.depends_on or [], created_at=m.created_at, created_by=m.created_by,
                updated_at=m.updated_at, claimed_at=m.claimed_at, completed_at=m.completed_at)


def make_gate(obj: Any) -> GateIn:
    """Check one gate definition line's ``gate`` object (``jit export`` writes them) against
    ``ImportGateDef`` (``jit schema import-gate-line``), as ``registry add`` checks its arguments."""
    if not isinstance(obj, dict):
        raise _Bad("gate must be an object with key, title, mode and stage")
    try:
        m = ImportGateDef.model_validate(obj)
    except PydanticError as e:
        raise _Bad(f"gate.{describe(e)}") from None
    return GateIn(key=m.key, title=m.title if m.title is not None else m.key, description=m.description or "",
                  mode=m.mode, stage=m.stage)


def _fail(where: str, errors: list[tuple[int, str]], *, missing: int = 0) -> ValidationError:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    hint = "fix the line and run the import again"
    if missing:
        hint = (f"{missing} dependenc{'y names an issue' if missing == 1 else 'ies name issues'} neither in the "
                "input nor in this repository: pass --skip-missing-deps to import without "
                f"{'it' if missing == 1 else 'them'} (each one is reported), or add those issues to the input")
    return ValidationError(f"{where}: line {first[0]}: {first[1]}{more}; nothing was imported", hint=hint,
                           details={"errors": [{"line": n, "message": m} for n, m in errors],
                                    "missing_dependencies": missing})


def _lines(text: str, where: str) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON) for each non-blank line; bad JSON is reported by line."""
    for n, raw in enumerate(text.split("\n"), 1):
        if not raw.strip():
            continue
        try:
            yield n, json.loads(raw)
        except (ValueError, RecursionError) as e:
            yield n, _Bad(f"not JSON ({str(e)[:80]})")


# ---------------------------------------------------------------------------------- readers

def read_jsonl(text: str, where: str = "input", *, gates: list[GateIn] | None = None) -> list[Item]:
    """The issues of a JSON-lines file. Gate definition lines (``{"gate": {...}}``, what ``jit
    export`` writes) are checked and appended to ``gates`` when a list is given."""
    items: list[Item] = []
    errors: list[tuple[int, str]] = []
    seen_gates: dict[str, int] = {}
    for n, obj in _lines(text, where):
        try:
            if isinstance(obj, _Bad):
                raise obj
            if isinstance(obj, dict) and "gate" in obj and "title" not in obj:
                g = make_gate(obj["gate"])
                if g.key in seen_gates:
                    raise _Bad(f"gate {g.key!r} is defined twice (first on line {seen_gates[g.key]})")
                seen_gates[g.key] = n
                if gates is not None:
                    gates.append(g)
                continue
            items.append(make_item(obj, n))
        except _Bad as e:
            errors.append((n, str(e)))
            if len(errors) >= _MAX_ERRORS:
                break
    if errors:
        raise _fail(where, errors)
    return items


_RUST_STATES = {"backlog": "open", "open": "open", "ready": "open", "in_progress": "in_progress",
                "gated": "in_progress", "done": "done", "rejected": "rejected", "archived": "archived"}


def read_rust_jit(path: str | os.PathLike[str]) -> tuple[list[Item], list[GateIn]]:
    """The Rust jit's ``.jit/`` directory (or a directory holding one): ``issues/<uuid>.json``,
    ``gates.json`` and the ``events.jsonl`` history (kept as ``imported_event`` events)."""
    root = Path(path)
    if (root / ".jit").is_dir():
        root = root / ".jit"
    if not (root / "issues").is_dir():
        raise UsageError(f"{path} holds no .jit/issues directory", hint="pass the Rust jit's .jit directory")
    errors: list[tuple[int, str]] = []
    items: list[Item] = []
    files = sorted((root / "issues").glob("*.json"))
    history: dict[str, list[dict[str, Any]]] = {}
    ev_path = root / "events.jsonl"
    if ev_path.is_file():
        for n, obj in _lines(ev_path.read_text(encoding="utf-8", errors="replace"), str(ev_path)):
            if isinstance(obj, dict) and isinstance(obj.get("issue_id"), str) and isinstance(obj.get("type"), str):
                data = {k: v for k, v in obj.items() if k not in ("id", "issue_id", "timestamp", "type")}
                history.setdefault(obj["issue_id"], []).append({
                    "timestamp": obj.get("timestamp"), "actor": obj.get("updated_by") or obj.get("assignee"),
                    "source_type": obj["type"], "data": data})
    for n, f in enumerate(files, 1):
        try:
            try:
                obj = json.loads(f.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise _Bad(f"not JSON ({str(e)[:80]})") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise _Bad("not a Rust jit issue (no id)")
            state = _RUST_STATES.get(str(obj.get("state", "backlog")))
            if state is None:
                raise _Bad(f"unknown state {obj.get('state')!r}")
            ctx = dict(obj.get("context") or {})
            ctx.setdefault("source_id", f"jit:{obj['id']}")
            if obj.get("documents"):
                ctx.setdefault("documents", obj["documents"])
            rec = {
                "key": obj["id"], "title": obj.get("title"), "description": obj.get("description") or "",
                "priority": obj.get("priority") or "normal", "state": state, "assignee": obj.get("assignee"),
                "labels": obj.get("labels") or [], "context": ctx,
                "gates": [{"key": k, **(obj.get("gates_status") or {}).get(k, {})}
                          for k in obj.get("gates_required") or []],
                "depends_on": obj.get("dependencies") or [],
                "created_at": obj.get("created_at"), "updated_at": obj.get("updated_at"),
            }
            it = make_item(rec, n)
            it.history = _history(history.get(obj["id"], []))
            items.append(it)
        except _Bad as e:
            errors.append((n, f"{f.name}: {e}"))
            if len(errors) >= _MAX_ERRORS:
                break
    gates: list[GateIn] = []
    gpath = root / "gates.json"
    if gpath.is_file() and not errors:
        try:
            reg = json.loads(gpath.read_text(encoding="utf-8")).get("gates") or {}
            for k, g in sorted(reg.items()):
                gates.append(GateIn(
                    key=_check(check_gate_key, k), title=_check(check_title, g.get("title") or k),
                    description=_check(check_description, g.get("description") or ""),
                    mode="auto" if g.get("mode") == "auto" else "manual",
                    stage="precheck" if g.get("stage") == "precheck" else "postcheck"))
        except (ValueError, AttributeError, _Bad) as e:
            raise ValidationError(f"{gpath}: {e}; nothing was imported") from None
    if errors:
        raise _fail(str(root / "issues"), errors)
    return items, gates


def _history(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for e in evs:
        try:
            ts = _ts(e.get("timestamp"), "timestamp")
        except _Bad:
            ts = None
        actor = e.get("actor") if isinstance(e.get("actor"), str) and e.get("actor") else None
        out.append({**e, "timestamp": ts, "actor": actor})
    return out


_BEADS_STATUS = {"open": "open", "in_progress": "in_progress", "blocked": "open", "deferred": "open",
                 "closed": "done", "pinned": "open", "hooked": "in_progress"}
_BEADS_PRIORITY = {0: "critical", 1: "high", 2: "normal", 3: "low", 4: "low"}
_BEADS_BLOCKING = ("blocks", "conditional-blocks", "waits-for")


def read_beads(text: str, where: str = "issues.jsonl") -> list[Item]:
    """A Beads ``issues.jsonl``. Blocking dependency types become dependencies; ``parent-child``
    becomes a ``parent:<id>`` label (in Beads a child is not waiting for its parent to finish);
    other links, the close reason and the external reference are kept in the context; design,
    acceptance criteria and notes are appended to the description; comments become history."""
    items: list[Item] = []
    errors: list[tuple[int, str]] = []
    for n, obj in _lines(text, where):
        try:
            if isinstance(obj, _Bad):
                raise obj
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
                raise _Bad("not a Beads issue (no id)")
            status = obj.get("status") or "open"
            if status == "tombstone":
                continue  # deleted in Beads
            state = _BEADS_STATUS.get(status, "open")
            labels = [_beads_label(lab) for lab in obj.get("labels") or [] if isinstance(lab, str) and lab.strip()]
            if status in ("blocked", "deferred", "pinned"):
                labels.append(f"status:{status}")
            if isinstance(obj.get("issue_type"), str) and obj["issue_type"]:
                labels.append(_beads_label(obj["issue_type"], "type"))
            deps: list[str] = []
            links: list[dict[str, str]] = []
            for d in obj.get("dependencies") or []:
                if not isinstance(d, dict) or not isinstance(d.get("depends_on_id"), str):
                    continue
                kind = d.get("type") or "blocks"
                if kind in _BEADS_BLOCKING:
                    deps.append(d["depends_on_id"])
                elif kind == "parent-child":
                    labels.append(_beads_label(d["depends_on_id"], "parent"))
                else:
                    links.append({"type": str(kind), "id": d["depends_on_id"]})
            desc = obj.get("description") or ""
            for k, head in (("design", "Design"), ("acceptance_criteria", "Acceptance criteria"),
                            ("notes", "Notes")):
                if isinstance(obj.get(k), str) and obj[k].strip():
                    desc += f"\n\n## {head}\n\n{obj[k]}"
            ctx: dict[str, Any] = {"source_id": f"beads:{obj['id']}"}
            for k in ("close_reason", "external_ref", "estimated_minutes", "due_at", "owner"):
                if obj.get(k) not in (None, ""):
                    ctx[k] = obj[k]
            if links:
                ctx["links"] = links
            prio = obj.get("priority", 2)
            rec = {
                "key": obj["id"], "title": obj.get("title"), "description": desc,
                "priority": _BEADS_PRIORITY.get(prio, "normal") if isinstance(prio, int) else prio,
                "state": state, "assignee": obj.get("assignee") or None, "labels": list(dict.fromkeys(labels)),
                "context": ctx, "depends_on": deps, "created_at": obj.get("created_at"),
                "updated_at": obj.get("updated_at"), "completed_at": obj.get("closed_at"),
                "created_by": obj.get("created_by") or None,
            }
            it = make_item(rec, n)
            it.history = _history([
                {"timestamp": c.get("created_at"), "actor": c.get("author"), "source_type": "comment",
                 "data": {"text": c.get("text", "")}}
                for c in obj.get("comments") or [] if isinstance(c, dict)])
            items.append(it)
        except _Bad as e:
            errors.append((n, str(e)))
            if len(errors) >= _MAX_ERRORS:
                break
    if errors:
        raise _fail(where, errors)
    return items


def _beads_label(value: str, ns: str = "tag") -> str:
    """Beads labels are free text; gitjit's are ``namespace:value``."""
    value = value.strip()
    if ":" in value and not value.startswith(":"):
        head, _, tail = value.partition(":")
        cand = f"{head}:{tail.replace(' ', '-')}"
        try:
            return check_label(cand)
        except GitjitError:
            pass
    v = "-".join(value.replace(":", "-").split()) or "x"
    return f"{ns}:{v}"


# ---------------------------------------------------------------------------------- planning

def _plan(tracker: Tracker, items: list[Item], where: str, actor: str, *, gates: Iterable[str] = (),
          skip_missing: list[dict[str, Any]] | None = None) -> dict[str, tuple[list[Event], bytes]]:
    """Resolve keys and dependencies, assign ids, build every event; raises before anything is written.
    ``gates``: keys the import defines. ``skip_missing``: a list to which each dependency naming an
    issue neither in the input nor in the repository is added (and dropped) instead of refused."""
    errors: list[tuple[int, str]] = []
    by_key: dict[str, Item] = {}
    for it in items:
        if it.key in by_key:
            errors.append((it.line, f"key {it.key!r} is used twice (first on line {by_key[it.key].line})"))
        by_key[it.key] = it
    b = tracker.board()
    taken: set[str] = set()
    for it in items:
        if it.id is not None:
            if it.id in b.all or it.id in taken:
                errors.append((it.line, f"issue {it.id} already exists"))
            taken.add(it.id)
    if errors:
        raise _fail(where, errors)
    for it in items:
        if it.id is None:
            while True:
                iid = new_issue_id()
                if iid not in taken and iid not in b.all:
                    break
            it.id = iid
            taken.add(iid)
    by_id = {it.id: it for it in items}
    resolved: dict[str, list[str]] = {}
    missing: list[tuple[int, str]] = []  # every dependency on an issue found nowhere (not capped)
    for it in items:
        out: list[str] = []
        for d in it.depends_on:
            if d in by_key:
                target = by_key[d].id
            elif d in by_id:
                target = d
            else:
                try:
                    target = tracker.resolve(d, b)
                except NotFoundError as e:
                    if skip_missing is not None:
                        skip_missing.append({"line": it.line, "key": it.key, "depends_on": d, "reason": e.message})
                    else:
                        missing.append((it.line, f"depends_on {d!r}: {e.message}"))
                    continue
                except GitjitError as e:
                    errors.append((it.line, f"depends_on {d!r}: {e.message}"))
                    continue
            if target == it.id:
                errors.append((it.line, "an issue cannot depend on itself"))
                continue
            if target not in out:
                out.append(target)  # type: ignore[arg-type]
        resolved[it.id] = out  # type: ignore[index]
        if len(errors) >= _MAX_ERRORS:
            break
    if errors or missing:
        raise _fail(where, sorted(errors + missing[:_MAX_ERRORS])[:_MAX_ERRORS], missing=len(missing))
    cyc = _find_cycle(resolved)
    if cyc is not None:
        keys = [by_id[i].key for i in cyc]
        raise CycleError(f"{where}: line {by_id[cyc[0]].line}: dependencies form a cycle: " + " -> ".join(keys)
                         + "; nothing was imported", details={"cycle": keys})
    for k in sorted({g for it in items for g in it.gates} - set(b.gate_defs) - set(gates)):
        tracker.store.warn(f"gate '{k}' is not in the registry; it is treated as a manual postcheck gate")
    plan: dict[str, tuple[list[Event], bytes]] = {}
    for it in items:
        try:
            evs = _events(it, resolved[it.id], actor)  # type: ignore[index]
            doc = _check_size(evs)
        except (_Bad, ValueError) as e:
            errors.append((it.line, str(e).splitlines()[0][:300]))
            if len(errors) >= _MAX_ERRORS:
                break
            continue
        plan[it.id] = (evs, doc)  # type: ignore[index]
    if errors:
        raise _fail(where, errors)
    return plan


def _find_cycle(adj: Mapping[str, list[str]]) -> list[str] | None:
    color: dict[str, int] = {}
    for root in adj:  # in file order: the cycle reported starts at its first line
        if color.get(root):
            continue
        stack = [(root, iter(adj.get(root, ())))]
        path = [root]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                path.pop()
                continue
            if nxt not in adj:
                continue
            c = color.get(nxt, 0)
            if c == 1:
                return path[path.index(nxt):] + [nxt]
            if c == 0:
                color[nxt] = 1
                stack.append((nxt, iter(adj.get(nxt, ()))))
                path.append(nxt)
    return None


def _events(it: Item, deps: list[str], actor: str) -> list[Event]:
    now = now_ts()
    created = it.created_at or now
    later = it.updated_at or created
    out: list[Event] = []

    def add(type_: str, ts: str, who: str | None = None, **payload: Any) -> None:
        out.append(Event.build(id=new_event_id(), type=type_, issue_id=it.id, clock=len(out) + 1, timestamp=ts,
                               actor=who or actor, **payload))

    add("issue_created", created, it.created_by, title=it.title, description=it.description, priority=it.priority,
        labels=it.labels, context=it.context, gates=list(it.gates))
    for d in deps:
        add("dependency_added", created, dependency=d)
    for k, g in it.gates.items():
        if g["status"] != "pending":
            add("gate_passed" if g["status"] == "passed" else "gate_failed", g["updated_at"] or later,
                gate_key=k, by=g["by"] or actor)
    if it.assignee is not None:
        if it.state == "in_progress":
            add("issue_claimed", it.claimed_at or later, assignee=it.assignee, nonce=new_event_id())
        else:
            add("issue_assigned", it.claimed_at or later, assignee=it.assignee)
    if it.state == "in_progress" and it.assignee is None:
        add("issue_state_changed", later, **{"from": "open", "to": "in_progress"})
    elif it.state in ("done", "rejected", "archived"):
        add("issue_state_changed", it.completed_at or later if it.state == "done" else later,
            **{"from": "open", "to": it.state})
        if it.state == "done":
            add("issue_completed", it.completed_at or later)
    for h in it.history:
        add("imported_event", h.get("timestamp") or created, h.get("actor") and _safe_actor(h["actor"]),
            source_type=str(h.get("source_type"))[:40], data=h.get("data") or {})
    return out


def _safe_actor(a: str) -> str | None:
    try:
        return check_actor(a)
    except GitjitError:
        return None


def _check_size(evs: list[Event]) -> bytes:
    """The events.jsonl document, checked against the limits every reader enforces."""
    from ..core.fold import json_depth, serialize_events

    for e in evs:  # imported history carries the source's data as it was: no reader may refuse it
        if e.type == "imported_event" and json_depth(e.to_json()) > LIMITS["json_depth"]:
            raise _Bad(f"the imported history holds data nested more than {LIMITS['json_depth']} levels deep")
    doc = serialize_events(evs)
    if len(doc) > LIMITS["events_blob"]:
        raise _Bad(f"the issue's events would take {len(doc)} bytes, over the {LIMITS['events_blob']}-byte limit")
    for line in doc.split(b"\n"):
        if len(line) > LIMITS["event_line"]:
            raise _Bad("one of the issue's events is over the per-event size limit")
    return doc


# ---------------------------------------------------------------------------------- writing

def _fast_import(common: Path, docs: list[tuple[str, bytes]], author: tuple[str, str], actor: str,
                 progress: Progress | None = None) -> dict[str, str]:
    """Write one commit per issue (tree: events.jsonl) into a single pack; no ref is touched
    (the temporary branch fast-import needs is reset to nothing at the end)."""
    from ..git import run as git_run

    stamp = int(time.time())
    ident = f"{author[0]} <{author[1]}> {stamp} +0000".encode()
    tmp = f"refs/jit-import/tmp-{os.getpid()}-{os.urandom(4).hex()}".encode()
    chunks: list[bytes] = []
    for n, (iid, doc) in enumerate(counted(docs, progress, "writing issues", len(docs)), 1):
        msg = f"import {iid}\n\nby {actor}".encode()
        chunks.append(b"reset %s\ncommit %s\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n%s\n"
                      b"M 100644 inline events.jsonl\ndata %d\n%s\n"
                      % (tmp, tmp, n, ident, ident, len(msg), msg, len(doc), doc))
    chunks.append(b"reset %s\nfrom %s\n\ndone\n" % (tmp, b"0" * 40))
    marks = common / "jit" / f"import-marks-{os.getpid()}"
    marks.parent.mkdir(parents=True, exist_ok=True)
    try:
        # --depth=0: no deltas. fast-import deltifies each blob against the one written before it,
        # another issue's log, in chains up to 50 deep that `git gc` keeps: reading one blob then
        # took libgit2 ~0.2-0.3 ms instead of ~0.015 ms, in every later write of the issue, for
        # ~11% less pack (docs/performance.md, "Seventh round")
        r = git_run.run(["fast-import", "--quiet", "--done", "--depth=0", f"--export-marks={marks}"],
                        git_dir=common, input=b"".join(chunks), text=False)
        if r.returncode != 0:
            raise ExternalError(f"git fast-import failed: {r.stderr.decode(errors='replace')[:500]}")
        got = dict(line.split(" ", 1) for line in marks.read_text().split("\n") if line)
    finally:
        marks.unlink(missing_ok=True)
    return {iid: got[f":{n}"].strip() for n, (iid, _) in enumerate(docs, 1)}


def _update_ref_stdin(common: Path, refs: Mapping[str, str]) -> None:
    from ..git import run as git_run

    stdin = "start\n" + "".join(f"create {r} {o}\n" for r, o in sorted(refs.items())) + "commit\n"
    r = git_run.run(["update-ref", "--stdin", "-m", "jit import"], git_dir=common, input=stdin.encode(), text=False)
    if r.returncode != 0:
        raise ExternalError(f"git update-ref failed, no ref was created: {r.stderr.decode(errors='replace')[:500]}")


def import_items(tracker: Tracker, items: list[Item], *, where: str, gates: Iterable[GateIn] = (),
                 by: str | None = None, dry_run: bool = False, skip_missing_deps: bool = False,
                 progress: Progress | None = None) -> dict[str, Any]:
    """Check everything, then write every issue (and the gate definitions it brings: those the
    registry does not hold yet; a definition already there is kept as it is). ``progress`` is told
    of each issue written (gitjit/core/progress.py)."""
    t0 = time.perf_counter()
    tracker._ensure_init()
    actor = tracker.actor(by)
    gates = list(gates)
    skipped: list[dict[str, Any]] | None = [] if skip_missing_deps else None
    plan = _plan(tracker, items, where, actor, gates=[g.key for g in gates], skip_missing=skipped)
    defined = tracker.board().gate_defs
    new_gates = [g.key for g in gates if g.key not in defined]
    result: dict[str, Any] = {"format": None, "file": where, "count": len(plan), "dry_run": dry_run,
                              "gates_defined": new_gates if dry_run else [], "ids": {it.key: it.id for it in items},
                              "skipped_dependencies": skipped or []}
    if dry_run:
        return result
    for g in gates:
        if g.key in new_gates:
            tracker.registry_add(g.key, title=g.title, description=g.description, mode=g.mode, stage=g.stage, by=by)
            result["gates_defined"].append(g.key)
    if plan:
        docs = [(iid, doc) for iid, (_, doc) in plan.items()]
        common = Path(tracker.git.common_dir)
        tips = _fast_import(common, docs, tracker._author(actor), actor, progress)
        refs = {ISSUES + iid: tip for iid, tip in tips.items()}
        if len(refs) >= PACKED_WRITE_MIN:
            add_packed_refs(common, refs)
        else:
            _update_ref_stdin(common, refs)
        for iid, tip in tips.items():  # the index folds these without reading git again
            tracker.store.remember(ISSUES + iid, tip, tuple(sorted(plan[iid][0], key=Event.sort_key)))
    tracker._board = None
    tracker.board()  # bring the index in step now rather than on the next command
    result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def import_file(tracker: Tracker, path: str, fmt: str = "jsonl", *, by: str | None = None,
                dry_run: bool = False, stdin_text: str | None = None,
                skip_missing_deps: bool = False, progress: Progress | None = None) -> dict[str, Any]:
    if fmt not in FORMATS:
        raise UsageError(f"unknown import format {fmt!r}", hint="use jsonl, rust-jit or beads")
    gates: list[GateIn] = []
    if fmt == "rust-jit":
        items, gates = read_rust_jit(path)
    else:
        if path == "-":
            text = stdin_text or ""
        else:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except FileNotFoundError:
                raise NotFoundError(f"no such file: {path}") from None
            except UnicodeDecodeError as e:
                raise ValidationError(f"{path}: not UTF-8 ({e.reason} at byte {e.start}); nothing was imported") \
                    from None
        items = read_jsonl(text, path, gates=gates) if fmt == "jsonl" else read_beads(text, path)
    res = import_items(tracker, items, where=path, gates=gates, by=by, dry_run=dry_run,
                       skip_missing_deps=skip_missing_deps, progress=progress)
    res["format"] = fmt
    return res


# ---------------------------------------------------------------------------------- export

def export_lines(tracker: GateOps, *, gates: bool = True, progress: Progress | None = None) -> Iterator[str]:
    """One JSON line per gate definition of the registry (by key; ``gates=False`` leaves them
    out), then one per issue, oldest first: the format ``jit import --format jsonl`` reads. A
    gate's checker command is local configuration and is not exported. ``progress`` is told of
    each issue exported (gitjit/core/progress.py)."""
    if gates:
        for g in tracker.registry_list()["gates"]:
            gate = {"key": g["key"], "title": g["title"], "description": g["description"], "mode": g["mode"],
                    "stage": g["stage"]}
            yield json.dumps({"gate": gate}, ensure_ascii=False, separators=(",", ":"))
    data = tracker.query("all")["issues"]
    data.sort(key=lambda i: (i["created_at"], i["id"]))
    for i in counted(data, progress, "exporting issues", len(data)):
        rec: dict[str, Any] = {
            "key": i["id"], "id": i["id"], "title": i["title"], "description": i["description"],
            "priority": i["priority"], "state": i["state"], "assignee": i["assignee"], "labels": i["labels"],
            "context": i["context"], "gates": [g["key"] for g in i["gates"]],
            "gate_status": {g["key"]: {"status": g["status"], "by": g["by"], "updated_at": g["updated_at"]}
                            for g in i["gates"] if g["status"] != "pending"},
            "depends_on": i["dependencies"], "created_at": i["created_at"], "created_by": i.get("created_by"),
            "updated_at": i["updated_at"], "claimed_at": i.get("claimed_at"), "completed_at": i.get("completed_at"),
        }
        yield json.dumps(rec, ensure_ascii=False, separators=(",", ":"))
