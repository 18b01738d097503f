"""``jit query …``: the questions orchestrators ask."""

from __future__ import annotations

import click

from .actions import acts
from .core import Group, output_options


@click.group(cls=Group)
def query() -> None:
    """Queries for orchestrators: ready (alias available), blocked, assignee, state, priority, all.

    \b
    Example:
      jit query ready --json
    """


@query.command()
@output_options
@acts("query", kind="ready")
def ready() -> None:
    """Unassigned issues nothing blocks, critical first, then oldest.

    \b
    Example:
      jit query ready --json
    """


@query.command()
@output_options
@acts("query", kind="ready")
def available() -> None:
    """The seed's later name for ready: the same issues, the same output.

    \b
    Example:
      jit query available --json
    """


@query.command()
@output_options
@acts("query", kind="blocked")
def blocked() -> None:
    """Unfinished issues held up by dependencies or precheck gates, with the reasons.

    \b
    Example:
      jit query blocked
    """


@query.command()
@click.argument("assignee")
@output_options
@acts("query", kind="assignee")
def assignee(assignee: str) -> None:
    """Issues assigned to ASSIGNEE.

    \b
    Example:
      jit query assignee agent:worker-1 --json
    """


@query.command()
@click.argument("state")
@output_options
@acts("query", kind="state")
def state(state: str) -> None:
    """Issues in STATE (open, ready, in_progress, done, rejected, archived).

    \b
    Example:
      jit query state in_progress
    """


@query.command()
@click.argument("priority")
@output_options
@acts("query", kind="priority")
def priority(priority: str) -> None:
    """Issues of PRIORITY (low, normal, high, critical).

    \b
    Example:
      jit query priority critical
    """


@query.command("all")
@output_options
@acts("query", kind="all")
def all_() -> None:
    """Every issue.

    \b
    Example:
      jit query all --json
    """