"""`jit init`, `jit status` and every `jit issue …` command, run in-process through main(argv).

Each test builds a fresh repository (the `jit` fixture), drives the CLI the way an agent
would, and asserts exit codes, exact human lines where scripts parse them, and JSON shapes.
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from conftest import git, ref_snapshot, run_jit

ID_RE = re.compile(r"^[0-9a-f]{12}$")

#: every key of the issue object (docs/json.md); asserted exactly so a rename cannot slip through
ISSUE_KEYS = {
    "id", "short_id", "title", "description", "state", "priority", "assignee", "dependencies", "gates",
    "context", "labels", "created_at", "updated_at", "created_by", "claimed_at", "completed_at", "commits",
    "conflicts", "blocked_reasons",
}
GATE_KEYS = {"key", "status", "by", "updated_at", "reason", "title", "mode", "stage", "defined",
             "trusted", "note"}  # the last two: one issue's JSON applies the local gate policy (docs/reliability.md)
STATUS_KEYS = {"open", "ready", "in_progress", "done", "rejected", "archived", "blocked", "total",
               "recent_completions", "assignments", "parked", "conflicts"}


def new(jit, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    iid = r.stdout.strip()
    assert ID_RE.match(iid), r.stdout
    return iid


def ids(listing: dict) -> list[str]:
    assert set(listing) >= {"issues", "count"}
    assert listing["count"] == len(listing["issues"])
    return [i["id"] for i in listing["issues"]]


def fail(jit, *args: str, code: int, err: str):  # type: ignore[no-untyped-def]
    """Run a command that must be refused; return the parsed JSON error."""
    r = jit(*args, "--json")
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    e = json.loads(r.stdout)["error"]
    assert e["code"] == err, e
    return e


# ----------------------------------------------------------------------------- init / status

def test_init_is_idempotent(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    new(jit, "-t", "keep me")
    before = ref_snapshot(repo)
    cfg = git("config", "--local", "--list", cwd=repo).stdout
    r = jit("init")
    assert r.exit_code == 0
    assert r.stdout.startswith("Initialized jit in ") and "(already set up)" in r.stdout
    data = jit.json("init")
    assert data == {"initialized": True, "repository": data["repository"], "changed": []}
    assert Path(data["repository"]).resolve() == (repo / ".git").resolve()
    assert ref_snapshot(repo) == before
    assert git("config", "--local", "--list", cwd=repo).stdout == cfg
    assert git("config", "jit.version", cwd=repo).stdout.strip() == "1"
    # nothing in the working tree, index or HEAD
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert git("rev-parse", "--verify", "-q", "HEAD", cwd=repo, check=False).returncode != 0


def test_first_init_reports_what_it_configured(repo: Path) -> None:
    from conftest import Jit

    j = Jit(repo)
    data = j.json("init")
    assert data["initialized"] is True
    assert "jit.version" in data["changed"]


def test_init_outside_a_git_repository_creates_one_and_says_so(tmp_path: Path) -> None:
    """Seed 002 as written: ``mkdir my-project && cd my-project && jit init``."""
    import os
    import sys

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    res = subprocess.run(["sh", "-c", "mkdir my-project && cd my-project && jit init"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    proj = tmp_path / "my-project"
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        f"Initialized an empty git repository in {proj / '.git'} (there was none in {proj})",
        f"Initialized jit in {proj / '.git'} (jit.version, core.logAllRefUpdates=always, merge.jit.name, "
        "merge.jit.driver, info/attributes)"]
    assert Path(git("rev-parse", "--absolute-git-dir", cwd=proj).stdout.strip()) == proj / ".git"
    assert git("config", "jit.version", cwd=proj).stdout.strip() == "1"
    again = subprocess.run(["jit", "init"], cwd=proj, env=env, capture_output=True, text=True)
    assert again.stdout == f"Initialized jit in {proj / '.git'} (already set up)\n"
    created = subprocess.run(["jit", "issue", "create", "-q", "-t", "First"], cwd=proj, env=env,
                             capture_output=True, text=True)
    assert created.returncode == 0 and len(created.stdout.strip()) == 12
    # --repo names the directory; --json lists the git init first among the changes
    other = tmp_path / "other"
    other.mkdir()
    data = json.loads(run_jit("--repo", str(other), "init", "--json", cwd=tmp_path).stdout)
    assert data["changed"][0] == "git init" and Path(data["repository"]) == other / ".git"
    # a directory that does not exist is still an error (nothing is created)
    gone = run_jit("--repo", str(tmp_path / "missing"), "init", cwd=tmp_path)
    assert gone.returncode == 3 and "no such directory" in gone.stderr and not (tmp_path / "missing").exists()
    # other commands outside a repository point at jit init
    bare = tmp_path / "empty"
    bare.mkdir()
    listed = run_jit("issue", "list", cwd=bare)
    assert listed.returncode == 3 and "hint: run 'jit init' to create one here" in listed.stderr
    assert not (bare / ".git").exists()


def test_status_counts_blocked_completions_and_holders(jit) -> None:  # type: ignore[no-untyped-def]
    empty = jit.json("status")
    assert set(empty) == STATUS_KEYS
    assert empty["total"] == 0 and empty["recent_completions"] == [] and empty["assignments"] == {}

    a = new(jit, "-t", "A")
    b = new(jit, "-t", "B")
    c = new(jit, "-t", "C")
    d = new(jit, "-t", "D")
    assert jit("dep", "add", b, a).exit_code == 0
    assert jit("issue", "claim", c, "agent:w1").exit_code == 0
    assert jit("issue", "update", d, "--state", "done").exit_code == 0
    s = jit.json("status")
    assert set(s) == STATUS_KEYS
    assert (s["open"], s["ready"], s["in_progress"], s["done"], s["blocked"], s["total"]) == (1, 1, 1, 1, 1, 4)
    assert [x["id"] for x in s["recent_completions"]] == [d]
    assert set(s["recent_completions"][0]) == {"id", "title", "completed_at"}
    datetime.fromisoformat(s["recent_completions"][0]["completed_at"])
    assert list(s["assignments"]) == ["agent:w1"]
    assert s["assignments"]["agent:w1"][0]["id"] == c
    assert set(s["assignments"]["agent:w1"][0]) == {"id", "title", "state", "since"}
    human = jit("status").stdout
    assert "Ready: 1" in human and "In Progress: 1" in human and "Blocked: 1" in human and "Done: 1" in human
    assert "agent:w1" in human and "- D (" in human


# ----------------------------------------------------------------------------- create

def test_create_default_output_quiet_and_json(jit) -> None:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-t", "Add login")
    assert r.exit_code == 0
    m = re.fullmatch(r"Created issue: ([0-9a-f]{12})\n", r.stdout)
    assert m, r.stdout
    r = jit("issue", "create", "-q", "-t", "Quiet one")
    assert r.exit_code == 0 and ID_RE.match(r.stdout.rstrip("\n")) and r.stdout.count("\n") == 1
    r2 = jit("-q", "issue", "create", "-t", "Global quiet")
    assert ID_RE.match(r2.stdout.strip())
    data = jit.json("issue", "create", "-t", "As JSON")
    assert set(data) == ISSUE_KEYS
    assert data["title"] == "As JSON" and data["state"] == "ready" and data["priority"] == "normal"
    assert data["short_id"] == data["id"][:8]
    assert data["created_by"] == "agent:test"
    assert data["created_at"] == data["updated_at"]
    datetime.fromisoformat(data["created_at"])
    assert jit.json("issue", "show", m.group(1))["title"] == "Add login"


def test_create_every_option(jit) -> None:  # type: ignore[no-untyped-def]
    data = jit.json(
        "issue", "create", "--title", "Build it", "--desc", "line one\nline two", "--priority", "critical",
        "--gate", "review,tests", "-g", "lint", "--gate", "review",
        "--context", 'tags=["build","test"]', "--context", "n=3", "--context", "plain=hello world",
        "--context", 'obj={"a": [1, 2]}', "--context", "flag=true", "--context", "eq=a=b",
        "--label", "type:task", "-l", "team:infra",
    )
    assert data["title"] == "Build it"
    assert data["description"] == "line one\nline two"
    assert data["priority"] == "critical"
    assert [g["key"] for g in data["gates"]] == ["review", "tests", "lint"]
    for g in data["gates"]:
        assert set(g) == GATE_KEYS
        assert (g["status"], g["by"], g["defined"], g["mode"], g["stage"]) == (
            "pending", None, False, "manual", "postcheck")
    assert data["context"] == {"tags": ["build", "test"], "n": 3, "plain": "hello world", "obj": {"a": [1, 2]},
                               "flag": True, "eq": "a=b"}
    assert data["labels"] == ["type:task", "team:infra"]
    # postcheck gates do not hold up starting work
    assert data["state"] == "ready" and data["blocked_reasons"] == []
    # and the shape survives a fresh read
    again = jit.json("issue", "show", data["id"])
    assert again == data


def test_create_title_as_argument_and_lowercases_priority(jit) -> None:  # type: ignore[no-untyped-def]
    data = jit.json("issue", "create", "Positional title", "-p", "HIGH")
    assert data["title"] == "Positional title" and data["priority"] == "high"


def test_create_warns_about_undefined_gate_on_stderr_only(jit) -> None:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-t", "x", "--gate", "review", "--json")
    assert r.exit_code == 0
    json.loads(r.stdout)  # stdout stays pure JSON
    assert "warning: gate 'review' is not in the registry" in r.stderr


# ----------------------------------------------------------------------------- list / show

def test_list_filters(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A", "-p", "high", "-l", "team:infra", "-l", "type:bug")
    b = new(jit, "-t", "B", "-p", "low", "-l", "team:web")
    c = new(jit, "-t", "C", "-l", "team:infra")
    d = new(jit, "-t", "D")
    assert jit("dep", "add", d, c).exit_code == 0
    assert jit("issue", "claim", b, "agent:w1").exit_code == 0

    assert ids(jit.json("issue", "list")) == [a, c, d, b]  # priority, then oldest
    assert ids(jit.json("issue", "list", "--state", "ready")) == [a, c]
    assert ids(jit.json("issue", "list", "--state", "open")) == [d]
    assert ids(jit.json("issue", "list", "-s", "in_progress")) == [b]
    assert ids(jit.json("issue", "list", "--assignee", "agent:w1")) == [b]
    assert ids(jit.json("issue", "list", "-a", "nobody")) == []
    assert ids(jit.json("issue", "list", "--priority", "high")) == [a]
    assert ids(jit.json("issue", "list", "-p", "low")) == [b]
    assert ids(jit.json("issue", "list", "--label", "team:infra")) == [a, c]
    assert ids(jit.json("issue", "list", "--label", "team:*")) == [a, c, b]
    assert ids(jit.json("issue", "list", "--label", "team:infra", "--label", "type:bug")) == [a]
    assert ids(jit.json("issue", "list", "--state", "ready", "--priority", "normal")) == [c]
    every = jit.json("issue", "list")
    for i in every["issues"]:
        assert set(i) == ISSUE_KEYS
    # human and quiet forms
    r = jit("issue", "list")
    assert r.stdout.splitlines()[0].startswith(a[:8]) and r.stdout.rstrip().endswith("(4 issues)")
    assert jit("issue", "list", "-q").stdout.split() == [a, c, d, b]
    assert jit("issue", "list", "--label", "x:none").stdout.strip() == "No issues."


def test_show_by_prefix_and_several(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Alpha", "-d", "the description")
    b = new(jit, "-t", "Beta")
    for p in (a, a[:4], a[:8], a.upper()[:6]):
        assert jit.json("issue", "show", p)["id"] == a
    both = jit.json("issue", "show", a[:6], b[:6])
    assert [x["id"] for x in both] == [a, b]
    human = jit("issue", "show", a[:5]).stdout
    assert human.startswith(f"{a}  Alpha\n") and "state:     ready" in human and "the description" in human
    assert jit("issue", "show", a, "-q").stdout == "ready\n"


def test_ambiguous_prefix_lists_candidates(jit, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pool = iter(["abc000000001", "abc000000002", "fed000000003"])
    monkeypatch.setattr("gitjit.app.issues.new_issue_id", lambda: next(pool))
    a, b, c = new(jit, "-t", "First"), new(jit, "-t", "Second"), new(jit, "-t", "Third")
    assert (a, b, c) == ("abc000000001", "abc000000002", "fed000000003")
    e = fail(jit, "issue", "show", "abc", code=2, err="AMBIGUOUS_ID")
    assert e["details"]["candidates"] == [{"id": a, "title": "First"}, {"id": b, "title": "Second"}]
    assert a in e["message"] and b in e["message"] and e["hint"]
    r = jit("issue", "show", "abc")
    assert r.exit_code == 2 and r.stdout == ""
    assert f"{a} (First)" in r.stderr and f"{b} (Second)" in r.stderr and "hint:" in r.stderr
    # a longer prefix is unique again, everywhere an id is taken
    assert jit.json("issue", "show", "abc000000002")["title"] == "Second"
    assert jit("issue", "update", "abc0000000", "-t", "x").exit_code == 2
    assert jit("issue", "claim", "abc", "w").exit_code == 2
    assert jit("dep", "add", "fed", "abc").exit_code == 2
    assert jit.json("issue", "show", "f")["id"] == c


# ----------------------------------------------------------------------------- update

def test_update_each_field(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Old", "-l", "type:task", "--context", "keep=1", "--context", "drop=2")
    d = jit.json("issue", "update", a[:6], "--title", "New title")
    assert d["title"] == "New title"
    assert jit.json("issue", "update", a, "-d", "more\ntext")["description"] == "more\ntext"
    assert jit.json("issue", "update", a, "--desc", "again")["description"] == "again"
    assert jit.json("issue", "update", a, "-p", "critical")["priority"] == "critical"
    assert jit.json("issue", "update", a, "--priority", "low")["priority"] == "low"
    d = jit.json("issue", "update", a, "--context", "agent_notes=Remember docs", "--context", "tags=[\"x\"]")
    assert d["context"] == {"keep": 1, "drop": 2, "agent_notes": "Remember docs", "tags": ["x"]}
    d = jit.json("issue", "update", a, "--unset-context", "drop")
    assert d["context"] == {"keep": 1, "agent_notes": "Remember docs", "tags": ["x"]}
    d = jit.json("issue", "update", a, "--label", "team:web", "--label", "area:cli,size:s")
    assert d["labels"] == ["type:task", "team:web", "area:cli", "size:s"]
    d = jit.json("issue", "update", a, "--remove-label", "type:task")
    assert d["labels"] == ["team:web", "area:cli", "size:s"]
    # human line and quiet id
    r = jit("issue", "update", a, "-t", "Final")
    assert r.stdout == f"Updated issue {a[:8]} (ready)\n"
    assert jit("issue", "update", a, "-t", "Final2", "-q").stdout == a + "\n"
    # every change is an event with the fields it touched
    evs = jit.json("events", "query", "--issue", a, "--event-type", "issue_updated")
    assert [sorted(e["fields"]) for e in evs] == [
        ["title"], ["description"], ["description"], ["priority"], ["priority"], ["context"], ["context"],
        ["labels"], ["labels"], ["title"], ["title"]]


def test_update_without_change_writes_nothing(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Same", "-p", "high")
    before = ref_snapshot(repo)
    assert jit("issue", "update", a, "-t", "Same", "-p", "high").exit_code == 0
    assert ref_snapshot(repo) == before


def test_state_transitions(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Walk the states")
    st = lambda: jit.json("issue", "show", a)["state"]  # noqa: E731
    assert st() == "ready"
    assert jit.json("issue", "update", a, "--state", "in_progress")["state"] == "in_progress"
    assert jit.json("issue", "update", a, "--state", "open")["state"] == "ready"  # open with nothing blocking
    assert jit.json("issue", "update", a, "--state", "in-progress")["state"] == "in_progress"  # alias
    d = jit.json("issue", "update", a, "--state", "done")
    assert d["state"] == "done" and d["completed_at"]
    datetime.fromisoformat(d["completed_at"])
    assert jit.json("issue", "update", a, "--state", "open")["state"] == "ready"  # reopen
    assert jit.json("issue", "update", a, "-s", "rejected")["state"] == "rejected"
    assert jit.json("issue", "update", a, "-s", "archived")["state"] == "archived"
    assert jit.json("issue", "update", a, "-s", "backlog")["state"] == "ready"
    assert jit.json("issue", "update", a, "-s", "ready")["state"] == "ready"
    evs = jit.json("events", "query", "--issue", a, "--event-type", "issue_state_changed")
    # creation is announced as a derived open -> ready notice (nobody stated it; watchers see it)
    assert [(e["from"], e["to"]) for e in evs if e.get("derived")] == [("open", "ready")]
    changes = [(e["from"], e["to"]) for e in evs if not e.get("derived")]
    assert changes == [("ready", "in_progress"), ("in_progress", "ready"), ("ready", "in_progress"),
                       ("in_progress", "done"), ("done", "ready"), ("ready", "rejected"),
                       ("rejected", "archived"), ("archived", "ready")]
    # done emits issue_completed too
    assert len(jit.json("events", "query", "--issue", a, "--event-type", "issue_completed")) == 1


def test_done_refused_while_gates_pending(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Gated", "--gate", "review,tests")
    before = ref_snapshot(repo)
    r = jit("issue", "update", a, "--state", "done")
    assert r.exit_code == 4 and r.stdout == ""
    assert "gate 'review' is pending" in r.stderr and "gate 'tests' is pending" in r.stderr
    assert f"hint: pass the gates first: jit gate pass {a[:8]} review" in r.stderr
    e = fail(jit, "issue", "update", a, "--state", "done", code=4, err="BLOCKED")
    assert e["details"]["missing_gates"] == ["review", "tests"]
    assert e["details"]["requested_state"] == "done"
    assert ref_snapshot(repo) == before
    assert jit("gate", "pass", a, "review").exit_code == 0
    e = fail(jit, "issue", "update", a, "--state", "done", code=4, err="BLOCKED")
    assert e["details"]["missing_gates"] == ["tests"]
    assert "review" not in e["message"] and "tests" in e["message"]
    assert jit("gate", "fail", a, "tests").exit_code == 0
    e = fail(jit, "issue", "update", a, "--state", "done", code=4, err="BLOCKED")
    assert e["details"]["blockers"] == [{"type": "gate", "gate_key": "tests", "status": "failed",
                                         "stage": "postcheck"}]
    assert jit("gate", "pass", a, "tests").exit_code == 0
    assert jit.json("issue", "update", a, "--state", "done")["state"] == "done"


def test_field_changes_rejected_with_a_refused_state_change_are_not_written(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Gated", "--gate", "review")
    before = ref_snapshot(repo)
    assert jit("issue", "update", a, "-t", "renamed", "--state", "done").exit_code == 4
    assert ref_snapshot(repo) == before
    assert jit.json("issue", "show", a)["title"] == "Gated"


# ----------------------------------------------------------------------------- search / delete

def test_search(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Fix LOGIN page")
    b = new(jit, "-t", "Other", "-d", "the login form breaks")
    c = new(jit, "-t", "Labelled", "-l", "area:login")
    new(jit, "-t", "Unrelated")
    d = jit.json("issue", "search", "Login")
    assert d["query"] == "Login" and set(ids(d)) == {a, b, c} and d["count"] == 3
    assert ids(jit.json("issue", "search", a[:7])) == [a]
    assert jit.json("issue", "search", "zzz") == {"query": "zzz", "issues": [], "count": 0}
    assert jit("issue", "search", "zzz").stdout == "No matches.\n"


def test_delete_is_a_tombstone_and_unblocks_dependents(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Doomed")
    b = new(jit, "-t", "Waits")
    assert jit("dep", "add", b, a).exit_code == 0
    assert jit.json("issue", "show", b)["state"] == "open"
    r = jit("issue", "delete", a[:6])
    assert r.exit_code == 0 and r.stdout == f"Deleted issue {a}\n"
    # the ref stays (history in git) and ends with the tombstone event
    ref = f"refs/jit/issues/{a}"
    assert ref in ref_snapshot(repo)
    last = git("show", f"{ref}:events.jsonl", cwd=repo).stdout.splitlines()
    assert any(json.loads(x)["type"] == "issue_deleted" for x in last)
    # a deleted id is not found anywhere an id is taken
    e = fail(jit, "issue", "show", a, code=3, err="NOT_FOUND")
    assert "deleted" in e["message"]
    assert jit("issue", "update", a, "-t", "x").exit_code == 3
    assert jit("issue", "claim", a, "w").exit_code == 3
    assert jit("issue", "delete", a).exit_code == 3
    assert a not in ids(jit.json("issue", "list"))
    assert ids(jit.json("query", "all")) == [b]
    # the dependent is ready again, its edge to the deleted issue no longer shows or counts
    bj = jit.json("issue", "show", b)
    assert bj["state"] == "ready" and bj["dependencies"] == [] and bj["blocked_reasons"] == []
    assert ids(jit.json("query", "ready")) == [b]
    assert jit.json("graph", "export", "--format", "json")["edges"] == []
    # the history stays queryable by the old id
    types = [e["type"] for e in jit.json("events", "query", "--issue", a)]
    assert types[0] == "issue_created" and "issue_deleted" in types
    assert jit.json("issue", "delete", b) == {"id": b, "deleted": True}


# ----------------------------------------------------------------------------- assign / claim / release

def test_assign_and_unassign(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    r = jit("issue", "assign", a, "human:alice")
    assert r.exit_code == 0 and r.stdout == f"Assigned {a[:8]} to human:alice\n"
    d = jit.json("issue", "show", a)
    assert d["assignee"] == "human:alice" and d["state"] == "ready"
    assert ids(jit.json("query", "ready")) == []  # assigned work is not offered to others
    assert ids(jit.json("query", "assignee", "human:alice")) == [a]
    assert jit.json("issue", "unassign", a)["assignee"] is None
    assert ids(jit.json("query", "ready")) == [a]
    # unassigning work in progress puts it back in the queue
    assert jit("issue", "claim", a, "agent:w").exit_code == 0
    d = jit.json("issue", "unassign", a)
    assert d["assignee"] is None and d["state"] == "ready"


def test_claim_and_already_claimed(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "Contested")
    r = jit("issue", "claim", a[:6], "agent:one")
    assert r.exit_code == 0 and r.stdout == f"Claimed issue {a} for agent:one\n"
    d = jit.json("issue", "show", a)
    assert (d["state"], d["assignee"]) == ("in_progress", "agent:one")
    datetime.fromisoformat(d["claimed_at"])
    # claiming again as the holder is a no-op
    before = ref_snapshot(repo)
    assert jit("issue", "claim", a, "agent:one").exit_code == 0
    assert ref_snapshot(repo) == before
    r = jit("issue", "claim", a, "agent:two")
    assert r.exit_code == 7
    assert r.stderr.startswith(f"error: issue {a} is already claimed by agent:one\nhint: ")
    e = fail(jit, "issue", "claim", a, "agent:two", code=7, err="ALREADY_CLAIMED")
    assert e["details"] == {"issue_id": a, "assignee": "agent:one"}
    assert ref_snapshot(repo) == before


def test_claim_blocked_issue_is_refused(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "first")
    b = new(jit, "-t", "second")
    assert jit("dep", "add", b, a).exit_code == 0
    e = fail(jit, "issue", "claim", b, "w", code=4, err="BLOCKED")
    assert e["details"]["blockers"][0]["issue_id"] == a


def test_claim_next_order_to_and_none(jit) -> None:  # type: ignore[no-untyped-def]
    low = new(jit, "-t", "low", "-p", "low")
    norm = new(jit, "-t", "normal")
    crit1 = new(jit, "-t", "crit old", "-p", "critical")
    high = new(jit, "-t", "high", "-p", "high")
    crit2 = new(jit, "-t", "crit new", "-p", "critical")
    assert ids(jit.json("query", "ready")) == [crit1, crit2, high, norm, low]
    got = []
    r = jit("issue", "claim-next", "agent:w")
    assert r.exit_code == 0
    assert r.stdout == crit1 + "\n"  # stdout is only the id: ID=$(jit issue claim-next …) works
    assert "Claimed issue" in r.stderr
    got.append(r.stdout.strip())
    d = jit.json("issue", "claim-next", "--to", "agent:x")
    assert d["assignee"] == "agent:x" and d["state"] == "in_progress" and set(d) == ISSUE_KEYS
    got.append(d["id"])
    got.append(jit("issue", "claim-next", "agent:w", "-q").stdout.strip())
    got.append(jit("issue", "claim-next", "--to", "agent:w", "--to", "agent:w").stdout.strip())
    got.append(jit("issue", "claim-next", "agent:w", "--to", "agent:w").stdout.strip())
    assert got == [crit1, crit2, high, norm, low]
    assert jit.json("issue", "show", crit2)["assignee"] == "agent:x"
    e = fail(jit, "issue", "claim-next", "agent:w", code=8, err="NO_WORK")
    assert e["hint"]
    r = jit("issue", "claim-next", "agent:w")
    assert r.exit_code == 8 and r.stdout == "" and r.stderr.startswith("error: no ready issue to claim")
    # assignee given twice, differently, or not at all
    assert jit("issue", "claim-next", "a", "--to", "b").exit_code == 2
    assert jit("issue", "claim-next").exit_code == 2


def test_claim_next_filter_really_filters(jit) -> None:  # type: ignore[no-untyped-def]
    norm = new(jit, "-t", "normal, oldest")
    high = new(jit, "-t", "high", "-p", "high")
    low = new(jit, "-t", "low", "-p", "low")
    crit = new(jit, "-t", "critical", "-p", "critical", "-l", "team:gpu", "--context", 'tags=["gpu"]')
    flt = "priority:high|critical"
    assert jit("issue", "claim-next", "w", "--filter", flt).stdout.strip() == crit
    assert jit("issue", "claim-next", "w", "-f", flt).stdout.strip() == high
    e = fail(jit, "issue", "claim-next", "w", "--filter", flt, code=8, err="NO_WORK")
    assert flt in e["message"]
    # the unmatched issues were left alone
    assert ids(jit.json("query", "ready")) == [norm, low]
    assert jit("issue", "claim-next", "w", "--filter", "priority:low").stdout.strip() == low
    assert jit("issue", "claim-next", "w", "--filter", "label:team:*").exit_code == 8
    assert jit("issue", "claim-next", "w").stdout.strip() == norm
    # label and tag terms
    g = new(jit, "-t", "gpu work", "-l", "team:gpu", "--context", "tags=gpu,cuda")
    new(jit, "-t", "cpu work", "-l", "team:cpu")
    assert jit("issue", "claim-next", "w", "--filter", "tag:cuda").stdout.strip() == g
    assert jit("issue", "claim-next", "w", "--filter", "label:team:gpu").exit_code == 8
    # a malformed filter is a usage error, not "no work"
    assert jit("issue", "claim-next", "w", "--filter", "priority:urgent").exit_code == 2
    assert jit("issue", "claim-next", "w", "--filter", "nonsense").exit_code == 2
    assert jit("issue", "claim-next", "w", "--filter", "colour:red").exit_code == 2


def test_release(jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    assert jit("issue", "claim", a, "agent:w").exit_code == 0
    r = jit("issue", "release", a[:6], "timeout")
    assert r.exit_code == 0 and r.stdout == f"Released issue {a} (timeout)\n"
    d = jit.json("issue", "show", a)
    assert (d["state"], d["assignee"], d["claimed_at"]) == ("ready", None, None)
    ev = jit.json("events", "query", "--issue", a, "--event-type", "issue_released")
    assert [(e["assignee"], e["reason"], e["actor"]) for e in ev] == [("agent:w", "timeout", "agent:test")]
    # nothing to release now
    e = fail(jit, "issue", "release", a, "again", code=4, err="BLOCKED")
    assert "not claimed" in e["message"]
    # someone else can claim it now
    assert jit.json("issue", "claim", a, "agent:v")["assignee"] == "agent:v"


def test_actor_identity_order(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    """--by, then JIT_ACTOR, then git user.name <user.email>."""
    a = jit.json("--by", "human:flag", "issue", "create", "-t", "by flag", actor="agent:env")
    b = jit.json("issue", "create", "-t", "by env", actor="agent:env")
    from conftest import Jit

    c = Jit(repo, actor="").json("issue", "create", "-t", "by git")
    assert a["created_by"] == "human:flag"
    assert b["created_by"] == "agent:env"
    assert c["created_by"] == "Repo User <repo@example.invalid>"
    # the git commit on the issue's ref names the actor
    msg = git("log", "-1", "--format=%an|%B", f"refs/jit/issues/{a['id']}", cwd=repo).stdout
    assert msg.startswith("human:flag|") and "by human:flag" in msg
