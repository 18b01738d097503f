"""The web board's own JSON shapes (``jit serve``, docs/board.md): the columns of the board and the
laid-out dependency graph. Its other answers are the CLI's ``--json`` shapes (outputs.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Shape
from .outputs import EffectiveState, Id, ListedIssue, Priority

__all__ = ["BoardColumns", "BoardGraph", "BoardNextUp"]


Column = Literal["ready", "in_progress", "gated", "blocked", "done", "rejected", "archived"]


class BoardColumn(Shape):
    name: Column
    state: EffectiveState = Field(description="the effective state of its issues (gated and blocked: open)")
    count: int = Field(description="how many issues the column holds in all (filters applied)")
    issues: list[ListedIssue] = Field(description="its first cards, in ready order")


class BoardColumns(Shape):
    """``GET /api/r/REPO/board``: every column's count and first cards."""

    columns: list[BoardColumn]


class LaidOutNode(Shape):
    id: Id
    short_id: str
    title: str
    state: EffectiveState
    column: Column = Field(description="the board's column of the issue (open splits into gated and blocked)")
    priority: Priority
    assignee: str | None
    layer: int = Field(description="column of the drawing: one past its deepest dependency")
    row: int
    x: int
    y: int


class LaidOutEdge(Shape):
    from_: Id = Field(alias="from", description="the dependent")
    to: Id = Field(description="the dependency")


class BoardGraph(Shape):
    """``GET /api/r/REPO/graph``: the dependency graph laid out in layers."""

    issue_id: Id | None = Field(description="the issue the drawing is centred on; null: the whole tracker")
    nodes: list[LaidOutNode]
    edges: list[LaidOutEdge]
    width: int
    height: int
    total: int = Field(description="issues the drawing would hold without its limit")
    truncated: bool


class NextUpItem(Shape):
    repo: str = Field(description="the repository's name on the board")
    issue: ListedIssue


class BoardNextUp(Shape):
    """``GET /api/next``: the first ready issues over every repository, in the order jit-dispatch
    hands them out (escalated priority, age, repository order, id)."""

    issues: list[NextUpItem] = Field(description="at most ?limit= of them (default 5), best first")
    ready: int = Field(description="how many ready issues wait in all (those backing off left out)")
    backing_off: int = Field(description="ready issues whose runs failed lately: not handed out yet")
    escalation_hours: float = Field(description="the aging applied: one priority level per this many hours "
                                                "(the dispatch.toml's with --config, else its default; 0: none)")
