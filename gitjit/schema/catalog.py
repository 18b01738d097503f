"""Every model of record by name, the JSON Schema of each, and which command prints which shape.

``jit schema`` lists the names; ``jit schema NAME`` prints the JSON Schema (draft 2020-12)
generated from the model. tests/conftest.py validates every ``--json`` output the test suite
produces against the shapes ``shapes_of`` names for its command, and tests/test_schema.py checks
docs/json.md against this catalog.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from . import board as bd
from . import commands as c
from . import outputs as o
from . import seedcmds as sc
from .base import PydanticError
from .dispatch import DispatchFile
from .events import IssueStateDoc, PrintedEvent, RemoteEvent, StoredEvent, WebhookPayload
from .inputs import Context, ImportFileLine, ImportGateLine, ImportLine

__all__ = ["COMMANDS", "LINES", "SCHEMAS", "adapter", "command_of", "json_schema", "shapes_of", "validate_output"]

#: name -> (model, "output" | "input" | "stored")
SCHEMAS: dict[str, tuple[Any, str]] = {
    # one issue, and the lists of issues
    "issue": (o.Issue, "output"),
    "issue-array": (o.IssueArray, "output"),
    "issue-list": (o.IssueList, "output"),
    "issue-search": (o.IssueSearch, "output"),
    "issue-walk": (o.IssueWalk, "output"),
    "issue-deleted": (o.IssueDeleted, "output"),
    "status": (o.Status, "output"),
    "events": (o.Events, "output"),
    "event": (PrintedEvent, "output"),
    "graph-trees": (o.GraphTrees, "output"),
    "graph-export": (o.GraphExport, "output"),
    "graph-export-written": (o.GraphExportWritten, "output"),
    "dep-added": (c.DepAdded, "output"),
    "dep-removed": (c.DepRemoved, "output"),
    "gate-added": (c.GateAdded, "output"),
    "gate-removed": (c.GateRemoved, "output"),
    "gate-result": (c.GateResult, "output"),
    "gate-run": (c.GateRun, "output"),
    "gate-definition": (c.GateDefinition, "output"),
    "gate-definitions": (c.GateDefinitions, "output"),
    "gate-definition-removed": (c.GateDefinitionRemoved, "output"),
    "trust": (c.Trust, "output"),
    "init": (c.Init, "output"),
    "config-setting": (c.ConfigSetting, "output"),
    "pull": (c.Pull, "output"),
    "push": (c.Push, "output"),
    "sync": (c.Sync, "output"),
    "refspec-added": (c.RefspecAdded, "output"),
    "refspec-removed": (c.RefspecRemoved, "output"),
    "hooks-installed": (c.HooksInstalled, "output"),
    "hooks-uninstalled": (c.HooksUninstalled, "output"),
    "hooks-status": (c.HooksStatus, "output"),
    "doctor": (c.Doctor, "output"),
    "imported": (c.Imported, "output"),
    "export-written": (c.ExportWritten, "output"),
    "index-rebuilt": (c.IndexRebuilt, "output"),
    "index-status": (c.IndexStatus, "output"),
    "demo": (c.Demo, "output"),
    "dispatch-config-written": (c.DispatchConfigWritten, "output"),
    "dispatch-log": (c.DispatchLog, "output"),
    "dispatch-started": (c.DispatchStarted, "output"),
    "dispatch-stopped": (c.DispatchStopped, "output"),
    "dispatch-status": (c.DispatchStatus, "output"),
    "dispatch-agents": (c.DispatchAgents, "output"),
    "dispatch-agent-added": (c.DispatchAgentAdded, "output"),
    "dispatch-agent-removed": (c.DispatchAgentRemoved, "output"),
    "dispatch-agent-reset": (c.DispatchAgentReset, "output"),
    "schema-list": (c.SchemaList, "output"),
    "issue-breakdown": (sc.IssueBreakdown, "output"),
    "doc-added": (sc.DocAdded, "output"),
    "doc-list": (sc.DocList, "output"),
    "doc-links": (sc.DocLinks, "output"),
    "doc-archived": (sc.DocArchived, "output"),
    "snapshot-written": (sc.SnapshotWritten, "output"),
    "snapshot-verified": (sc.SnapshotVerified, "output"),
    "validate": (sc.Validate, "output"),
    "prime": (c.Prime, "output"),
    "setup": (c.SetupResult, "output"),
    "error": (o.ErrorOutput, "output"),
    # the web board's own answers (jit serve; docs/board.md)
    "board-columns": (bd.BoardColumns, "output"),
    "board-graph": (bd.BoardGraph, "output"),
    "board-next": (bd.BoardNextUp, "output"),
    # what comes in
    "stored-event": (StoredEvent, "input"),
    "remote-event": (RemoteEvent, "input"),
    "import-line": (ImportLine, "input"),
    "import-gate-line": (ImportGateLine, "input"),
    "import-file-line": (ImportFileLine, "input"),
    "context": (Context, "input"),
    "dispatch-config": (DispatchFile, "input"),
    "webhook-payload": (WebhookPayload, "input"),
    # what gitjit keeps for itself
    "issue-state": (IssueStateDoc, "stored"),
}

#: command path -> the shapes its ``--json`` output may take (one JSON document)
COMMANDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("init",): ("init",),
    ("status",): ("status",),
    **{("issue", v): ("issue",) for v in ("create", "update", "assign", "unassign", "claim", "claim-next",
                                           "release", "reject")},
    ("issue", "breakdown"): ("issue-breakdown",),
    ("issue", "show"): ("issue", "issue-array"),
    ("issue", "list"): ("issue-list",),
    ("issue", "search"): ("issue-search",),
    ("issue", "delete"): ("issue-deleted",),
    ("query",): ("issue-list",),
    ("graph", "roots"): ("issue-list",),
    ("graph", "deps"): ("issue-walk",),
    ("graph", "downstream"): ("issue-walk",),
    ("graph", "show"): ("graph-trees",),
    ("graph", "export"): ("graph-export", "graph-export-written"),
    ("events",): ("events",),
    ("dep", "add"): ("dep-added",),
    ("dep", "rm"): ("dep-removed",),
    ("gate", "add"): ("gate-added",),
    ("gate", "remove"): ("gate-removed",),
    ("gate", "pass"): ("gate-result",),
    ("gate", "fail"): ("gate-result",),
    ("gate", "run"): ("gate-run",),
    ("registry", "add"): ("gate-definition",),
    ("gate", "define"): ("gate-definition",),
    ("registry", "show"): ("gate-definition",),
    ("registry", "list"): ("gate-definitions",),
    ("registry", "remove"): ("gate-definition-removed",),
    ("trust",): ("trust",),
    ("config",): ("config-setting",),
    ("pull",): ("pull",),
    ("push",): ("push",),
    ("sync",): ("sync",),
    ("remote", "add-refspecs"): ("refspec-added",),
    ("remote", "remove-refspecs"): ("refspec-removed",),
    ("hooks", "install"): ("hooks-installed",),
    ("hooks", "uninstall"): ("hooks-uninstalled",),
    ("hooks", "status"): ("hooks-status",),
    ("doctor",): ("doctor",),
    ("fsck",): ("doctor",),
    ("import",): ("imported",),
    ("export",): ("export-written",),
    ("index", "rebuild"): ("index-rebuilt",),
    ("index", "status"): ("index-status",),
    ("demo",): ("demo",),
    ("schema",): ("schema-list",),
    ("doc", "add"): ("doc-added",),
    ("doc", "list"): ("doc-list",),
    ("doc", "check-links"): ("doc-links",),
    ("doc", "archive"): ("doc-archived",),
    ("snapshot", "export"): ("snapshot-written",),
    ("snapshot", "verify"): ("snapshot-verified",),
    ("validate",): ("validate",),
    ("prime",): ("prime",),
    ("setup",): ("setup",),
    ("dispatch", "init-config"): ("dispatch-config-written",),
    ("dispatch", "start"): ("dispatch-started",),
    ("dispatch", "stop"): ("dispatch-stopped",),
    ("dispatch", "status"): ("dispatch-status",),
    ("dispatch", "agents"): ("dispatch-agents",),
    ("dispatch", "agent", "add"): ("dispatch-agent-added",),
    ("dispatch", "agent", "remove"): ("dispatch-agent-removed",),
    ("dispatch", "agent", "reset"): ("dispatch-agent-reset",),
    # seeds 002/004: each runs the matching jit-dispatch command (gitjit/cli/coordinator.py)
    ("coordinator", "init-config"): ("dispatch-config-written",),
    ("coordinator", "start"): ("dispatch-started",),
    ("coordinator", "stop"): ("dispatch-stopped",),
    ("coordinator", "status"): ("dispatch-status",),
    ("coordinator", "agents"): ("dispatch-agents",),
}

#: commands that may print one JSON document per line instead, and the shape of each line
LINES: dict[tuple[str, ...], str] = {
    ("events", "tail"): "event",  # --follow
    ("export",): "import-file-line",  # without -o: the gate definitions, then the issues, as import lines
    ("dispatch", "once"): "dispatch-log",
    ("dispatch", "start"): "dispatch-log",  # in the foreground
}

#: the front door's command names that stand for another (gitjit/cli/__init__.py)
ALIASES = {"dependency": "dep", "list": "issue", "document": "doc"}
#: global options that take a value (``jit --repo PATH ...``, ``jit-dispatch -c PATH ...``)
_VALUED = frozenset({"--repo", "--by", "-c", "--config", "-r"})


def command_of(argv: Sequence[str]) -> tuple[str, ...]:
    """The command path of a ``jit`` argument list: its words, options and their values left out."""
    words: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
        elif a in _VALUED:
            skip = True
        elif a == "--":
            break
        elif not a.startswith("-"):
            words.append(ALIASES.get(a, a) if not words else a)
    return tuple(words)


def _longest(table: dict[tuple[str, ...], Any], path: tuple[str, ...]) -> Any:
    for n in range(len(path), 0, -1):
        if path[:n] in table:
            return table[path[:n]]
    return None


def shapes_of(argv: Sequence[str]) -> tuple[tuple[str, ...], str | None]:
    """The shapes one JSON document of this command's output may take, and the shape of a line
    when it prints JSON lines. ``((), None)``: the command prints no JSON of its own."""
    path = command_of(argv)
    if not path and "--schema" in argv:  # the seed's top-level flag: what ``jit schema --json`` prints
        return ("schema-list",), None
    if path[:1] == ("schema",) and len(path) > 1:
        return ("json-schema",), None
    return _longest(COMMANDS, path) or (), _longest(LINES, path)


@cache
def adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(SCHEMAS[name][0])


def json_schema(name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``name``, generated from its model."""
    kind = SCHEMAS[name][1]
    doc = adapter(name).json_schema(mode="validation" if kind == "input" else "serialization", by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": f"gitjit:{name}",
            "title": doc.pop("title", name), **doc}


def description(name: str) -> str:
    """The first paragraph of the model's docstring, in one line."""
    doc = (SCHEMAS[name][0].__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split()).replace("``", "`")


def validate_output(argv: Sequence[str], text: str) -> list[str]:
    """Check what a ``jit ... --json`` run printed on stdout against the schemas of its command:
    one JSON document, or (for the commands that print lines) one per line; an error object
    always matches ``error``. Returns the problems (empty: valid). For the test suite."""
    shapes, line_shape = shapes_of(argv)
    if not text.strip():
        return []
    try:
        docs = [json.loads(text)]
        names = shapes
    except ValueError:
        if line_shape is None:
            return [f"{' '.join(command_of(argv))}: stdout is not one JSON document: {text[:200]!r}"]
        try:
            docs = [json.loads(line) for line in text.splitlines() if line.strip()]
        except ValueError as e:
            return [f"{' '.join(command_of(argv))}: a line is not JSON ({e}): {text[:200]!r}"]
        names = (line_shape,)
    out = []
    for doc in docs:
        tried = ("error",) if isinstance(doc, dict) and list(doc) == ["error"] else (
            names + ((line_shape,) if line_shape and names != (line_shape,) else ()))
        if not tried:
            out.append(f"{' '.join(command_of(argv)) or '(none)'}: no schema names this command's output")
            continue
        errs = []
        for n in tried:
            try:
                if n == "json-schema":  # what ``jit schema NAME`` prints
                    if not (isinstance(doc, dict) and "$schema" in doc):
                        raise ValueError("not a JSON Schema document")
                else:
                    adapter(n).validate_python(doc)
                break
            except (PydanticError, ValueError) as e:
                errs.append(f"{n}: {e}")
        else:
            out.append(f"{' '.join(command_of(argv))}: the output matches none of {', '.join(tried)}:\n"
                       + "\n".join(errs) + f"\noutput: {json.dumps(doc)[:1500]}")
    return out
