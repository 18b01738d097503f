"""``jit serve``: the local web board (gitjit/board/, docs/board.md)."""

from __future__ import annotations

import click

from .core import echo, env


@click.command()
@click.option("--port", type=int, default=0, show_default=True, metavar="N",
              help="Port on 127.0.0.1 to listen on (0: a free one).")
@click.option("--repo", "repos", multiple=True, metavar="PATH",
              help="A repository to show (repeat for several side by side; default: jit --repo or the current one).")
@click.option("--config", "config", metavar="FILE",
              help="Show every repository of this dispatch.toml (its [[repos]]).")
@click.option("--allow-writes", is_flag=True,
              help="Let the page claim, release, pass or fail gates, change state, priority and assignee "
                   "(each request needs the token printed at start).")
@click.option("--token", metavar="TOKEN", envvar="JIT_BOARD_TOKEN",
              help="The write token (default: a new random one; env JIT_BOARD_TOKEN).")
def serve(port: int, repos: tuple[str, ...], config: str | None, allow_writes: bool, token: str | None) -> None:
    """Serve a live web board of the tracker on 127.0.0.1 and print its URL.

    Columns by state with filters, the dependency graph, each issue's page, updated within
    seconds of any change. Read-only unless --allow-writes. Needs: pip install 'gitjit[board]'.

    \b
    Example:
      jit serve --port 8765
      jit serve --repo ../api --repo ../web --allow-writes
    """
    from ..board import require

    require()
    from ..board.run import serve_forever

    e = env()
    paths = list(repos)
    names: list[str | None] = [None] * len(paths)
    escalation: float | None = None
    if config:
        from ..dispatch.config import load_config

        cfg = load_config(config, default_repo=e.repo)
        escalation = cfg.escalation_hours  # "Next up" orders as this dispatcher would
        for r in cfg.repos:
            paths.append(str(r.path))
            names.append(r.name)  # the names jit-dispatch uses in its logs and webhooks
    if not paths:
        paths, names = [e.repo or "."], [None]
    serve_forever(paths, port=port, actor=e.actor, allow_writes=allow_writes, token=token, names=names,
                  escalation_hours=escalation, say=lambda s: echo(s))
