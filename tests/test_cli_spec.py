"""One front door: the pre-dispatch (gitjit/cli/light.py) parses the hot commands from a description
generated from their click definitions, and whatever it accepts, click parses the same way."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.cli import actions, light
from gitjit.cli.io import env
from gitjit.cli.root import click_main
from gitjit.cli.spec import SPEC
from gitjit.cli.specgen import HOT, build, render


def test_the_generated_description_matches_the_click_commands() -> None:
    from gitjit.cli import specgen

    assert specgen.SPEC_FILE.read_text() == render(build()), (
        "gitjit/cli/spec.py is out of date: run python -m gitjit.cli.specgen")
    assert sorted(SPEC["commands"]) == sorted(" ".join(p) for p in HOT)


class Recorded(Exception):
    pass


@pytest.fixture
def record(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every action replaced by one that records what it was given (and the context) and stops."""
    calls: list[Any] = []
    for name in {c["action"] for c in SPEC["commands"].values()}:
        def fake(*, _name: str = name, **kw: Any) -> None:
            e = env()
            calls.append((_name, kw, e.json, e.quiet, e.repo, e.actor))
            raise Recorded

        monkeypatch.setattr(actions, name, fake)
    return calls


def both(args: list[str], calls: list[Any]) -> tuple[Any, Any]:
    """What the pre-dispatch and click each hand to the action (None: the pre-dispatch declined;
    "refused": click refused the words)."""
    calls.clear()
    try:
        got = light.dispatch(list(args))
    except Recorded:
        got = 0
    light_call = calls[0] if calls else None
    assert got is None or light_call is not None, args
    calls.clear()
    try:
        rc = click_main(list(args))
    except Recorded:
        rc = 0
    click_call = calls[0] if calls else ("refused", rc)
    return light_call, click_call


def _normal(call: Any) -> Any:
    if not isinstance(call, tuple) or call[0] == "refused":
        return call
    name, kw, *rest = call
    return (name, {k: tuple(v) if isinstance(v, list) else v for k, v in kw.items()}, *rest)


EXAMPLES = [
    ["query", "ready", "--json"], ["--json", "query", "blocked"], ["query", "state", "done", "-q"],
    ["issue", "list", "-s", "ready", "-l", "a:b", "--label=c:d", "-lteam:x", "--json"],
    ["issue", "list", "--state", "open", "--state", "done"], ["list", "list"], ["issue", "show", "a", "b"],
    ["issue", "update", "abc", "-t", "T", "--context", "k=v", "--context=x=1", "-p", "high", "--json"],
    ["issue", "update", "abc", "--description", "d", "--add-label", "a:b", "--remove-label", "c:d"],
    ["issue", "claim", "abc", "agent:x", "--remote", "hub"], ["issue", "claim-next", "--to", "agent:x", "-f", "p"],
    ["issue", "claim-next", "agent:x", "--filter=tag:gpu"], ["events", "tail", "-n", "3"], ["events", "tail", "-n0"],
    ["events", "tail", "--n=5", "--follow", "--interval", "0.5"], ["events", "query", "-e", "x", "--limit", "2"],
    ["graph", "show"], ["graph", "show", "abc", "--json"], ["status", "-q"], ["--repo", "/r", "--by", "me", "status"],
    ["--repo=/r", "--by=me", "-q", "query", "all"], ["hook", "run", "commit-msg", "--", "MSG"],
    ["hook", "run", "pre-push", "--pre-commit-framework"], ["hook", "run", "post-checkout", "--", "a", "b", "1"],
    ["issue", "show", "--", "-x"],
]


@pytest.mark.parametrize("args", EXAMPLES, ids=[" ".join(a) for a in EXAMPLES])
def test_the_pre_dispatch_takes_the_usual_shapes_as_click_does(args: list[str], record: list[Any]) -> None:
    light_call, click_call = both(args, record)
    assert light_call is not None, f"the pre-dispatch declined {args}"
    assert _normal(light_call) == _normal(click_call)


DECLINED = [
    ["query", "ready", "--help"], ["-h"], ["query"], ["query", "bogus"], ["issue", "show"],
    ["issue", "list", "-s"], ["issue", "list", "extra"], ["events", "tail", "-n", "-1"], ["events", "tail", "-n", "x"],
    ["query", "--json", "ready"], ["issue", "update", "x", "--nope"], ["status", "extra"], ["issue", "create", "-t", "x"],
    ["--version", "status"], ["statu"], [], ["issue", "claim", "x"],
]


@pytest.mark.parametrize("args", DECLINED, ids=[" ".join(a) or "(none)" for a in DECLINED])
def test_what_it_does_not_parse_exactly_goes_to_click(args: list[str], record: list[Any]) -> None:
    assert light.parse(args) is None


_WORDS = st.sampled_from(["a", "abc", "x:y", "-", "--", "-q", "--json", "-n", "3", "-1", "--n=2", "-s", "ready",
                          "--state", "--state=done", "-l", "-lx:y", "--label", "--context", "k=v", "--to", "-f",
                          "--remote", "hub", "--follow", "--interval", "0.5", "--limit", "-e", "--since", "--title",
                          "-t", "=", "--pre-commit-framework", "commit-msg", "--no-such", "-h", "é", ""])


@st.composite
def argv(draw: Any) -> list[str]:
    cmd = draw(st.sampled_from(sorted(SPEC["commands"])))
    pre = draw(st.lists(st.sampled_from(["--json", "-q", "--repo", "/r", "--by", "me", "--by=x"]), max_size=3))
    rest = draw(st.lists(_WORDS, max_size=7))
    return [*pre, *cmd.split(), *rest]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=argv())
def test_whatever_the_pre_dispatch_accepts_click_parses_the_same(args: list[str], record: list[Any]) -> None:
    light_call, click_call = both(args, record)
    if light_call is not None:
        assert _normal(light_call) == _normal(click_call), args


def test_the_hot_commands_run_without_click(tmp_path: Any) -> None:
    code = ("import sys; from gitjit.cli import main; rc = main(sys.argv[1:]);"
            "print(rc, 'click' in sys.modules, file=sys.stderr)")

    def run(*args: str) -> str:
        p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path)
        return p.stderr.strip().splitlines()[-1]

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert run("--version") == "0 False"
    assert run("query", "ready", "--json").endswith("False")  # answered (or refused) without click
    assert run("query", "ready", "--help") == "0 True"  # help is click's
    assert run("statu").endswith("True")  # so are its usage errors
