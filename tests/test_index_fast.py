"""The light read path (gitjit/fast.py) prints exactly what the full CLI prints, imports neither
pygit2 nor pydantic, and hands over to the full CLI whenever the index may be stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import git

from gitjit.app.tracker import Tracker
from gitjit.cli.fast import answer
from gitjit.cli.fast import main as fast_main


def run(main, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture
def board(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("JIT_REPO", str(repo))
    t = tracker
    t.registry_add("review", title="Code review")
    t.registry_add("spec", title="Spec agreed", stage="precheck")
    a = t.create_issue("Épique: ship it", priority="high", labels=["team:core"], context={"k": [1, "ü"]})["id"]
    b = t.create_issue("Parser", description="line one\nline two", gates=["review", "spec"])["id"]
    c = t.create_issue("Lexer", priority="critical")["id"]
    d = t.create_issue("Docs", priority="low")["id"]
    t.add_dependency(a, [b, c])
    t.claim(c, "agent:lex")
    t.claim(d, "agent:lex")
    t.update_issue(d, state="done")
    t.gate_set(b, "spec", True)
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input="junk").stdout.strip()
    git("update-ref", "refs/jit/issues/0123456789ab", blob, cwd=repo)  # a bad ref: warned about
    t.status()  # bring the index in step
    return {"a": a, "b": b, "c": c, "d": d}


COMMANDS = [
    ["query", "ready"], ["query", "ready", "--json"], ["--json", "query", "blocked"], ["query", "blocked"],
    ["query", "all", "-q"], ["query", "all", "--json"], ["query", "state", "In-Progress", "--json"],
    ["query", "state", "done"], ["query", "priority", "HIGH", "--json"], ["query", "assignee", "agent:lex"],
    ["query", "assignee", "nobody", "--json"], ["status"], ["status", "--json"], ["events", "tail"],
    ["events", "tail", "-n", "3", "--json"], ["events", "tail", "-n0", "--json"], ["events", "tail", "--n=5"],
    ["issue", "list"], ["issue", "list", "--json"], ["issue", "list", "-s", "ready", "--json"],
    ["issue", "list", "--state=In-Progress", "-q"], ["issue", "list", "-l", "team:*", "--json"],
    ["issue", "list", "--label", "team:*", "-l", "team:core"], ["issue", "list", "-l", "team:*", "-l", "x:*"],
    ["issue", "list", "-a", "agent:lex", "--priority", "LOW", "--json"], ["issue", "list", "-s", "done", "-s", "open"],
    ["issue", "list", "--assignee", "nobody"], ["issue", "list", "-s", "", "-q"], ["--json", "issue", "list", "-p", "high"],
    ["issue", "search", "ÉPIQUE", "--json"], ["issue", "search", "line TWO"], ["issue", "search", "team:", "-q"],
    ["issue", "search", "zzz", "--json"], ["issue", "search", "zzz"], ["--json", "issue", "search", 'say "hi"\\'],
    ["issue", "search", "e", "--json"],
]


def test_same_output_as_the_full_cli(board: dict[str, str], repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gitjit.cli import main as full_main

    cmds = COMMANDS + [
        ["issue", "show", board["a"][:6]], ["issue", "show", board["b"], "--json"],
        ["issue", "show", board["b"], board["c"].upper(), "--json"], ["issue", "show", board["a"], "-q"],
        ["--repo", str(repo), "issue", "show", board["d"], board["c"]],
    ]
    for args in cmds:
        assert answer(args) is not None, f"light path declined {args}"
        got = run(fast_main, args, capsys)
        want = run(full_main, args, capsys)
        assert got == want, args
        assert "0123456789ab" in got[2]  # the bad ref's warning, on stderr, like the full CLI


@pytest.mark.parametrize("args", [
    ["issue", "show", "ffffffffffff"], ["issue", "show", ""], ["query", "state", "bogus"], ["query", "nope"],
    ["query", "ready", "--help"], ["issue", "list", "-sready"], ["issue", "list", "-s", "bogus"],
    ["issue", "list", "extra"], ["issue", "list", "-s"], ["query", "ready", "-s", "ready"],
    ["events", "query", "--limit", "2"], ["query"],
    ["events", "tail", "-n", "-1"], ["--version", "status"], ["issue", "search"], ["issue", "search", "a", "b"],
    ["issue", "search", "x\x1fy", "--json"], ["issue", "search", "-x"],
])
def test_anything_else_goes_to_the_full_cli(board: dict[str, str], args: list[str],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from gitjit.cli import main as full_main

    assert answer(args) is None or args[0] == "--version"
    assert run(fast_main, args, capsys) == run(full_main, args, capsys)


def test_ambiguous_prefix_falls_back(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JIT_REPO", str(repo))
    ids = [tracker.create_issue(f"t{i}")["id"] for i in range(40)]
    tracker.status()
    first = {i[0] for i in ids}
    ch = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    assert first
    assert answer(["issue", "show", ch]) is None
    rc, out, err = run(fast_main, ["issue", "show", ch, "--json"], capsys)
    assert rc == 2 and json.loads(out)["error"]["code"] == "AMBIGUOUS_ID"


def test_stale_index_is_never_used(board: dict[str, str], repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = board["c"]
    # another writer (no index involved) releases the claim: the light path must not answer
    t = Tracker(repo, actor="agent:other")
    t.use_index = False
    t.release(c, "done elsewhere")
    assert answer(["issue", "show", c, "--json"]) is None
    rc, out, _ = run(fast_main, ["issue", "show", c, "--json"], capsys)
    assert rc == 0 and json.loads(out)["assignee"] is None
    # the full CLI folded the change in: the light path answers again, with the new state
    assert answer(["issue", "show", c, "--json"]) is not None
    rc, out, _ = run(fast_main, ["query", "ready", "--json"], capsys)
    assert c in [i["id"] for i in json.loads(out)["issues"]]
    # a plain `git update-ref` too
    old = git("rev-parse", f"refs/jit/issues/{c}~1", cwd=repo).stdout.strip()
    git("update-ref", f"refs/jit/issues/{c}", old, cwd=repo)
    assert answer(["query", "ready", "--json"]) is None
    rc, out, _ = run(fast_main, ["query", "ready", "--json"], capsys)
    assert c not in [i["id"] for i in json.loads(out)["issues"]]


def test_light_path_imports_no_pygit2_pydantic_or_click(board: dict[str, str], repo: Path) -> None:
    code = ("import sys, io; from gitjit.cli.fast import main; sys.stdout = io.StringIO(); rc = main(sys.argv[1:]);"
            "out = sys.stdout.getvalue(); sys.stdout = sys.__stdout__;"
            "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'pygit2', 'pydantic', 'click', 'gitjit.cli'});"
            "print(rc, len(out) > 10, heavy)")
    for args in (["query", "ready", "--json"], ["issue", "show", board["a"], "--json"], ["status", "--json"],
                 ["events", "tail", "--json"], ["--version"]):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=repo,
                           check=True)
        assert r.stdout.strip() == "0 True []", (args, r.stdout, r.stderr)


def test_version_matches_click(capsys: pytest.CaptureFixture[str]) -> None:
    from gitjit.cli import main as full_main

    assert run(fast_main, ["--version"], capsys) == run(full_main, ["--version"], capsys)


def test_issue_show_with_a_gate_policy_goes_to_the_full_cli(board: dict[str, str], repo: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from gitjit.cli import main as full_main

    b = board["b"]
    assert answer(["issue", "show", b, "--json"]) is not None
    git("config", "jit-gate.spec.allow", "human:*", cwd=repo)  # agent:test's pass no longer counts here
    assert answer(["issue", "show", b, "--json"]) is None
    got = run(fast_main, ["issue", "show", b, "--json"], capsys)
    assert got == run(full_main, ["issue", "show", b, "--json"], capsys)
    spec = next(g for g in json.loads(got[1])["gates"] if g["key"] == "spec")
    assert spec["trusted"] is False


def test_light_path_in_a_worktree_and_a_bare_clone(tracker: Tracker, repo: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from gitjit.cli import main as full_main

    a = tracker.create_issue("everywhere")["id"]
    git("commit", "--allow-empty", "-q", "-m", "root", cwd=repo)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    (tmp_path / "wt" / "sub").mkdir()
    tracker.status()
    monkeypatch.chdir(tmp_path / "wt" / "sub")  # found by walking up from a subdirectory
    assert answer(["issue", "show", a, "--json"]) is not None
    assert run(fast_main, ["issue", "show", a, "--json"], capsys) == run(full_main, ["issue", "show", a, "--json"],
                                                                         capsys)
    git("clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"), cwd=tmp_path)
    git("fetch", "-q", str(repo), "refs/jit/*:refs/jit/*", cwd=tmp_path / "bare.git")
    Tracker(tmp_path / "bare.git").status()
    monkeypatch.setenv("JIT_REPO", str(tmp_path / "bare.git"))
    monkeypatch.setenv("JIT_JSON", "1")
    assert answer(["query", "all"]) is not None
    got = run(fast_main, ["query", "all"], capsys)
    assert got == run(full_main, ["query", "all"], capsys) and json.loads(got[1])["count"] == 1
