"""Pure tests of the dependency graph (no git): walks, missing and deleted targets, and the
deterministic breaking of cycles that only a merge of two clones can create."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.graph import Graph, find_path
from gitjit.core.model import IssueState


def issue(iid: str, *deps: str, keys: dict[str, str] | None = None, deleted: bool = False) -> IssueState:
    return IssueState(id=iid, dependencies=list(deps), dep_events=keys or {d: f"2026|{iid}{d}" for d in deps},
                      deleted=deleted)


def g_of(*issues: IssueState) -> Graph:
    return Graph.build({i.id: i for i in issues})


def test_walks() -> None:
    g = g_of(issue("epic", "t1", "t2"), issue("t1"), issue("t2", "t3"), issue("t3"), issue("lone"))
    assert g.upstream("epic") == ["t1", "t2", "t3"]
    assert g.downstream("t3") == ["t2", "epic"]
    assert sorted(g.roots()) == ["lone", "t1", "t3"]
    assert g.rdeps["t1"] == ["epic"] and g.rdeps["epic"] == []
    assert g.broken == [] and g.missing == {}


def test_missing_and_deleted_targets() -> None:
    g = g_of(issue("a", "gone", "elsewhere"), issue("gone", deleted=True), issue("dead", "a", deleted=True))
    assert g.deps["a"] == []              # the edge to a deleted issue does not count
    assert g.missing == {"a": ["elsewhere"]}  # a dependency this clone has not seen yet
    assert "dead" not in g.deps and g.rdeps["a"] == []
    assert g.roots() == []                # a is not a root: it waits for the missing issue


def test_cycle_breaks_newest_edge() -> None:
    # a -> b (oldest), b -> c, c -> a (newest): the newest edge goes
    g = g_of(issue("a", "b", keys={"b": "2026-01-01|1"}), issue("b", "c", keys={"c": "2026-01-02|2"}),
             issue("c", "a", keys={"a": "2026-01-03|3"}))
    assert [(e.src, e.dst) for e in g.broken] == [("c", "a")]
    assert g.broken[0].cycle[0] == g.broken[0].cycle[-1]
    assert g.deps == {"a": ["b"], "b": ["c"], "c": []}


def test_self_edge_is_broken() -> None:
    g = g_of(issue("a", "a"))
    assert [(e.src, e.dst) for e in g.broken] == [("a", "a")] and g.deps["a"] == []


def test_find_path() -> None:
    adj = {"a": ["b"], "b": ["c", "d"], "d": ["e"]}
    assert find_path(adj, "a", "e") == ["a", "b", "d", "e"]
    assert find_path(adj, "e", "a") is None
    assert find_path(adj, "a", "a") == ["a"]


# ----------------------------------------------------------------------------- properties

NODES = [f"n{i}" for i in range(7)]


@st.composite
def graphs(draw):  # type: ignore[no-untyped-def]
    """Arbitrary edge sets over a few nodes (cycles of every shape, self-edges, deleted and missing
    nodes), each edge with an event key that may tie with others."""
    edges = draw(st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES + ["ghost"])),
                          max_size=18, unique=True))
    deleted = draw(st.sets(st.sampled_from(NODES), max_size=2))
    keys = {e: draw(st.sampled_from(["", "2026-01-01|a", "2026-01-01|b", "2026-01-02|a", "2027|z"]))
            for e in edges}
    issues = {}
    for n in NODES:
        out = [d for (s, d) in edges if s == n]
        issues[n] = IssueState(id=n, dependencies=out, dep_events={d: keys[(n, d)] for d in out},
                               deleted=n in deleted)
    return issues


def _acyclic(deps: dict[str, list[str]]) -> bool:
    indeg = {n: 0 for n in deps}
    for n, out in deps.items():
        for d in out:
            indeg[d] += 1
    todo = [n for n, k in indeg.items() if k == 0]
    seen = 0
    while todo:
        n = todo.pop()
        seen += 1
        for d in deps[n]:
            indeg[d] -= 1
            if indeg[d] == 0:
                todo.append(d)
    return seen == len(deps)


def _snapshot(g: Graph) -> tuple:
    return (
        {k: list(v) for k, v in g.deps.items()},
        {k: list(v) for k, v in g.rdeps.items()},
        {k: list(v) for k, v in g.missing.items()},
        list(g.broken),
        sorted(g.roots()),
    )


@settings(max_examples=300)
@given(graphs(), st.randoms(use_true_random=False))
def test_build_is_independent_of_insertion_order(issues: dict[str, IssueState], rnd: random.Random) -> None:
    items = list(issues.items())
    rnd.shuffle(items)
    assert _snapshot(Graph.build(dict(items))) == _snapshot(Graph.build(issues))


@settings(max_examples=300)
@given(graphs())
def test_build_leaves_an_acyclic_graph_dropping_only_cycle_edges(issues: dict[str, IssueState]) -> None:
    g = Graph.build(issues)
    assert _acyclic(g.deps)
    live = {n for n, s in issues.items() if not s.deleted}
    assert set(g.deps) == live
    original = {(n, d) for n in live for d in issues[n].dependencies if d in live}
    kept = {(n, d) for n, out in g.deps.items() for d in out}
    dropped = {(b.src, b.dst) for b in g.broken}
    assert kept | dropped == original and not kept & dropped
    for b in g.broken:
        # each dropped edge closed a cycle, shown as a closed path through that edge
        c = b.cycle
        assert c[0] == c[-1] and (b.src, b.dst) in set(zip(c, c[1:]))
    # rdeps mirrors deps
    assert {(n, d) for d, srcs in g.rdeps.items() for n in srcs} == kept


@settings(max_examples=150)
@given(graphs())
def test_walks_agree_with_paths(issues: dict[str, IssueState]) -> None:
    g = Graph.build(issues)
    for n in g.deps:
        up = g.upstream(n)
        assert n not in up  # acyclic: nothing is its own ancestor
        for m in up:
            assert find_path(g.deps, n, m) is not None
            assert n in g.downstream(m)
