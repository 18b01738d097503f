"""The web board's HTTP side: a Starlette application over one Tracker per repository.

* Reads answer with the shapes the CLI prints under ``--json`` (``show``, ``status``, ``query``,
  ``events``), plus the board's own two (``board-columns``, ``board-graph``: docs/json.md).
* Each repository's Tracker lives on one thread of its own (``Repo.run``): the Tracker and its
  SQLite index are used by one thread at a time, and writes from the page queue behind reads.
* Live: a poller asks each repository's event feed (gitjit/app/feed.py) for new events every
  ``POLL_S`` seconds, whoever wrote them (a ``jit`` command, a dispatcher, a ``jit pull``, a plain
  ``git fetch`` caught up here), and pushes them to every open page as server-sent events.
* Writes only when started with ``--allow-writes``, each with the token printed at start in the
  ``X-Jit-Token`` header; every request's ``Host`` (and a write's ``Origin``) must name this
  server on the loopback address, so a page of another site cannot reach it through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..app import boardview as bv
from ..app.feed import EventFeed
from ..app.tracker import Tracker
from ..core.errors import GitjitError, NotFoundError, UsageError
from ..core.model import IssueState
from ..dispatch.config import DispatchConfig
from ..dispatch.engine import ready_across

__all__ = ["POLL_S", "Board", "Repo", "create_app"]

T = TypeVar("T")

#: how often each repository's refs are looked at for new events (a stat of the ref folders)
POLL_S = 0.4
#: a comment line on the event stream this often, so proxies and the browser keep it open
KEEPALIVE_S = 15.0
#: HTTP status for each error code (the CLI's exit codes, docs/cli.md)
HTTP_STATUS = {2: 400, 3: 404, 4: 409, 6: 409, 7: 409, 8: 409, 9: 503, 10: 502}
STATIC = resources.files("gitjit.board") / "static"
#: sent with every answer: the page runs only its own script and style (nothing inline, nothing from
#: elsewhere), cannot be framed, and no answer is sniffed as another type; a hostile title that
#: slipped past the page's text-only rendering still could not run (docs/board.md, "Security")
SECURITY_HEADERS = [
    (b"content-security-policy", (b"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
                                  b"frame-ancestors 'none'; form-action 'self'")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, sending)


class Repo:
    """One repository on the board: its Tracker on a thread of its own, its event feed, and the
    board's column ids cached until the feed sees a change."""

    def __init__(self, name: str, path: str, *, actor: str | None = None):
        self.name = name
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"jit-board-{name}")
        self.tracker: Tracker = self.pool.submit(lambda: Tracker(path, actor=actor)).result()
        self.path = str(self.tracker.git.workdir or self.tracker.git.common_dir) if hasattr(
            self.tracker, "git") else path
        self.actor = self.pool.submit(self.tracker.actor).result()
        self.feed: EventFeed | None = None
        self.generation = 0
        self._ids: dict[tuple[Any, ...], tuple[int, bv.Columns]] = {}
        self._ready: tuple[int, list[IssueState]] | None = None

    async def run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, fn)

    def start_feed(self) -> None:
        self.tracker.catch_up()
        self.feed = EventFeed(self.tracker)

    def poll(self) -> list[dict[str, Any]]:
        """New events since the last poll (and what a plain ``git fetch`` brought, merged first)."""
        assert self.feed is not None
        self.tracker.catch_up()
        evs = self.feed.poll()
        if evs:
            self.generation += 1
            self._ids.clear()
        return evs

    def columns(self, f: bv.Filters) -> bv.Columns:
        key = f.key()
        got = self._ids.get(key)
        if got is not None and got[0] == self.generation:
            return got[1]
        ids = bv.Columns(self.tracker.board(), f)
        if len(self._ids) > 32:
            self._ids.clear()
        self._ids[key] = (self.generation, ids)
        return ids

    def ready(self) -> list[IssueState]:
        """The ready issues (for "Next up"), kept until the feed sees a change."""
        if self._ready is None or self._ready[0] != self.generation:
            b = self.tracker.board()
            self._ready = (self.generation, [b.issues[i] for i in b.ready()])
        return self._ready[1]

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class Board:
    """The server's state: the repositories, who may write, the token, the open event streams."""

    def __init__(self, repos: list[Repo], *, allow_writes: bool = False, token: str | None = None,
                 port: int = 0, escalation_hours: float | None = None):
        self.repos = {r.name: r for r in repos}
        self.allow_writes = allow_writes
        self.token = token or secrets.token_urlsafe(24)
        self.port = port
        #: the dispatcher's aging of waiting work, for the order of "Next up" (its default unless
        #: the board was started from a dispatch.toml)
        self.escalation_hours = DispatchConfig.escalation_hours if escalation_hours is None else escalation_hours
        self.subscribers: set[asyncio.Queue[str | None]] = set()
        self._poller: asyncio.Task[None] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        #: whether the server is stopping (set by whoever runs it): open streams then end by themselves
        self.stopping: Callable[[], bool] = lambda: False

    def repo(self, name: str) -> Repo:
        r = self.repos.get(name)
        if r is None:
            raise NotFoundError(f"no repository {name!r} on this board", hint="see /api/repos")
        return r

    # ------------------------------------------------------------------ live

    async def poll_forever(self) -> None:
        for r in self.repos.values():
            await r.run(r.start_feed)
        while True:
            await asyncio.sleep(POLL_S)
            for r in self.repos.values():
                try:
                    evs = await r.run(r.poll)
                except GitjitError:
                    continue  # the repository is busy or mid-rebuild: the next look catches up
                except Exception as e:  # noqa: BLE001 - the live updates must outlive one bad look
                    print(f"jit board: {r.name}: could not look for changes: {e!r}", file=sys.stderr)
                    continue
                if evs:
                    self.broadcast({"repo": r.name, "events": evs, "generation": r.generation})

    def broadcast(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, ensure_ascii=False)
        for q in list(self.subscribers):
            q.put_nowait(data)

    def end_streams(self) -> None:
        """End every open event stream (from any thread): a server stopping need not wait for them."""
        if self.loop is not None and not self.loop.is_closed():
            for q in list(self.subscribers):
                self.loop.call_soon_threadsafe(q.put_nowait, None)

    # ------------------------------------------------------------------ guards

    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def check_host(self, request: Request) -> None:
        host = request.headers.get("host", "")
        if self.port and host not in self.allowed_hosts():
            raise Forbidden(f"Host {host!r} is not this board", hint=f"open http://127.0.0.1:{self.port}/")

    def check_write(self, request: Request) -> None:
        if not self.allow_writes:
            raise Forbidden("this board is read-only", hint="start it with: jit serve --allow-writes")
        origin = request.headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.allowed_hosts()}:
            raise Forbidden(f"Origin {origin!r} may not write to this board")
        given = request.headers.get("x-jit-token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise Forbidden("missing or wrong X-Jit-Token header",
                            hint="use the token 'jit serve' printed at start (the link it printed carries it)")


class Forbidden(UsageError):
    """A request this board refuses (HTTP 403): a foreign Host or Origin, no token, no writes.
    Its error object is a usage error's (code ``INVALID_ARGUMENT``): the caller must change the request."""


def _error(e: GitjitError) -> JSONResponse:
    status = 403 if isinstance(e, Forbidden) else HTTP_STATUS.get(e.exit_code, 500)
    return JSONResponse({"error": e.to_dict()}, status_code=status)


def _json(data: Any) -> Response:
    return Response(json.dumps(data, ensure_ascii=False), media_type="application/json")


def _filters(q: Any) -> bv.Filters:
    return bv.Filters(labels=q.getlist("label"), assignee=q.get("assignee"), priority=q.get("priority"),
                      text=q.get("q"))


def _int(q: Any, name: str, default: int) -> int:
    v = q.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise UsageError(f"{name} must be a whole number, not {v!r}") from None


def create_app(board: Board) -> Starlette:
    """The Starlette application of ``board`` (routes: docs/board.md)."""

    def guarded(fn: Callable[[Request], Any], *, write: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                board.check_host(request)
                if write:
                    board.check_write(request)
                out = await fn(request)
                return out if isinstance(out, Response) else _json(out)
            except GitjitError as e:
                return _error(e)

        return endpoint

    def repo_read(answer: Callable[[Repo, Request], Any]) -> Callable[[Request], Any]:
        async def fn(request: Request) -> Any:
            r = board.repo(request.path_params["repo"])
            return await r.run(lambda: answer(r, request))
        return guarded(fn)

    def repo_write(act: Callable[[Repo, Request, dict[str, Any]], Any]) -> Callable[[Request], Any]:
        async def fn(request: Request) -> Any:
            r = board.repo(request.path_params["repo"])
            try:
                body = await request.json() if await request.body() else {}
            except ValueError:
                raise UsageError("the request body is not JSON") from None
            if not isinstance(body, dict):
                raise UsageError("the request body must be a JSON object")
            return await r.run(lambda: act(r, request, body))
        return guarded(fn, write=True)

    # ------------------------------------------------------------------ pages

    async def page(request: Request) -> Response:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        f = STATIC / name
        if "/" in name or name.startswith(".") or not f.is_file():
            return JSONResponse({"error": {"code": "NOT_FOUND", "message": f"no file {name}", "details": {},
                                           "hint": None}}, status_code=404)
        kind = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}.get(name.rsplit(".", 1)[-1],
                                                                                          "text/plain")
        return Response(f.read_bytes(), media_type=kind)

    async def repos(request: Request) -> Any:
        return {"repos": [{"name": r.name, "path": r.path, "actor": r.actor} for r in board.repos.values()],
                "writes": board.allow_writes}

    async def next_up(request: Request) -> Any:
        """The first ready issues over every repository, in the order jit-dispatch hands them out."""
        limit = _int(request.query_params, "limit", 5)
        if not 1 <= limit <= bv.MAX_PAGE:
            raise UsageError(f"limit must be 1..{bv.MAX_PAGE}")
        repos = list(board.repos.values())

        got = await asyncio.gather(*(r.run(r.ready) for r in repos))
        order, waiting = ready_across(list(got), board.escalation_hours)
        total = len(order)
        order = order[:limit]

        def listed(r: Repo, ids: list[str]) -> list[dict[str, Any]]:
            return r.tracker.board().listing(ids)

        cards: dict[str, dict[str, Any]] = {}
        for k, r in enumerate(repos):
            ids = [st.id for j, st in order if j == k]
            if ids:
                for c in await r.run(partial(listed, r, ids)):
                    cards[f"{r.name}/{c['id']}"] = c
        return {"issues": [{"repo": repos[k].name, "issue": cards[f"{repos[k].name}/{st.id}"]} for k, st in order],
                "ready": total, "backing_off": waiting, "escalation_hours": board.escalation_hours}

    async def stream(request: Request) -> Response:
        q: asyncio.Queue[str | None] = asyncio.Queue()
        board.subscribers.add(q)

        async def gen() -> Any:
            try:
                yield "retry: 1000\n\n"
                yield f"event: hello\ndata: {json.dumps({'repos': list(board.repos)})}\n\n"
                quiet = 0.0
                while not board.stopping():
                    try:
                        data = await asyncio.wait_for(q.get(), 0.5)
                    except TimeoutError:
                        quiet += 0.5
                        if quiet >= KEEPALIVE_S:
                            quiet = 0.0
                            yield ": keepalive\n\n"
                        continue
                    if data is None:
                        return
                    quiet = 0.0
                    yield f"event: change\ndata: {data}\n\n"
            finally:
                board.subscribers.discard(q)

        return StreamingResponse(gen(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    # ------------------------------------------------------------------ reads

    def status(r: Repo, req: Request) -> Any:
        return r.tracker.status()

    def columns(r: Repo, req: Request) -> Any:
        f = _filters(req.query_params)
        limit = _int(req.query_params, "limit", bv.FIRST_PAGE)
        if not 0 <= limit <= bv.MAX_PAGE:
            raise UsageError(f"limit must be 0..{bv.MAX_PAGE}")
        return bv.columns(r.tracker, f, limit=limit, cols=r.columns(f))

    def column(r: Repo, req: Request) -> Any:
        f = _filters(req.query_params)
        return bv.column_page(r.tracker, r.columns(f), req.path_params["name"],
                              offset=_int(req.query_params, "offset", 0),
                              limit=_int(req.query_params, "limit", bv.FIRST_PAGE))

    def query(r: Repo, req: Request) -> Any:
        return r.tracker.query(req.path_params["kind"], req.query_params.get("value"))

    def show(r: Repo, req: Request) -> Any:
        return r.tracker.show(req.path_params["id"])

    def events(r: Repo, req: Request) -> Any:
        return r.tracker.events(issue=req.path_params["id"])

    def dependents(r: Repo, req: Request) -> Any:
        return bv.dependents(r.tracker, req.path_params["id"])

    def graph(r: Repo, req: Request) -> Any:
        q = req.query_params
        return bv.graph_view(r.tracker, q.get("issue") or None, limit=_int(q, "limit", bv.GRAPH_MAX),
                             include_done=q.get("done") in ("1", "true"))

    # ------------------------------------------------------------------ writes (the CLI's rules: the Tracker's)

    def _who(r: Repo, body: dict[str, Any], key: str) -> str:
        v = body.get(key)
        if v is None:
            return r.actor
        if not isinstance(v, str):
            raise UsageError(f"{key} must be a string")
        return v

    def _text(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
        v = body.get(key, default)
        if v is not None and not isinstance(v, str):
            raise UsageError(f"{key} must be a string")
        return v

    def claim(r: Repo, req: Request, body: dict[str, Any]) -> Any:
        return r.tracker.claim(req.path_params["id"], _who(r, body, "assignee"))

    def release(r: Repo, req: Request, body: dict[str, Any]) -> Any:
        return r.tracker.release(req.path_params["id"], _text(body, "reason", "released on the board") or "")

    def gate(r: Repo, req: Request, body: dict[str, Any]) -> Any:
        result = req.path_params["result"]
        if result not in ("pass", "fail"):
            raise UsageError(f"unknown gate result {result!r}", hint="pass or fail")
        return r.tracker.gate_set(req.path_params["id"], req.path_params["key"], result == "pass",
                                  reason=_text(body, "reason"))

    def update(r: Repo, req: Request, body: dict[str, Any]) -> Any:
        unknown = set(body) - {"state", "priority"}
        if unknown:
            raise UsageError(f"cannot change {', '.join(sorted(unknown))} here", hint="state and priority")
        if not body:
            raise UsageError("nothing to change", hint='e.g. {"state": "done"} or {"priority": "high"}')
        return r.tracker.update_issue(req.path_params["id"], state=_text(body, "state"),
                                      priority=_text(body, "priority"))

    def assign(r: Repo, req: Request, body: dict[str, Any]) -> Any:
        who = _text(body, "assignee")
        if who:
            return r.tracker.assign(req.path_params["id"], who)
        return r.tracker.unassign(req.path_params["id"])

    R = "/api/r/{repo}"
    routes = [
        Route("/", page),
        Route("/static/{name}", static),
        Route("/api/repos", guarded(repos)),
        Route("/api/stream", guarded(stream)),
        Route("/api/next", guarded(next_up)),
        Route(R + "/status", repo_read(status)),
        Route(R + "/board", repo_read(columns)),
        Route(R + "/column/{name}", repo_read(column)),
        Route(R + "/query/{kind}", repo_read(query)),
        Route(R + "/graph", repo_read(graph)),
        Route(R + "/issue/{id}", repo_read(show)),
        Route(R + "/issue/{id}/events", repo_read(events)),
        Route(R + "/issue/{id}/dependents", repo_read(dependents)),
        Route(R + "/issue/{id}/claim", repo_write(claim), methods=["POST"]),
        Route(R + "/issue/{id}/release", repo_write(release), methods=["POST"]),
        Route(R + "/issue/{id}/gate/{key}/{result}", repo_write(gate), methods=["POST"]),
        Route(R + "/issue/{id}/update", repo_write(update), methods=["POST"]),
        Route(R + "/issue/{id}/assign", repo_write(assign), methods=["POST"]),
    ]

    async def lifespan(app: Starlette) -> Any:
        board.loop = asyncio.get_running_loop()
        board._poller = asyncio.create_task(board.poll_forever())
        try:
            yield
        finally:
            board._poller.cancel()
            for r in board.repos.values():
                r.close()

    from contextlib import asynccontextmanager

    from starlette.middleware import Middleware

    return Starlette(routes=routes, lifespan=asynccontextmanager(lifespan), middleware=[Middleware(SecurityHeaders)])


def repo_names(paths: list[str]) -> list[tuple[str, str]]:
    """A short unique name for each repository path (its folder's name, numbered on a clash)."""
    out: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for p in paths:
        base = Path(p).resolve().name or "repo"
        if base.endswith(".git"):
            base = base[:-4] or "repo"
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append((base if n == 0 else f"{base}-{n + 1}", p))
    return out


def warm(board: Board) -> float:
    """Read each repository's board once before the first page asks (the index brought in step,
    the column ids cached): the first paint does not pay for it. Returns the seconds it took."""
    t0 = time.perf_counter()
    def first_look(r: Repo) -> None:
        bv.columns(r.tracker, bv.Filters(), cols=r.columns(bv.Filters()))

    for r in board.repos.values():
        r.pool.submit(first_look, r).result()
    return time.perf_counter() - t0
