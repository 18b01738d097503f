"""The web board's own JSON shapes (``jit serve``, docs/board.md): the columns of the board and the
laid-out dependency graph. Its other answers are the CLI's ``--json`` shapes (outputs.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Shape
from .outputs import EffectiveState, Id, ListedIssue, Priority

__all__ = ["BoardColumns", "BoardGraph"]


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
