"""Starting the board: a socket on 127.0.0.1 (port 0: a free one), the application, uvicorn.

``serve_forever`` is ``jit serve``; ``start`` runs the board on a thread of its own and returns a
handle (``jit demo --board``, the tests, the benchmark).
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .server import Board, Repo, create_app, repo_names, warm

__all__ = ["Running", "build", "serve_forever", "start"]


@dataclass
class Running:
    """A board running on a thread: its URL (without the token), the token, and how to stop it."""

    url: str
    token: str
    board: Board
    server: object
    thread: threading.Thread | None = None
    warm_s: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def link(self) -> str:
        """The URL to open: the token rides in the fragment, which the browser never sends."""
        return f"{self.url}#token={self.token}" if self.board.allow_writes else self.url

    def stop(self) -> None:
        self.board.end_streams()
        self.server.should_exit = True  # type: ignore[attr-defined]
        if self.thread is not None:
            self.thread.join(10)


def _socket(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(128)
    s.set_inheritable(True)
    return s


def build(paths: list[str], *, port: int = 0, actor: str | None = None, allow_writes: bool = False,
          token: str | None = None, names: list[str | None] | None = None,
          escalation_hours: float | None = None) -> tuple[Running, socket.socket]:
    """The board of ``paths`` (``names``: what to call each on the board, None for its folder's name;
    ``escalation_hours``: the dispatcher's, for the order of "Next up", None for its default)."""
    import uvicorn

    sock = _socket(port)
    port = sock.getsockname()[1]
    named = repo_names(paths)
    if names is not None:
        named = [(n or auto, p) for n, (auto, p) in zip(names, named)]
        dup = sorted({n for n, _ in named if [m for m, _ in named].count(n) > 1})
        if dup:
            from ..core.errors import UsageError

            raise UsageError(f"two repositories are called {dup[0]!r} on the board",
                             hint="give each [[repos]] of dispatch.toml its own name")
    repos = [Repo(name, p, actor=actor) for name, p in named]
    board = Board(repos, allow_writes=allow_writes, token=token, port=port, escalation_hours=escalation_hours)
    took = warm(board)
    config = uvicorn.Config(create_app(board), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    board.stopping = lambda: bool(server.should_exit)  # Ctrl-C: the event streams end, no wait
    return Running(f"http://127.0.0.1:{port}/", board.token, board, server, warm_s=took), sock


def start(paths: list[str], **kw: object) -> Running:
    """Run a board on a daemon thread; returns once it answers."""
    run, sock = build(paths, **kw)  # type: ignore[arg-type]
    server = run.server

    def go() -> None:
        asyncio.run(server.serve(sockets=[sock]))  # type: ignore[attr-defined]

    run.thread = threading.Thread(target=go, name="jit-board", daemon=True)
    run.thread.start()
    import time

    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    return run


def serve_forever(paths: list[str], *, port: int, actor: str | None, allow_writes: bool, token: str | None,
                  say: Callable[[str], None], names: list[str | None] | None = None,
                  escalation_hours: float | None = None) -> None:
    """``jit serve``: print the URL (and the token), then serve until interrupted."""
    run, sock = build(paths, port=port, actor=actor, allow_writes=allow_writes, token=token, names=names,
                      escalation_hours=escalation_hours)
    say(f"jit board: {run.link}")
    shown = ", ".join(f"{r.name} ({r.path})" for r in run.board.repos.values())
    say(f"  showing {shown}")
    if allow_writes:
        actors = ", ".join(sorted({r.actor for r in run.board.repos.values()}))
        say(f"  writes allowed as {actors}; token: {run.token} (header X-Jit-Token)")
    else:
        say("  read-only (start with --allow-writes to claim, release and pass gates from the page)")
    say("  Ctrl-C to stop")
    try:
        asyncio.run(run.server.serve(sockets=[sock]))  # type: ignore[attr-defined]
    except KeyboardInterrupt:
        pass
