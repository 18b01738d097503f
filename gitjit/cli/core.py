"""The click side of the command line: the output options every command takes, the group class
every command group uses. Everything that
needs no click (the context, printing, errors, argument values) is in ``gitjit.cli.io``, re-exported
here for the command modules."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

import click

from .io import (  # noqa: F401 (re-exported for the command modules)
    Env,
    dump,
    echo,
    emit,
    env,
    ids,
    parse_kv,
    report_crash,
    report_error,
    split_commas,
    stdout_is_closed,
    use_env,
    wants_json,
)

F = TypeVar("F", bound=Callable[..., Any])


def _set_json(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        env().json = True


def _set_quiet(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        env().quiet = True


def output_options(f: F) -> F:
    """``--json`` and ``-q/--quiet`` on every command (they also work before the command name)."""
    f = click.option("--json", "json_", is_flag=True, expose_value=False, callback=_set_json,
                     is_eager=True, help="Print JSON (errors too, as {\"error\": {...}}).")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                     help="Print only the essential value (e.g. the new id).")(f)
    return f


class Group(click.Group):
    """Every group of jit's commands: a mistyped subcommand gets suggestions (``jit issue updat``:
    "Did you mean 'update'?"), the closest first, with every click allowed (click suggests only
    from 8.4 on, in its own words)."""

    def suggestions(self, ctx: click.Context, name: str) -> list[str]:
        """The commands ``name`` may have meant, closest first."""
        shown = [n for n in self.list_commands(ctx) if not getattr(self.get_command(ctx, n), "hidden", True)]
        return difflib.get_close_matches(name, shown)

    def resolve_command(self, ctx: click.Context,
                        args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        if not name.startswith("-") and not ctx.resilient_parsing and self.get_command(ctx, name) is None:
            close = self.suggestions(ctx, name)
            msg = f"No such command {name!r}."
            if close:
                msg += " Did you mean " + " or ".join(repr(c) for c in close[:3]) + "?"
            raise click.UsageError(msg, ctx)
        return super().resolve_command(ctx, args)
