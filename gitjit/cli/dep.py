"""``jit dep add|rm``: dependency edges (FROM depends on TO)."""

from __future__ import annotations

import click

from .core import Group, emit, env, output_options


@click.group(cls=Group)
def dep() -> None:
    """Dependencies: FROM depends on TO (TO must finish first).

    \b
    Example:
      jit dep add $EPIC $TASK1 $TASK2
    """


@dep.command()
@click.argument("from_id")
@click.argument("to_ids", nargs=-1, required=True)
@output_options
def add(from_id: str, to_ids: tuple[str, ...]) -> None:
    """Make FROM depend on each TO. A cycle is refused (exit 4) and its path shown.

    \b
    Example:
      jit dep add $EPIC $TASK1 $TASK2
    """
    data = env().tracker.add_dependency(from_id, to_ids)
    msg = f"{data['from_id'][:8]} now depends on " + (", ".join(x[:8] for x in data["added"]) or "nothing new")
    if data["already_exist"]:
        msg += f" (already: {', '.join(x[:8] for x in data['already_exist'])})"
    emit(data, msg, quiet=data["from_id"])


@dep.command()
@click.argument("from_id")
@click.argument("to_ids", nargs=-1, required=True)
@output_options
def rm(from_id: str, to_ids: tuple[str, ...]) -> None:
    """Remove FROM's dependency on each TO.

    \b
    Example:
      jit dep rm $EPIC $TASK1
    """
    data = env().tracker.remove_dependency(from_id, to_ids)
    msg = f"Removed {len(data['removed'])} dependency(ies) from {data['from_id'][:8]}"
    if data["not_found"]:
        msg += f" (not found: {', '.join(x[:8] for x in data['not_found'])})"
    emit(data, msg, quiet=data["from_id"])
