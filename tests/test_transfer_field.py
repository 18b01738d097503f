"""Import and export as found in the field (issue 31, items 16 and 17): a real-sized Beads
`issues.jsonl` whose dependencies name issues it does not hold, and an export that carries the gate
registry so that a re-import knows every gate."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import Jit, make_repo, ref_snapshot
from test_index import assert_same

from gitjit.api import Tracker
from gitjit.app.exchange import export_lines, import_file
from gitjit.core.errors import ValidationError

_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_WORDS = ["parser", "lexer", "cache", "index", "auth", "login", "token", "session", "schema", "migration", "retry",
          "backoff", "queue", "worker", "dispatcher", "webhook", "billing", "invoice", "report", "export", "import",
          "search", "ranking", "sync", "conflict", "merge"]
_TYPES = ["task"] * 6 + ["bug"] * 3 + ["feature"] * 2 + ["epic", "chore", "decision"]
_STATUS = ["closed"] * 9 + ["open"] * 6 + ["in_progress"] * 2 + ["blocked", "deferred", "tombstone", "pinned"]


def _ts(rng: random.Random, day: int) -> str:
    # Beads writes RFC 3339 with nanoseconds and the writer's offset
    off = rng.choice(["Z", "-07:00", "+02:00", "+09:00"])
    return f"2025-{10 + day // 30:02d}-{1 + day % 28:02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:" \
           f"{rng.randrange(60):02d}.{rng.randrange(10**9):09d}{off}"


def beads_export(n: int = 704, dangling: int = 30, seed: int = 31) -> tuple[list[dict[str, object]], set[tuple[str, str]]]:
    """An ``issues.jsonl`` as ``bd export`` writes it (v0.2x-v0.49 field set): hash ids with the
    project prefix, priorities 0-4, statuses, types, labels, comments, and dependency records of
    every kind. ``dangling`` blocking edges point at issues that are not in the file (deleted and
    compacted away, or in another repository). Returns the records and those dangling edges."""
    rng = random.Random(seed)
    ids: list[str] = []
    while len(ids) < n:
        i = "bd-" + "".join(rng.choice(_B36) for _ in range(rng.choice((4, 4, 5, 6))))
        if i not in ids:
            ids.append(i)
    recs: list[dict[str, object]] = []
    for k, iid in enumerate(ids):
        status = rng.choice(_STATUS)
        w = rng.sample(_WORDS, 3)
        r: dict[str, object] = {
            "id": iid, "title": f"{w[0].capitalize()} {w[1]}: handle {w[2]} ({k})",
            "description": f"When the {w[1]} sees a {w[2]}, it must not drop it.\nSteps:\n1. run it\n2. see",
            "status": status, "priority": rng.choice([0, 1, 1, 2, 2, 2, 2, 3, 4]),
            "issue_type": rng.choice(_TYPES), "created_at": _ts(rng, k * 90 // n), "updated_at": _ts(rng, 89),
            "created_by": rng.choice(["steve", "agent-7", "claude", "ana@example.com"]),
        }
        if rng.random() < 0.3:
            r["design"] = f"Keep the {w[0]} pure; push I/O to the edge."
        if rng.random() < 0.2:
            r["acceptance_criteria"] = "- [ ] tests pass\n- [ ] docs updated"
        if rng.random() < 0.2:
            r["notes"] = "See thread in #eng."
        if status in ("in_progress",) or rng.random() < 0.2:
            r["assignee"] = rng.choice(["agent-3", "polecat", "ana"])
        if status == "closed":
            r["closed_at"] = _ts(rng, 89)
            r["close_reason"] = rng.choice(["fixed", "done", "duplicate", "wontfix"])
        if rng.random() < 0.5:
            r["labels"] = rng.sample(["backend", "frontend", "needs review", "p:hot", "area:sync", "good first issue"],
                                     rng.randrange(1, 3))
        if rng.random() < 0.15:
            r["external_ref"] = f"gh-{rng.randrange(1, 900)}"
        if rng.random() < 0.25:
            r["comments"] = [{"id": c, "issue_id": iid, "author": rng.choice(["steve", "agent-7"]),
                              "text": f"progress note {c}", "created_at": _ts(rng, 89)} for c in range(rng.randrange(1, 4))]
        deps = []
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            if k == 0:
                break
            target = ids[rng.randrange(k)]  # only older issues: no cycle
            kind = rng.choice(["blocks", "blocks", "blocks", "parent-child", "related", "discovered-from"])
            deps.append({"issue_id": iid, "depends_on_id": target, "type": kind, "created_at": _ts(rng, 89),
                         "created_by": "steve"})
        r["dependencies"] = deps
        recs.append(r)
    # dangling blocking edges, on live (not tombstoned) issues
    missing: set[tuple[str, str]] = set()
    live = [r for r in recs if r["status"] != "tombstone"]
    while len(missing) < dangling:
        r = rng.choice(live)
        gone = "bd-" + "".join(rng.choice(_B36) for _ in range(7))
        kind = rng.choice(["blocks", "waits-for", "conditional-blocks"])
        r["dependencies"].append({"issue_id": r["id"], "depends_on_id": gone, "type": kind,  # type: ignore[union-attr]
                                  "created_at": _ts(rng, 89), "created_by": "steve"})
        missing.add((str(r["id"]), gone))
    # an edge onto a tombstone is dangling too once the tombstone is skipped
    return recs, missing


def _write(path: Path, recs: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    return path


def _tombstone_edges(recs: list[dict[str, object]]) -> set[tuple[str, str]]:
    gone = {r["id"] for r in recs if r["status"] == "tombstone"}
    return {(str(r["id"]), d["depends_on_id"]) for r in recs if r["status"] != "tombstone"
            for d in r["dependencies"] if d["depends_on_id"] in gone  # type: ignore[attr-defined,index]
            and d["type"] in ("blocks", "waits-for", "conditional-blocks")}  # type: ignore[index]


def test_a_real_sized_beads_file_with_dangling_dependencies(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    recs, missing = beads_export()
    assert len(recs) == 704 and len(missing) == 30
    f = _write(tmp_path / "issues.jsonl", recs)
    expect_skipped = missing | _tombstone_edges(recs)

    # refused as a whole, saying why and what to do; nothing written
    before = ref_snapshot(repo)
    with pytest.raises(ValidationError) as ei:
        import_file(tracker, str(f), "beads")
    err = ei.value
    assert "nothing was imported" in err.message and "no issue matches" in err.message
    assert err.hint is not None and "--skip-missing-deps" in err.hint
    assert f"{len(expect_skipped)} dependencies name issues neither in the input nor in this repository" in err.hint
    assert err.details["missing_dependencies"] == len(expect_skipped)
    assert ref_snapshot(repo) == before

    # a dry run with the option reports every dropped edge and writes nothing
    dry = import_file(tracker, str(f), "beads", dry_run=True, skip_missing_deps=True)
    assert ref_snapshot(repo) == before
    assert {(s["key"], s["depends_on"]) for s in dry["skipped_dependencies"]} == expect_skipped

    res = import_file(tracker, str(f), "beads", skip_missing_deps=True)
    live = [r for r in recs if r["status"] != "tombstone"]
    assert res["count"] == len(live)
    assert {(s["key"], s["depends_on"]) for s in res["skipped_dependencies"]} == expect_skipped
    assert all(s["line"] == 1 + next(n for n, r in enumerate(recs) if r["id"] == s["key"])
               for s in res["skipped_dependencies"])
    # every other blocking edge arrived, pointing at the issue the file meant
    ids = res["ids"]
    shown = {i["id"]: i for i in tracker.query("all")["issues"]}
    for r in live:
        want = [ids[d["depends_on_id"]] for d in r["dependencies"]  # type: ignore[attr-defined]
                if d["type"] in ("blocks", "waits-for", "conditional-blocks")
                and (str(r["id"]), d["depends_on_id"]) not in expect_skipped]
        assert shown[ids[r["id"]]]["dependencies"] == list(dict.fromkeys(want)), r["id"]
    assert_same(repo, tracker)


def test_cli_skip_missing_deps(jit: Jit, repo: Path, tmp_path: Path) -> None:
    recs, missing = beads_export(n=60, dangling=3, seed=5)
    gone = missing | _tombstone_edges(recs)
    n = len(gone)
    recs = [r for r in recs if r["status"] != "tombstone"]
    f = _write(tmp_path / "issues.jsonl", recs)
    before = ref_snapshot(repo)
    r = jit("import", str(f), "--format", "beads")
    assert r.exit_code == 4
    assert "nothing was imported" in r.stderr and f"hint: {n} dependencies name issues" in r.stderr
    assert "--skip-missing-deps" in r.stderr
    r = jit("import", str(f), "--format", "beads", "--json")
    assert r.exit_code == 4 and json.loads(r.stdout)["error"]["details"]["missing_dependencies"] == n
    assert ref_snapshot(repo) == before

    r = jit("import", str(f), "--format", "beads", "--skip-missing-deps")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == f"Imported {len(recs)} issues from {f}; skipped {n} dependencies on missing issues\n"
    warned = {line.split("dependency on ")[1].split(" ")[0] for line in r.stderr.splitlines()}
    assert warned == {t for _, t in gone}
    assert all(line.startswith("warning: line ") for line in r.stderr.splitlines())
    assert jit.json("query", "all")["count"] == len(recs)


def test_export_carries_the_gate_registry(tmp_path: Path) -> None:
    a = Tracker(make_repo(tmp_path / "a"), actor="agent:a")
    a.init()
    a.registry_add("review", title="Code Review", description="a person reads it")
    a.registry_add("unit-tests", title="Unit Tests", mode="auto", command="pytest -q")
    a.registry_add("design", title="Design approved", stage="precheck")
    a.registry_add("gone", title="Removed later")
    a.registry_remove("gone")
    iid = a.create_issue("Login", gates=["review", "unit-tests", "design"])["id"]
    a.gate_set(iid, "review", True, by="human:lead")
    lines = list(export_lines(a))
    assert [json.loads(x) for x in lines[:3]] == [
        {"gate": {"key": "design", "title": "Design approved", "description": "", "mode": "manual",
                  "stage": "precheck"}},
        {"gate": {"key": "review", "title": "Code Review", "description": "a person reads it", "mode": "manual",
                  "stage": "postcheck"}},
        {"gate": {"key": "unit-tests", "title": "Unit Tests", "description": "", "mode": "auto",
                  "stage": "postcheck"}},
    ]
    assert "pytest" not in "".join(lines)  # a checker command is local configuration: never exported
    assert len(lines) == 4 and json.loads(lines[3])["id"] == iid

    f = tmp_path / "out.jsonl"
    f.write_text("".join(x + "\n" for x in lines))
    b = Tracker(make_repo(tmp_path / "b"), actor="agent:b")
    res = import_file(b, str(f))
    assert b.warnings == []  # no "gate ... is not in the registry" for any of them
    assert res["gates_defined"] == ["design", "review", "unit-tests"] and res["count"] == 1
    assert {g["key"]: (g["title"], g["mode"], g["stage"], g["command"]) for g in b.registry_list()["gates"]} == {
        "design": ("Design approved", "manual", "precheck", None),
        "review": ("Code Review", "manual", "postcheck", None),
        "unit-tests": ("Unit Tests", "auto", "postcheck", None)}
    shown = b.show(iid)
    assert shown["state"] == "open"  # the precheck gate holds it, as in the source
    assert [(g["key"], g["status"], g["defined"]) for g in shown["gates"]] == [
        ("review", "passed", True), ("unit-tests", "pending", True), ("design", "pending", True)]
    assert [x for x in export_lines(b) if x.startswith('{"gate"')] == lines[:3]


def test_a_gate_line_is_checked_like_registry_add(tracker: Tracker, repo: Path, tmp_path: Path) -> None:
    before = ref_snapshot(repo)
    for bad, text in [({"gate": {"key": "Bad Key", "title": "x"}}, "gate key"),
                      ({"gate": {"key": "ok", "mode": "sometimes"}}, "mode must be"),
                      ({"gate": "review"}, "must be an object"),
                      ({"gate": {"key": "ok", "title": "two\nlines"}}, "newline")]:
        f = _write(tmp_path / "in.jsonl", [{"title": "an issue"}, bad])
        with pytest.raises(ValidationError) as ei:
            import_file(tracker, str(f))
        assert "line 2" in ei.value.message and text in ei.value.message, ei.value.message
    f = _write(tmp_path / "in.jsonl", [{"gate": {"key": "ok"}}, {"gate": {"key": "ok"}}])
    with pytest.raises(ValidationError, match="defined twice"):
        import_file(tracker, str(f))
    assert ref_snapshot(repo) == before


def test_an_existing_definition_is_kept(tracker: Tracker, tmp_path: Path) -> None:
    tracker.registry_add("review", title="Ours")
    f = _write(tmp_path / "in.jsonl", [{"gate": {"key": "review", "title": "Theirs", "mode": "auto"}},
                                       {"gate": {"key": "lint", "title": "Lint", "mode": "auto"}},
                                       {"title": "uses both", "gates": ["review", "lint"]}])
    res = import_file(tracker, str(f))
    assert res["gates_defined"] == ["lint"] and tracker.warnings == []
    assert tracker.registry_show("review")["title"] == "Ours" and tracker.registry_show("lint")["mode"] == "auto"


def test_cli_export_counts_gates_apart(jit: Jit, tmp_path: Path) -> None:
    assert jit("registry", "add", "review", "-t", "Review").exit_code == 0
    assert jit("issue", "create", "-t", "A", "--gate", "review").exit_code == 0
    out = tmp_path / "x.jsonl"
    r = jit("export", "-o", str(out))
    assert r.exit_code == 0 and r.stdout == f"Wrote 1 issues and 1 gate definition to {out}\n"
    assert jit.json("export", "-o", str(out)) == {"written": str(out), "format": "jsonl", "count": 1, "gates": 1}
    assert jit("export").stdout == out.read_text()
