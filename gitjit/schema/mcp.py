"""The tools of ``jit mcp`` (gitjit/mcp/): what each takes and what it answers.

A tool's arguments arrive as JSON from an MCP client, a trust edge like an import line: each
tool's input model checks them (types, sizes, no unknown key) before the Tracker sees them, and
``parse`` turns a refusal into the ``UsageError`` the CLI would raise. The outputs are the
``--json`` shapes of the matching commands (gitjit/schema/outputs.py, commands.py), except three
that only MCP has: ``ready``'s short listing, ``events``' page with its cursor, and the error.
docs/mcp.md lists every tool.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import UsageError
from . import commands as c
from . import outputs as o
from .base import PydanticError, Shape, describe
from .events import PrintedEvent

__all__ = ["TOOLS", "EventsPage", "ReadyList", "Tool", "ToolErrorOutput", "input_schema", "output_schema", "parse"]

Repo = Annotated[str | None, Field(None, description="which repository (a path or directory name given to "
                                                     "'jit mcp --repo'); optional when the server serves one")]
IssueRef = Annotated[str, Field(min_length=1, max_length=64, description="an issue id or a unique prefix of it")]
Actor = Annotated[str | None, Field(None, max_length=200, description="who takes it (default: the server's actor)")]
GateKey = Annotated[str, Field(min_length=1, max_length=64, description="a gate key, e.g. review")]
Reason = Annotated[str | None, Field(None, max_length=2000, description="why (recorded with the result)")]
Labels = Annotated[list[Annotated[str, Field(max_length=128)]], Field(default_factory=list, max_length=64,
                                                                       description="namespace:value strings")]
Ids = Annotated[list[IssueRef], Field(default_factory=list, max_length=256)]


class Input(BaseModel):
    """A tool's arguments: JSON types as they are (``"5"`` is not ``5``), no key the tool does not know."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    repo: Repo


class ReadyIn(Input):
    limit: int = Field(20, ge=1, le=1000, description="at most this many issues, first to claim first")


class ShowIn(Input):
    id: IssueRef


class CreateIn(Input):
    title: str = Field(min_length=1, max_length=500)
    description: str = Field("", max_length=65536)
    priority: Literal["low", "normal", "high", "critical"] = "normal"
    labels: Labels
    gates: list[GateKey] = Field(default_factory=list, max_length=64, description="gate keys that must pass "
                                                                                  "before done")
    depends_on: Ids = Field(default_factory=list, max_length=256, description="issues this one waits for")
    context: dict[str, Any] = Field(default_factory=dict, description="free-form JSON values by key")


class UpdateIn(Input):
    id: IssueRef
    title: str | None = Field(None, min_length=1, max_length=500)
    description: str | None = Field(None, max_length=65536)
    priority: Literal["low", "normal", "high", "critical"] | None = None
    labels_add: Labels
    labels_remove: Labels
    context: dict[str, Any] = Field(default_factory=dict, description="keys to set (JSON values)")
    context_unset: list[Annotated[str, Field(max_length=128)]] = Field(default_factory=list, max_length=64)


class ClaimNextIn(Input):
    assignee: Actor
    filter: str | None = Field(None, max_length=500, description="as 'jit issue claim-next --filter', "
                                                                 "e.g. label:team:core,priority:high")


class ClaimIn(Input):
    id: IssueRef
    assignee: Actor


class ReleaseIn(Input):
    id: IssueRef
    reason: str = Field(min_length=1, max_length=2000, description="why the work is given back")


class SetStateIn(Input):
    id: IssueRef
    state: Literal["open", "ready", "in_progress", "done", "rejected", "archived"]


class GateIn(Input):
    id: IssueRef
    gate: GateKey
    reason: Reason


class GateRunIn(Input):
    id: IssueRef
    gate: GateKey
    timeout: float = Field(600, gt=0, le=86400, description="seconds before the checker is stopped (a fail)")


class DepIn(Input):
    id: IssueRef = Field(description="the dependent issue")
    depends_on: list[IssueRef] = Field(min_length=1, max_length=256, description="the issues it (no longer) waits for")


class StatusIn(Input):
    pass


class EventsIn(Input):
    since: str | None = Field(None, max_length=64, description="a cursor a previous call returned: only what landed "
                                                               "since; without it, the newest events")
    limit: int = Field(50, ge=1, le=1000, description="without a cursor: at most this many, the newest")


# ----------------------------------------------------------------------------- outputs only MCP has

# Few keys, plain types, no pattern and no reference (``output_schema`` inlines it): the MCP client
# checks every issue of a page against this schema and each key costs it time (jsonschema, a page
# of 20: ~1.6 ms of the client's CPU with the 10 keys of an issue listing, ~0.4 ms with these 5).
# ``state`` would always be ``ready`` and ``assignee`` null here.
class ReadyIssue(Shape):
    """One ready issue: what an agent picks work by (``show`` has the rest: description,
    dependencies, context, times)."""

    id: str = Field(description="the issue's id, 12 lowercase hex digits (any unique prefix of it is "
                                "accepted where an id is asked for)")
    title: str
    priority: o.Priority
    labels: list[str] = Field(description="namespace:value strings")
    gates: list[str] = Field(description="the gate keys it requires, in the order they were added")


class ReadyList(Shape):
    """``ready``: the ready issues, first to claim first (priority, then oldest), the fields an agent
    needs to pick one (``show`` has the rest)."""

    issues: list[ReadyIssue]
    count: int
    more: bool = Field(description="true when more issues are ready than the limit let through")


class EventsPage(Shape):
    """``events``: events oldest first, and the cursor to pass as ``since`` next time."""

    events: list[PrintedEvent]
    cursor: str


class ToolErrorOutput(Shape):
    """A refused or failed tool call (``isError``): the CLI's error object, and its exit code."""

    error: o.ErrorBody
    exit_code: int = Field(description="what the 'jit' command would have exited with (docs/cli.md)")


class Tool:
    """One tool: its name, one-line description, input model and output model."""

    def __init__(self, name: str, description: str, inp: type[Input], out: type[BaseModel]) -> None:
        self.name, self.description, self.input, self.output = name, description, inp, out


TOOLS: dict[str, Tool] = {t.name: t for t in [
    Tool("ready", "List the issues ready to start, first to claim first (id, title, priority, labels, gates).",
         ReadyIn, ReadyList),
    Tool("show", "Show one issue in full: state, gates, blockers, dependencies, context.", ShowIn, o.Issue),
    Tool("create", "Create an issue, optionally with gates it must pass and issues it depends on.", CreateIn, o.Issue),
    Tool("update", "Change an issue's title, description, priority, labels or context.", UpdateIn, o.Issue),
    Tool("claim_next", "Claim the first ready issue this agent can win (exactly one racing claimer wins).",
         ClaimNextIn, o.Issue),
    Tool("claim", "Claim one ready issue by id (exactly one racing claimer wins).", ClaimIn, o.Issue),
    Tool("release", "Give a claimed issue back, with the reason.", ReleaseIn, o.Issue),
    Tool("set_state", "Move an issue to a state; done is refused until every gate has passed.", SetStateIn, o.Issue),
    Tool("gate_pass", "Record that a gate of an issue passed.", GateIn, c.GateResult),
    Tool("gate_fail", "Record that a gate of an issue failed, with the reason.", GateIn, c.GateResult),
    Tool("gate_run", "Run a gate's configured checker command and record pass or fail.", GateRunIn, c.GateRun),
    Tool("dep_add", "Make an issue depend on others (a cycle is refused).", DepIn, c.DepAdded),
    Tool("dep_remove", "Remove dependencies of an issue.", DepIn, c.DepRemoved),
    Tool("status", "Counts by state, who holds what, parked issues, recent completions, conflicts.", StatusIn,
         o.Status),
    Tool("events", "Events that landed since a cursor (without one: the newest), and the next cursor.", EventsIn,
         EventsPage),
]}


def parse(name: str, args: Any) -> Input:
    """A tool's arguments, checked; a refusal is the ``UsageError`` (exit 2) the CLI raises for bad input."""
    tool = TOOLS[name]
    try:
        return tool.input.model_validate(args if args is not None else {})
    except PydanticError as e:
        raise UsageError(f"bad arguments for {name}: {describe(e)}",
                         hint=f"see the tool's input schema (tools/list); e.g. {_example(name)}",
                         details={"tool": name, "problems": [
                             {"at": ".".join(str(x) for x in err["loc"]), "problem": str(err["msg"])}
                             for err in e.errors()][:20]}) from None


def _example(name: str) -> str:
    req = [k for k, f in TOOLS[name].input.model_fields.items() if f.is_required()]
    return "{" + ", ".join(f'"{k}": ...' for k in req) + "}"


def _schema(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
    doc = model.model_json_schema(mode=mode, by_alias=True)
    doc.pop("title", None)
    return doc


def input_schema(name: str) -> dict[str, Any]:
    return _schema(TOOLS[name].input, "validation")


def output_schema(name: str) -> dict[str, Any]:
    doc = _schema(TOOLS[name].output, "serialization")
    return _inline(doc) if name == "ready" else doc


def _inline(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with each ``{"$ref": "#/$defs/X"}`` replaced by X itself (the models it names are not
    recursive): a client's validator then follows no reference per item of a list."""
    defs = doc.pop("$defs", {})

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            ref = x.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and len(x) == 1:
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return walk(doc)
