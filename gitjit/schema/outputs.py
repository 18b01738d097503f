"""The ``--json`` shapes of the issue commands, the listings, ``status``, the graph, the event log
and the error object (docs/json.md describes each one under its name here)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, RootModel

from .base import Shape
from .events import PrintedEvent

__all__ = [
    "ErrorOutput",
    "Events",
    "GraphExport",
    "GraphExportWritten",
    "GraphTrees",
    "Issue",
    "IssueArray",
    "IssueDeleted",
    "IssueList",
    "IssueSearch",
    "IssueWalk",
    "ListedIssue",
    "Status",
]

Id = Annotated[str, Field(description="12 lowercase hex digits", pattern=r"^[0-9a-f]{12}$")]
Time = Annotated[str, Field(description="UTC, ISO 8601 with microseconds and an explicit +00:00 offset")]
EffectiveState = Literal["open", "ready", "in_progress", "done", "rejected", "archived"]
Priority = Literal["low", "normal", "high", "critical"]
GateStatus = Literal["pending", "passed", "failed"]
Stage = Literal["precheck", "postcheck"]


class ListedGate(Shape):
    """A gate on an issue in a list: its recorded status and its registry definition."""

    key: str
    status: GateStatus
    by: str | None = Field(description="who passed or failed it")
    updated_at: Time | None
    reason: str | None = Field(description="the reason recorded with the result (gate fail --reason, a "
                               "checker's exit N), or null")
    title: str = Field(description="from the registry (the key when it is not defined)")
    mode: Literal["manual", "auto"]
    stage: Stage
    defined: bool = Field(description="false when the registry does not know the key (a manual postcheck gate)")


class Gate(ListedGate):
    """A gate on one issue's JSON: also whether the local gate policy counts its pass."""

    trusted: bool = Field(description="false when the local policy does not count the pass (docs/reliability.md)")
    note: str | None = Field(description="why it is not trusted, or null")


class Conflict(Shape):
    """A true conflict the fold resolved deterministically (two claims made offline, ...)."""

    type: str = Field(description="claim, claim_after_close, edit_after_delete, duplicate_event, gate or field")
    event_id: str
    actor: str | None
    winner: str | None
    detail: str
    timestamp: Time | None


class DependencyBlocker(Shape):
    type: Literal["dependency"]
    issue_id: str
    title: str
    state: EffectiveState


class GateBlocker(Shape):
    type: Literal["gate"]
    gate_key: str
    status: GateStatus
    stage: Stage


class MissingBlocker(Shape):
    type: Literal["missing_dependency"]
    issue_id: str = Field(description="an id this clone does not hold (yet)")
    detail: str


class ParkedBlocker(Shape):
    """Set by ``jit issue park`` or a dispatcher after too many failed runs in a row; first when present."""

    type: Literal["parked"]
    reason: str
    by: str | None = Field(description="who parked it")
    since: Time | None


Blocker = Annotated[DependencyBlocker | GateBlocker | MissingBlocker | ParkedBlocker, Field(discriminator="type")]


class _IssueFields(Shape):
    id: Id
    short_id: str = Field(description="the first 8 digits of the id")
    title: str
    description: str
    state: EffectiveState | Literal["deleted"] = Field(
        description="the effective state; 'deleted' only through event history")
    priority: Priority
    assignee: str | None
    dependencies: list[str] = Field(description="ids this issue depends on (edges to deleted issues left out)")
    context: dict[str, Any] = Field(description="free-form JSON values by key")
    labels: list[str] = Field(description="namespace:value strings")
    created_at: Time
    updated_at: Time
    created_by: str | None
    claimed_at: Time | None
    completed_at: Time | None
    commits: list[str] = Field(description="code commits linked to the issue")
    conflicts: list[Conflict]
    blocked_reasons: list[Blocker] = Field(description="why it cannot start; empty when nothing blocks it")


class ListedIssue(_IssueFields):
    """An issue as every list prints it."""

    gates: list[ListedGate] = Field(description="in the order they were added")


class Issue(_IssueFields):
    """One issue: what ``issue create|show|update|assign|unassign|claim|claim-next|release|reject`` print."""

    gates: list[Gate] = Field(description="in the order they were added")


class IssueArray(RootModel[list[Issue]]):
    """``issue show ID1 ID2 ...``: one issue object per id, in the order given."""


class IssueList(Shape):
    """``issue list``, ``query ready|available|blocked|assignee|state|priority|all``, ``graph roots``: critical
    first, then oldest first, then by id."""

    issues: list[ListedIssue]
    count: int


class IssueSearch(IssueList):
    """``issue search TEXT``."""

    query: str


class IssueWalk(IssueList):
    """``graph deps`` and ``graph downstream``: the issues reached from ``issue_id``, nearest first."""

    issue_id: Id


class IssueDeleted(Shape):
    """``issue delete``."""

    id: Id
    deleted: Literal[True]


class Completion(Shape):
    id: Id
    title: str
    completed_at: Time | None


class Holding(Shape):
    id: Id
    title: str
    state: EffectiveState
    since: str = Field(description="when the claim started (empty if the issue was assigned without a claim)")


class ParkedIssue(Shape):
    id: Id
    title: str
    reason: str
    by: str | None
    since: Time | None


class StatusConflict(Shape):
    """A conflict of ``Conflict``'s shape, or a cycle a merge created and the graph broke."""

    issue_id: Id
    type: str
    event_id: str = Field(description="empty for a cycle")
    detail: str
    actor: str | None = None
    winner: str | None = None
    timestamp: Time | None = None


class Status(Shape):
    """``status``: counts per effective state (they add up to ``total``), blocked work, the 5 most
    recent completions, who holds what, the parked issues, and conflicts."""

    open: int
    ready: int
    in_progress: int
    done: int
    rejected: int
    archived: int
    blocked: int
    total: int
    recent_completions: list[Completion]
    assignments: dict[str, list[Holding]] = Field(description="holder -> the unfinished issues they hold")
    parked: list[ParkedIssue] = Field(description="parked issues, critical first, then oldest: they count in "
                                      "blocked too and start again only after 'jit issue unpark ID'")
    conflicts: list[StatusConflict]


class TreeNode(Shape):
    id: Id
    short_id: str
    title: str
    state: EffectiveState
    priority: Priority
    assignee: str | None
    children: list[TreeNode] = Field(description="empty when the node is repeated or continued")
    repeated: Literal[True] | None = Field(None, description="present when this issue's subtree is drawn earlier")
    continued: Literal[True] | None = Field(None, description="present on a node 32 levels below its root whose "
                                            "subtree follows as a tree of its own")
    continuation: Literal[True] | None = Field(None, description="present on the root of such a tree")


class BrokenEdge(Shape):
    from_: Id = Field(alias="from")
    to: Id
    cycle: list[Id]


class GraphTrees(Shape):
    """``graph show [ID]``: dependency trees; each subtree drawn once."""

    trees: list[TreeNode]
    broken_edges: list[BrokenEdge] = Field(description="edges ignored because a merge closed a cycle with them")


class GraphNode(Shape):
    id: Id
    short_id: str
    title: str
    state: EffectiveState
    priority: Priority
    labels: list[str]


class GraphEdge(Shape):
    from_: Id = Field(alias="from", description="the dependent")
    to: Id = Field(description="the dependency")


class GraphExport(Shape):
    """``graph export --format json`` (or ``--json`` without ``-o``)."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]


class GraphExportWritten(Shape):
    """``graph export -o FILE --json``: the file is in ``--format``."""

    written: str
    format: Literal["dot", "mermaid", "json"]
    nodes: int
    edges: int


class Events(RootModel[list[PrintedEvent]]):
    """``events tail|query``: an array of events, oldest first (``tail --follow --json`` prints the
    same objects one per line)."""


class ErrorBody(Shape):
    code: Literal["INVALID_ARGUMENT", "AMBIGUOUS_ID", "NOT_FOUND", "BLOCKED", "CYCLE_DETECTED",
                  "VALIDATION_FAILED", "UNTRUSTED_CONFIG", "ALREADY_EXISTS", "ALREADY_CLAIMED", "NO_WORK", "BUSY",
                  "EXTERNAL_FAILURE", "INVALID_CONFIG", "HOOK_STOPPED", "ERROR"] = Field(description="a stable machine name")
    message: str = Field(description="what was wrong, in one line")
    details: dict[str, Any] = Field(description="an object, possibly empty")
    hint: str | None = Field(description="the next step, such as the command to run")


class ErrorOutput(Shape):
    """Under ``--json``, a refused or failed command prints this one object on stdout and exits
    with the code docs/cli.md lists."""

    error: ErrorBody
