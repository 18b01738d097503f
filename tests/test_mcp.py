"""``jit mcp``: a real server process driven through the MCP SDK's own client.

Over stdio (the client starts ``python -m gitjit mcp``) and once over streamable HTTP on
127.0.0.1: the tools and their schemas, a full claim -> gates -> done cycle, two clients racing
for one issue, errors with their code, hint and exit code, a claim decided by a bare hub, and one
server serving several repositories.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import make_repo
from synclib import hub_and_clones, tracker

pytest.importorskip("mcp", reason="the MCP SDK is the optional extra gitjit[mcp]")

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from gitjit.app.tracker import Tracker
from gitjit.schema.mcp import TOOLS, output_schema

ROOT = Path(__file__).resolve().parent.parent
NAMES = ["ready", "show", "create", "update", "claim_next", "claim", "release", "set_state", "gate_pass", "gate_fail",
         "gate_run", "dep_add", "dep_remove", "status", "events"]


def server_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


@asynccontextmanager
async def session(*args: str, cwd: Path, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "gitjit", "mcp", *args], cwd=str(cwd),
                                   env=env or server_env())
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        yield s


async def ok(s: ClientSession, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    res = await s.call_tool(tool, args)
    assert not res.is_error, (tool, args, res.structured_content)
    data = res.structured_content
    assert isinstance(data, dict)
    assert json.loads(res.content[0].text) == data  # the text says the same, for clients that read only text
    return data


def error_body(res: Any) -> dict[str, Any]:
    """The error object of a refused call: JSON text, and no structured content, which a client
    would check against the tool's output schema (the TypeScript SDK's client does so even when
    ``isError`` is set, and then reports a protocol error in place of the tool's error)."""
    assert res.structured_content is None, res.structured_content
    body: dict[str, Any] = json.loads(res.content[0].text)
    return body


async def err(s: ClientSession, tool: str, args: Any) -> dict[str, Any]:
    res = await s.call_tool(tool, args)
    assert res.is_error, (tool, args, res.structured_content)
    data = error_body(res)
    assert isinstance(data, dict) and set(data) == {"error", "exit_code"}
    assert set(data["error"]) == {"code", "message", "details", "hint"}
    return data


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = make_repo(tmp_path / "repo")
    Tracker(r, actor="setup").init()
    return r


# ----------------------------------------------------------------------------- the tools

def test_the_tools_and_their_schemas(repo: Path) -> None:
    async def go() -> None:
        async with session(cwd=repo) as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert list(tools) == NAMES == list(TOOLS)
            for t in tools.values():
                assert t.description and "\n" not in t.description
                assert t.input_schema["type"] == "object" and t.input_schema.get("additionalProperties") is False
                assert t.output_schema is not None and t.output_schema["type"] == "object"
                assert "repo" in t.input_schema["properties"] and "repo" not in t.input_schema.get("required", [])
            assert tools["show"].input_schema["required"] == ["id"]
            assert set(tools["create"].input_schema["properties"]) >= {"title", "gates", "depends_on", "labels"}
            assert tools["set_state"].input_schema["properties"]["state"]["enum"] == [
                "open", "ready", "in_progress", "done", "rejected", "archived"]
            # the output schemas are the --json shapes
            assert {"id", "short_id", "gates", "blocked_reasons"} <= set(tools["show"].output_schema["properties"])
            assert set(tools["events"].output_schema["required"]) == {"events", "cursor"}
            assert tools["ready"].annotations.read_only_hint and not tools["claim"].annotations.read_only_hint

    run(go())


def test_a_claim_then_gates_then_done(repo: Path) -> None:
    async def go() -> None:
        async with session("--actor", "agent:one", cwd=repo) as s:
            dep = await ok(s, "create", {"title": "the base", "priority": "high"})
            top = await ok(s, "create", {"title": "the feature", "gates": ["review", "tests"],
                                         "depends_on": [dep["short_id"]], "labels": ["team:core"],
                                         "context": {"estimate": 3}})
            assert top["dependencies"] == [dep["id"]] and top["state"] == "open"
            assert [g["key"] for g in top["gates"]] == ["review", "tests"]
            ready = await ok(s, "ready", {"limit": 5})
            assert [i["id"] for i in ready["issues"]] == [dep["id"]] and ready["more"] is False
            assert ready["issues"][0] == {"id": dep["id"], "title": "the base", "priority": "high", "labels": [],
                                          "gates": []}
            got = await ok(s, "claim_next", {})
            assert got["id"] == dep["id"] and got["assignee"] == "agent:one" and got["state"] == "in_progress"
            done = await ok(s, "set_state", {"id": dep["id"], "state": "done"})
            assert done["state"] == "done"
            assert (await ok(s, "show", {"id": top["id"]}))["state"] == "ready"
            mine = await ok(s, "claim", {"id": top["id"][:6], "assignee": "agent:two"})
            assert mine["assignee"] == "agent:two"
            # done is refused, naming the gates that are missing
            e = await err(s, "set_state", {"id": top["id"], "state": "done"})
            assert e["exit_code"] == 4 and e["error"]["code"] == "BLOCKED"
            assert e["error"]["details"]["missing_gates"] == ["review", "tests"]
            assert "review" in e["error"]["message"] and "gate pass" in e["error"]["hint"]
            r = await ok(s, "gate_pass", {"id": top["id"], "gate": "review"})
            assert r == {"issue_id": top["id"], "gate_key": "review", "status": "passed", "by": "agent:one",
                         "state": "in_progress"}
            r = await ok(s, "gate_fail", {"id": top["id"], "gate": "tests", "reason": "flaky"})
            assert r["status"] == "failed"
            e = await err(s, "set_state", {"id": top["id"], "state": "done"})
            assert e["error"]["details"]["missing_gates"] == ["tests"]
            await ok(s, "gate_pass", {"id": top["id"], "gate": "tests"})
            upd = await ok(s, "update", {"id": top["id"], "title": "the feature, done", "labels_add": ["type:task"],
                                         "context": {"pr": 12}})
            assert upd["title"] == "the feature, done" and upd["labels"] == ["team:core", "type:task"]
            assert upd["context"] == {"estimate": 3, "pr": 12}
            assert (await ok(s, "set_state", {"id": top["id"], "state": "done"}))["state"] == "done"
            st = await ok(s, "status", {})
            assert st["done"] == 2 and st["total"] == 2
        # what the server wrote is what the CLI reads
        assert Tracker(repo).show(top["id"])["state"] == "done"

    run(go())


def test_release_deps_and_events_since_a_cursor(repo: Path) -> None:
    async def go() -> None:
        async with session("--actor", "agent:ev", cwd=repo) as s:
            a = await ok(s, "create", {"title": "a"})
            b = await ok(s, "create", {"title": "b"})
            first = await ok(s, "events", {"limit": 10})
            assert [e["issue_id"] for e in first["events"] if e["type"] == "issue_created"] == [a["id"], b["id"]]
            assert (await ok(s, "events", {"since": first["cursor"]}))["events"] == []
            added = await ok(s, "dep_add", {"id": b["id"], "depends_on": [a["id"]]})
            assert added["added"] == [a["id"]] and added["state"] == "open"
            e = await err(s, "dep_add", {"id": a["id"], "depends_on": [b["id"]]})
            assert e["error"]["code"] == "CYCLE_DETECTED" and e["exit_code"] == 4
            assert (await ok(s, "dep_remove", {"id": b["id"], "depends_on": [a["id"]]}))["removed"] == [a["id"]]
            await ok(s, "claim", {"id": a["id"]})
            rel = await ok(s, "release", {"id": a["id"], "reason": "need input"})
            assert rel["assignee"] is None and rel["state"] == "ready"
            # a write by another process lands too
            Tracker(repo, actor="agent:cli").update_issue(b["id"], priority="high")
            page = await ok(s, "events", {"since": first["cursor"]})
            types = [e["type"] for e in page["events"]]
            assert {"dependency_added", "dependency_removed", "issue_claimed", "issue_released", "issue_updated"} <= set(types)
            assert "issue_created" not in types
            assert (await ok(s, "events", {"since": page["cursor"]}))["events"] == []
            e = await err(s, "events", {"since": "c999-nope"})
            assert e["error"]["code"] == "NOT_FOUND" and "without 'since'" in e["error"]["hint"]

    run(go())


def test_errors_carry_the_cli_code_hint_and_exit_code(repo: Path) -> None:
    async def go() -> None:
        async with session(cwd=repo) as s:
            e = await err(s, "show", {"id": "abcdef"})
            assert e["exit_code"] == 3 and e["error"]["code"] == "NOT_FOUND"
            assert e["error"]["message"] == "no issue matches 'abcdef'" and e["error"]["hint"]
            # bad input never reaches the tracker: wrong type, unknown key, missing key, out of range
            for tool, args, where in [("show", {"id": 5}, "id"), ("show", {"ident": "x"}, "id"),
                                      ("ready", {"limit": 0}, "limit"), ("ready", {"limit": "5"}, "limit"),
                                      ("create", {"title": ""}, "title"), ("set_state", {"id": "x", "state": "finished"},
                                                                           "state"),
                                      ("create", {"title": "t", "priority": "urgent"}, "priority")]:
                e = await err(s, tool, args)
                assert e["exit_code"] == 2 and e["error"]["code"] == "INVALID_ARGUMENT", (tool, args)
                assert where in e["error"]["message"] and "input schema" in e["error"]["hint"]
            e = await err(s, "claim_next", {})
            assert e["exit_code"] == 8 and e["error"]["code"] == "NO_WORK"
            e = await err(s, "create", {"title": "x", "depends_on": ["ffffff"]})
            assert e["error"]["code"] == "NOT_FOUND"
            e = await err(s, "show", {"id": "x", "repo": "elsewhere"})
            assert e["error"]["code"] == "INVALID_ARGUMENT" and "repo" in e["error"]["message"]
            e = await err(s, "gate_run", {"id": (await ok(s, "create", {"title": "g", "gates": ["lint"]}))["id"],
                                          "gate": "lint"})
            assert e["error"]["code"] == "NOT_FOUND" and "checker" in e["error"]["message"]
        assert Tracker(repo).list_issues()["count"] == 1  # only the one good create

    run(go())


def test_gate_run_runs_the_configured_checker(repo: Path) -> None:
    t = Tracker(repo, actor="setup")
    t.registry_add("lint", title="Lint", mode="auto", command="test -n \"$JIT_ISSUE_ID\"")
    iid = t.create_issue("x", gates=["lint"])["id"]

    async def go() -> None:
        async with session(cwd=repo) as s:
            r = await ok(s, "gate_run", {"id": iid, "gate": "lint"})
            assert r["status"] == "passed" and r["exit_code"] == 0 and r["command_source"] == "git-config"

    run(go())


def test_calls_made_while_a_gate_runs_are_answered_in_turn(repo: Path, tmp_path: Path) -> None:
    """``gate_run`` runs on the repository's own thread (its checker may take minutes); other calls
    are answered on the event loop, except while that thread is busy: then they queue behind it,
    so the Tracker is never used by two calls at once. A checker's output never reaches the
    protocol's stdout."""
    t = Tracker(repo, actor="setup")
    started = tmp_path / "started"
    t.registry_add("slow", title="Slow", mode="auto",
                   command=f"echo noise; echo noise >&2; touch {started}; sleep 1.5")
    gated = t.create_issue("gated", gates=["slow"])["id"]
    other = t.create_issue("other")["id"]

    async def go() -> None:
        async with session(cwd=repo) as s:
            assert (await ok(s, "show", {"id": other}))["title"] == "other"  # answered on the loop
            gate = asyncio.create_task(ok(s, "gate_run", {"id": gated, "gate": "slow"}))
            while not started.exists():
                await asyncio.sleep(0.02)
            t0 = time.monotonic()
            shown, updated = await asyncio.gather(ok(s, "show", {"id": other}),
                                                  ok(s, "update", {"id": other, "priority": "high"}))
            waited = time.monotonic() - t0
            r = await gate
            assert r["status"] == "passed" and gate.done()
            assert shown["title"] == "other" and updated["priority"] == "high"
            assert waited > 0.5  # behind the checker, not beside it
            # the thread is idle again: answered at once, and the write above is there
            assert (await ok(s, "show", {"id": other}))["priority"] == "high"
            assert [i["id"] for i in (await ok(s, "ready", {}))["issues"]][0] == other

    run(go())


def test_two_clients_race_for_one_issue_and_exactly_one_wins(repo: Path) -> None:
    iid = Tracker(repo, actor="setup").create_issue("contested")["id"]

    async def one(name: str, go: asyncio.Event) -> Any:
        async with session("--actor", name, cwd=repo) as s:
            await s.list_tools()
            ready.append(name)
            await go.wait()
            return await s.call_tool("claim", {"id": iid})

    ready: list[str] = []

    async def race() -> list[Any]:
        go = asyncio.Event()
        tasks = [asyncio.create_task(one(f"agent:{n}", go)) for n in range(2)]
        while len(ready) < 2:
            await asyncio.sleep(0.02)
        go.set()
        return await asyncio.gather(*tasks)

    results = run(race())
    wins = [r for r in results if not r.is_error]
    losses = [r for r in results if r.is_error]
    assert len(wins) == 1 and len(losses) == 1
    assert error_body(losses[0])["error"]["code"] == "ALREADY_CLAIMED"
    assert error_body(losses[0])["exit_code"] == 7
    assert Tracker(repo).show(iid)["assignee"] == wins[0].structured_content["assignee"]
    assert len([e for e in Tracker(repo).events(event_type="issue_claimed")]) == 1


def test_claim_next_racers_never_share_an_issue(repo: Path) -> None:
    t = Tracker(repo, actor="setup")
    ids = {t.create_issue(f"task {n}")["id"] for n in range(6)}

    async def worker(name: str) -> list[str]:
        got: list[str] = []
        async with session("--actor", name, cwd=repo) as s:
            while True:
                res = await s.call_tool("claim_next", {})
                if res.is_error:
                    assert error_body(res)["error"]["code"] == "NO_WORK"
                    return got
                got.append(res.structured_content["id"])

    async def race() -> list[list[str]]:
        return await asyncio.gather(*(worker(f"agent:{n}") for n in range(3)))

    claimed = [i for w in run(race()) for i in w]
    assert sorted(claimed) == sorted(ids)  # each exactly once


# ----------------------------------------------------------------------------- a hub decides

def test_a_claim_is_decided_by_the_configured_hub(tmp_path: Path) -> None:
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a)
    iid = ta.create_issue("shared")["id"]
    ta.push()
    tracker(b).pull()
    for c in (a, b):
        subprocess.run(["git", "config", "jit.hub", "origin"], cwd=c, check=True)
    # b claims through the hub first (the CLI's own path)
    tracker(b, "agent:b").claim(iid, "agent:b")

    async def go() -> None:
        async with session("--actor", "agent:a", cwd=a) as s:
            # a has not pulled: locally the issue looks ready, but the hub says no
            e = await err(s, "claim", {"id": iid})
            assert e["error"]["code"] == "ALREADY_CLAIMED" and e["exit_code"] == 7
            assert "agent:b" in e["error"]["message"]
            # and a new issue claimed through the server is on the hub at once
            fresh = await ok(s, "create", {"title": "new"})
            await asyncio.to_thread(tracker(a).push)
            got = await ok(s, "claim_next", {})
            assert got["id"] == fresh["id"] and got["assignee"] == "agent:a"

    run(go())
    probe = tracker(b)
    probe.pull()
    assert probe.show(iid)["assignee"] == "agent:b"
    assert probe.query("all")["count"] == 2
    assert next(i for i in probe.query("all")["issues"] if i["title"] == "new")["assignee"] == "agent:a"


# ----------------------------------------------------------------------------- several repositories

def test_one_server_serves_several_repositories(tmp_path: Path) -> None:
    one = make_repo(tmp_path / "api")
    two = make_repo(tmp_path / "web")
    for r in (one, two):
        Tracker(r, actor="setup").init()

    async def go() -> None:
        async with session("--repo", str(one), "--repo", str(two), "--actor", "agent:multi", cwd=tmp_path) as s:
            tools = {t.name: t for t in (await s.list_tools()).tools}
            assert "repo" in tools["show"].input_schema["required"]
            assert tools["show"].input_schema["properties"]["repo"]["enum"] == ["api", "web"]
            x = await ok(s, "create", {"repo": "api", "title": "in api"})
            y = await ok(s, "create", {"repo": str(two), "title": "in web"})
            assert (await ok(s, "ready", {"repo": "api"}))["issues"][0]["id"] == x["id"]
            assert (await ok(s, "ready", {"repo": "web"}))["issues"][0]["id"] == y["id"]
            e = await err(s, "show", {"repo": "web", "id": x["id"]})
            assert e["error"]["code"] == "NOT_FOUND"
            e = await err(s, "status", {})
            assert e["error"]["code"] == "INVALID_ARGUMENT" and "api" in e["error"]["hint"]
            e = await err(s, "status", {"repo": "mobile"})
            assert e["error"]["details"]["repos"] == ["api", "web"]

    run(go())
    assert Tracker(one).query("all")["count"] == 1 and Tracker(two).query("all")["count"] == 1


def test_the_actor_comes_from_jit_actor_unless_given(repo: Path) -> None:
    async def go() -> None:
        async with session(cwd=repo, env=server_env(JIT_ACTOR="agent:env")) as s:
            iid = (await ok(s, "create", {"title": "x"}))["id"]
            assert (await ok(s, "claim", {"id": iid}))["assignee"] == "agent:env"
        async with session("--actor", "agent:flag", cwd=repo, env=server_env(JIT_ACTOR="agent:env")) as s:
            iid = (await ok(s, "create", {"title": "y"}))["id"]
            assert (await ok(s, "claim_next", {}))["assignee"] == "agent:flag"
            assert (await ok(s, "show", {"id": iid}))["created_by"] == "agent:flag"
        async with session(cwd=tmp_repo_root(repo), env=server_env(JIT_ACTOR="agent:env", JIT_REPO=str(repo))) as s:
            assert (await ok(s, "status", {}))["total"] == 2  # JIT_REPO names the repository

    run(go())


def tmp_repo_root(repo: Path) -> Path:
    return repo.parent


# ----------------------------------------------------------------------------- streamable HTTP

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_over_streamable_http(repo: Path) -> None:
    from mcp.client.streamable_http import streamable_http_client

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gitjit", "mcp", "--http", "--port", str(port), "--actor",
                             "agent:http"], cwd=repo, env=server_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the server did not listen"
                time.sleep(0.1)

        async def go() -> None:
            async with streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (r, w, *_), \
                    ClientSession(r, w) as s:
                await s.initialize()
                assert [t.name for t in (await s.list_tools()).tools] == NAMES
                iid = (await ok(s, "create", {"title": "over http", "gates": ["review"]}))["id"]
                assert (await ok(s, "claim_next", {}))["id"] == iid
                e = await err(s, "set_state", {"id": iid, "state": "done"})
                assert e["error"]["details"]["missing_gates"] == ["review"]

        run(go())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert Tracker(repo).show(iid_of(repo))["assignee"] == "agent:http"


def iid_of(repo: Path) -> str:
    return str(Tracker(repo).query("all")["issues"][0]["id"])


# ----------------------------------------------------------------------------- without the extra

def test_without_the_sdk_jit_mcp_says_what_to_install(repo: Path, tmp_path: Path) -> None:
    """A site that hides the ``mcp`` package: the command fails with the pip command to run."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text(
        "import sys\nclass _No:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mcp' or name.startswith('mcp.'):\n            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, _No())\n")
    p = subprocess.run([sys.executable, "-m", "gitjit", "--json", "mcp"], cwd=repo, capture_output=True, text=True,
                       check=False, env=server_env(PYTHONPATH=f"{shadow}{os.pathsep}{ROOT}"), timeout=60)
    assert p.returncode == 10, p.stderr
    e = json.loads(p.stdout)["error"]
    assert e["code"] == "EXTERNAL_FAILURE" and "pip install 'gitjit[mcp]'" in e["hint"]


# ----------------------------------------------------------------------------- the input models, in process

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.errors import UsageError
from gitjit.schema.mcp import input_schema, parse

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 2000), st.text(max_size=6),
                     st.sampled_from(["done", "ready", "high", "review", "abc123", "", "5"]))
_json = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=4), inner, max_size=3)),
                     max_leaves=6)


@st.composite
def tool_args(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(st.sampled_from(NAMES))
    keys = list(input_schema(name)["properties"]) + ["other"]
    args = draw(st.dictionaries(st.sampled_from(keys), _json, max_size=5))
    return name, args if draw(st.integers(0, 20)) else draw(_json)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_args())
def test_the_published_input_schema_is_what_the_tools_accept(case: tuple[str, Any]) -> None:
    """Any JSON at all: a tool's model accepts exactly what its published input schema allows,
    and refuses the rest with INVALID_ARGUMENT (never another exception)."""
    import jsonschema

    name, args = case
    # no arguments at all (MCP lets a client leave them out) are taken as {}
    valid = jsonschema.Draft202012Validator(input_schema(name)).is_valid({} if args is None else args)
    try:
        parse(name, args)
        accepted = True
    except UsageError as e:
        accepted = False
        assert e.code == "INVALID_ARGUMENT" and e.exit_code == 2 and e.details["tool"] == name
        assert e.message.startswith(f"bad arguments for {name}: ")
    assert accepted == valid, (name, args)


def test_repository_names_resolve_and_a_shared_name_names_neither(tmp_path: Path) -> None:
    from gitjit.mcp.server import Service

    a = make_repo(tmp_path / "one" / "app")
    b = make_repo(tmp_path / "two" / "app")
    c = make_repo(tmp_path / "tools")
    svc = Service([str(a), str(b), str(c)], actor="agent:x")
    try:
        assert svc.repo("tools").root == c.resolve()
        assert svc.repo(str(a)).root == a.resolve() and svc.repo(str(b / ".")).root == b.resolve()
        with pytest.raises(UsageError, match="not served"):
            svc.repo("app")
        with pytest.raises(UsageError, match="several repositories"):
            svc.repo(None)
        assert svc.names() == [str(a.resolve()), str(b.resolve()), "tools"]
    finally:
        svc.close()


def test_a_long_lived_server_sees_what_other_processes_write(repo: Path) -> None:
    """The server keeps its Tracker (and index) open: a write by a jit process, or another
    server, shows in the next call without restarting it."""
    async def go() -> None:
        async with session(cwd=repo) as s:
            assert (await ok(s, "ready", {}))["issues"] == []
            p = await asyncio.to_thread(
                subprocess.run, [sys.executable, "-m", "gitjit", "issue", "create", "-q", "-t", "from the cli"],
                cwd=repo, env=server_env(), capture_output=True, text=True, check=True)
            iid = p.stdout.strip()
            assert [i["id"] for i in (await ok(s, "ready", {}))["issues"]] == [iid]
            async with session("--actor", "agent:other", cwd=repo) as other:
                await ok(other, "claim", {"id": iid})
            shown = await ok(s, "show", {"id": iid})
            assert shown["assignee"] == "agent:other" and (await ok(s, "ready", {}))["issues"] == []
            e = await err(s, "claim", {"id": iid})
            assert e["error"]["code"] == "ALREADY_CLAIMED"

    run(go())


def test_a_bad_actor_or_option_is_refused_at_start(repo: Path) -> None:
    for args, code in [(["--actor", "agent\tone"], "INVALID_ARGUMENT"), (["--port", "9999"], "INVALID_ARGUMENT"),
                       (["--repo", str(repo / "nowhere")], "NOT_FOUND")]:
        p = subprocess.run([sys.executable, "-m", "gitjit", "--json", "mcp", *args], cwd=repo, capture_output=True,
                           text=True, check=False, env=server_env(), timeout=60, stdin=subprocess.DEVNULL)
        assert p.returncode in (2, 3), (args, p.stderr)
        assert json.loads(p.stdout)["error"]["code"] == code, args


def test_ready_pages_in_claim_order_and_says_when_there_is_more(repo: Path) -> None:
    t = Tracker(repo, actor="setup")
    low = t.create_issue("low", priority="low")["id"]
    high = t.create_issue("high", priority="high")["id"]
    mid = t.create_issue("normal")["id"]
    t.create_issue("waits", depends_on=[low[:6]])
    page = t.ready_page(2)
    assert [i["id"] for i in page["issues"]] == [high, mid] and page["count"] == 2 and page["more"] is True
    page = t.ready_page(3)
    assert [i["id"] for i in page["issues"]] == [high, mid, low] and page["more"] is False
    with pytest.raises(UsageError):
        t.ready_page(0)
    # the same answer from a fold of every ref (no index)
    t.use_index = False
    assert [i["id"] for i in t.ready_page(2)["issues"]] == [high, mid]


def test_ready_lists_what_an_agent_picks_by_under_a_lean_schema(repo: Path) -> None:
    """Each issue of a page: its id, title, priority, labels and gate keys, and nothing else; the
    output schema types each of them without references or patterns, which the client would
    otherwise resolve and match for every issue of every page."""
    import jsonschema

    t = Tracker(repo, actor="setup")
    t.registry_add("review", title="Code review")
    iid = t.create_issue("picked", priority="high", labels=["team:core"], gates=["review"])["id"]
    page = t.ready_page(5)
    assert page["issues"] == [{"id": iid, "title": "picked", "priority": "high", "labels": ["team:core"],
                               "gates": ["review"]}]
    schema = output_schema("ready")
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and "pattern" not in text and "anyOf" not in text
    jsonschema.validate(page, schema)
    item = schema["properties"]["issues"]["items"]
    assert set(item["properties"]) == set(item["required"]) == {"id", "title", "priority", "labels", "gates"}
    with pytest.raises(jsonschema.ValidationError):  # still typed: a wrong type or a missing key is refused
        jsonschema.validate({**page, "issues": [{**page["issues"][0], "priority": 3}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**page, "issues": [{"id": iid}]}, schema)


def test_the_server_reads_and_writes_json_rpc_lines_on_its_pipes(repo: Path) -> None:
    """The wire as the server reads it (gitjit/mcp/pipes.py): one JSON-RPC message a line, each
    answer one line; a line that is no message is passed over and the next one is answered."""
    from mcp.types import LATEST_PROTOCOL_VERSION

    p = subprocess.Popen([sys.executable, "-m", "gitjit", "mcp", "--actor", "agent:wire"], cwd=repo,
                         env=server_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdin is not None and p.stdout is not None

    def send(msg: Any) -> None:
        assert p.stdin is not None
        p.stdin.write((msg if isinstance(msg, str) else json.dumps(msg)).encode() + b"\n")
        p.stdin.flush()

    def answer() -> dict[str, Any]:
        assert p.stdout is not None
        line = p.stdout.readline()
        assert line.endswith(b"\n"), line
        return json.loads(line)

    try:
        send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": LATEST_PROTOCOL_VERSION, "capabilities": {},
                         "clientInfo": {"name": "wire", "version": "1"}}})
        assert answer()["id"] == 1
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send("this is not a JSON-RPC message")
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
              "params": {"name": "create", "arguments": {"title": "über the wire"}}})
        got = answer()
        assert got["id"] == 2 and got["result"]["structuredContent"]["title"] == "über the wire"
        iid = got["result"]["structuredContent"]["id"]
        send({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "show", "arguments": {"id": iid}}})
        assert answer()["result"]["structuredContent"]["id"] == iid
    finally:
        p.stdin.close()
        assert p.wait(timeout=30) == 0
        p.stdout.close()
        assert p.stderr is not None
        p.stderr.close()


def test_between_calls_the_server_records_the_index_snapshot_and_still_sees_other_writers(repo: Path) -> None:
    """After a write the server lists the refs once the write is a clock tick old, between calls
    (``Tracker.idle``): the index's shared snapshot then matches the refs, so any process's check
    is a stat per folder. A write by a process that keeps no index is still seen."""
    from gitjit.store.index import Index

    async def go() -> None:
        async with session("--actor", "agent:srv", cwd=repo) as s:
            iid = (await ok(s, "create", {"title": "first"}))["id"]
            await asyncio.sleep(0.2)
            ix = Index(Tracker(repo).git.common_dir)
            assert ix.open()
            try:
                assert ix.check() is None  # recorded by the idle server
            finally:
                ix.close()
            ext = Tracker(repo, actor="agent:ext")
            ext.use_index = False
            await asyncio.to_thread(ext.update_issue, iid, title="by a process without the index")
            assert (await ok(s, "show", {"id": iid}))["title"] == "by a process without the index"

    run(go())
