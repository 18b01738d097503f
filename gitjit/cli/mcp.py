"""``jit mcp``: serve the tracker to agents over the Model Context Protocol (docs/mcp.md).

Only the options are read here; the server is gitjit/mcp/.
"""

from __future__ import annotations

import click

from .core import env


@click.command()
@click.option("--repo", "repos", multiple=True, metavar="PATH",
              help="A repository to serve (repeat for several; tools then take a 'repo' argument). "
                   "Default: the global --repo, JIT_REPO, or the current directory's.")
@click.option("--actor", metavar="ACTOR",
              help="Who the server acts as (default: the global --by, JIT_ACTOR, or git user.name <user.email>).")
@click.option("--http", "http", is_flag=True,
              help="Serve streamable HTTP on 127.0.0.1 instead of stdio.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="The port of --http (default 8765).")
def mcp(repos: tuple[str, ...], actor: str | None, http: bool, port: int | None) -> None:
    """Run an MCP server: the tools ready, show, create, update, claim_next, claim, release,
    set_state, gate_pass, gate_fail, gate_run, dep_add, dep_remove, status and events, over stdio
    (the default: an MCP client starts it) or streamable HTTP on 127.0.0.1 (--http).
    Needs the extra: pip install 'gitjit[mcp]'.

    \b
    Example:
      jit mcp
      jit mcp --repo ~/src/api --repo ~/src/web --actor agent:claude
      jit mcp --http --port 8765
    """
    from ..core.errors import UsageError
    from ..mcp import require_sdk

    if port is not None and not http:
        raise UsageError("--port is the port of --http", hint="jit mcp --http --port 8765")

    require_sdk()
    from ..mcp.server import Service, run_http, run_stdio

    e = env()
    paths: list[str | None] = list(repos) or [e.repo]
    service = Service(paths, actor=actor or e.actor)
    if http:
        run_http(service, port or 8765)
    else:
        run_stdio(service)
