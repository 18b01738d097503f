"""`jit dep …`, `jit registry …` and `jit gate …`, in-process through main(argv)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import git, ref_snapshot


def new(jit, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


def fail(jit, *args: str, code: int, err: str):  # type: ignore[no-untyped-def]
    r = jit(*args, "--json")
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    e = json.loads(r.stdout)["error"]
    assert e["code"] == err, e
    return e


def jit_objects(repo: Path) -> bytes:
    """Every commit, tree and blob reachable from refs/jit/*, concatenated (what a push would share)."""
    refs = [r for r in ref_snapshot(repo) if r.startswith("refs/jit/")]
    assert refs
    listing = git("rev-list", "--objects", *refs, cwd=repo).stdout
    shas = "".join(line.split(" ")[0] + "\n" for line in listing.splitlines())
    import subprocess

    out = subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=shas.encode(), capture_output=True,
                         check=True).stdout
    return out


# ----------------------------------------------------------------------------- dependencies

def test_dep_add_several_and_rm(jit) -> None:  # type: ignore[no-untyped-def]
    epic = new(jit, "-t", "Epic")
    t1, t2, t3 = new(jit, "-t", "T1"), new(jit, "-t", "T2"), new(jit, "-t", "T3")
    r = jit("dep", "add", epic[:6], t1[:6], t2)
    assert r.exit_code == 0 and r.stdout == f"{epic[:8]} now depends on {t1[:8]}, {t2[:8]}\n"
    d = jit.json("dep", "add", epic, t2, t3)
    assert d == {"from_id": epic, "added": [t3], "already_exist": [t2], "state": "open"}
    e = jit.json("issue", "show", epic)
    assert e["dependencies"] == [t1, t2, t3] and e["state"] == "open"
    assert [r["issue_id"] for r in e["blocked_reasons"]] == [t1, t2, t3]
    assert {r["type"] for r in e["blocked_reasons"]} == {"dependency"}
    # quiet prints the dependent's id
    assert jit("dep", "add", epic, t1, "-q").stdout == epic + "\n"
    # rm
    r = jit("dep", "rm", epic, t1)
    assert r.exit_code == 0 and r.stdout == f"Removed 1 dependency(ies) from {epic[:8]}\n"
    d = jit.json("dep", "rm", epic, t2, t1)
    assert d == {"from_id": epic, "removed": [t2], "not_found": [t1], "state": "open"}
    d = jit.json("dep", "rm", epic, t3)
    assert d["removed"] == [t3] and d["state"] == "ready"
    assert jit.json("issue", "show", epic)["dependencies"] == []
    types = [e["type"] for e in jit.json("events", "query", "--issue", epic) if not e.get("derived")]
    assert types.count("dependency_added") == 3 and types.count("dependency_removed") == 3


def test_cycle_is_refused_with_its_path(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a, b, c = new(jit, "-t", "A"), new(jit, "-t", "B"), new(jit, "-t", "C")
    assert jit("dep", "add", a, b).exit_code == 0
    assert jit("dep", "add", b, c).exit_code == 0
    before = ref_snapshot(repo)
    r = jit("dep", "add", c, a)
    assert r.exit_code == 4 and r.stdout == ""
    assert f"error: dependency would create a cycle: {c[:8]} -> {a[:8]} -> {b[:8]} -> {c[:8]}\n" in r.stderr
    assert "hint:" in r.stderr
    e = fail(jit, "dep", "add", c, a, code=4, err="CYCLE_DETECTED")
    assert e["details"] == {"from": c, "to": a, "cycle": [c, a, b, c]}
    # several TOs: one closing a cycle refuses the whole command
    d = new(jit, "-t", "D")
    fail(jit, "dep", "add", c, d, a, code=4, err="CYCLE_DETECTED")
    e = fail(jit, "dep", "add", a, a, code=4, err="CYCLE_DETECTED")
    assert e["details"]["cycle"] == [a, a]
    assert ref_snapshot(repo) == {**before, f"refs/jit/issues/{d}": ref_snapshot(repo)[f"refs/jit/issues/{d}"]}
    assert jit.json("issue", "show", c)["dependencies"] == []


# ----------------------------------------------------------------------------- registry

def test_registry_add_list_show_remove(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    r = jit("registry", "add", "unit-tests", "--title", "Unit Tests", "--auto", "--command",
            "echo SECRET-CHECKER-7f3a && true", "--desc", "runs pytest")
    assert r.exit_code == 0 and r.stdout == "Defined gate unit-tests (auto, postcheck)\n"
    d = jit.json("registry", "add", "review", "-t", "Code Review", "--manual")
    assert set(d) == {"key", "title", "description", "mode", "auto", "stage", "command", "command_source",
                      "command_trusted", "created_at", "updated_at"}
    assert (d["key"], d["title"], d["mode"], d["auto"], d["stage"], d["command"], d["command_source"],
            d["command_trusted"]) == ("review", "Code Review", "manual", False, "postcheck", None, None, None)
    assert jit.json("registry", "add", "design", "-t", "Design", "--stage", "precheck")["stage"] == "precheck"
    assert jit.json("registry", "add", "plain", "-t", "Plain")["mode"] == "manual"  # manual is the default

    lst = jit.json("registry", "list")
    assert lst["count"] == 4 and [g["key"] for g in lst["gates"]] == ["design", "plain", "review", "unit-tests"]
    ut = jit.json("registry", "show", "unit-tests")
    assert (ut["mode"], ut["auto"], ut["description"]) == ("auto", True, "runs pytest")
    assert ut["command"] == "echo SECRET-CHECKER-7f3a && true" and ut["command_source"] == "git-config"
    human = jit("registry", "list").stdout
    assert re.search(r"^unit-tests\s+auto\s+postcheck\s+Unit Tests\s+\[echo SECRET", human, re.M)
    assert jit("registry", "list", "-q").stdout.split() == ["design", "plain", "review", "unit-tests"]

    # the checker command is local configuration: in git config, never in refs/jit/*
    cfg = git("config", "--get", "jit-gate.unit-tests.command", cwd=repo).stdout.strip()
    assert cfg == "echo SECRET-CHECKER-7f3a && true"
    objs = jit_objects(repo)
    assert b"Unit Tests" in objs  # the definition itself is tracker data
    assert b"SECRET-CHECKER-7f3a" not in objs
    assert all(r.startswith("refs/jit/") for r in ref_snapshot(repo))  # nothing else was written

    # a duplicate key is refused
    e = fail(jit, "registry", "add", "review", "-t", "again", code=6, err="ALREADY_EXISTS")
    assert "review" in e["message"]

    r = jit("registry", "remove", "unit-tests")
    assert r.exit_code == 0 and r.stdout == "Removed gate unit-tests\n"
    assert git("config", "--get", "jit-gate.unit-tests.command", cwd=repo, check=False).returncode == 1
    assert [g["key"] for g in jit.json("registry", "list")["gates"]] == ["design", "plain", "review"]
    fail(jit, "registry", "show", "unit-tests", code=3, err="NOT_FOUND")
    fail(jit, "registry", "remove", "unit-tests", code=3, err="NOT_FOUND")
    assert jit.json("registry", "remove", "plain") == {"gate_key": "plain", "removed": True}
    # a removed key can be defined again
    assert jit.json("registry", "add", "plain", "-t", "Plain again")["title"] == "Plain again"


def test_gate_command_from_jit_toml(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    (repo / "jit.toml").write_text('[gates.lint]\ncommand = "exit 0"\n')
    assert jit("registry", "add", "lint", "-t", "Lint", "--auto").exit_code == 0
    d = jit.json("registry", "show", "lint")
    assert (d["command"], d["command_source"], d["command_trusted"]) == ("exit 0", "jit.toml", False)
    a = new(jit, "-t", "A", "--gate", "lint")
    # a committed jit.toml runs nothing until this clone trusts its content (issue 31, item 14)
    before = ref_snapshot(repo)
    e = fail(jit, "gate", "run", a, "lint", code=4, err="UNTRUSTED_CONFIG")
    assert e["details"]["command"] == "exit 0" and "jit trust" in e["hint"]
    assert ref_snapshot(repo) == before
    assert jit("trust").exit_code == 0
    assert jit.json("registry", "show", "lint")["command_trusted"] is True
    assert jit.json("gate", "run", a, "lint")["status"] == "passed"


# ----------------------------------------------------------------------------- gates on issues

def test_gate_add_pass_fail_by(jit) -> None:  # type: ignore[no-untyped-def]
    assert jit("registry", "add", "review", "-t", "Code Review").exit_code == 0
    a = new(jit, "-t", "A")
    r = jit("gate", "add", a, "review", "tests")
    assert r.exit_code == 0 and r.stdout == f"Issue {a[:8]} requires review, tests\n"
    assert jit.json("gate", "add", a, "review,lint") == {"issue_id": a, "added": ["lint"],
                                                        "already_exist": ["review"]}
    gates = {g["key"]: g for g in jit.json("issue", "show", a)["gates"]}
    assert list(gates) == ["review", "tests", "lint"]
    assert gates["review"]["defined"] is True and gates["review"]["title"] == "Code Review"
    assert gates["tests"]["defined"] is False

    r = jit("gate", "pass", a[:6], "review", "--by", "human:tech-lead")
    assert r.exit_code == 0 and r.stdout == f"Gate review passed on {a[:8]} by human:tech-lead\n"
    d = jit.json("gate", "fail", a, "tests", "--by", "ci:github", "--reason", "2 tests failed")
    assert d == {"issue_id": a, "gate_key": "tests", "status": "failed", "by": "ci:github", "state": "ready"}
    d = jit.json("gate", "pass", a, "lint")  # without --by: the acting identity
    assert d["by"] == "agent:test"
    gates = {g["key"]: g for g in jit.json("issue", "show", a)["gates"]}
    assert (gates["review"]["status"], gates["review"]["by"]) == ("passed", "human:tech-lead")
    assert (gates["tests"]["status"], gates["tests"]["by"]) == ("failed", "ci:github")
    assert (gates["lint"]["status"], gates["lint"]["by"]) == ("passed", "agent:test")
    # --by is who acts for this one command: the event's actor and its `by` both name the attester
    passed = jit.json("events", "query", "--issue", a, "--event-type", "gate_passed")
    assert [(e["gate_key"], e["by"], e["actor"]) for e in passed] == [
        ("review", "human:tech-lead", "human:tech-lead"), ("lint", "agent:test", "agent:test")]
    failed = jit.json("events", "query", "--issue", a, "--event-type", "gate_failed")
    assert [(e["by"], e["reason"]) for e in failed] == [("ci:github", "2 tests failed")]
    # a failed gate can pass later; then done is allowed
    assert jit("gate", "pass", a, "tests").exit_code == 0
    assert jit.json("issue", "update", a, "--state", "done")["state"] == "done"
    # gate remove
    b = new(jit, "-t", "B", "--gate", "review")
    assert jit.json("gate", "remove", b, "review") == {"issue_id": b, "removed": "review"}
    assert jit.json("issue", "show", b)["gates"] == []


def test_pass_of_gate_the_issue_does_not_require(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A", "--gate", "review")
    before = ref_snapshot(repo)
    e = fail(jit, "gate", "pass", a, "nosuch", code=3, err="NOT_FOUND")
    assert e["details"] == {"issue_id": a, "gate_key": "nosuch", "required": ["review"]}
    assert e["hint"] == f"add it first: jit gate add {a[:8]} nosuch"
    fail(jit, "gate", "fail", a, "nosuch", code=3, err="NOT_FOUND")
    assert ref_snapshot(repo) == before


def test_precheck_gate_blocks_ready(jit) -> None:  # type: ignore[no-untyped-def]
    assert jit("registry", "add", "design", "-t", "Design approved", "--stage", "precheck").exit_code == 0
    a = new(jit, "-t", "Needs design", "--gate", "design")
    d = jit.json("issue", "show", a)
    assert d["state"] == "open"
    assert d["blocked_reasons"] == [{"type": "gate", "gate_key": "design", "status": "pending",
                                     "stage": "precheck"}]
    fail(jit, "issue", "claim", a, "w", code=4, err="BLOCKED")
    assert jit("gate", "pass", a, "design").exit_code == 0
    assert jit.json("issue", "show", a)["state"] == "ready"
    assert jit.json("issue", "claim", a, "w")["state"] == "in_progress"


def test_gate_run_pass_and_fail(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    assert jit("registry", "add", "env-check", "-t", "Env", "--auto", "--command",
               f'test "$JIT_ISSUE_ID" = {a} && test "$JIT_GATE_KEY" = env-check && echo ok-out').exit_code == 0
    assert jit("registry", "add", "flaky", "-t", "Flaky", "--auto", "--command",
               "echo broken >&2; test -f green").exit_code == 0
    assert jit("gate", "add", a, "env-check", "flaky").exit_code == 0

    r = jit("gate", "run", a, "env-check")
    assert r.exit_code == 0 and r.stdout == f"Gate env-check passed on {a[:8]}\n"
    d = jit.json("gate", "run", a[:6], "env-check")
    assert (d["status"], d["by"], d["exit_code"], d["command_source"], d["stdout"]) == (
        "passed", "checker:env-check", 0, "git-config", "ok-out\n")

    r = jit("gate", "run", a, "flaky")
    assert r.exit_code == 4 and "gate 'flaky' failed: checker exited 1" in r.stderr
    e = fail(jit, "gate", "run", a, "flaky", code=4, err="BLOCKED")
    assert e["details"]["status"] == "failed" and e["details"]["stderr"] == "broken\n"
    gates = {g["key"]: g for g in jit.json("issue", "show", a)["gates"]}
    assert gates["flaky"]["status"] == "failed" and gates["env-check"]["status"] == "passed"
    fail(jit, "issue", "update", a, "--state", "done", code=4, err="BLOCKED")

    (repo / "green").write_text("")
    assert jit.json("gate", "run", a, "flaky", "--by", "ci:local")["by"] == "ci:local"
    assert jit.json("issue", "update", a, "--state", "done")["state"] == "done"

    # a gate with no local command cannot run, and nothing is recorded
    assert jit("registry", "add", "manual-only", "-t", "M").exit_code == 0
    b = new(jit, "-t", "B", "--gate", "manual-only")
    before = ref_snapshot(repo)
    e = fail(jit, "gate", "run", b, "manual-only", code=3, err="NOT_FOUND")
    assert "no checker command" in e["message"]
    assert ref_snapshot(repo) == before
