"""What `jit gate run` and `jit issue show` tell a person about gate results (issue 31, item 15)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ref_snapshot


def new(jit, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


def test_the_hint_for_a_gate_without_a_command_names_the_gate(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    assert jit("registry", "add", "lint", "-t", "Lint", "--auto").exit_code == 0
    a = new(jit, "-t", "A", "--gate", "lint")
    before = ref_snapshot(repo)
    r = jit("gate", "run", a, "lint", "--json")
    assert r.exit_code == 3
    hint = json.loads(r.stdout)["error"]["hint"]
    assert "[gates.lint] command in jit.toml" in hint and "{key}" not in hint
    r = jit("gate", "run", a, "lint")
    assert r.exit_code == 3 and "hint: " in r.stderr and "[gates.lint] command" in r.stderr
    assert "{key}" not in r.stderr
    assert ref_snapshot(repo) == before


def test_gate_run_shows_what_the_checker_printed(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    assert jit("registry", "add", "ok", "-t", "Ok", "--auto", "--command",
               "echo all 12 tests passed; echo a warning >&2").exit_code == 0
    assert jit("registry", "add", "bad", "-t", "Bad", "--auto", "--command",
               "echo 'FAILED test_login'; echo 'E  assert 1 == 2' >&2; exit 3").exit_code == 0
    assert jit("gate", "add", a, "ok", "bad").exit_code == 0

    r = jit("gate", "run", a, "ok")
    assert r.exit_code == 0
    assert r.stdout == f"Gate ok passed on {a[:8]}\n"  # stdout keeps its one line
    assert r.stderr.splitlines() == [
        "jit: echo all 12 tests passed; echo a warning >&2 exited 0:", "  | all 12 tests passed", "  | a warning"]

    r = jit("gate", "run", a, "bad")
    assert r.exit_code == 4
    lines = r.stderr.splitlines()
    assert lines[:3] == ["jit: echo 'FAILED test_login'; echo 'E  assert 1 == 2' >&2; exit 3 exited 3:",
                         "  | FAILED test_login", "  | E  assert 1 == 2"]
    assert lines[3].startswith("error: gate 'bad' failed: checker exited 3")

    # JSON keeps it in the document only; -q prints the status only
    r = jit("gate", "run", a, "ok", "--json")
    assert r.exit_code == 0 and r.stderr == "" and json.loads(r.stdout)["stdout"] == "all 12 tests passed\n"
    r = jit("gate", "run", a, "ok", "-q")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "passed\n", "")
    r = jit("gate", "run", a, "bad", "--json")
    assert r.exit_code == 4 and r.stderr == ""
    assert json.loads(r.stdout)["error"]["details"]["stdout"] == "FAILED test_login\n"


def test_a_checker_that_prints_nothing_says_so(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A")
    assert jit("registry", "add", "quiet", "-t", "Q", "--auto", "--command", "true").exit_code == 0
    assert jit("gate", "add", a, "quiet").exit_code == 0
    r = jit("gate", "run", a, "quiet")
    assert r.exit_code == 0 and r.stderr == "jit: true exited 0 (no output)\n"


def test_issue_show_gives_the_reason_of_a_failed_gate(repo: Path, jit) -> None:  # type: ignore[no-untyped-def]
    a = new(jit, "-t", "A", "--gate", "unit-tests,review")
    r = jit("gate", "fail", a, "unit-tests", "--by", "ci:github-actions", "--reason", "2 tests failed")
    assert r.exit_code == 0, r.stderr
    r = jit("issue", "show", a)
    assert r.exit_code == 0
    assert "  gate unit-tests: failed by ci:github-actions (manual, postcheck): 2 tests failed\n" in r.stdout
    assert "  gate review: pending (manual, postcheck)\n" in r.stdout
    gates = {g["key"]: g for g in jit.json("issue", "show", a)["gates"]}
    assert gates["unit-tests"]["reason"] == "2 tests failed" and gates["review"]["reason"] is None
    # lists carry the same key set
    listed = jit.json("issue", "list")["issues"][0]["gates"]
    assert {g["key"]: g["reason"] for g in listed} == {"unit-tests": "2 tests failed", "review": None}
    # a later pass clears it
    assert jit("gate", "pass", a, "unit-tests").exit_code == 0
    gates = {g["key"]: g for g in jit.json("issue", "show", a)["gates"]}
    assert gates["unit-tests"]["status"] == "passed" and gates["unit-tests"]["reason"] is None
    assert ": 2 tests failed" not in jit("issue", "show", a).stdout
