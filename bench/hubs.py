"""Hubs served on 127.0.0.1 for the fleet benchmark (bench/fleet.py) and the stress test.

A *transport* is a context manager ``serve(base) -> Served``: it serves the bare repositories
under ``base`` and says which URL reaches ``base/<name>``. Two are built in:

* ``daemon``: ``git daemon --enable=receive-pack`` (the git:// protocol);
* ``http``: ``git http-backend`` behind a small threaded CGI server (smart HTTP), the same CGI
  program Apache or nginx would run;
* ``file``: no server at all, ``file://`` URLs (git still runs receive-pack for a push).

The servers teams run, started on 127.0.0.1 by tests/servers.py (plain context managers, no
pytest; each serves its own directory, so ``base`` is not used):

* ``apache``: Apache with ``git http-backend`` as CGI, reads open, a push needs basic auth;
* ``nginx``: the same behind nginx, the backend run by fcgiwrap;
* ``ssh``: OpenSSH's sshd, each client process keeping one shared connection (ControlMaster),
  as a separate machine would;
* ``gitolite``: gitolite3 behind sshd; the agents log in as ``agent``, who may push branches and
  ``refs/jit/issues/*`` (claims) but not gates, the setup and the floor as ``lead``.

Any other transport plugs in as ``module:function``: a function taking ``base`` and returning
such a context manager (``resolve``).
"""

from __future__ import annotations

import http.server
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

__all__ = ["TRANSPORTS", "Served", "free_port", "resolve", "serve_daemon", "serve_file", "serve_http", "serve_real"]


@dataclass
class Served:
    """A running server: ``url(name)`` reaches ``base/name``; ``env`` is what a client needs.

    A server that decides itself where its repositories live (and who may write them) passes
    ``creator`` (make a repository, return its URL) and ``client`` (the environment of process
    ``k`` in role ``"agent"`` or ``"floor"``, each as a machine of its own)."""

    base: Path
    prefix: str
    env: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    creator: Callable[[str], str] | None = None
    client: Callable[[int, str], dict[str, str]] | None = None

    def url(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def create(self, name: str) -> str:
        """A new empty bare repository on this server: its URL."""
        if self.creator is not None:
            return self.creator(name)
        subprocess.run(["git", "init", "-q", "--bare", str(self.base / name)], check=True, capture_output=True)
        return self.url(name)

    def client_env(self, k: int, role: str) -> dict[str, str]:
        """What client process ``k`` (an ``"agent"`` or a ``"floor"`` pusher) adds to its environment."""
        return self.client(k, role) if self.client is not None else {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, proc: subprocess.Popen[bytes] | None, cwd: Path) -> None:
    deadline = time.monotonic() + 15
    while subprocess.run(["git", "ls-remote", url], cwd=cwd, capture_output=True, check=False).returncode != 0:
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise RuntimeError(f"the hub at {url} did not come up")
        time.sleep(0.05)


@contextmanager
def serve_daemon(base: Path, probe: str = "hub.git") -> Iterator[Served]:
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}", f"--base-path={base}",
         "--export-all", "--enable=receive-pack", "--max-connections=64", str(base)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    served = Served(base, f"git://127.0.0.1:{port}")
    try:
        _wait_up(served.url(probe), proc, base)
        yield served
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # the daemon and the children it forked per connection
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _backend() -> str:
    out = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=True).stdout.strip()
    return os.path.join(out, "git-http-backend")


class _CGI(http.server.BaseHTTPRequestHandler):
    """Every request goes to ``git http-backend`` (CGI/1.1), one process a request."""

    protocol_version = "HTTP/1.1"
    backend = ""
    root = ""
    counts: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _run(self) -> None:
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if not size:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(length) if length else b""
        with self.lock:
            what = path.rsplit("/", 1)[-1] + ("" if self.command == "GET" else " POST")
            self.counts[what] = self.counts.get(what, 0) + 1
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": self.root,
               "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": self.command, "PATH_INFO": path,
               "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("Content-Type", ""),
               "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": "fleet", "REMOTE_ADDR": "127.0.0.1",
               "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1",
               "GIT_CONFIG_NOSYSTEM": "1", "HOME": self.root}
        if self.headers.get("Git-Protocol"):
            env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
        if self.headers.get("Content-Encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
        proc = subprocess.run([self.backend], input=body, capture_output=True, env=env, check=False)
        head, _, payload = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = proc.stdout.partition(b"\n\n")
        status = 200
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers.append((k, v.strip()))
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _run
    do_POST = _run


@contextmanager
def serve_http(base: Path, probe: str = "hub.git") -> Iterator[Served]:
    """Smart HTTP: ``git http-backend`` behind a threaded CGI server on 127.0.0.1 (push allowed
    through ``REMOTE_USER``, as an authenticating front server would set it)."""
    counts: dict[str, int] = {}
    handler = type("Handler", (_CGI,), {"backend": _backend(), "root": str(base), "counts": counts,
                                        "lock": threading.Lock()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    port = server.server_address[1]
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    served = Served(base, f"http://127.0.0.1:{port}", counts=counts)
    try:
        _wait_up(served.url(probe), None, base)
        yield served
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def serve_file(base: Path, probe: str = "hub.git") -> Iterator[Served]:
    yield Served(base, f"file://{base}")


def _servers() -> object:
    """tests/servers.py (no pytest in it), importable from a source tree."""
    tests = str(Path(__file__).resolve().parent.parent / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    return importlib.import_module("servers")


#: transport name -> (tests/servers.py context manager, user of the agents, kind for ``missing``)
REAL = {"apache": ("apache_hub", "agent", "http"), "nginx": ("nginx_hub", "agent", "nginx"),
        "ssh": ("ssh_hub", None, "ssh"), "gitolite": ("gitolite_hub", "agent", "gitolite")}


@contextmanager
def serve_real(kind: str, base: Path) -> Iterator[Served]:
    """A server of tests/servers.py as a transport: repositories made through it (gitolite's are
    declared in its configuration), every client process with its own credentials and, over ssh,
    its own shared connection."""
    servers = _servers()
    fn, agent_user, need = REAL[kind]
    why = servers.missing(need)  # type: ignore[attr-defined]
    if why:
        raise SystemExit(f"transport {kind}: {why}")
    with getattr(servers, fn)() as hub:
        def client(k: int, role: str) -> dict[str, str]:
            user = agent_user if role == "agent" else None
            if kind in ("apache", "nginx"):
                return dict(hub.env)  # the same login for every client: a push needs one
            return hub.machine_env(user if kind == "gitolite" else None, f"{role[0]}{k}")
        yield Served(hub.path.parent, hub.url.rsplit("/", 1)[0], env=dict(hub.env), creator=hub.create,
                     client=client)


def _real(kind: str) -> Callable[[Path], AbstractContextManager[Served]]:
    return lambda base: serve_real(kind, base)


TRANSPORTS: dict[str, Callable[..., AbstractContextManager[Served]]] = {
    "daemon": serve_daemon, "http": serve_http, "file": serve_file,
    **{k: _real(k) for k in REAL},
}


def resolve(name: str) -> Callable[..., AbstractContextManager[Served]]:
    """A built-in transport by name, or ``module:function`` (e.g. a fixture of tests/servers.py)."""
    if name in TRANSPORTS:
        return TRANSPORTS[name]
    if ":" in name:
        mod, _, fn = name.partition(":")
        return getattr(importlib.import_module(mod), fn)  # type: ignore[no-any-return]
    raise SystemExit(f"unknown transport {name!r}: one of {', '.join(TRANSPORTS)} or module:function")
