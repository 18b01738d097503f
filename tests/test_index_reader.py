"""The reads agents run most are answered from the index as it stands (gitjit/app/reader.py),
through the one front door (gitjit/cli/): the same output as when the Tracker answers, no pygit2
loaded, and the Tracker asked whenever the index may be stale or cannot judge."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import git

import gitjit.app.reader as reader_mod
from gitjit.api import Tracker
from gitjit.cli import main
from gitjit.cli.core import Env


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main(args)
    out = capsys.readouterr()
    return rc, out.out, out.err


class Spy:
    """Records whether a command opened the Tracker (pygit2) or was answered by the reader."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.opened = 0
        real = Env.tracker.fget  # type: ignore[attr-defined]

        def tracker(env: Env) -> Any:
            self.opened += 1
            return real(env)

        monkeypatch.setattr(Env, "tracker", property(tracker))

    def reader_answers(self, args: list[str], capsys: pytest.CaptureFixture[str]) -> bool:
        self.opened = 0
        run(args, capsys)
        return self.opened == 0


def via_tracker(args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """The command as it runs when the index reader declines (the Tracker answers)."""
    with monkeypatch.context() as m:
        m.setattr(reader_mod, "open_reader", lambda start: None)
        return run(args, capsys)


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
    ["events", "query", "--limit", "2"], ["events", "query", "--event-type", "issue_claimed", "--json"],
    ["issue", "list"], ["issue", "list", "--json"], ["issue", "list", "-s", "ready", "--json"],
    ["issue", "list", "--state=In-Progress", "-q"], ["issue", "list", "-l", "team:*", "--json"],
    ["issue", "list", "--label", "team:*", "-l", "team:core"], ["issue", "list", "-l", "team:*", "-l", "x:*"],
    ["issue", "list", "-a", "agent:lex", "--priority", "LOW", "--json"], ["issue", "list", "-s", "done", "-s", "open"],
    ["issue", "list", "--assignee", "nobody"], ["issue", "list", "-s", "", "-q"], ["--json", "issue", "list", "-p", "high"],
    ["issue", "list", "-sready"], ["issue", "search", "ÉPIQUE", "--json"], ["issue", "search", "line TWO"],
    ["issue", "search", "team:", "-q"], ["issue", "search", "zzz", "--json"], ["issue", "search", "zzz"],
    ["--json", "issue", "search", 'say "hi"\\'], ["issue", "search", "e", "--json"],
    ["graph", "show"], ["graph", "show", "--json"], ["graph", "roots", "--json"], ["graph", "export", "-f", "mermaid"],
]


def test_same_output_as_the_tracker_gives(board: dict[str, str], repo: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    cmds = COMMANDS + [
        ["issue", "show", board["a"][:6]], ["issue", "show", board["b"], "--json"],
        ["issue", "show", board["b"], board["c"].upper(), "--json"], ["issue", "show", board["a"], "-q"],
        ["--repo", str(repo), "issue", "show", board["d"], board["c"]], ["graph", "show", board["a"]],
        ["graph", "deps", board["a"], "--json"], ["graph", "downstream", board["c"], "-q"],
        ["events", "query", "--issue", board["c"][:6], "--json"],
    ]
    for args in cmds:
        assert spy.reader_answers(args, capsys), f"the index reader declined {args}"
        got = run(args, capsys)
        want = via_tracker(args, capsys, monkeypatch)
        assert got == want, args
        assert "0123456789ab" in got[2], (args, got)  # the bad ref's warning, on stderr, as the Tracker gives it


@pytest.mark.parametrize("args", [
    ["issue", "show", "ffffffffffff"], ["issue", "show", ""], ["query", "state", "bogus"], ["query", "nope"],
    ["query", "ready", "--help"], ["issue", "list", "-s", "bogus"], ["issue", "list", "extra"], ["issue", "list", "-s"],
    ["query", "ready", "-s", "ready"], ["query"], ["events", "tail", "-n", "-1"], ["issue", "search"],
    ["issue", "search", "a", "b"], ["issue", "search", "x\x1fy", "--json"], ["issue", "search", "-x"],
    ["events", "query", "--since", "yesterday", "--json"], ["graph", "deps", "nope", "--json"],
])
def test_errors_and_odd_shapes_as_the_tracker_gives_them(board: dict[str, str], args: list[str],
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    assert run(args, capsys) == via_tracker(args, capsys, monkeypatch)


def test_an_ambiguous_prefix_is_the_same_error(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("JIT_REPO", str(repo))
    ids = [tracker.create_issue(f"t{i}")["id"] for i in range(40)]
    tracker.status()
    ch = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    spy = Spy(monkeypatch)
    assert spy.reader_answers(["issue", "show", ch, "--json"], capsys)
    rc, out, err = run(["issue", "show", ch, "--json"], capsys)
    assert rc == 2 and json.loads(out)["error"]["code"] == "AMBIGUOUS_ID"
    assert (rc, out, err) == via_tracker(["issue", "show", ch, "--json"], capsys, monkeypatch)


def test_a_stale_index_is_never_read(board: dict[str, str], repo: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    c = board["c"]
    # another writer (no index involved) releases the claim: the reader must not answer
    t = Tracker(repo, actor="agent:other")
    t.use_index = False
    t.release(c, "done elsewhere")
    assert not spy.reader_answers(["issue", "show", c, "--json"], capsys)
    rc, out, _ = run(["issue", "show", c, "--json"], capsys)
    assert rc == 0 and json.loads(out)["assignee"] is None
    # the Tracker folded the change in: the reader answers again, with the new state
    assert spy.reader_answers(["issue", "show", c, "--json"], capsys)
    rc, out, _ = run(["query", "ready", "--json"], capsys)
    assert c in [i["id"] for i in json.loads(out)["issues"]]
    # a plain `git update-ref` too
    old = git("rev-parse", f"refs/jit/issues/{c}~1", cwd=repo).stdout.strip()
    git("update-ref", f"refs/jit/issues/{c}", old, cwd=repo)
    assert not spy.reader_answers(["query", "ready", "--json"], capsys)
    rc, out, _ = run(["query", "ready", "--json"], capsys)
    assert c not in [i["id"] for i in json.loads(out)["issues"]]


def test_a_ref_deleted_behind_the_index_is_not_listed(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(repo)
    keep = tracker.create_issue("kept")["id"]
    tracker.board()
    gone = tracker.create_issue("deleted by git")["id"]
    git("update-ref", "-d", f"refs/jit/issues/{gone}", cwd=repo)
    assert main(["query", "ready", "--json"]) == 0
    listed = [i["id"] for i in json.loads(capsys.readouterr().out)["issues"]]
    assert listed == [keep]


_PROBE = ("import sys, io; from gitjit.cli import main; sys.stdout = io.StringIO(); rc = main(sys.argv[1:]);"
          "out = sys.stdout.getvalue(); sys.stdout = sys.__stdout__;"
          "heavy = sorted({m.split('.')[0] for m in sys.modules}"
          " & {'pygit2', 'pydantic', 'dataclasses', 'secrets'});"
          "print(rc, len(out) > 10, heavy)")


def test_the_reads_agents_run_most_load_neither_pygit2_nor_pydantic(board: dict[str, str], repo: Path) -> None:
    """Nor ``dataclasses`` (with ``inspect``, ~5 ms) and ``secrets`` (with ``random``, ``hashlib``,
    ~3.5 ms): the folded states are plain classes, ids import ``secrets`` when they are made, and
    the gate policy's module (``show`` of an issue with gates) loads events where it uses them."""
    for args in (["query", "ready", "--json"], ["issue", "show", board["a"], "--json"],
                 ["issue", "show", board["b"], "--json"], ["status", "--json"],
                 ["events", "tail", "--json"], ["issue", "list", "--json"], ["graph", "show", "--json"],
                 ["query", "blocked"], ["--version"]):
        r = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, cwd=repo,
                           check=True)
        assert r.stdout.strip() == "0 True []", (args, r.stdout, r.stderr)
    # a write opens the repository: the probe would see pygit2 (the check above can fail)
    r = subprocess.run([sys.executable, "-c", _PROBE, "issue", "claim", board["b"], "agent:x", "--json"],
                       capture_output=True, text=True, cwd=repo, check=True)
    assert r.stdout.strip() == "0 True ['dataclasses', 'pygit2', 'secrets']", (r.stdout, r.stderr)


def test_python_m_gitjit_and_the_console_script_are_one_door() -> None:
    import tomllib

    root = Path(__file__).resolve().parent.parent
    scripts = tomllib.loads((root / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["jit"] == scripts["git-jit"] == "gitjit.cli:main"
    assert "from .cli import main" in (root / "gitjit" / "__main__.py").read_text()
    assert not (root / "gitjit" / "cli" / "fast.py").exists() and not (root / "gitjit" / "fast.py").exists()


def test_issue_show_with_a_gate_policy_is_judged_by_the_tracker(board: dict[str, str], repo: Path,
                                                                capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    b = board["b"]
    assert spy.reader_answers(["issue", "show", b, "--json"], capsys)
    git("config", "jit-gate.spec.allow", "human:*", cwd=repo)  # agent:test's pass no longer counts here
    assert not spy.reader_answers(["issue", "show", b, "--json"], capsys)
    got = run(["issue", "show", b, "--json"], capsys)
    spec = next(g for g in json.loads(got[1])["gates"] if g["key"] == "spec")
    assert spec["trusted"] is False
    # an issue without gates needs no judgement
    assert spy.reader_answers(["issue", "show", board["c"], "--json"], capsys)


def test_in_a_worktree_and_a_bare_clone(tracker: Tracker, repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    a = tracker.create_issue("everywhere")["id"]
    git("commit", "--allow-empty", "-q", "-m", "root", cwd=repo)
    git("worktree", "add", "-q", str(tmp_path / "wt"), cwd=repo)
    (tmp_path / "wt" / "sub").mkdir()
    tracker.status()
    spy = Spy(monkeypatch)
    monkeypatch.chdir(tmp_path / "wt" / "sub")  # found by walking up from a subdirectory
    assert spy.reader_answers(["issue", "show", a, "--json"], capsys)
    assert run(["issue", "show", a, "--json"], capsys) == via_tracker(["issue", "show", a, "--json"], capsys,
                                                                      monkeypatch)
    git("clone", "-q", "--bare", str(repo), str(tmp_path / "bare.git"), cwd=tmp_path)
    git("fetch", "-q", str(repo), "refs/jit/*:refs/jit/*", cwd=tmp_path / "bare.git")
    Tracker(tmp_path / "bare.git").status()
    monkeypatch.setenv("JIT_REPO", str(tmp_path / "bare.git"))
    monkeypatch.setenv("JIT_JSON", "1")
    assert spy.reader_answers(["query", "all"], capsys)
    got = run(["query", "all"], capsys)
    assert got == via_tracker(["query", "all"], capsys, monkeypatch) and json.loads(got[1])["count"] == 1
