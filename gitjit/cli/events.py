"""``jit events tail|query``: the event log, gathered from every ref."""

from __future__ import annotations

import click

from .actions import acts
from .core import Group, output_options


@click.group(cls=Group)
def events() -> None:
    """The event log (every change is an event on some ref).

    \b
    Example:
      jit events tail -n 20 --json
    """


@events.command()
@click.option("-n", "--n", "n", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many of the latest events to print.")
@click.option("-f", "--follow", is_flag=True, help="Then print new events as they land (with --json: one per line).")
@click.option("--interval", type=click.FloatRange(min=0.01), default=1.0, show_default=True,
              help="With --follow: seconds between looks.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="With --follow: stop after SECONDS.")
@output_options
@acts("events_tail")
def tail(n: int, follow: bool, interval: float, timeout: float | None) -> None:
    """The last N events, oldest first. --json prints a JSON array of events; with --follow,
    one JSON object per line, as each event lands (local writes, agents, pulls from a hub).

    \b
    Example:
      jit events tail -n 20
      jit events tail --follow --json | my-orchestrator
    """


@events.command("query")
@click.option("-e", "--event-type", "event_type", help="Only events of this type (e.g. issue_created).")
@click.option("-i", "--issue", "--issue-id", "issue", help="Only events of this issue (id or prefix).")
@click.option("--since", help="ISO 8601 time (UTC if no offset).")
@click.option("-l", "--limit", type=click.IntRange(min=0), default=None, help="At most this many events.")
@output_options
@acts("events_query")
def query_(event_type: str | None, issue: str | None, since: str | None, limit: int | None) -> None:
    """Events filtered by type, issue (any unique prefix) and time; with --limit the newest N.

    \b
    Example:
      jit events query --event-type gate_passed --limit 10
    """

