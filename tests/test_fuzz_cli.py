"""Bad input on the command line: hypothesis throws hostile arguments at every command.

Whatever the input (ids, titles with newlines or control characters, 1 MB strings, invalid
UTF-8 as a shell passes it, unknown states and priorities, malformed ``--context``, negative
and huge numbers), ``jit`` must answer with a clear message and a documented exit code (never
1 "unexpected", never a traceback), and a command that fails must not change the store (the
ref snapshot is compared before and after). The number of inputs tried is printed at the end
of the run and written to ``$JIT_FUZZ_STATS`` when set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.errors import EXIT_CODES

EXAMPLES = int(os.environ.get("JIT_FUZZ_EXAMPLES", "100"))
FUZZ_STATS = os.environ.get("JIT_FUZZ_STATS")  # read at import: tests run with JIT_* scrubbed
TRIED: Counter[str] = Counter()
#: documented exit codes a command may end with; 1 means "unexpected error" and is a bug here
ALLOWED = set(EXIT_CODES) - {1}

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

MB = "x" * 1_000_000
#: what a shell hands Python for bytes that are not UTF-8 (argv is decoded with surrogateescape)
BAD_UTF8 = b"caf\xe9 \xff\xfe".decode("utf-8", "surrogateescape")
SPECIAL = [
    "", " ", "-", "--", "-rf", "..", "../..", "/", "refs/jit/issues/x", "HEAD", "@{0}", "a\nb", "a\rb", "\t",
    "\x00", "\x1b[31mred", "\u202eevil", "\ud800", BAD_UTF8, MB, "0" * 12, "f" * 40, "Ω", "😀" * 100,
    "--json", "-q", "%s%n", "agent:<b>x</b>", "a <b@c>", ":.;", "<>", "'; rm -rf /", "$(id)", "null", "[]", "{}", "1e999", "NaN", "-1", "99999999999999999999",
]
text = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=300),
                 st.text(alphabet=st.characters(codec="utf-8", exclude_categories=()), max_size=50),
                 st.binary(max_size=40).map(lambda b: b.decode("utf-8", "surrogateescape")))
numbers = st.one_of(st.integers(min_value=-(10**30), max_value=10**30).map(str), st.sampled_from(
    ["-1", "0", "1e3", "0x10", "", "NaN", "inf", "9" * 400, "٣", " 5 ", "5.5"]))
contexts = st.one_of(
    text,
    st.builds(lambda k, v: f"{k}={v}", st.text(max_size=20), text),
    st.sampled_from(["=", "k", "k=", "=v", "k=[", 'k={"a":', "k=" + "[" * 5000 + "]" * 5000,
                     "k=" + '{"a":' * 30 + "1" + "}" * 30, "k=1e999", "k=NaN", "k=-Infinity",
                     "k=" + json.dumps("y" * 20_000), "tags=[\"ok\"]", "k=\"unterminated", "k=\ud800"]),
)
states = st.one_of(st.sampled_from(["open", "ready", "in_progress", "done", "rejected", "archived",
                                    "DONE", "in-progress", "gated", "deleted", ""]), text)
priorities = st.one_of(st.sampled_from(["low", "normal", "high", "critical", "CRITICAL", "urgent", ""]), text)


@pytest.fixture
def world(jit: Jit) -> tuple[Jit, list[str]]:
    jit("registry", "add", "review", "--title", "Review")
    ids = [jit("issue", "create", "-q", "-t", f"seed {i}", "-g", "review").stdout.strip() for i in range(3)]
    jit("dep", "add", ids[0], ids[1])
    jit("issue", "claim", ids[2], "agent:holder")
    return jit, ids


def ident(ids: list[str]) -> st.SearchStrategy[str]:
    real = st.sampled_from(ids)
    return st.one_of(real, real.map(lambda i: i[:4]), real.map(str.upper), real.map(lambda i: i + "0"),
                     real.map(lambda i: i[:1]), text)


def check(jit: Jit, argv: list[str], family: str) -> int:
    """Run one command; assert the contract; return its exit code."""
    TRIED[family] += 1
    before = ref_snapshot(jit.repo)
    r = jit(*argv)
    out = (r.stdout or "") + (r.stderr or "")
    assert "Traceback" not in out, out[-2000:]
    assert "internal error" not in out, (argv[:6], out[-2000:])
    assert r.exit_code in ALLOWED, (argv[:6], r.exit_code, out[-2000:])
    if r.exit_code != 0:
        assert ref_snapshot(jit.repo) == before, f"{argv[:4]} failed with {r.exit_code} but changed the store"
        if "--json" in argv:
            err = json.loads(r.stdout)["error"]
            assert err["code"] and err["message"]
        else:
            assert r.stderr.startswith(("error: ", "warning: ")), r.stderr[:500]
    return r.exit_code


@FUZZ
@given(data=st.data(), title=text, desc=text, prio=priorities, ctx=st.lists(contexts, max_size=3),
       labels=st.lists(text, max_size=2), gates=st.lists(text, max_size=2), as_json=st.booleans())
def test_issue_create(world, data, title, desc, prio, ctx, labels, gates, as_json) -> None:  # type: ignore[no-untyped-def]
    jit, _ = world
    argv = ["issue", "create", "-t", title, "-d", desc, "-p", prio]
    for c in ctx:
        argv += ["--context", c]
    for lab in labels:
        argv += ["--label", lab]
    for g in gates:
        argv += ["--gate", g]
    check(jit, argv + (["--json"] if as_json else []), "issue create")


@FUZZ
@given(data=st.data(), title=st.one_of(st.none(), text), state=st.one_of(st.none(), states),
       prio=st.one_of(st.none(), priorities), ctx=st.lists(contexts, max_size=2),
       unset=st.lists(text, max_size=2), as_json=st.booleans())
def test_issue_update(world, data, title, state, prio, ctx, unset, as_json) -> None:  # type: ignore[no-untyped-def]
    jit, ids = world
    argv = ["issue", "update", data.draw(ident(ids))]
    for flag, v in (("-t", title), ("-s", state), ("-p", prio)):
        if v is not None:
            argv += [flag, v]
    for c in ctx:
        argv += ["--context", c]
    for u in unset:
        argv += ["--unset-context", u]
    check(jit, argv + (["--json"] if as_json else []), "issue update")


@FUZZ
@given(data=st.data(), who=text, reason=text, filt=text, as_json=st.booleans())
def test_claims_and_releases(world, data, who, reason, filt, as_json) -> None:  # type: ignore[no-untyped-def]
    jit, ids = world
    j = ["--json"] if as_json else []
    kind = data.draw(st.sampled_from(["claim", "claim-next", "release", "assign", "show", "delete", "search"]))
    if kind == "claim":
        argv = ["issue", "claim", data.draw(ident(ids)), who]
    elif kind == "claim-next":
        argv = ["issue", "claim-next", who, "--filter", filt]
    elif kind == "release":
        argv = ["issue", "release", data.draw(ident(ids)), reason]
    elif kind == "assign":
        argv = ["issue", "assign", data.draw(ident(ids)), who]
    elif kind == "search":
        argv = ["issue", "search", who]
    else:
        argv = ["issue", kind, data.draw(ident(ids))]
    check(jit, argv + j, f"issue {kind}")


@FUZZ
@given(data=st.data(), key=text, title=text, as_json=st.booleans())
def test_deps_gates_registry(world, data, key, title, as_json) -> None:  # type: ignore[no-untyped-def]
    jit, ids = world
    j = ["--json"] if as_json else []
    kind = data.draw(st.sampled_from(["dep add", "dep rm", "gate add", "gate pass", "gate fail", "registry add",
                                      "registry show", "registry remove", "gate run"]))
    a, b = data.draw(ident(ids)), data.draw(ident(ids))
    argv = {
        "dep add": ["dep", "add", a, b], "dep rm": ["dep", "rm", a, b],
        "gate add": ["gate", "add", a, key], "gate pass": ["gate", "pass", a, key, "--by", title],
        "gate fail": ["gate", "fail", a, key, "--reason", title],
        "registry add": ["registry", "add", key, "--title", title],
        "registry show": ["registry", "show", key], "registry remove": ["registry", "remove", key],
        "gate run": ["gate", "run", a, key, "--timeout", data.draw(numbers)],
    }[kind]
    check(jit, argv + j, kind)


@FUZZ
@given(data=st.data(), n=numbers, value=text, as_json=st.booleans())
def test_reads(world, data, n, value, as_json) -> None:  # type: ignore[no-untyped-def]
    jit, ids = world
    j = ["--json"] if as_json else []
    kind = data.draw(st.sampled_from(["events tail", "events query", "query state", "query priority",
                                      "query assignee", "issue list", "graph deps", "graph show", "graph export",
                                      "config get"]))
    argv = {
        "events tail": ["events", "tail", "-n", n],
        "events query": ["events", "query", "--limit", n, "--since", value, "--event-type", value],
        "query state": ["query", "state", value], "query priority": ["query", "priority", value],
        "query assignee": ["query", "assignee", value],
        "issue list": ["issue", "list", "--state", data.draw(states), "--label", value,
                       "--priority", data.draw(priorities)],
        "graph deps": ["graph", "deps", data.draw(ident(ids))], "graph show": ["graph", "show", data.draw(ident(ids))],
        "graph export": ["graph", "export", "--format", value],
        "config get": ["config", "get", value],
    }[kind]
    check(jit, argv + j, kind)


def test_report_inputs_tried() -> None:
    """Runs last in this module: prints (and optionally saves) how many inputs were tried."""
    total = sum(TRIED.values())
    print(f"\nCLI fuzz: {total} inputs over {len(TRIED)} commands: {dict(sorted(TRIED.items()))}")
    out = FUZZ_STATS
    if out:
        p = Path(out)
        old = json.loads(p.read_text()) if p.exists() else {}
        old["cli"] = {"total": total, "by_command": dict(TRIED)}
        p.write_text(json.dumps(old, indent=1))


# ----------------------------------------------------------------------------- real processes

@pytest.mark.parametrize("argv", [
    [b"issue", b"create", b"-t", b"caf\xe9"],
    [b"issue", b"show", b"\xff\xfe"],
    [b"issue", b"update", b"\xff", b"-t", b"x"],
    [b"issue", b"claim", b"\xff", b"agent:\xff"],
    [b"query", b"state", b"\xc3"],
    [b"issue", b"search", b"\xff"],
    [b"issue", b"create", b"-t", b"ok", b"--context", b"k=\xff"],
    [b"--json", b"issue", b"show", b"\xff"],
])
def test_invalid_utf8_from_a_shell(jit: Jit, argv: list[bytes]) -> None:
    """Bytes that are not UTF-8 reach ``jit`` through a real exec, as a shell passes them."""
    jit("issue", "create", "-t", "present")
    before = ref_snapshot(jit.repo)
    env = {**os.environ, "JIT_REPO": str(jit.repo), "JIT_ACTOR": "agent:test", "LC_ALL": "C.UTF-8"}
    r = subprocess.run([sys.executable.encode(), b"-m", b"gitjit", *argv], env=env, capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace") + r.stderr.decode("utf-8", "replace")
    assert "Traceback" not in out and "internal error" not in out, out
    assert r.returncode == 2, out
    assert "not valid UTF-8" in out
    assert ref_snapshot(jit.repo) == before
    if b"--json" in argv:
        assert json.loads(r.stdout)["error"]["code"] == "INVALID_ARGUMENT"


def test_hostile_environment(jit: Jit) -> None:
    """JIT_ACTOR and JIT_REPO are input too."""
    env = {**os.environ, "JIT_REPO": str(jit.repo)}
    for actor in ["a\nb", "", "x" * 1000, "\x1b[2J"]:
        r = subprocess.run([sys.executable, "-m", "gitjit", "issue", "create", "-t", "t"],
                           env={**env, "JIT_ACTOR": actor}, capture_output=True, text=True, timeout=60)
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "gitjit", "status"], env={**env, "JIT_REPO": "/nonexistent/x"},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and r.stderr.startswith("error: ")
    assert git("fsck", "--no-dangling", cwd=jit.repo).returncode == 0
