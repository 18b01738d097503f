"""``jit init``, ``jit status``, ``jit config``, ``jit merge-driver``."""

from __future__ import annotations

import click

from .actions import acts
from .core import Group, emit, env, output_options


@click.command()
@click.option("--remote", "remotes", multiple=True, metavar="NAME",
              help="Also make plain git fetch/pull of remote NAME bring its jit refs (see docs/sharing.md).")
@output_options
def init(remotes: tuple[str, ...]) -> None:
    """Prepare this repository for jit (idempotent): config, reflogs, merge driver.

    Outside any git repository it runs 'git init' first (and says so).

    \b
    Example:
      jit init
      jit init --remote origin    # undo: jit remote remove-refspecs origin
    """
    import os

    from ..git import find_repository, init_repository

    e = env()
    start = e.repo or os.getcwd()
    created = init_repository(start) if os.path.isdir(start) and find_repository(start) is None else None
    data = e.tracker.init()
    if created:
        data["changed"].insert(0, "git init")
    if remotes:
        data["remotes"] = [e.tracker.add_refspecs(r) for r in remotes]
        data["changed"] += [f"remote.{r['remote']}.fetch" for r in data["remotes"] if r["added"]]
    said = f"Initialized jit in {data['repository']}" + (
        f" ({', '.join(c for c in data['changed'] if c != 'git init')})" if data["changed"] else " (already set up)")
    if created:
        said = f"Initialized an empty git repository in {created} (there was none in {start})\n{said}"
    emit(data, said)


@click.command()
@output_options
@acts("status")
def status() -> None:
    """Counts per state, blocked work, recent completions, who holds what, and conflicts.

    \b
    Example:
      jit status --json
    """


@click.command("merge-driver", hidden=False)
@click.argument("base")
@click.argument("ours")
@click.argument("theirs")
@click.argument("path", required=False, default="")
def merge_driver(base: str, ours: str, theirs: str, path: str) -> int:
    """Git merge driver for events.jsonl (registered by 'jit init'): unites both event logs into OURS.

    \b
    Example (git calls it):
      jit merge-driver %O %A %B %P
    """
    from ..app.mergedriver import merge_files

    return merge_files(base, ours, theirs, path)


@click.group(cls=Group)
def config() -> None:
    """Local jit settings (stored in this clone's git config under jit.*).

    \b
    Example:
      jit config set hub origin
    """


@config.command("get")
@click.argument("key")
@output_options
def config_get(key: str) -> None:
    """Print a setting.

    \b
    Example:
      jit config get hub
    """
    v = env().tracker.git.config_get(f"jit.{_setting(key)}")
    emit({"key": key, "value": v}, v if v is not None else "", quiet=v or "")


def _setting(key: str) -> str:
    """A git config variable name: a letter, then letters, digits and '-' (git refuses anything else)."""
    import re

    from ..core.errors import UsageError

    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,99}", key):
        raise UsageError(f"invalid setting name {key!r}", hint="e.g. jit config get hub")
    return key


@config.command("set")
@click.argument("key")
@click.argument("value")
@output_options
def config_set(key: str, value: str) -> None:
    """Set a setting (e.g. hub: the remote that decides claims; it must be a configured remote,
    or "" for none).

    \b
    Example:
      jit config set hub origin
    """
    name = _setting(key)
    t = env().tracker
    if name.lower() == "hub":
        t.check_hub(value)
    t.git.config_set(f"jit.{name}", value)
    emit({"key": key, "value": value}, f"{key} = {value}", quiet=value)
