"""``jit demo``: seed 002's story in a temporary repository (the story itself is ``gitjit.app.demo``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from . import render
from .core import emit, env, output_options


@click.command()
@click.option("--keep", is_flag=True, help="Keep the temporary repository and print where it is.")
@click.option("--workers", type=click.IntRange(1, 8), default=3, show_default=True, help="Worker agents.")
@click.option("--board", is_flag=True,
              help="Open the web board on the demo's hub first (prints its URL; needs gitjit[board]), slow the "
                   "agents down to watch them, and keep it open afterwards until Ctrl-C.")
@click.option("--board-linger", type=float, default=None, metavar="SECONDS",
              help="With --board: keep the board open this long after the story instead of until Ctrl-C.")
@click.option("--board-port", type=int, default=0, metavar="N", help="With --board: the port (0: a free one).")
@output_options
def demo(keep: bool, workers: int, board: bool, board_linger: float | None, board_port: int) -> None:
    """Watch agents on two machines coordinate through jit, in a temporary directory.

    A hub and two clones of it (two "machines"): a lead agent breaks an epic into tasks with
    dependencies and gates (seed 002) and pushes the plan; jit-dispatch on each clone hands ready
    tasks to worker agent processes, which pass their gates and finish, one discovering a critical
    task mid-way; then the lead finishes the epic. Prints the story, the status, the dependency
    graph and the event timeline. Everything is deleted afterwards unless --keep is given.

    \b
    Example:
      jit demo
      jit demo --keep --json
      jit demo --board
    """
    from ..app.demo import DemoOptions, run_demo

    e = env()
    live = not e.json and not e.quiet
    opts = DemoOptions(workers=workers, keep=keep)
    # with --board the board's URL comes first: the story's lines wait until it is printed
    held: list[str] | None = [] if board else None

    def say(line: str) -> None:
        if held is not None:
            held.append(line)
        else:
            click.echo(line)

    def url_printed() -> None:
        nonlocal held
        for line in held or []:
            click.echo(line)
        held = None

    if board:
        opts.on_hub = _board_on_hub(board_port, board_linger, url_printed)
        opts.work_secs = (1.0, 3.0)  # slow enough to watch the cards move
        opts.timeout_secs = 180.0
    if live:
        say("A lead agent plans user authentication (seed 002) on machine-a; jit-dispatch on two clones\n"
            f"of one hub hands the tasks to {workers} worker agent(s) and a security agent:\n")

    def log(actor: str, msg: str) -> None:
        if live:
            say(f"  {render.fit(actor, ACTOR_WIDTH)} {msg}")

    data = run_demo(opts, log=log)
    emit(data, lambda: _human(data), quiet=data["repository"] if keep else "")


def _board_on_hub(port: int, linger: float | None, printed: Any) -> Any:
    """``--board``: start the web board on the hub, print its URL (on stderr under --json), and
    return what keeps it open once the story is over."""
    from ..board import require

    require()  # before the story starts: a missing extra is said at once

    def on_hub(hub: Any) -> Any:
        from ..board.run import start

        run = start([str(hub)], port=port)
        click.echo(f"jit board (the demo's hub): {run.url}", err=env().json)
        printed()

        def after() -> None:
            import time

            try:
                if linger is None:
                    click.echo(f"\nThe board stays open at {run.url} (Ctrl-C to stop).", err=True)
                    while True:
                        time.sleep(3600)
                else:
                    time.sleep(linger)
            except KeyboardInterrupt:
                pass
            finally:
                run.stop()

        return after

    return on_hub


def _human(data: dict[str, Any]) -> None:
    click.echo("\n== Status ==")
    render.status(data["status"])
    click.echo("\n== Dependency graph (jit graph show EPIC) ==")
    render.tree(data["graph"]["trees"])
    click.echo("\n== Event timeline (jit events query), read back from refs/jit/* ==")
    for line in timeline(data["events"]):
        click.echo(line)
    click.echo(f"\n{len(data['events'])} events, {data['status']['done']} issues done "
               f"in {data['elapsed_secs']:.1f}s.")
    if data["kept"]:
        click.echo(f"Kept the repositories: cd {data['repository']} && jit status   (hub: {data['hub']})")
    else:
        click.echo("The temporary repositories were removed (keep them with --keep).")


#: wide enough for "copilot:security-scanner@machine-b"; a longer actor is cut with an ellipsis
ACTOR_WIDTH = 34


def timeline(events: list[dict[str, Any]]) -> list[str]:
    """One line per event: seconds since the first, actor, type, issue and what changed."""
    if not events:
        return []
    t0 = datetime.fromisoformat(events[0]["timestamp"])
    titles = {e["issue_id"]: e.get("title", "") for e in events if e["type"] == "issue_created"}
    out = []
    for e in events:
        dt = (datetime.fromisoformat(e["timestamp"]) - t0).total_seconds()
        iid = e.get("issue_id") or ""
        what = _what(e, titles)
        out.append(f"  +{dt:6.3f}s  {render.fit(e['actor'], ACTOR_WIDTH)} {e['type']:<20} {iid[:8]:<8}  {what}".rstrip())
    return out


def _what(e: dict[str, Any], titles: dict[str, str]) -> str:
    t = e["type"]
    if t == "issue_created":
        return f"{e.get('title', '')!r} ({e.get('priority', '')})"
    if t == "issue_state_changed":
        note = "  (derived)" if e.get("derived") else ""
        return f"{e.get('from')} -> {e.get('to')}{note}  {titles.get(e.get('issue_id') or '', '')}"
    if t in ("gate_passed", "gate_failed"):
        return f"{e.get('gate_key')} by {e.get('by')}"
    if t == "gate_defined":
        return f"{e.get('gate_key')} ({e.get('mode')}, {e.get('stage')})"
    if t == "dependency_added":
        dep = e.get("dependency") or ""
        return f"waits for {dep[:8]} {titles.get(dep, '')}"
    if t in ("issue_claimed", "issue_released"):
        return f"{e.get('assignee')}  {titles.get(e.get('issue_id') or '', '')}"
    if t == "issue_updated":
        return ", ".join(e.get("fields") or [])
    return titles.get(e.get("issue_id") or "", "")
