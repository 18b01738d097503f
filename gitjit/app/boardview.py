"""What the web board (``jit serve``, gitjit/board/) shows of one repository, click- and HTTP-free:
the columns of the board a page at a time, the drawing of the dependency graph, an issue's
dependents. Everything else the board shows is an answer the CLI gives too (``show``, ``status``,
``events``, ``query``), asked of the same ``Reads``.

Columns are effective states, with ``open`` split in two: *gated* (held back by gates alone) and
*blocked* (an unfinished or missing dependency, or parked). Each column is counted in full and
listed a page at a time (at 100,000 issues a board is ~100,000 cards: the browser gets the counts
and the first cards of each column, and asks for more as it scrolls).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..core.board import Board, short
from ..core.errors import UsageError
from ..core.layout import layered_layout
from ..core.model import parse_priority
from ..core.reads import Reads

__all__ = ["COLUMNS", "Filters", "column_ids", "column_page", "columns", "dependents", "graph_view"]

#: the board's columns, left to right, and the effective state each shows
COLUMNS = ("ready", "in_progress", "gated", "blocked", "done", "rejected", "archived")
_EFF = {"ready": "ready", "in_progress": "in_progress", "gated": "open", "blocked": "open", "done": "done",
        "rejected": "rejected", "archived": "archived"}
#: cards of each column in the first answer, and the most a page may hold
FIRST_PAGE = 30
MAX_PAGE = 500
#: the most nodes one graph drawing holds (the rest is counted, not drawn)
GRAPH_MAX = 400


class Filters:
    """The board's filters: label patterns (``team:*``), assignee, priority, text (as ``issue search``)."""

    def __init__(self, *, labels: Iterable[str] = (), assignee: str | None = None, priority: str | None = None,
                 text: str | None = None):
        self.labels = [x for x in labels if x]
        self.assignee = assignee or None
        self.priority = parse_priority(priority) if priority else None
        self.text = (text or "").strip() or None

    def key(self) -> tuple[Any, ...]:
        return tuple(self.labels), self.assignee, self.priority, self.text


class Columns:
    """Each column's count and its cards a page at a time. Without filters, the counts are one
    query and a page is read when asked for (``state_page``): at 100,000 issues the done column
    alone holds ~55,000 ids, which listing in full took ~0.4 s. With filters, every matching id
    is listed once (a filtered board is smaller)."""

    def __init__(self, b: Board, f: Filters):
        self.b = b
        self.ids: dict[str, list[str]] | None = None
        if f.key() != Filters().key():
            self.ids = column_ids(b, f)
            self.counts = {c: len(v) for c, v in self.ids.items()}
            return
        self.gated = b.gated_ids()
        self._gated = set(self.gated)
        n = b.state_counts()
        self.counts = {c: n.get(_EFF[c], 0) for c in COLUMNS}
        self.counts["gated"] = len(self.gated)
        self.counts["blocked"] = n.get("open", 0) - len(self.gated)

    def page(self, name: str, offset: int, limit: int) -> list[str]:
        if self.ids is not None:
            return self.ids[name][offset:offset + limit]
        if name == "gated":
            return self.gated[offset:offset + limit]
        if name != "blocked":
            return self.b.state_page(_EFF[name], offset, limit)
        # the open issues that are not gated: read open ones a page at a time, skipping those
        out: list[str] = []
        pos, at, size = 0, 0, max(limit, 64)
        while len(out) < limit:
            got = self.b.state_page("open", at, size)
            for i in got:
                if i in self._gated:
                    continue
                if pos >= offset:
                    out.append(i)
                    if len(out) == limit:
                        break
                pos += 1
            if len(got) < size:
                break
            at += size
            size = min(size * 2, 4096)
        return out


def column_ids(b: Board, f: Filters) -> dict[str, list[str]]:
    """Each column's ids in ready order (priority, age, id), filtered."""
    allowed = set(b.search(f.text)) if f.text else None
    out: dict[str, list[str]] = {}
    for eff in ("ready", "in_progress", "open", "done", "rejected", "archived"):
        ids = b.select(state=eff, assignee=f.assignee, priority=f.priority, labels=f.labels)
        if allowed is not None:
            ids = [i for i in ids if i in allowed]
        if eff == "open":
            gated = b.gated(ids)
            out["gated"] = [i for i in ids if i in gated]
            out["blocked"] = [i for i in ids if i not in gated]
        else:
            out[eff] = ids
    return {c: out[c] for c in COLUMNS}


def columns(r: Reads, f: Filters, *, limit: int = FIRST_PAGE, cols: Columns | None = None) -> dict[str, Any]:
    """The board's first look: every column's count and its first ``limit`` cards (issue JSON)."""
    b = r.board()
    cols = Columns(b, f) if cols is None else cols
    return {"columns": [{"name": c, "state": _EFF[c], "count": cols.counts[c],
                         "issues": b.listing(cols.page(c, 0, limit)) if limit else []} for c in COLUMNS]}


def column_page(r: Reads, cols: Columns, name: str, *, offset: int, limit: int) -> dict[str, Any]:
    """Cards ``offset..offset+limit`` of one column: the listing shape (``{"issues", "count"}``)."""
    if name not in COLUMNS:
        raise UsageError(f"unknown column {name!r}", hint="one of: " + ", ".join(COLUMNS))
    if offset < 0 or not 0 < limit <= MAX_PAGE:
        raise UsageError(f"offset must be >= 0 and limit 1..{MAX_PAGE}")
    page = r.board().listing(cols.page(name, offset, limit))
    return {"issues": page, "count": len(page)}


def dependents(r: Reads, prefix: str) -> dict[str, Any]:
    """The issues that depend on ``prefix`` directly (``dependencies`` is the other way), listed."""
    b = r.board()
    iid = r.resolve(prefix, b)
    ids = b.sorted(d for d in b.graph.rdeps.get(iid, ()) if d in b.issues)
    return {"issue_id": iid, "issues": b.listing(ids), "count": len(ids)}


def graph_view(r: Reads, prefix: str | None = None, *, limit: int = GRAPH_MAX,
               include_done: bool = False) -> dict[str, Any]:
    """The dependency graph laid out in layers (``gitjit.core.layout``): of one issue (everything
    it depends on and everything depending on it), or of the whole tracker (every unfinished
    issue, or every issue with ``include_done``). At most ``limit`` nodes, in ready order."""
    b = r.board()
    focus = None
    if prefix:
        focus = r.resolve(prefix, b)
        pool = [focus, *b.graph.upstream(focus), *b.graph.downstream(focus)]
        ids = b.sorted(dict.fromkeys(i for i in pool if i in b.issues))
    else:
        states = ("ready", "in_progress", "open") + (("done", "rejected", "archived") if include_done else ())
        n = b.state_counts()
        # the first ``limit`` of each state, merged in ready order: the first ``limit`` of all
        cand = [i for s in states for i in b.state_page(s, 0, limit)]
        keys = b.nodes(cand)
        ids = sorted(cand, key=lambda i: keys[i][0])
    total = len(ids) if prefix else sum(n.get(s, 0) for s in states)
    if focus is not None and focus in ids[limit:]:
        ids = [focus, *[i for i in ids if i != focus][:limit - 1]]
    ids = ids[:limit]
    info = b.nodes(ids)
    shown = set(ids)
    deps = {i: [d for d in b.graph.deps.get(i, ()) if d in shown] for i in ids}
    lay = layered_layout(ids, deps)
    gated = b.gated([i for i in ids if info[i][2] == "open"])
    nodes = []
    for i in ids:
        _, title, state, prio, who = info[i]
        x, y = lay.xy(i)
        layer, row = lay.positions[i]
        col = ("gated" if i in gated else "blocked") if state == "open" else state
        nodes.append({"id": i, "short_id": short(i), "title": title, "state": state, "column": col,
                      "priority": prio, "assignee": who, "layer": layer, "row": row, "x": x, "y": y})
    edges = [{"from": i, "to": d} for i in ids for d in deps[i]]  # as graph export: dependent -> dependency
    return {"issue_id": focus, "nodes": nodes, "edges": edges, "width": lay.width, "height": lay.height,
            "total": total, "truncated": total > len(ids)}
