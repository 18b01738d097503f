"""The click side of the command line: the output options every command takes. Everything that
needs no click (the context, printing, errors, argument values) is in ``gitjit.cli.io``, re-exported
here for the command modules."""

from __future__ import annotations

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
