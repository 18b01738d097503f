"""The error contract: for each bad input, a stable exit code and machine code, the JSON error
object on stdout under --json, ``error:``/``hint:`` on stderr otherwise, no traceback, and
nothing changed in the store (every ref where it was)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.errors import EXIT_CODES


def new(jit, *args: str) -> str:  # type: ignore[no-untyped-def]
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


# Each case: (name, setup(jit) -> dict of ids, argv template, exit code, error code, text the message must hold).
# Templates use {a}, {b}, ... for ids the setup created.
Setup = Callable[[Jit], dict[str, str]]


def one(jit: Jit) -> dict[str, str]:
    return {"a": new(jit, "-t", "A", "--gate", "review")}


def claimed(jit: Jit) -> dict[str, str]:
    a = new(jit, "-t", "A")
    assert jit("issue", "claim", a, "agent:holder").exit_code == 0
    return {"a": a}


def chain(jit: Jit) -> dict[str, str]:
    a, b = new(jit, "-t", "A"), new(jit, "-t", "B")
    assert jit("dep", "add", a, b).exit_code == 0
    return {"a": a, "b": b}


def twins(jit: Jit) -> dict[str, str]:
    # ids are random; create until two share a first hex digit (pigeonhole: at most 17 issues)
    seen: dict[str, str] = {}
    while True:
        i = new(jit, "-t", "twin")
        if i[0] in seen:
            return {"a": seen[i[0]], "b": i, "p": i[0]}
        seen[i[0]] = i


def deleted(jit: Jit) -> dict[str, str]:
    a = new(jit, "-t", "gone")
    assert jit("issue", "delete", a).exit_code == 0
    return {"a": a}


def gate_defined(jit: Jit) -> dict[str, str]:
    assert jit("registry", "add", "review", "-t", "Review").exit_code == 0
    return {}


def nothing(jit: Jit) -> dict[str, str]:
    return {}


MB = "x" * (1024 * 1024)

CASES: list[tuple[str, Setup, list[str], int, str, str]] = [
    ("unknown id", nothing, ["issue", "show", "0123456789ab"], 3, "NOT_FOUND", "no issue matches"),
    ("unknown id update", one, ["issue", "update", "ffffffffffff", "-t", "x"], 3, "NOT_FOUND", "no issue"),
    ("unknown id dep", one, ["dep", "add", "{a}", "ffffffffffff"], 3, "NOT_FOUND", "no issue"),
    ("deleted id", deleted, ["issue", "show", "{a}"], 3, "NOT_FOUND", "deleted"),
    ("ambiguous prefix", twins, ["issue", "update", "{p}", "-t", "x"], 2, "AMBIGUOUS_ID", "matches"),
    ("bad priority on create", nothing, ["issue", "create", "-t", "x", "-p", "urgent"], 2, "INVALID_ARGUMENT",
     "unknown priority 'urgent'"),
    ("bad priority on update", one, ["issue", "update", "{a}", "-p", "urgent"], 2, "INVALID_ARGUMENT",
     "unknown priority"),
    ("bad state", one, ["issue", "update", "{a}", "--state", "finished"], 2, "INVALID_ARGUMENT",
     "unknown state 'finished'"),
    ("bad state filter", one, ["issue", "list", "--state", "finished"], 2, "INVALID_ARGUMENT", "unknown state"),
    ("context without =", nothing, ["issue", "create", "-t", "x", "--context", "novalue"], 2,
     "INVALID_ARGUMENT", "not key=value"),
    ("context with empty key", nothing, ["issue", "create", "-t", "x", "--context", "=v"], 2,
     "INVALID_ARGUMENT", "not key=value"),
    ("context bad key", one, ["issue", "update", "{a}", "--context", "bad key=1"], 2, "INVALID_ARGUMENT",
     "context key"),
    ("title with newline", nothing, ["issue", "create", "-t", "two\nlines"], 2, "INVALID_ARGUMENT", "newline"),
    ("title with newline on update", one, ["issue", "update", "{a}", "-t", "a\rb"], 2, "INVALID_ARGUMENT",
     "newline"),
    ("1 MB title", nothing, ["issue", "create", "-t", MB], 2, "INVALID_ARGUMENT", "the limit is 500"),
    ("empty title", nothing, ["issue", "create", "-t", ""], 2, "INVALID_ARGUMENT", "title is empty"),
    ("blank title", nothing, ["issue", "create", "-t", "   "], 2, "INVALID_ARGUMENT", "title is empty"),
    ("missing title", nothing, ["issue", "create"], 2, "INVALID_ARGUMENT", "missing title"),
    ("bad label", nothing, ["issue", "create", "-t", "x", "--label", "nolabel"], 2, "INVALID_ARGUMENT",
     "namespace:value"),
    ("bad gate key", nothing, ["issue", "create", "-t", "x", "--gate", "Bad Key"], 2, "INVALID_ARGUMENT",
     "gate key"),
    ("unknown gate for pass", one, ["gate", "pass", "{a}", "nosuch"], 3, "NOT_FOUND",
     "does not require gate 'nosuch'"),
    ("unknown gate for fail", one, ["gate", "fail", "{a}", "nosuch"], 3, "NOT_FOUND", "does not require"),
    ("undefined registry gate", nothing, ["registry", "show", "nosuch"], 3, "NOT_FOUND", "not defined"),
    ("registry duplicate", gate_defined, ["registry", "add", "review", "-t", "R"], 6, "ALREADY_EXISTS",
     "already defined"),
    ("cycle", chain, ["dep", "add", "{b}", "{a}"], 4, "CYCLE_DETECTED", "cycle"),
    ("self dependency", one, ["dep", "add", "{a}", "{a}"], 4, "CYCLE_DETECTED", "itself"),
    ("claim of claimed issue", claimed, ["issue", "claim", "{a}", "agent:other"], 7, "ALREADY_CLAIMED",
     "already claimed by agent:holder"),
    ("claim of blocked issue", chain, ["issue", "claim", "{a}", "w"], 4, "BLOCKED", "blocked"),
    ("done with pending gate", one, ["issue", "update", "{a}", "--state", "done"], 4, "BLOCKED",
     "gate 'review' is pending"),
    ("release unclaimed", one, ["issue", "release", "{a}", "why"], 4, "BLOCKED", "not claimed"),
    ("no work", claimed, ["issue", "claim-next", "agent:other"], 8, "NO_WORK", "no ready issue"),
    ("bad filter", one, ["issue", "claim-next", "w", "--filter", "priority:urgent"], 2, "INVALID_ARGUMENT",
     "unknown priority"),
    ("bad --since", nothing, ["events", "query", "--since", "yesterday"], 2, "INVALID_ARGUMENT", "ISO 8601"),
    ("unknown option", nothing, ["issue", "create", "-t", "x", "--frobnicate"], 2, "INVALID_ARGUMENT",
     "--frobnicate"),
    ("unknown command", nothing, ["issue", "frobnicate"], 2, "INVALID_ARGUMENT", "frobnicate"),
    ("missing argument", nothing, ["issue", "claim"], 2, "INVALID_ARGUMENT", "Missing argument"),
    ("bad export format", nothing, ["graph", "export", "--format", "png"], 2, "INVALID_ARGUMENT", "png"),
    ("create's output as an id", one, ["dep", "add", "Created", "issue:", "{a}"], 3, "NOT_FOUND",
     "no issue matches 'Created': that is the output of 'jit issue create'"),
    ("create's output quoted as an id", one, ["issue", "show", "Created issue: {a}"], 3, "NOT_FOUND",
     "not an id"),
    ("create's output split over arguments", one, ["issue", "claim", "Created", "issue:", "{a}", "w1"], 2,
     "INVALID_ARGUMENT", "): that is the output of 'jit issue create' (\"Created issue: <id>\"), not an id"),
    ("hub that is no remote", nothing, ["config", "set", "hub", "nosuch"], 3, "NOT_FOUND",
     "cannot set hub: no remote named 'nosuch'"),
    ("hub that is no remote name", nothing, ["config", "set", "hub", "no such"], 2, "INVALID_ARGUMENT",
     "is not a remote name"),
]


def _fmt(argv: list[str], ids: dict[str, str]) -> list[str]:
    return [a.format(**ids) if "{" in a and len(a) < 100 else a for a in argv]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_error_contract(repo: Path, jit: Jit, case) -> None:  # type: ignore[no-untyped-def]
    name, setup, argv, exit_code, code, text = case
    assert exit_code in EXIT_CODES
    args = _fmt(argv, setup(jit))
    before = ref_snapshot(repo)

    # --json: exactly one JSON object on stdout, shaped {"error": {code, message, details, hint}}
    r = jit(*args, "--json")
    assert r.exit_code == exit_code, (r.exit_code, r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    assert list(doc) == ["error"]
    err = doc["error"]
    assert set(err) == {"code", "message", "details", "hint"}
    assert err["code"] == code
    assert isinstance(err["message"], str) and text in err["message"]
    assert isinstance(err["details"], dict)
    assert isinstance(err["hint"], str) and err["hint"], "every refusal says what to do next"
    assert len(err["message"]) < 2000, "a huge input is not echoed back whole"
    assert "Traceback" not in r.stdout + r.stderr

    # human: nothing on stdout, "error: ..." then "hint: ..." on stderr
    r = jit(*args)
    assert r.exit_code == exit_code
    assert r.stdout == ""
    lines = [ln for ln in r.stderr.splitlines() if not ln.startswith("warning: ")]
    assert lines[0].startswith("error: ") and text in lines[0]
    assert any(ln.startswith("hint: ") for ln in lines[1:])
    assert "Traceback" not in r.stderr

    # the store is untouched, and so is the working tree
    assert ref_snapshot(repo) == before
    assert git("status", "--porcelain", cwd=repo).stdout == ""


def test_an_id_captured_with_create_output_says_how_to_capture_the_bare_id(repo: Path, jit: Jit,
                                                                          tmp_path: Path) -> None:
    """``ID=$(jit issue create -t x)`` (no -q) then ``$ID`` where an id belongs, quoted or not, through
    the full CLI and the light write path (the ``jit`` console script's entry, gitjit.cli)."""
    import os
    import subprocess
    import sys

    hint = "hint: capture the bare id with -q, e.g. ID=$(jit issue create -q -t \"Title\"), or set JIT_QUIET=1\n"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -c "import sys; from gitjit.cli import main; '
                                f'sys.exit(main(sys.argv[1:]))" "$@"\n')
    (bindir / "jit").chmod(0o755)
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("JIT_REPO", None)
    for line, code in [('ID=$(jit issue create -t Task) && jit issue update "$ID" --state ready', 3),
                       ("ID=$(jit issue create -t Task) && jit issue update $ID --state ready", 2),
                       ('ID=$(jit issue create -t Task) && jit issue claim "$ID" agent:w1', 3),
                       ("E=$(jit issue create -t Epic) && T=$(jit issue create -t Task) && jit dep add $E $T", 3)]:
        res = subprocess.run(["sh", "-c", line], cwd=repo, env=env, capture_output=True, text=True)
        assert res.returncode == code, (line, res.stderr)
        assert "that is the output of 'jit issue create' (\"Created issue: <id>\"), not an id" in res.stderr, line
        assert res.stderr.endswith(hint), (line, res.stderr)
        # nothing was claimed or linked: the refused commands changed nothing
        assert jit.json("status")["in_progress"] == 0 and jit.json("query", "blocked")["count"] == 0
    # a real id still works the same way, and -q gives the bare id
    ok = subprocess.run(["sh", "-c", "ID=$(jit issue create -q -t Task) && jit issue update $ID --state ready"],
                        cwd=repo, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.startswith("Updated issue ")


@settings(max_examples=200, deadline=None)
@given(words=st.lists(st.from_regex(r"[0-9a-fA-F]{4,12}", fullmatch=True)
                      | st.sampled_from(["--state", "ready", "agent:w1", "-t", "Created", "issue", "created:"]),
                      max_size=6),
       at=st.integers(min_value=0, max_value=6), tail=st.text(max_size=20))
def test_create_output_is_recognised_wherever_it_lands_and_only_there(words: list[str], at: int, tail: str) -> None:
    from gitjit.cli.io import captured_create_output

    assert not captured_create_output(words)  # ids and options alone, even the word "Created" alone
    at = min(at, len(words))
    assert captured_create_output(words[:at] + ["Created", "issue:"] + words[at:])  # $ID unquoted
    assert captured_create_output(words[:at] + [f"Created issue: {tail}"] + words[at:])  # "$ID" quoted


def test_config_set_hub_takes_only_a_configured_remote(repo: Path, jit: Jit) -> None:
    git("remote", "add", "origin", str(repo), cwd=repo)
    git("remote", "add", "central", str(repo), cwd=repo)
    r = jit("config", "set", "hub", "nosuch")
    assert r.exit_code == 3
    assert r.stderr == ("error: cannot set hub: no remote named 'nosuch' in this repository, so every claim would "
                        "fail\nhint: use one of the remotes here (central, origin), or add it first: git remote add "
                        "nosuch <url>\n")
    assert git("config", "--get", "jit.hub", cwd=repo, check=False).returncode == 1  # nothing was set
    assert json.loads(jit("config", "set", "hub", "nosuch", "--json").stdout)["error"]["details"] == {
        "remote": "nosuch", "remotes": ["central", "origin"]}
    assert jit("config", "set", "hub", "origin").exit_code == 0
    assert git("config", "jit.hub", cwd=repo).stdout.strip() == "origin"
    # git config keys ignore case: so does the check
    assert jit("config", "set", "HUB", "nosuch").exit_code == 3
    assert git("config", "jit.hub", cwd=repo).stdout.strip() == "origin"
    assert jit("config", "set", "hub", "").exit_code == 0  # no hub
    assert jit.json("config", "get", "hub")["value"] == ""
    assert jit("config", "set", "main-branch", "trunk").exit_code == 0  # other settings as before


def test_jit_json_env_switches_errors_and_output_to_json(repo: Path, jit: Jit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JIT_JSON", "1")
    r = jit("issue", "show", "0123456789ab")
    assert r.exit_code == 3 and json.loads(r.stdout)["error"]["code"] == "NOT_FOUND"
    r = jit("issue", "create", "-t", "made under JIT_JSON")
    assert r.exit_code == 0 and json.loads(r.stdout)["title"] == "made under JIT_JSON"
    monkeypatch.setenv("JIT_JSON", "0")
    assert jit("issue", "create", "-t", "plain").stdout.startswith("Created issue: ")


def test_jit_quiet_env(jit: Jit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("JIT_QUIET", "1")
    r = jit("issue", "create", "-t", "quiet by env")
    assert r.exit_code == 0 and len(r.stdout.strip()) == 12


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "not-a-repo"
    plain.mkdir()
    j = Jit(plain)
    r = j("issue", "list", "--json")
    assert r.exit_code == 3
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "NOT_FOUND" and err["hint"]
    r = j("issue", "list")
    assert r.exit_code == 3 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_unexpected_errors_are_one_line_with_exit_1(jit: Jit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def boom(*a, **k):  # type: ignore[no-untyped-def]
        raise RuntimeError("kaboom")

    monkeypatch.setattr("gitjit.app.tracker.Tracker.status", boom)
    r = jit("status")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: internal error: RuntimeError: kaboom\nhint: ")
    assert "Traceback" not in r.stderr
    r = jit("status", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["error"]["code"] == "ERROR"
    monkeypatch.setenv("JIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        jit("status")
