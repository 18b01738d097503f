"""The dependency graph: edges, cycles, and the walks the CLI shows. Pure logic.

An edge ``a -> b`` means *a depends on b* (b must finish first). Edges live on the
dependent's ref; an edge to a deleted issue is ignored everywhere. Two clones can each
add an edge that is fine alone and closes a cycle once merged: ``Graph`` breaks such
cycles the same way on every clone (it drops the newest edge of the cycle, by the
``timestamp|event-id`` key of the event that added it) and reports what it dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from .model import IssueState

__all__ = ["BrokenEdge", "Graph", "find_path"]


class BrokenEdge(NamedTuple):
    src: str
    dst: str
    cycle: tuple[str, ...]


class Graph:
    """The effective edges (no ``dataclass``: the index-served reads build one, see gitjit/core/model.py)."""

    __slots__ = ("broken", "deps", "missing", "rdeps")

    def __init__(self, deps: dict[str, list[str]] | None = None, rdeps: dict[str, list[str]] | None = None,
                 missing: dict[str, list[str]] | None = None, broken: list[BrokenEdge] | None = None) -> None:
        self.deps: dict[str, list[str]] = {} if deps is None else deps            # id -> dependencies (existing ones)
        self.rdeps: dict[str, list[str]] = {} if rdeps is None else rdeps         # id -> dependents
        self.missing: dict[str, list[str]] = {} if missing is None else missing   # id -> dependency ids not known here
        self.broken: list[BrokenEdge] = [] if broken is None else broken

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (self.deps, self.rdeps, self.missing, self.broken) == (other.deps, other.rdeps, other.missing,
                                                                      other.broken)

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def build(cls, issues: Mapping[str, IssueState]) -> Graph:
        g = cls()
        keys: dict[tuple[str, str], str] = {}
        for iid, st in issues.items():
            if st.deleted:
                continue
            out: list[str] = []
            for d in st.dependencies:
                target = issues.get(d)
                if target is None:
                    g.missing.setdefault(iid, []).append(d)
                elif not target.deleted:
                    out.append(d)
                    keys[(iid, d)] = st.dep_events.get(d, "")
            g.deps[iid] = out
        g._break_cycles(keys)
        for iid in g.deps:
            g.rdeps.setdefault(iid, [])
        for iid in sorted(g.deps):  # sorted: dependents' order must not depend on load order
            for d in g.deps[iid]:
                g.rdeps.setdefault(d, []).append(iid)
        return g

    def _break_cycles(self, keys: dict[tuple[str, str], str]) -> None:
        while True:
            cyc = self._find_cycle()
            if cyc is None:
                return
            edges = [(cyc[i], cyc[i + 1]) for i in range(len(cyc) - 1)]
            src, dst = max(edges, key=lambda e: (keys.get(e, ""), e))
            self.deps[src] = [d for d in self.deps[src] if d != dst]
            self.broken.append(BrokenEdge(src, dst, tuple(cyc)))

    def _find_cycle(self) -> list[str] | None:
        """Iterative DFS in sorted order (deterministic); returns a closed path [a, ..., a] or None."""
        color: dict[str, int] = {}
        for root in sorted(self.deps):
            if color.get(root):
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            path: list[str] = [root]
            color[root] = 1
            while stack:
                node, i = stack[-1]
                nexts = sorted(self.deps.get(node, ()))
                if i < len(nexts):
                    stack[-1] = (node, i + 1)
                    nxt = nexts[i]
                    c = color.get(nxt, 0)
                    if c == 1:
                        return path[path.index(nxt):] + [nxt]
                    if c == 0:
                        color[nxt] = 1
                        stack.append((nxt, 0))
                        path.append(nxt)
                else:
                    color[node] = 2
                    stack.pop()
                    path.pop()
        return None

    # ------------------------------------------------------------------ walks

    def upstream(self, iid: str) -> list[str]:
        """Every issue ``iid`` transitively depends on, nearest first."""
        return _bfs(iid, self.deps)

    def downstream(self, iid: str) -> list[str]:
        """Every issue that transitively depends on ``iid``, nearest first."""
        return _bfs(iid, self.rdeps)

    def roots(self) -> list[str]:
        """Issues with no dependencies."""
        missing = dict(self.missing.items())  # at once: an index-backed mapping reads a row a key
        return [i for i, ds in self.deps.items() if not ds and not missing.get(i)]


def _bfs(start: str, adj: Mapping[str, list[str]]) -> list[str]:
    seen = {start}
    order: list[str] = []
    frontier = [start]
    while frontier:
        nxt: list[str] = []
        for n in frontier:
            for m in adj.get(n, ()):
                if m not in seen:
                    seen.add(m)
                    order.append(m)
                    nxt.append(m)
        frontier = nxt
    return order


def find_path(adj: Mapping[str, list[str]], start: str, goal: str) -> list[str] | None:
    """Shortest path start -> goal following ``adj``, or None. Used to show the cycle an edge would close."""
    if start == goal:
        return [start]
    prev: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    while frontier:
        nxt: list[str] = []
        for n in frontier:
            for m in adj.get(n, ()):
                if m in seen:
                    continue
                seen.add(m)
                prev[m] = n
                if m == goal:
                    path = [m]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return path[::-1]
                nxt.append(m)
        frontier = nxt
    return None
