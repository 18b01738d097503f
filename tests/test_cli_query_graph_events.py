"""`jit query …`, `jit graph …`, `jit events …` and the derived auto-transitions, in-process."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from conftest import ref_snapshot


def new(jit, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


def ids(listing: dict) -> list[str]:
    assert set(listing) == {"issues", "count"}
    assert listing["count"] == len(listing["issues"])
    return [i["id"] for i in listing["issues"]]


def ok(jit, *args: str) -> None:  # type: ignore[no-untyped-def]
    r = jit(*args)
    assert r.exit_code == 0, (args, r.stdout, r.stderr)


@pytest.fixture
def board(jit):  # type: ignore[no-untyped-def]
    """epic -> (t1, t2); t2 -> t3; t3 claimed; lone critical; done item; precheck-gated item."""
    ok(jit, "registry", "add", "design", "-t", "Design", "--stage", "precheck")
    b = {
        "t3": new(jit, "-t", "T3 base", "-p", "high"),
        "t1": new(jit, "-t", "T1 leaf"),
        "t2": new(jit, "-t", "T2 mid"),
        "epic": new(jit, "-t", "Epic", "-p", "low"),
        "lone": new(jit, "-t", "Lone", "-p", "critical"),
        "fin": new(jit, "-t", "Finished"),
        "gated": new(jit, "-t", "Gated", "--gate", "design"),
    }
    ok(jit, "dep", "add", b["epic"], b["t1"], b["t2"])
    ok(jit, "dep", "add", b["t2"], b["t3"])
    ok(jit, "issue", "claim", b["t3"], "agent:w1")
    ok(jit, "issue", "update", b["fin"], "--state", "done")
    return b


# ----------------------------------------------------------------------------- query

def test_queries(jit, board) -> None:  # type: ignore[no-untyped-def]
    b = board
    assert ids(jit.json("query", "ready")) == [b["lone"], b["t1"]]
    blocked = jit.json("query", "blocked")
    assert ids(blocked) == [b["t2"], b["gated"], b["epic"]]
    reasons = {i["id"]: i["blocked_reasons"] for i in blocked["issues"]}
    assert reasons[b["t2"]] == [{"type": "dependency", "issue_id": b["t3"], "title": "T3 base",
                                 "state": "in_progress"}]
    assert [r["issue_id"] for r in reasons[b["epic"]]] == [b["t1"], b["t2"]]
    assert [r["state"] for r in reasons[b["epic"]]] == ["ready", "open"]
    assert reasons[b["gated"]] == [{"type": "gate", "gate_key": "design", "status": "pending",
                                    "stage": "precheck"}]
    human = jit("query", "blocked").stdout
    assert f"blocked: depends on {b['t3'][:8]} 'T3 base' (in_progress)" in human
    assert "blocked: gate design pending (precheck)" in human
    assert ids(jit.json("query", "assignee", "agent:w1")) == [b["t3"]]
    assert ids(jit.json("query", "assignee", "agent:nobody")) == []
    assert ids(jit.json("query", "state", "in_progress")) == [b["t3"]]
    assert ids(jit.json("query", "state", "done")) == [b["fin"]]
    assert ids(jit.json("query", "state", "open")) == [b["t2"], b["gated"], b["epic"]]
    assert ids(jit.json("query", "state", "ready")) == [b["lone"], b["t1"]]
    assert ids(jit.json("query", "priority", "critical")) == [b["lone"]]
    assert ids(jit.json("query", "priority", "low")) == [b["epic"]]
    assert ids(jit.json("query", "all")) == [b["lone"], b["t3"], b["t1"], b["t2"], b["fin"], b["gated"], b["epic"]]
    assert jit("query", "ready", "-q").stdout.split() == [b["lone"], b["t1"]]
    assert jit("query", "state", "rejected").stdout == "No issues.\n"
    assert jit("query", "state", "bogus").exit_code == 2
    assert jit("query", "priority", "urgent").exit_code == 2


def test_query_ready_is_empty_and_says_so(jit) -> None:  # type: ignore[no-untyped-def]
    assert jit.json("query", "ready") == {"issues": [], "count": 0}
    assert jit("query", "ready").stdout == "No ready issues.\n"
    assert jit("query", "blocked").stdout == "Nothing is blocked.\n"


# ----------------------------------------------------------------------------- graph

def test_graph_show_tree(jit, board) -> None:  # type: ignore[no-untyped-def]
    b = board
    data = jit.json("graph", "show", b["epic"][:6])
    assert data["broken_edges"] == []
    (root,) = data["trees"]
    assert set(root) == {"id", "short_id", "title", "state", "priority", "assignee", "children"}
    assert root["id"] == b["epic"]
    assert [c["id"] for c in root["children"]] == [b["t1"], b["t2"]]
    assert [c["id"] for c in root["children"][1]["children"]] == [b["t3"]]
    assert root["children"][1]["children"][0]["assignee"] == "agent:w1"
    human = jit("graph", "show", b["epic"]).stdout
    assert human == (
        f"{b['epic'][:8]} [open] Epic\n"
        f"├── {b['t1'][:8]} [ready] T1 leaf\n"
        f"└── {b['t2'][:8]} [open] T2 mid\n"
        f"    └── {b['t3'][:8]} [in_progress] T3 base\n"
    )
    # without an id: one tree per issue nothing depends on
    tops = [t["id"] for t in jit.json("graph", "show")["trees"]]
    assert tops == [b["lone"], b["fin"], b["gated"], b["epic"]]
    assert jit("graph", "show", "ffffffffffff").exit_code == 3


def test_graph_show_draws_each_subtree_once(tracker, jit) -> None:  # type: ignore[no-untyped-def]
    """A ladder (each issue depends on the two before it) has Fibonacci-many paths: 40 rungs,
    ~165 million. Each issue is drawn once; where it shows up again it is marked repeated."""
    ids: list[str] = []
    for k in range(40):
        ids.append(tracker.create_issue(f"rung {k}")["id"])
        if k:
            tracker.add_dependency(ids[k], ids[max(0, k - 2):k])
    data = jit.json("graph", "show")
    (root,) = data["trees"]
    assert root["id"] == ids[-1]
    full: list[str] = []
    repeated: list[tuple[str, str]] = []
    stack = [root]
    while stack:
        n = stack.pop()
        assert ("repeated" in n) == (n["id"] in full), n["id"]
        if n.get("repeated"):
            assert n["children"] == []
        else:
            full.append(n["id"])
        for c in n["children"]:
            if c.get("repeated"):
                repeated.append((n["id"], c["id"]))
        stack.extend(reversed(n["children"]))  # depth first, in the order they were drawn
    assert sorted(full) == sorted(ids)  # every issue drawn in full exactly once
    # every edge drawn once: the 77 edges are the 39 tree edges plus 38 marked repeated
    assert len(repeated) == 77 - 39
    text = jit("graph", "show").stdout
    assert text.count("(see above)") == 38 and len(text.splitlines()) == 78


def test_whole_graph_views_read_the_index_at_once(tracker) -> None:  # type: ignore[no-untyped-def]
    """`graph show` without an id and `graph roots` read the index in a fixed number of queries:
    issue by issue they took 20 s and 3.5 s at 100,000 issues. Counted: the SQL statements run
    and the issue states parsed, at 40 and at 120 issues (the same number both times)."""
    from gitjit.store.indexboard import IndexBoard

    def grow(n: int) -> None:
        with tracker.batch():
            made = [tracker.create_issue(f"chain {n} {k}", priority="high" if k % 3 else "low")["id"]
                    for k in range(n)]
        for k in range(n):
            if k % 10 >= 2:  # blocks of ten: two roots and one top each
                tracker.add_dependency(made[k], [made[k - 1], made[k - 2]])

    def cost() -> tuple[int, int, dict, dict]:
        b = tracker.board()
        assert isinstance(b, IndexBoard)
        statements: list[str] = []
        b.ix.c.set_trace_callback(statements.append)
        parsed: list[str] = []
        state = IndexBoard._state
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(tracker, "board", lambda **kw: b)
            mp.setattr(IndexBoard, "_state", lambda self, iid: parsed.append(iid) or state(self, iid))
            tree, roots = tracker.graph_tree(), tracker.graph_roots()
        b.ix.c.set_trace_callback(None)
        return len(statements), len(parsed), tree, roots

    grow(40)
    small, parsed, tree, roots = cost()
    assert parsed == 0 and len(tree["trees"]) == 4 and roots["count"] == 8
    grow(80)
    big, parsed, tree, roots = cost()
    assert parsed == 0 and big == small, (small, big)
    assert len(tree["trees"]) == 12 and roots["count"] == 24
    drawn = []
    stack = list(tree["trees"])
    while stack:
        n = stack.pop()
        drawn += [] if n.get("repeated") else [n["id"]]
        stack += n["children"]
    assert sorted(drawn) == sorted(i["id"] for i in tracker.query("all")["issues"])


def test_graph_deps_downstream_roots(jit, board) -> None:  # type: ignore[no-untyped-def]
    b = board
    d = jit.json("graph", "deps", b["epic"])
    assert d["issue_id"] == b["epic"] and ids({k: d[k] for k in ("issues", "count")}) == [b["t1"], b["t2"], b["t3"]]
    d = jit.json("graph", "deps", b["epic"], "--direct")
    assert [i["id"] for i in d["issues"]] == [b["t1"], b["t2"]]
    d = jit.json("graph", "downstream", b["t3"])
    assert d["issue_id"] == b["t3"] and [i["id"] for i in d["issues"]] == [b["t2"], b["epic"]]
    assert jit("graph", "downstream", b["lone"]).stdout == "Nothing depends on it.\n"
    assert jit("graph", "deps", b["lone"]).stdout == "No dependencies.\n"
    assert ids(jit.json("graph", "roots")) == [b["lone"], b["t3"], b["t1"], b["fin"], b["gated"]]
    assert jit("graph", "roots", "-q").stdout.split() == [b["lone"], b["t3"], b["t1"], b["fin"], b["gated"]]


def test_graph_export_formats(jit, board, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    b = board
    g = json.loads(jit("graph", "export", "--format", "json").stdout)
    assert set(g) == {"nodes", "edges"}
    assert len(g["nodes"]) == 7
    assert set(g["nodes"][0]) == {"id", "short_id", "title", "state", "priority", "labels"}
    assert sorted((e["from"], e["to"]) for e in g["edges"]) == sorted(
        [(b["epic"], b["t1"]), (b["epic"], b["t2"]), (b["t2"], b["t3"])])
    assert jit.json("graph", "export") == g  # --json means the JSON export

    dot = jit("graph", "export").stdout  # dot is the default
    assert dot.startswith("digraph jit {\n") and dot.endswith("}\n")
    assert f'  "{b["epic"]}" -> "{b["t1"]}";' in dot.splitlines()
    assert dot == jit("graph", "export", "--format", "dot").stdout

    mm = jit("graph", "export", "-f", "mermaid").stdout
    assert mm.startswith("graph LR\n")
    # one id form for nodes and edges: the full id (issue 31, item 18), nodes coloured by state
    assert f"  i{b['t2']} --> i{b['t3']}" in mm.splitlines()
    assert f'  i{b["t3"]}["T3 base (in_progress)"]:::in_progress' in mm.splitlines()

    out = tmp_path / "g.mmd"
    r = jit("graph", "export", "--format", "mermaid", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == f"Wrote {out} (7 nodes, 3 edges)\n"
    assert out.read_text() == mm
    d = jit.json("graph", "export", "--format", "dot", "--output", str(tmp_path / "g.dot"))
    assert d == {"written": str(tmp_path / "g.dot"), "format": "dot", "nodes": 7, "edges": 3}
    assert (tmp_path / "g.dot").read_text() == dot
    assert jit("graph", "export", "--format", "png").exit_code == 2


# ----------------------------------------------------------------------------- events

def test_events_tail_and_query(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    ok(jit, "registry", "add", "review", "-t", "Review")
    t_mid = datetime.utcnow().isoformat()
    time.sleep(0.002)
    b = new(jit, "-t", "B", "--gate", "review")
    ok(jit, "issue", "claim", a, "agent:w")
    ok(jit, "gate", "pass", b, "review", "--by", "human:lead")

    evs = jit.json("events", "tail", "-n", "3")
    assert isinstance(evs, list) and len(evs) == 3
    every = jit.json("events", "tail", "-n", "1000")
    assert every[-3:] == evs
    assert len(jit.json("events", "tail")) == min(20, len(every))
    assert jit.json("events", "tail", "-n", "0") == []
    for e in every:
        assert {"id", "type", "issue_id", "timestamp", "actor", "clock"} <= set(e), e
        assert "v" not in e
        datetime.fromisoformat(e["timestamp"])
    assert [e["timestamp"] for e in every] == sorted(e["timestamp"] for e in every)
    gdef = [e for e in every if e["type"] == "gate_defined"]
    assert len(gdef) == 1 and gdef[0]["issue_id"] is None and gdef[0]["gate_key"] == "review"
    created = [e for e in every if e["type"] == "issue_created"]
    assert [(e["issue_id"], e["title"], e["actor"]) for e in created] == [(a, "A", "agent:test"),
                                                                          (b, "B", "agent:test")]
    assert created[1]["gates"] == ["review"] and created[1]["priority"] == "normal"

    claimed = jit.json("events", "query", "--event-type", "issue_claimed")
    assert [(e["issue_id"], e["assignee"], e["actor"]) for e in claimed] == [(a, "agent:w", "agent:w")]
    only_b = jit.json("events", "query", "--issue", b[:5])
    assert only_b and {e["issue_id"] for e in only_b} == {b}
    since = jit.json("events", "query", "--since", t_mid)
    assert {e["issue_id"] for e in since} == {a, b} and all(e["timestamp"] >= t_mid for e in since)
    assert not [e for e in since if e["type"] == "gate_defined"]
    assert jit.json("events", "query", "--since", t_mid + "+00:00") == since  # explicit UTC offset
    assert jit.json("events", "query", "--since", "2999-01-01T00:00:00") == []
    lim = jit.json("events", "query", "--limit", "2")
    assert lim == every[-2:]
    combo = jit.json("events", "query", "--event-type", "gate_passed", "--issue", b, "--since", t_mid,
                     "--limit", "5")
    assert [(e["gate_key"], e["by"]) for e in combo] == [("review", "human:lead")]
    # human form: one line per event
    lines = jit("events", "tail", "-n", "2").stdout.splitlines()
    assert len(lines) == 2 and "gate_passed" in lines[-1] and "by=human:lead" in lines[-1]
    assert jit("events", "tail", "-n", "-1").exit_code == 2
    assert jit("events", "query", "--since", "yesterday").exit_code == 2


# ----------------------------------------------------------------------------- auto-transitions

def test_auto_transitions_are_derived_and_announced(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "dep one")
    c = new(jit, "-t", "dep two")
    b = new(jit, "-t", "dependent")
    assert jit.json("issue", "show", b)["state"] == "ready"
    ok(jit, "dep", "add", b, a, c)
    assert jit.json("issue", "show", b)["state"] == "open"
    assert b not in ids(jit.json("query", "ready"))
    # the dependent's readiness is derived: finishing a dependency writes only that dependency's ref
    before = ref_snapshot(repo)
    ok(jit, "issue", "update", a, "--state", "done")
    after = ref_snapshot(repo)
    assert {r for r in after if after[r] != before.get(r)} == {f"refs/jit/issues/{a}"}
    assert jit.json("issue", "show", b)["state"] == "open"  # still waits for c
    ok(jit, "issue", "claim", c, "agent:w")
    ok(jit, "issue", "update", c, "--state", "done")
    assert jit.json("issue", "show", b)["state"] == "ready"
    assert ids(jit.json("query", "ready")) == [b]
    notices = [e for e in jit.json("events", "tail", "-n", "100")
               if e["type"] == "issue_state_changed" and e["issue_id"] == b]
    assert [(e["from"], e["to"], e.get("derived")) for e in notices] == [
        ("open", "ready", True),    # created
        ("ready", "open", True),    # dependency added
        ("open", "ready", True),    # last dependency finished
    ]
    tail = jit("events", "tail", "-n", "5").stdout
    assert any("issue_state_changed" in ln and b in ln and "to=ready" in ln for ln in tail.splitlines())
    # reopening the dependency makes the dependent wait again, and says so
    ok(jit, "issue", "update", c, "--state", "open")
    assert jit.json("issue", "show", b)["state"] == "open"
    last = jit.json("events", "query", "--issue", b, "--event-type", "issue_state_changed", "--limit", "1")
    assert (last[0]["from"], last[0]["to"]) == ("ready", "open")


def test_rejected_dependency_no_longer_blocks(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "abandoned")
    b = new(jit, "-t", "dependent")
    ok(jit, "dep", "add", b, a)
    ok(jit, "issue", "update", a, "--state", "rejected")
    assert jit.json("issue", "show", b)["state"] == "ready"


def test_query_assignee_lists_current_work_only(jit) -> None:  # type: ignore[no-untyped-def]
    a = jit.json("issue", "create", "-t", "finished")["id"]
    b = jit.json("issue", "create", "-t", "running")["id"]
    for i in (a, b):
        assert jit("issue", "claim", i, "agent:w").exit_code == 0
    assert jit("issue", "update", a, "--state", "done").exit_code == 0
    assert [i["id"] for i in jit.json("query", "assignee", "agent:w")["issues"]] == [b]
    assert sorted(i["id"] for i in jit.json("issue", "list", "--assignee", "agent:w")["issues"]) == sorted([a, b])
