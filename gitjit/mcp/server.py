"""The MCP server of ``jit mcp``: the tools of gitjit/schema/mcp.py over one Tracker per repository.

Built on the SDK's low-level ``Server`` (``mcp.server.lowlevel``), which lets each tool publish the
input and output schemas of gitjit's own models and answer a refusal with ``isError`` and the CLI's
error object (as JSON text); the high-level ``MCPServer`` derives schemas from function
signatures and turns an exception into text only.

A server is long-lived, so each repository's Tracker is made once and kept: its index stays open
and is brought in step with the refs on each call (a stat of the ref folders when nothing moved;
gitjit/store/indexer.py). Between calls the server does the Tracker's idle work (``Repo.plan_idle``,
``Tracker.idle``): once a write is a clock tick old it lists the refs and records the index's
snapshot, which a call would otherwise do (a read right after a write lists every loose ref). A Tracker is used by one call at a time: ``gate_run`` (a checker may run
for minutes) runs on the repository's own worker thread, and any other call runs on the event
loop itself when that thread is idle (no thread switch: on a busy machine each costs more than
the call), or queues behind it when busy. Over HTTP only the reads run on the event loop, so no
client waits there while another's write flushes. Over stdio the pipes are read and written by
the event loop too (gitjit/mcp/pipes.py).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server

from .. import __version__
from ..app.feed import EventCursors
from ..app.tracker import Tracker
from ..core.errors import GitjitError, UsageError
from ..schema.mcp import TOOLS, Input, input_schema, output_schema, parse

__all__ = ["Repo", "Service", "build_server", "run_http", "run_stdio"]

READ_ONLY = frozenset({"ready", "show", "status", "events"})
#: the tools a server answers on its event loop when the repository's thread is idle: over stdio
#: (one client) every tool but ``gate_run``, whose checker may run for minutes; over HTTP (any
#: number of clients) the reads only, so that no client waits while another's write flushes
INLINE_STDIO = frozenset(TOOLS) - {"gate_run"}
INLINE_HTTP = READ_ONLY
#: how long after the moment a repository's refs signature stops being racy (``Tracker.idle_due``)
#: its idle work runs, if no call came meanwhile
IDLE_GRACE_S = 0.002
#: idle rounds in a row (each after another process's write made the signature racy again)
IDLE_ROUNDS = 3


class Repo:
    """One repository a server serves: its Tracker, kept, and the thread its calls run on."""

    def __init__(self, path: str | None, actor: str | None) -> None:
        self.given = path
        self.tracker = Tracker(path, actor=actor, on_wait=lambda text: _log(f"jit: {text}"))
        self.tracker.actor()  # a bad --actor / JIT_ACTOR is refused at start, not on every write
        self.tracker.serve()  # the index's snapshot is recorded between calls (``idle``)
        git = self.tracker.git
        self.root = Path(git.workdir or git.common_dir).resolve()
        self.name = self.root.name.removesuffix(".git") if git.workdir is None else self.root.name
        self.cursors = EventCursors(self.tracker)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"jit-mcp-{self.name}")
        self.queued = 0  # calls handed to the pool and not yet done (or cancelled)
        self.calls = 0  # calls begun: idle work planned before the latest one is void
        self._idle_at: asyncio.TimerHandle | None = None
        self._lock = threading.Lock()

    def plan_idle(self, rounds: int = IDLE_ROUNDS) -> None:
        """After a call: run the Tracker's idle work (``Tracker.idle``: list the refs and record the
        index's snapshot once a write's signature is a clock tick old) on the event loop when it
        is due, unless another call begins first. A read after a write then checks the index with
        one stat per folder instead of listing every loose ref, and records nothing itself."""
        if self._idle_at is not None:
            self._idle_at.cancel()
            self._idle_at = None
        try:
            due = self.tracker.idle_due()
        except Exception:  # noqa: BLE001 - idle work is an optimisation: never fail a call for it
            return
        if due is None or rounds <= 0:
            return
        delay = max(0.0, (due - time.time_ns()) / 1e9) + IDLE_GRACE_S
        self._idle_at = asyncio.get_running_loop().call_later(delay, self._idle, self.calls, rounds)

    def _idle(self, seen: int, rounds: int) -> None:
        self._idle_at = None
        if self.calls != seen or self.queued:
            return  # a call began (or runs on the repository's thread): it plans again when done
        try:
            self.tracker.idle()  # on the event loop, like an inline call: one user of the Tracker at a time
        except Exception as e:  # noqa: BLE001 - the next call refreshes the index as usual
            _log(f"warning: idle refresh of the index failed: {type(e).__name__}: {e}")
        finally:
            for w in self.tracker.warnings:
                _log(f"warning: {w}")
            self.tracker.warnings.clear()
        self.plan_idle(rounds - 1)

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """``fn(*args)`` on this repository's thread, after the calls before it."""
        with self._lock:
            self.queued += 1
        fut = self.pool.submit(fn, *args)
        fut.add_done_callback(self._done)  # run when fn has returned, or will never run
        return asyncio.wrap_future(fut)

    def _done(self, _: Any) -> None:
        with self._lock:
            self.queued -= 1

    def call(self, fn: Callable[[Tracker], Any]) -> Any:
        t = self.tracker
        t.catch_up()  # what a plain git fetch/pull brought meanwhile (a stat when nothing)
        try:
            return fn(t)
        finally:
            for w in t.warnings:
                _log(f"warning: {w}")
            t.warnings.clear()


class Service:
    """The repositories named at start, and the tools' bodies over them."""

    def __init__(self, repos: list[str | None], actor: str | None = None) -> None:
        self.inline: frozenset[str] = INLINE_HTTP
        self.repos = [Repo(p, actor) for p in (repos or [None])]
        self._by: dict[str, Repo | None] = {}
        for r in self.repos:
            keys = {r.name, str(r.root)} | ({r.given, str(Path(r.given).resolve())} if r.given else set())
            for k in keys:
                # a name two repositories share names neither (the path still does)
                self._by[k] = None if k in self._by and self._by[k] is not r else r

    def repo(self, name: str | None) -> Repo:
        if name is None:
            if len(self.repos) == 1:
                return self.repos[0]
            raise UsageError("this server serves several repositories: name one with 'repo'",
                             hint="one of: " + ", ".join(self.names()), details={"repos": self.names()})
        r = self._by.get(name)
        if r is None:
            try:
                r = self._by.get(str(Path(name).resolve()))
            except (OSError, ValueError):
                r = None
        if r is None:
            raise UsageError(f"repository {name!r} is not served here",
                             hint="one of: " + ", ".join(self.names()) + " (restart 'jit mcp' with --repo to add one)",
                             details={"repo": name, "repos": self.names()})
        return r

    def names(self) -> list[str]:
        """What names each repository: its directory's name, or its path where two share a name."""
        return [r.name if self._by.get(r.name) is r else str(r.root) for r in self.repos]

    def run(self, tool: str, args: Input, repo: Repo) -> dict[str, Any]:
        """The body of ``tool``, on the calling thread (``Repo.pool`` in the server)."""
        return repo.call(lambda t: BODIES[tool](t, args, repo))

    async def call(self, tool: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        try:
            if tool not in TOOLS:
                raise UsageError(f"unknown tool {tool!r}", hint="one of: " + ", ".join(TOOLS),
                                 details={"tool": tool})
            args = parse(tool, arguments)
            repo = self.repo(args.repo)
            repo.calls += 1
            try:
                if tool in self.inline and not repo.queued:
                    # the repository's thread is idle and nothing waits for it: run the call here,
                    # without two thread switches (the event loop runs one call at a time, so the
                    # Tracker is still used by one call at a time)
                    data = self.run(tool, args, repo)
                else:
                    data = await repo.submit(self.run, tool, args, repo)
            finally:
                if not repo.queued:
                    repo.plan_idle()
        except GitjitError as e:
            return error_result(e)
        except Exception as e:  # the last line of defence, as the CLI's report_crash
            if os.environ.get("JIT_DEBUG"):
                raise
            return error_result(GitjitError(f"internal error: {type(e).__name__}: {e}",
                                            hint="this is a bug in gitjit; rerun with JIT_DEBUG=1 for the traceback"))
        # the result in its wire form, as the SDK accepts from a handler: a CallToolResult model would
        # be built from ``data`` only to be dumped back into this (the SDK checks the shape anyway)
        return {"content": [{"type": "text", "text": json.dumps(data, ensure_ascii=False)}],
                "structuredContent": data}

    def close(self) -> None:
        for r in self.repos:
            if r._idle_at is not None:
                r._idle_at.cancel()
            r.pool.shutdown(wait=False, cancel_futures=True)


def error_result(e: GitjitError) -> dict[str, Any]:
    """A refusal as a tool result (``CallToolResult`` in its wire form): ``isError`` and the CLI's
    error object as JSON text. Not as structured content: a client checks structured content
    against the tool's output schema (the TypeScript SDK's client does even on an error, and
    reports a protocol error instead of the tool's), and the error object is not the tool's output."""
    body = json.loads(json.dumps({"error": e.to_dict(), "exit_code": e.exit_code}, default=str))
    return {"content": [{"type": "text", "text": json.dumps(body, ensure_ascii=False)}], "isError": True}


# ----------------------------------------------------------------------------- the tools' bodies

def _assignee(t: Tracker, a: Any) -> str:
    return a.assignee or t.actor()


BODIES: dict[str, Callable[[Tracker, Any, Repo], dict[str, Any]]] = {
    "ready": lambda t, a, r: t.ready_page(a.limit),
    "show": lambda t, a, r: t.show(a.id),
    "create": lambda t, a, r: t.create_issue(a.title, description=a.description, priority=a.priority, gates=a.gates,
                                             context=a.context, labels=a.labels, depends_on=a.depends_on),
    "update": lambda t, a, r: t.update_issue(a.id, title=a.title, description=a.description, priority=a.priority,
                                             context=a.context, context_unset=a.context_unset,
                                             labels_add=a.labels_add, labels_remove=a.labels_remove),
    "claim_next": lambda t, a, r: t.claim_next(_assignee(t, a), filter=a.filter),
    "claim": lambda t, a, r: t.claim(a.id, _assignee(t, a)),
    "release": lambda t, a, r: t.release(a.id, a.reason),
    "set_state": lambda t, a, r: t.update_issue(a.id, state=a.state),
    "gate_pass": lambda t, a, r: t.gate_set(a.id, a.gate, True, reason=a.reason),
    "gate_fail": lambda t, a, r: t.gate_set(a.id, a.gate, False, reason=a.reason),
    "gate_run": lambda t, a, r: t.gate_run(a.id, a.gate, timeout=a.timeout),
    "dep_add": lambda t, a, r: t.add_dependency(a.id, a.depends_on),
    "dep_remove": lambda t, a, r: t.remove_dependency(a.id, a.depends_on),
    "status": lambda t, a, r: t.status(),
    "events": lambda t, a, r: r.cursors.page(a.since, a.limit),
}
assert set(BODIES) == set(TOOLS)


def tool_list(service: Service) -> list[types.Tool]:
    many = len(service.repos) > 1
    out = []
    for name, tool in TOOLS.items():
        schema = input_schema(name)
        if many:  # with several repositories, naming one is required
            schema = {**schema, "required": sorted({*schema.get("required", []), "repo"})}
            schema["properties"]["repo"] = {"type": "string", "enum": service.names(),
                                            "description": "which repository"}
        out.append(types.Tool(name=name, description=tool.description, input_schema=schema,
                              output_schema=output_schema(name),
                              annotations=types.ToolAnnotations(read_only_hint=name in READ_ONLY,
                                                                destructive_hint=False)))
    return out


def build_server(service: Service) -> Server[Any]:
    tools = tool_list(service)

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> dict[str, Any]:
        return await service.call(params.name, params.arguments)

    names = ", ".join(service.names())
    server: Server[Any] = Server(
        "gitjit", version=__version__, title="gitjit",
        instructions=("gitjit issue tracker for " + names + ": 'ready' lists work, 'claim_next' takes "
                      "the next issue (exactly one racing agent wins), gates must pass before "
                      "'set_state' done. Errors carry code, message, hint and exit_code."),
        # call_tool answers with the result's wire form (a dict), which the SDK sends as it is
        on_list_tools=list_tools, on_call_tool=call_tool)  # type: ignore[arg-type]
    if not any(k.startswith("OTEL_") for k in os.environ):
        # the SDK opens an OpenTelemetry span per message, a no-op without an exporter (which is
        # configured through OTEL_* variables); its documented opt-out is an empty middleware list
        server.middleware = [m for m in server.middleware if type(m).__name__ != "OpenTelemetryMiddleware"]
    return server


def run_stdio(service: Service) -> None:
    import anyio
    from mcp.server.stdio import stdio_server

    from .pipes import MessageReader, MessageWriter, pipe_streams

    service.inline = INLINE_STDIO
    server = build_server(service)

    async def main() -> None:
        async with pipe_streams() as pipes:
            if pipes is not None:  # the messages read and written by the event loop itself
                await server.run(MessageReader(pipes[0]), MessageWriter(pipes[1]),
                                 server.create_initialization_options())
                return
            async with stdio_server() as (r, w):
                await server.run(r, w, server.create_initialization_options())

    # what is loaded by now (the SDK, pydantic's models, gitjit) lives as long as the process: out
    # of the collector's sight, a full collection no longer walks it in the middle of a call
    gc.freeze()
    try:
        anyio.run(main)
    finally:
        service.close()


def run_http(service: Service, port: int, host: str = "127.0.0.1") -> None:
    import uvicorn

    server = build_server(service)
    app = server.streamable_http_app(host=host)
    _log(f"jit mcp: serving {', '.join(service.names())} at http://{host}:{port}/mcp")
    try:
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
    finally:
        service.close()


def _log(text: str) -> None:
    # stdout is the protocol's under stdio: everything else goes to stderr
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
