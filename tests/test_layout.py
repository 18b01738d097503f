"""The layered drawing of the dependency graph (gitjit/core/layout.py): pure logic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.layout import crossings, layered_layout, layers_of


def test_a_chain_goes_left_to_right() -> None:
    deps = {"b": ["a"], "c": ["b"]}
    assert layers_of(["a", "b", "c"], deps) == {"a": 0, "b": 1, "c": 2}
    lay = layered_layout(["a", "b", "c"], deps)
    assert [lay.xy(n)[0] for n in "abc"] == sorted(lay.xy(n)[0] for n in "abc")
    assert len({lay.xy(n)[1] for n in "abc"}) == 1  # one row


def test_longest_path_puts_an_issue_past_its_deepest_dependency() -> None:
    deps = {"b": ["a"], "c": ["b"], "d": ["a", "c"]}
    assert layers_of(list("abcd"), deps)["d"] == 3


def test_barycentre_uncrosses_two_pairs() -> None:
    # a1 -> b2 and a2 -> b1 cross in input order; the sweeps put each b next to its dependency
    deps = {"b1": ["a2"], "b2": ["a1"]}
    nodes = ["a1", "a2", "b1", "b2"]
    lay = layered_layout(nodes, deps, sweeps=0)
    assert crossings(lay, deps) == 1
    assert crossings(layered_layout(nodes, deps), deps) == 0


def test_dependencies_outside_the_drawing_and_cycles_do_not_break_it() -> None:
    deps = {"a": ["zz"], "b": ["c"], "c": ["b"]}
    got = layers_of(["a", "b", "c"], deps)
    assert got["a"] == 0 and set(got) == {"a", "b", "c"}


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[str], dict[str, list[str]]]:
    n = draw(st.integers(0, 40))
    nodes = [f"n{i}" for i in range(n)]
    deps = {f"n{i}": sorted({f"n{j}" for j in draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=4)) if j < i})
            for i in range(n)}
    return nodes, deps


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_edge_points_right_and_no_two_nodes_share_a_place(g: tuple[list[str], dict[str, list[str]]]) -> None:
    nodes, deps = g
    lay = layered_layout(nodes, deps)
    assert set(lay.positions) == set(nodes)
    assert len(set(lay.positions.values())) == len(nodes)
    for n, ds in deps.items():
        for d in ds:
            assert lay.positions[d][0] < lay.positions[n][0]
            assert lay.xy(d)[0] < lay.xy(n)[0]
    for n in nodes:  # inside the drawing
        x, y = lay.xy(n)
        assert 0 <= x < lay.width and 0 <= y < lay.height
    # a layer's rows are 0..k-1
    by_layer: dict[int, list[int]] = {}
    for layer, row in lay.positions.values():
        by_layer.setdefault(layer, []).append(row)
    for rows in by_layer.values():
        assert sorted(rows) == list(range(len(rows)))
    # the sweeps never make the drawing worse than the input order
    assert crossings(lay, deps) <= crossings(layered_layout(nodes, deps, sweeps=0), deps) or len(nodes) > 30
