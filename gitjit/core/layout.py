"""A layered drawing of the dependency graph (the web board's graph view). Pure logic.

The Sugiyama recipe, kept small: each issue goes in the layer one past its deepest dependency
(longest-path layering: what blocks an issue is always to its left), the issues of each layer are
ordered to keep edges from crossing (barycentre heuristic: a few sweeps each way, every node moved
to the mean position of its neighbours in the layers already placed), and the layers become
columns of evenly spaced nodes. Edges go from a dependency to the issue it blocks.

Cycles cannot reach this code through the tracker (``Graph.build`` breaks them), but the layering
never loops on one: nodes left on a cycle go in the layer after the last one placed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Layout", "crossings", "layered_layout", "layers_of"]

#: distances of the drawing (the browser's SVG units)
LAYER_GAP = 220
ROW_GAP = 48
MARGIN = 24
SWEEPS = 4


@dataclass(frozen=True)
class Layout:
    """Where each node goes: ``layer`` (column) and ``row`` within it, and ``x``/``y`` in units."""

    positions: dict[str, tuple[int, int]]  # id -> (layer, row)
    width: int
    height: int

    def xy(self, iid: str) -> tuple[int, int]:
        layer, row = self.positions[iid]
        return MARGIN + layer * LAYER_GAP, MARGIN + row * ROW_GAP

    def to_json(self) -> dict[str, object]:
        return {"width": self.width, "height": self.height,
                "positions": {i: {"layer": l, "row": r, "x": self.xy(i)[0], "y": self.xy(i)[1]}
                              for i, (l, r) in self.positions.items()}}


def layers_of(nodes: Sequence[str], deps: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Longest-path layering: 0 for an issue without dependencies (among ``nodes``), else one more
    than its deepest dependency's layer. ``deps[a]`` holds what ``a`` depends on."""
    present = set(nodes)
    need = {n: [d for d in deps.get(n, ()) if d in present and d != n] for n in nodes}
    users: dict[str, list[str]] = {n: [] for n in nodes}
    for n, ds in need.items():
        for d in ds:
            users[d].append(n)
    waiting = {n: len(ds) for n, ds in need.items()}
    layer: dict[str, int] = {}
    todo = [n for n in nodes if waiting[n] == 0]
    while todo:
        nxt: list[str] = []
        for n in todo:
            layer[n] = max((layer[d] + 1 for d in need[n]), default=0)
            for u in users[n]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    nxt.append(u)
        todo = nxt
    last = max(layer.values(), default=-1)
    for n in nodes:  # on a cycle: after everything placed
        if n not in layer:
            layer[n] = last + 1
    return layer


def layered_layout(nodes: Sequence[str], deps: Mapping[str, Iterable[str]], *, sweeps: int = SWEEPS) -> Layout:
    """Place ``nodes`` (in the order given: the first of a layer starts at its top) with edges
    ``dependency -> dependent`` from ``deps``."""
    layer = layers_of(nodes, deps)
    present = set(nodes)
    n_layers = max(layer.values(), default=-1) + 1
    cols: list[list[str]] = [[] for _ in range(n_layers)]
    for n in nodes:
        cols[layer[n]].append(n)
    left: dict[str, list[str]] = {n: [] for n in nodes}  # neighbours in earlier layers
    right: dict[str, list[str]] = {n: [] for n in nodes}
    for n in nodes:
        for d in deps.get(n, ()):
            if d in present and d != n and layer[d] < layer[n]:
                left[n].append(d)
                right[d].append(n)
    pos = {n: i for col in cols for i, n in enumerate(col)}
    # the heuristic can make things worse (ties, nodes without neighbours on one side): the best
    # order any sweep reached is kept, by the crossings between adjacent layers
    best = [list(c) for c in cols]
    best_x = _crossings(cols, pos, left, layer)
    for s in range(sweeps):
        forward = s % 2 == 0
        order = range(1, n_layers) if forward else range(n_layers - 2, -1, -1)
        for li in order:
            nb = left if forward else right
            col = cols[li]
            keyed = []
            for i, n in enumerate(col):
                ps = [pos[m] for m in nb[n]]
                # a node without neighbours on that side keeps its place
                keyed.append((sum(ps) / len(ps) if ps else float(i), i, n))
            keyed.sort()
            cols[li] = [n for _, _, n in keyed]
            for i, n in enumerate(cols[li]):
                pos[n] = i
        x = _crossings(cols, pos, left, layer)
        if x < best_x:
            best, best_x = [list(c) for c in cols], x
    cols = best
    positions = {n: (li, i) for li, col in enumerate(cols) for i, n in enumerate(col)}
    rows = max((len(c) for c in cols), default=0)
    return Layout(positions, width=2 * MARGIN + max(n_layers - 1, 0) * LAYER_GAP + 180,
                  height=2 * MARGIN + max(rows - 1, 0) * ROW_GAP + 30)


def _crossings(cols: list[list[str]], pos: Mapping[str, int], left: Mapping[str, list[str]],
               layer: Mapping[str, int]) -> int:
    """Crossings between adjacent layers: inversions of the lower ends, edges sorted by upper end."""
    total = 0
    for li in range(1, len(cols)):
        ends = sorted((pos[d], pos[n]) for n in cols[li] for d in left[n] if layer[d] == li - 1)
        seen: list[int] = []
        for _, b in ends:
            i = bisect_right(seen, b)
            total += len(seen) - i
            seen.insert(i, b)
    return total


def crossings(layout: Layout, deps: Mapping[str, Iterable[str]]) -> int:
    """How many pairs of edges between adjacent layers cross (a measure for the tests)."""
    segs = []
    for n, ds in deps.items():
        if n not in layout.positions:
            continue
        ln, rn = layout.positions[n]
        for d in ds:
            if d in layout.positions:
                ld, rd = layout.positions[d]
                if ln == ld + 1:
                    segs.append((ld, rd, rn))
    out = 0
    for i, (l1, a1, b1) in enumerate(segs):
        for l2, a2, b2 in segs[i + 1:]:
            if l1 == l2 and (a1 - a2) * (b1 - b2) < 0:
                out += 1
    return out
