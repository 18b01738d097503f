"""The light write path (gitjit/fast.py, ``_write``): ``jit issue claim``, ``claim-next`` and
``update`` without click make the same library call and print the same bytes, exit codes and
JSON errors as the full CLI (gitjit/cli/issue.py), and anything else goes to the full CLI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ref_snapshot

from gitjit.app.tracker import Tracker
from gitjit.cli.fast import _write
from gitjit.cli.fast import main as fast_main

_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?")


def _setup(tracker: Tracker) -> dict[str, str]:
    t = tracker
    t.registry_add("review", title="Code review")
    a = t.create_issue("Épique: ship it", priority="high", labels=["team:core"], context={"k": [1, "ü"]})["id"]
    b = t.create_issue("Parser", description="line one", gates=["review"])["id"]
    c = t.create_issue("Lexer", priority="critical")["id"]
    d = t.create_issue("Docs", priority="low")["id"]
    t.add_dependency(a, [b])
    t.claim(d, "agent:other")
    t.status()
    return {"a": a, "b": b, "c": c, "d": d}


def _run(main, repo: Path, args: list[str], capsys: pytest.CaptureFixture[str],
         monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str, dict[str, object]]:
    monkeypatch.setenv("JIT_REPO", str(repo))
    capsys.readouterr()
    rc = main(list(args))
    out = capsys.readouterr()
    after = {i["id"]: i for i in Tracker(repo).query("all")["issues"]}
    return rc, _TS.sub("<ts>", out.out), _TS.sub("<ts>", out.err), json.loads(_TS.sub("<ts>", json.dumps(after)))


def _pair(tmp_path: Path, repo: Path, k: int) -> tuple[Path, Path]:
    a, b = tmp_path / f"light{k}", tmp_path / f"full{k}"
    shutil.copytree(repo, a, symlinks=True)
    shutil.copytree(repo, b, symlinks=True)
    return a, b


def _cases(ids: dict[str, str]) -> list[list[str]]:
    a, b, c, d = ids["a"], ids["b"], ids["c"], ids["d"]
    return [
        ["issue", "claim", c, "agent:x"], ["issue", "claim", c[:6], "agent:x", "--json"],
        ["-q", "issue", "claim", c, "agent:x"], ["--json", "issue", "claim", c.upper(), "agent:x"],
        ["issue", "claim", d, "agent:x"], ["issue", "claim", d, "agent:x", "--json"],  # someone else holds it
        ["issue", "claim", a, "agent:x", "--json"], ["issue", "claim", a, "agent:x"],  # blocked by b
        ["issue", "claim", "ffffffffffff", "agent:x"], ["issue", "claim", c, "bad\tactor", "--json"],
        ["issue", "claim-next", "agent:x"], ["issue", "claim-next", "--to", "agent:x", "--json"],
        ["issue", "claim-next", "agent:x", "-q"], ["--by", "agent:boss", "issue", "claim-next", "agent:x"],
        ["issue", "update", b, "--context", "run=1"], ["issue", "update", b, "-s", "done"],  # gate not passed
        ["issue", "update", b, "-s", "done", "--json"], ["issue", "update", b, "-s", "bogus"],
        ["issue", "update", a, "-t", "New title", "-p", "HIGH", "-l", "a:b, c:d", "--json"],
        ["issue", "update", a, "--unset-context", "k", "--remove-label", "team:core", "-q"],
        ["issue", "update", a, "--context", "novalue", "--json"], ["issue", "update", a, "-d", "--json"],
        ["issue", "update", a, "--desc", "two\nlines", "--description", "x"], ["issue", "update", a, "-d", "y", "-d", "z"],
        ["--by", "agent:boss", "--json", "issue", "update", c, "--label", "x:y", "--add-label", "z:w"],
        ["issue", "update", c, "--state", "in_progress"], ["issue", "update", "nope", "-t", "x", "--json"],
        ["issue", "update", "nope", "-t", "--json"],  # "--json" is the title, yet the error is JSON
    ]


def test_same_output_and_outcome_as_the_full_cli(tracker: Tracker, repo: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.cli import main as full_main

    ids = _setup(tracker)
    light_taken = 0
    for k, args in enumerate(_cases(ids)):
        light, full = _pair(tmp_path, repo, k)
        taken = _write(args) is not None
        light_taken += taken
        got = _run(fast_main, light, args, capsys, monkeypatch)
        want = _run(full_main, full, args, capsys, monkeypatch)
        assert got == want, args
        if want[0] != 0:  # a refused write changed nothing, on either path
            assert ref_snapshot(light) == ref_snapshot(repo), args
    assert light_taken >= 24  # all but the shapes click reads differently (an option given twice)


def test_the_environment_as_the_full_cli_reads_it(tracker: Tracker, repo: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.cli import main as full_main

    ids = _setup(tracker)
    for k, (var, val) in enumerate([("JIT_JSON", "1"), ("JIT_QUIET", "1"), ("JIT_ACTOR", "agent:env"),
                                    ("JIT_JSON", "0")]):
        monkeypatch.setenv(var, val)
        for j, args in enumerate([["issue", "claim", ids["c"], "agent:x"], ["issue", "claim", ids["d"], "agent:x"],
                                  ["issue", "update", ids["b"], "-t", "T"]]):
            light, full = _pair(tmp_path, repo, k * 10 + j)
            assert _write(args) is not None
            assert _run(fast_main, light, args, capsys, monkeypatch) == \
                _run(full_main, full, args, capsys, monkeypatch), (var, args)
        monkeypatch.delenv(var)


@pytest.mark.parametrize("args", [
    ["issue", "claim", "abc"], ["issue", "claim", "abc", "agent:x", "extra"], ["issue", "claim", "abc", "--remote", "o"],
    ["issue", "claim", "abc", "agent:x", "--help"], ["issue", "claim-next"], ["issue", "claim-next", "a", "--to", "b"],
    ["issue", "claim-next", "agent:x", "-f", "priority:high"], ["issue", "claim-next", "agent:x", "--filter=x"],
    ["issue", "update", "abc", "-tTitle"], ["issue", "update", "abc", "--title=T"], ["issue", "update", "abc", "-t"],
    ["issue", "update", "abc", "-s", "done", "--state", "open"], ["issue", "update", "abc", "--", "-t"],
    ["issue", "update"], ["issue", "show", "abc"], ["--repo", "issue", "claim"], ["issue", "claim", "", "a"],
    ["--version", "issue", "claim", "a", "b"], ["issue", "release", "abc", "why"], ["issue", "claim", "a\udcff", "b"],
])
def test_other_shapes_go_to_the_full_cli(args: list[str]) -> None:
    assert _write(args) is None


def test_a_light_claim_imports_no_click(tracker: Tracker, repo: Path) -> None:
    ids = _setup(tracker)
    code = ("import sys; from gitjit.cli.fast import main; rc = main(sys.argv[1:]); "
            "sys.stderr.write(f'click={\"click\" in sys.modules} rc={rc}')")
    for args in (["issue", "claim", ids["c"], "agent:x", "--json"], ["issue", "claim-next", "agent:y"],
                 ["issue", "update", ids["b"], "--context", "n=1"]):
        p = subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True, text=True)
        assert p.stderr.endswith("click=False rc=0"), (args, p.stderr)
    # an error is reported by the full CLI's own report_error (click then loads, as it may)
    p = subprocess.run([sys.executable, "-c", code, "issue", "claim", ids["d"], "agent:x", "--json"], cwd=repo,
                       capture_output=True, text=True)
    assert json.loads(p.stdout)["error"]["code"] and p.stderr.endswith("rc=7"), p.stderr


def test_a_crash_on_the_light_path_is_reported_as_the_full_cli_reports_it(
        tracker: Tracker, repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from gitjit.cli import main as full_main

    ids = _setup(tracker)

    def boom(*a: object, **k: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("gitjit.app.tracker.Tracker.update_issue", boom)
    monkeypatch.setenv("JIT_REPO", str(repo))
    for args in (["issue", "update", ids["a"], "-t", "x"], ["issue", "update", ids["a"], "-t", "x", "--json"]):
        assert _write(args) is not None
        capsys.readouterr()
        got = (fast_main(args), capsys.readouterr())
        want = (full_main(args), capsys.readouterr())
        assert got == want and got[0] == 1 and "internal error: RuntimeError: kaboom" in got[1].out + got[1].err
    monkeypatch.setenv("JIT_DEBUG", "1")
    with pytest.raises(RuntimeError):
        fast_main(["issue", "update", ids["a"], "-t", "x"])
