"""jit import / jit export: whole-file validation, all-or-nothing writes, the three formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo, ref_snapshot
from test_index import assert_same

from gitjit.app.exchange import PACKED_WRITE_MIN, export_lines, import_file
from gitjit.app.tracker import Tracker
from gitjit.core.errors import CycleError, ValidationError


def write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((ln if isinstance(ln, str) else json.dumps(ln)) + "\n" for ln in lines))
    return path


GRAPH = [
    {"key": "lexer", "title": "Lexer", "priority": "high", "labels": ["team:core"], "gates": ["review"]},
    {"key": "parser", "title": "Parser", "depends_on": ["lexer"], "context": {"lang": "py", "n": [1, 2]}},
    {"key": "old", "title": "Old thing", "state": "done", "created_at": "2025-01-02T03:04:05.123456789Z",
     "completed_at": "2025-01-03T00:00:00+02:00"},
    {"key": "wip", "title": "WIP", "state": "in_progress", "assignee": "agent:w", "gates": ["review"],
     "gate_status": {"review": {"status": "passed", "by": "human:alice"}}},
    {"key": "epic", "title": "Epic", "depends_on": ["parser", "old", "wip"], "description": "two\nlines"},
]


def test_import_a_graph_in_one_run(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    pre = tracker.create_issue("already here")["id"]
    lines = GRAPH + [{"key": "late", "title": "Depends on an existing issue", "depends_on": [pre[:6]]}]
    res = import_file(tracker, str(write(tmp_path / "in.jsonl", lines)))
    assert res["count"] == 6 and set(res["ids"]) == {d["key"] for d in lines}
    ids = res["ids"]
    show = {k: tracker.show(v) for k, v in ids.items()}
    assert show["lexer"]["state"] == "ready" and show["lexer"]["labels"] == ["team:core"]
    assert show["parser"]["state"] == "open" and show["parser"]["dependencies"] == [ids["lexer"]]
    assert show["parser"]["context"] == {"lang": "py", "n": [1, 2]}
    assert show["old"]["state"] == "done" and show["old"]["created_at"] == "2025-01-02T03:04:05.123456+00:00"
    assert show["old"]["completed_at"] == "2025-01-02T22:00:00.000000+00:00"
    assert show["wip"]["assignee"] == "agent:w" and show["wip"]["state"] == "in_progress"
    assert show["wip"]["gates"][0]["status"] == "passed" and show["wip"]["gates"][0]["by"] == "human:alice"
    assert show["epic"]["dependencies"] == [ids["parser"], ids["old"], ids["wip"]]
    assert show["late"]["dependencies"] == [pre]
    assert_same(repo, tracker)  # the index and a full fold agree on the imported data
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0


@pytest.mark.parametrize("bad,line,text", [
    ('{"title": 5}', 2, "title is required"),
    ("{not json", 2, "not JSON"),
    ('{"title": "x", "priority": "urgent"}', 2, "unknown priority"),
    ('{"title": "x", "labels": ["nolabel"]}', 2, "namespace:value"),
    ('{"title": "x", "depends_on": ["nowhere"]}', 2, "nowhere"),
    ('{"title": "x", "id": "XYZ"}', 2, "12 lowercase hex"),
    ('{"title": "x", "created_at": "yesterday"}', 2, "ISO 8601"),
    ('{"key": "lexer", "title": "again"}', 2, "used twice"),
    ('{"title": "x", "labels": "a:b"}', 2, "labels: Input should be a valid list"),
    ('{"title": "x", "gates": [{"key": "r", "status": "maybe"}]}', 2,
     "gates.0.status: Input should be 'pending', 'passed' or 'failed'"),
    ('{"title": "x", "gate_status": {"r": {"status": "done"}}}', 2, "gate_status.r.status: Input should be"),
    ('["not", "an", "object"]', 2, "not a JSON object"),
])
def test_a_bad_line_is_reported_and_nothing_is_written(tracker: Tracker, repo: Path, tmp_path: Path,
                                                       bad: str, line: int, text: str) -> None:
    before = ref_snapshot(repo)
    f = write(tmp_path / "in.jsonl", [GRAPH[0], bad, GRAPH[1]])
    with pytest.raises(ValidationError) as ei:
        import_file(tracker, str(f))
    assert f"line {line}" in ei.value.message and text in ei.value.message
    assert ei.value.details["errors"][0]["line"] == line
    assert ref_snapshot(repo) == before


def test_a_cycle_in_the_file_is_refused(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    before = ref_snapshot(repo)
    f = write(tmp_path / "in.jsonl", [{"key": "a", "title": "A", "depends_on": ["b"]},
                                      {"key": "b", "title": "B", "depends_on": ["c"]},
                                      {"key": "c", "title": "C", "depends_on": ["a"]}])
    with pytest.raises(CycleError) as ei:
        import_file(tracker, str(f))
    assert "a -> b -> c -> a" in ei.value.message
    assert ref_snapshot(repo) == before


def test_export_then_import_elsewhere_round_trips(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    import_file(tracker, str(write(tmp_path / "in.jsonl", GRAPH)))
    exported = list(export_lines(tracker))
    assert len(exported) == 5 and all(json.loads(x)["key"] == json.loads(x)["id"] for x in exported)
    other = make_repo(tmp_path / "other")
    t2 = Tracker(other, actor="agent:importer")
    res = import_file(t2, str(write(tmp_path / "out.jsonl", exported)))
    assert sorted(res["ids"].values()) == sorted(json.loads(x)["id"] for x in exported)
    keep = ("id", "title", "description", "priority", "state", "assignee", "labels", "context", "gates",
            "gate_status", "depends_on", "created_at", "created_by", "completed_at")
    again = list(export_lines(t2))
    assert [{k: json.loads(x)[k] for k in keep} for x in again] == \
        [{k: json.loads(x)[k] for k in keep} for x in exported]
    # importing the same export twice is refused: the ids exist
    before = ref_snapshot(other)
    with pytest.raises(ValidationError, match="already exists"):
        import_file(t2, str(tmp_path / "out.jsonl"))
    assert ref_snapshot(other) == before


def test_large_import_adds_refs_to_packed_refs(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    n = PACKED_WRITE_MIN + 10
    lines = [{"key": f"k{i}", "title": f"T{i}", "depends_on": [f"k{i - 1}"] if i % 3 else []} for i in range(n)]
    res = import_file(tracker, str(write(tmp_path / "in.jsonl", lines)))
    packed = (repo / ".git/packed-refs").read_text()
    assert all(f"refs/jit/issues/{i}" in packed for i in res["ids"].values())
    assert len(git("for-each-ref", "refs/jit/issues/", cwd=repo).stdout.splitlines()) == n
    assert tracker.query("ready")["count"] == len([x for x in lines if not x["depends_on"]])
    assert_same(repo, tracker)
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0
    # libgit2 (the write path) sees the packed refs too
    tracker.update_issue(res["ids"]["k0"], state="done")
    assert tracker.show(res["ids"]["k1"])["state"] == "ready"


def test_an_import_stores_no_delta_chains(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    """git fast-import deltifies each blob against the one before it, another issue's log, in
    chains up to 50 deep that git gc keeps; every later read of such a blob (each write of the
    issue) paid for the chain. An import stores every object whole."""
    lines = [{"key": f"k{i}", "title": f"Task number {i}", "description": "the same words " * 20,
              "labels": ["team:core"], "context": {"n": i}} for i in range(80)]
    import_file(tracker, str(write(tmp_path / "in.jsonl", lines)))
    git("gc", "-q", cwd=repo)
    rows = git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(deltabase)", cwd=repo).stdout.split("\n")
    kinds = [r.split() for r in rows if r]
    assert sum(k == "blob" for k, _ in kinds) >= 80
    assert [r for r in kinds if r[1].strip("0")] == []


def test_rust_jit_directory(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    root = tmp_path / "proj" / ".jit"
    (root / "issues").mkdir(parents=True)
    u1, u2, u3 = ("11111111-aaaa-4bbb-8ccc-000000000001", "22222222-aaaa-4bbb-8ccc-000000000002",
                  "33333333-aaaa-4bbb-8ccc-000000000003")
    base = {"description": "", "assignee": None, "dependencies": [], "gates_required": [], "gates_status": {},
            "context": {}, "labels": ["type:task"], "created_at": "2026-01-02T21:46:14.049465403Z",
            "updated_at": "2026-01-02T21:50:00Z", "priority": "normal"}
    issues = [
        {**base, "id": u1, "title": "Design", "state": "done", "gates_required": ["review"],
         "gates_status": {"review": {"status": "passed", "updated_by": "human:bob",
                                     "updated_at": "2026-01-02T21:49:00Z"}}},
        {**base, "id": u2, "title": "Build", "state": "gated", "assignee": "agent:worker-1", "dependencies": [u1],
         "priority": "critical", "context": {"note": "x"}},
        {**base, "id": u3, "title": "Ship", "state": "backlog", "dependencies": [u2]},
    ]
    for it in issues:
        (root / "issues" / f"{it['id']}.json").write_text(json.dumps(it, indent=2))
    (root / "gates.json").write_text(json.dumps({"gates": {"review": {
        "key": "review", "title": "Code review", "description": "", "stage": "postcheck", "mode": "manual",
        "checker": {"type": "exec", "command": "rm -rf /", "timeout_seconds": 5}}}}))
    (root / "events.jsonl").write_text(json.dumps({
        "type": "issue_state_changed", "id": "e1", "issue_id": u1, "timestamp": "2026-01-02T21:47:00.123456789Z",
        "from": "backlog", "to": "done"}) + "\n")
    res = import_file(tracker, str(tmp_path / "proj"), "rust-jit")
    assert res["gates_defined"] == ["review"]
    assert tracker.registry_show("review")["command"] is None  # a checker command is never imported
    ids = res["ids"]
    d, b, s = (tracker.show(ids[u]) for u in (u1, u2, u3))
    assert d["state"] == "done" and d["gates"][0]["status"] == "passed" and d["gates"][0]["by"] == "human:bob"
    assert b["state"] == "in_progress" and b["assignee"] == "agent:worker-1" and b["priority"] == "critical"
    assert b["context"] == {"note": "x", "source_id": f"jit:{u2}"} and b["dependencies"] == [ids[u1]]
    assert s["state"] == "open" and s["dependencies"] == [ids[u2]]
    hist = tracker.events(issue=ids[u1], event_type="imported_event")
    assert hist and hist[0]["source_type"] == "issue_state_changed" and hist[0]["data"]["to"] == "done"
    assert_same(repo, tracker)


def test_beads_issues_jsonl(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    lines = [
        {"id": "bd-a1", "title": "Epic", "status": "open", "priority": 1, "issue_type": "epic",
         "labels": ["backend", "needs review"], "created_at": "2025-11-01T10:00:00Z",
         "dependencies": [{"issue_id": "bd-a1", "depends_on_id": "bd-b2", "type": "blocks"},
                          {"issue_id": "bd-a1", "depends_on_id": "bd-c3", "type": "related"}]},
        {"id": "bd-b2", "title": "Child", "status": "closed", "priority": 0, "close_reason": "fixed",
         "closed_at": "2025-11-02T10:00:00Z", "design": "Use a trie.",
         "dependencies": [{"issue_id": "bd-b2", "depends_on_id": "bd-a1", "type": "parent-child"}],
         "comments": [{"id": 1, "author": "agent", "text": "Working on it", "created_at": "2025-11-01T11:00:00Z"}]},
        {"id": "bd-c3", "title": "Waiting", "status": "blocked", "priority": 4, "assignee": ""},
        {"id": "bd-d4", "title": "Gone", "status": "tombstone"},
        {"id": "bd-e5", "title": "Hooked", "status": "hooked", "assignee": "agent:polecat", "priority": 2},
    ]
    res = import_file(tracker, str(write(tmp_path / "issues.jsonl", lines)), "beads")
    assert res["count"] == 4 and "bd-d4" not in res["ids"]
    ids = res["ids"]
    epic, child, waiting, hooked = (tracker.show(ids[k]) for k in ("bd-a1", "bd-b2", "bd-c3", "bd-e5"))
    assert epic["priority"] == "high" and epic["state"] == "ready"  # its blocker is closed
    assert epic["labels"] == ["tag:backend", "tag:needs-review", "type:epic"]
    assert epic["dependencies"] == [ids["bd-b2"]]
    assert epic["context"]["links"] == [{"type": "related", "id": "bd-c3"}]
    assert child["state"] == "done" and child["priority"] == "critical" and "parent:bd-a1" in child["labels"]
    assert "## Design" in child["description"] and child["context"]["close_reason"] == "fixed"
    assert waiting["priority"] == "low" and "status:blocked" in waiting["labels"] and waiting["assignee"] is None
    assert hooked["state"] == "in_progress" and hooked["assignee"] == "agent:polecat"
    comments = tracker.events(issue=ids["bd-b2"], event_type="imported_event")
    assert comments[0]["data"] == {"text": "Working on it"} and comments[0]["actor"] == "agent"
    assert_same(repo, tracker)


def test_cli_import_export(jit: Jit, repo: Path, tmp_path: Path) -> None:
    f = write(tmp_path / "in.jsonl", GRAPH)
    r = jit("import", str(f))
    assert r.exit_code == 0, r.output
    assert "Imported 5 issues" in r.stdout
    out = tmp_path / "out.jsonl"
    data = jit.json("export", "-o", str(out))
    assert data["count"] == 5 and len(out.read_text().splitlines()) == 5
    r = jit("export")
    assert r.stdout == out.read_text()
    r = jit("import", str(out), "--json")
    assert r.exit_code == 4 and json.loads(r.stdout)["error"]["code"] == "VALIDATION_FAILED"
    r = jit("import", str(f), "--dry-run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["dry_run"] is True
    assert jit.json("query", "all")["count"] == 5
    st = jit.json("index", "status")
    assert st["fresh"] and st["issues"] == 5
    assert jit.json("index", "rebuild")["issues"] == 5
