"""``jit events tail|query``: the event log, gathered from every ref."""

from __future__ import annotations

import json

import click

from . import render
from .core import dump, emit, env, output_options


@click.group()
def events() -> None:
    """The event log (every change is an event on some ref).

    \b
    Example:
      jit events tail -n 20 --json
    """


def _print(evs: list[dict]) -> None:
    e = env()
    e.flush_warnings()
    if e.json:
        click.echo(dump(evs))
    else:
        for ev in evs:
            click.echo(render.event_line(ev))


@events.command()
@click.option("-n", "--n", "n", type=click.IntRange(min=0), default=20, show_default=True)
@click.option("-f", "--follow", is_flag=True, help="Then print new events as they land (with --json: one per line).")
@click.option("--interval", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="With --follow: seconds between looks.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="With --follow: stop after SECONDS.")
@output_options
def tail(n: int, follow: bool, interval: float, timeout: float | None) -> None:
    """The last N events, oldest first. --json prints a JSON array of events; with --follow,
    one JSON object per line, as each event lands (local writes, agents, pulls from a hub).

    \b
    Example:
      jit events tail -n 20
      jit events tail --follow --json | my-orchestrator
    """
    if follow:
        from ..app.feed import follow as follow_events

        e = env()
        e.flush_warnings()
        follow_events(e.tracker, lambda ev: click.echo(json.dumps(ev, ensure_ascii=False) if e.json
                                                       else render.event_line(ev)),
                      n=n, interval=interval, timeout=timeout)
        return
    _print(env().tracker.events(limit=n))


@events.command("query")
@click.option("-e", "--event-type", "event_type")
@click.option("-i", "--issue", "--issue-id", "issue")
@click.option("--since", help="ISO 8601 time (UTC if no offset).")
@click.option("-l", "--limit", type=click.IntRange(min=0), default=None)
@output_options
def query_(event_type: str | None, issue: str | None, since: str | None, limit: int | None) -> None:
    """Events filtered by type, issue (any unique prefix) and time; with --limit the newest N.

    \b
    Example:
      jit events query --event-type gate_passed --limit 10
    """
    _print(env().tracker.events(event_type=event_type, issue=issue, since=since, limit=limit))


_ = emit
