"""``jit query …``: the questions orchestrators ask."""

from __future__ import annotations

import click

from . import render
from .core import emit, env, output_options


@click.group()
def query() -> None:
    """Queries for orchestrators: ready, blocked, assignee, state, priority, all.

    \b
    Example:
      jit query ready --json
    """


def _run(kind: str, value: str | None = None, empty: str = "No issues.") -> None:
    data = env().tracker.query(kind, value)
    emit(data, lambda: render.issue_list(data, empty), quiet="\n".join(i["id"] for i in data["issues"]))


@query.command()
@output_options
def ready() -> None:
    """Unassigned issues nothing blocks, critical first, then oldest.

    \b
    Example:
      jit query ready --json
    """
    _run("ready", empty="No ready issues.")


@query.command()
@output_options
def blocked() -> None:
    """Unfinished issues held up by dependencies or precheck gates, with the reasons.

    \b
    Example:
      jit query blocked
    """
    _run("blocked", empty="Nothing is blocked.")


@query.command()
@click.argument("assignee")
@output_options
def assignee(assignee: str) -> None:
    """Issues assigned to ASSIGNEE.

    \b
    Example:
      jit query assignee agent:worker-1 --json
    """
    _run("assignee", assignee)


@query.command()
@click.argument("state")
@output_options
def state(state: str) -> None:
    """Issues in STATE (open, ready, in_progress, done, rejected, archived).

    \b
    Example:
      jit query state in_progress
    """
    _run("state", state)


@query.command()
@click.argument("priority")
@output_options
def priority(priority: str) -> None:
    """Issues of PRIORITY (low, normal, high, critical).

    \b
    Example:
      jit query priority critical
    """
    _run("priority", priority)


@query.command("all")
@output_options
def all_() -> None:
    """Every issue.

    \b
    Example:
      jit query all --json
    """
    _run("all")
