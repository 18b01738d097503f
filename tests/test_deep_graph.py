"""Deep structures anyone who can push can build (issue 31, item 11): a dependency chain of 100,000
issues drawn by `jit graph show` (human and `--json`), trees that continue instead of nesting
without end, and event lines nested deeper than any reader walks."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from conftest import Jit, git, make_repo, run_jit
from hypothesis import given, settings
from hypothesis import strategies as st
from synclib import hub_and_clones, tracker

from gitjit.api import Tracker
from gitjit.core.reads import TREE_DEPTH


def _chain(t: Tracker, n: int) -> list[str]:
    """n issues, each depending on the one before, written at once (the batch path of import)."""
    ids: list[str] = []
    with t.batch() as b:
        for k in range(n):
            ids.append(b.create_issue(f"link {k}", depends_on=ids[-1:])["id"])
    return ids


def _walk(trees: list[dict]) -> list[tuple[dict, int, dict | None]]:  # type: ignore[type-arg]
    """Every node of every tree with its depth and parent, depth first, without recursion."""
    out = []
    stack = [(t, 0, None) for t in reversed(trees)]
    while stack:
        n, d, parent = stack.pop()
        out.append((n, d, parent))
        stack.extend((c, d + 1, n) for c in reversed(n["children"]))
    return out


def _check_forest(trees: list[dict], edges: set[tuple[str, str]], ids: set[str], max_depth: int) -> None:  # type: ignore[type-arg]
    """What graph_tree promises: no node deeper than max_depth; each issue expanded exactly once
    (a node marked continued is expanded by the continuation tree that follows); every edge drawn
    exactly once; each continuation tree comes after the node it continues."""
    nodes = _walk(trees)
    assert max(d for _, d, _ in nodes) <= max_depth
    expanded: list[str] = []
    drawn: list[tuple[str, str]] = []
    pending: list[str] = []  # continued nodes not yet matched by a continuation tree
    for n, d, parent in nodes:
        if parent is not None:
            drawn.append((parent["id"], n["id"]))
        if d == 0 and n.get("continuation"):
            assert n["id"] in pending, n["id"]  # continues something drawn before it
            pending.remove(n["id"])
            assert "repeated" not in n and "continued" not in n
        if n.get("continued"):
            assert n["children"] == [] and "repeated" not in n and d == max_depth
            pending.append(n["id"])
            continue
        if n.get("repeated"):
            assert n["children"] == []
            continue
        expanded.append(n["id"])  # a continued issue counts here, at the root that expands it
    assert pending == []
    assert sorted(expanded) == sorted(ids)
    assert sorted(drawn) == sorted(edges)


def test_graph_show_of_a_100000_long_chain(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    t = Tracker(repo, actor="agent:builder")
    t.init()
    n = 100_000
    ids = _chain(t, n)
    top, bottom = ids[-1], ids[0]

    # --json, as a real process: parsed back by the standard json module
    r = run_jit("graph", "show", "--json", cwd=repo, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(r.stdout)
    _check_forest(data["trees"], {(ids[k], ids[k - 1]) for k in range(1, n)}, set(ids), TREE_DEPTH)
    assert data["trees"][0]["id"] == top and len(data["trees"]) == -(-(n - 1) // TREE_DEPTH)
    assert data["broken_edges"] == []

    # the human tree: one line a node, a continued node twice, indentation bounded
    r = run_jit("graph", "show", cwd=repo, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    continued = [x for x in lines if x.endswith(" (continued below)")]
    assert len(lines) == n + len(continued) and len(continued) == len(data["trees"]) - 1
    assert lines[0] == f"{top[:8]} [open] link {n - 1}"
    assert lines[-1].endswith(f"└── {bottom[:8]} [ready] link 0")
    assert max(len(x) for x in lines) <= 4 * TREE_DEPTH + 44  # "└── " at depth 32, id, state, title, mark
    k = lines.index(continued[0])
    assert lines[k + 1] == continued[0].split("└── ")[1].replace(" (continued below)", " (continued)")

    # from an id, and the other walks over the whole chain
    r = run_jit("graph", "show", top[:10], "--json", cwd=repo, timeout=600)
    assert r.returncode == 0 and json.loads(r.stdout)["trees"] == data["trees"]
    r = run_jit("graph", "deps", top, "-q", cwd=repo, timeout=600)
    assert r.returncode == 0 and r.stdout.split() == ids[-2::-1]
    r = run_jit("graph", "downstream", bottom, "-q", cwd=repo, timeout=600)
    assert r.returncode == 0 and r.stdout.split() == ids[1:]
    # closing the cycle is refused with its path, as for a short chain
    r = run_jit("dep", "add", bottom, top, "--json", cwd=repo, timeout=600)
    assert r.returncode == 4 and json.loads(r.stdout)["error"]["details"]["cycle"] == [bottom, *ids[::-1]]


def test_a_tree_deeper_than_the_limit_continues(tracker) -> None:  # type: ignore[no-untyped-def]
    ids = _chain(tracker, 7)
    data = tracker.graph_tree(max_depth=3)
    short = [[(n["short_id"], n.get("continued"), n.get("continuation")) for n, _, _ in _walk([t])]
             for t in data["trees"]]
    s = [i[:8] for i in ids]
    assert short == [
        [(s[6], None, None), (s[5], None, None), (s[4], None, None), (s[3], True, None)],
        [(s[3], None, True), (s[2], None, None), (s[1], None, None), (s[0], None, None)],
    ]
    # a chain exactly max_depth deep fits in one tree: its last link has nothing below it
    assert len(tracker.graph_tree(ids[3], max_depth=3)["trees"]) == 1


def test_the_human_tree_of_a_continued_chain(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    t = Tracker(repo, actor="agent:a")
    t.init()
    ids = _chain(t, TREE_DEPTH + 3)
    r = Jit(repo)("graph", "show")
    assert r.exit_code == 0
    s = [i[:8] for i in ids]
    top = len(ids) - 1
    want = [f"{s[top]} [open] link {top}"]
    for d in range(1, TREE_DEPTH + 1):
        k = top - d
        mark = " (continued below)" if d == TREE_DEPTH else ""
        want.append("    " * (d - 1) + f"└── {s[k]} [open] link {k}{mark}")
    k = top - TREE_DEPTH
    want.append(f"{s[k]} [open] link {k} (continued)")
    for d in range(1, k + 1):
        state = "ready" if k - d == 0 else "open"
        want.append("    " * (d - 1) + f"└── {s[k - d]} [{state}] link {k - d}")
    assert r.stdout == "\n".join(want) + "\n"


@st.composite
def dags(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(1, 14))
    edges = set()
    for a in range(n):
        for b in draw(st.lists(st.integers(0, n - 1), max_size=3)):
            if b < a:  # edges only to older issues: acyclic
                edges.add((a, b))
    return n, sorted(edges), draw(st.integers(1, 4))


@settings(max_examples=40, deadline=None)
@given(dags())
def test_every_issue_and_edge_is_drawn_once_at_any_depth_limit(tmp_path_factory, case) -> None:  # type: ignore[no-untyped-def]
    n, edges, depth = case
    repo = make_repo(tmp_path_factory.mktemp("dag"))
    t = Tracker(repo, actor="agent:p")
    t.init()
    with t.batch() as b:
        ids = [b.create_issue(f"n{k}")["id"] for k in range(n)]
        for a, c in edges:
            b.add_dependency(ids[a], [ids[c]])
    want = {(ids[a], ids[c]) for a, c in edges}
    for limit in (depth, 10_000):
        data = t.graph_tree(max_depth=limit)
        _check_forest(data["trees"], want, set(ids), limit)
    # with room enough nothing continues: the trees are those drawn before there was a limit
    assert not any(nd.get("continued") or nd.get("continuation")
                   for nd, _, _ in _walk(t.graph_tree(max_depth=n + 1)["trees"]))


def test_an_event_nested_deeper_than_any_reader_walks_is_refused(tmp_path: Path) -> None:
    """json.loads reads ~1,000 levels; a line that deep crashed `issue show`, `events` and
    `doctor` of every clone that pulled it (RecursionError). It is now an invalid document:
    skipped by the pull with a warning, like any malformed ref, and the rest syncs."""
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a, "agent:a")
    x = ta.create_issue("victim")["id"]
    y = ta.create_issue("bystander")["id"]
    ta.push("origin")
    tracker(b).pull("origin")
    # the attacker (push access) appends a deeply nested event to x on the hub
    ref = f"refs/jit/issues/{x}"
    tip = git("--git-dir", str(hub), "rev-parse", ref, cwd=hub).stdout.strip()
    doc = git("--git-dir", str(hub), "cat-file", "blob", f"{tip}:events.jsonl", cwd=hub).stdout
    deep = "[" * 900 + "]" * 900
    doc += json.dumps({"actor": "x", "clock": 9, "id": secrets.token_hex(16), "issue_id": x,
                       "timestamp": "2026-01-01T00:00:00", "type": "future_thing"})[:-1] + f', "blob": {deep}}}\n'
    (tmp_path / "doc").write_text(doc)
    blob = git("--git-dir", str(hub), "hash-object", "-w", str(tmp_path / "doc"), cwd=hub).stdout.strip()
    tree = git("--git-dir", str(hub), "mktree", cwd=hub, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    c = git("--git-dir", str(hub), "commit-tree", tree, "-p", tip, "-m", "evil", cwd=hub).stdout.strip()
    git("--git-dir", str(hub), "update-ref", ref, c, cwd=hub)
    ta.update_issue(y, title="honest change")
    ta.push("origin")

    jb = Jit(b)
    r = jb("pull", "origin")
    assert r.exit_code == 0 and "nested more than 64 levels deep" in r.stderr and x in r.stderr
    for args in (["issue", "show", x], ["events", "tail", "--json"], ["events", "query", "--issue", x],
                 ["issue", "list"], ["doctor", "--json"]):
        out = jb(*args)
        assert out.exit_code in (0, 4), (args, out.stdout, out.stderr)  # doctor: 4 for the remote's warning at most
        assert "internal error" not in out.stderr
    assert tracker(b).show(y)["title"] == "honest change"
    assert tracker(b).show(x)["title"] == "victim"
