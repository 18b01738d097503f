"""Shared CLI plumbing: the context object, output options, printing and error reporting.

The CLI is the only layer that reads the environment, prints, or picks exit codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..cliargs import _is_number, parse_kv, split_commas  # noqa: F401 (re-exported)
from ..errors import GitjitError, UsageError

F = TypeVar("F", bound=Callable[..., Any])


class Env:
    """What every command needs: where the repository is, who acts, and how to print."""

    def __init__(self) -> None:
        self.repo: str | None = os.environ.get("JIT_REPO") or None
        self.actor: str | None = os.environ.get("JIT_ACTOR") or None
        self.json = os.environ.get("JIT_JSON", "") not in ("", "0")  # same test as wants_json()
        self.quiet = os.environ.get("JIT_QUIET", "") not in ("", "0")
        self._tracker: Any = None

    @property
    def tracker(self) -> Any:
        """The repository's Tracker, first caught up with what a plain ``git fetch``/``git pull``
        brought since the last jit command (``gitjit.sync.catch_up``: a stat when nothing was)."""
        if self._tracker is None:
            from ..sync import catch_up

            catch_up(self.tracker_as_is)
        return self._tracker

    @property
    def tracker_as_is(self) -> Any:
        """The Tracker without catching up: for ``jit doctor`` (it reports the store as it finds
        it) and ``jit pull/push/sync`` (they merge what was fetched themselves, and say so)."""
        if self._tracker is None:
            from ..api import Tracker

            self._tracker = Tracker(self.repo, actor=self.actor)
        return self._tracker

    def flush_warnings(self) -> None:
        if self._tracker is not None:
            for w in self._tracker.warnings:
                click.echo(f"warning: {w}", err=True)
            self._tracker.warnings.clear()


def env() -> Env:
    return click.get_current_context().find_object(Env)  # type: ignore[return-value]


def _set_json(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Env).json = True  # type: ignore[union-attr]


def _set_quiet(ctx: click.Context, _p: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Env).quiet = True  # type: ignore[union-attr]


def output_options(f: F) -> F:
    """``--json`` and ``-q/--quiet`` on every command (they also work before the command name)."""
    f = click.option("--json", "json_", is_flag=True, expose_value=False, callback=_set_json,
                     is_eager=True, help="Print JSON (errors too, as {\"error\": {...}}).")(f)
    f = click.option("-q", "--quiet", is_flag=True, expose_value=False, callback=_set_quiet,
                     help="Print only the essential value (e.g. the new id).")(f)
    return f


def dump(obj: Any) -> str:
    from ..jsontext import dumps

    return dumps(obj)


def emit(data: Any, human: Callable[[], None] | str | None = None, *, quiet: str | None = None) -> None:
    """Print ``data`` as JSON under --json; else the quiet value under -q; else the human form."""
    e = env()
    e.flush_warnings()
    if e.json:
        click.echo(dump(data))
    elif e.quiet and quiet is not None:
        click.echo(quiet)
    elif callable(human):
        human()
    elif human is not None:
        click.echo(human)


def report_error(err: GitjitError, as_json: bool) -> int:
    # the message may quote input holding undecodable bytes (surrogates): escape them, never crash
    def safe(s: str) -> str:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")

    if as_json:
        click.echo(safe(dump({"error": err.to_dict()})))
    else:
        click.echo(safe(f"error: {err.message}"), err=True)
        if err.hint:
            click.echo(safe(f"hint: {err.hint}"), err=True)
    return err.exit_code


def wants_json(argv: list[str]) -> bool:
    return "--json" in argv or os.environ.get("JIT_JSON", "") not in ("", "0")


def stdout_is_closed() -> bool:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        return True
    return False
