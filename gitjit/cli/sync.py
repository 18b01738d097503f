"""``jit push|pull|sync [REMOTE]`` and ``jit remote add-refspecs|remove-refspecs``.

REMOTE defaults to the hub (``jit config set hub NAME``), else ``origin``. See docs/sharing.md.
"""

from __future__ import annotations

import click

from .core import Group, emit, env, output_options
from .progress import meter


def _remote(remote: str | None) -> str:
    t = env().tracker_as_is
    return remote or t.hub() or "origin"


def _pull_line(r: dict) -> str:
    c = r["counts"]
    return (f"Pulled from {r['remote']}: {c['created']} new, {c['fast_forwarded']} fast-forwarded, "
            f"{c['merged']} merged, {c['unchanged']} unchanged"
            + (f", {c['skipped']} skipped (see warnings)" if c["skipped"] else ""))


def _push_line(r: dict) -> str:
    n = r["count"]
    return f"Pushed {n} ref{'s' if n != 1 else ''} to {r['remote']}" if n else f"Nothing to push to {r['remote']}"


@click.command()
@click.argument("remote", required=False)
@click.option("--no-fetch", is_flag=True, help="Only reconcile what a plain 'git fetch' already brought.")
@output_options
def pull(remote: str | None, no_fetch: bool) -> None:
    """Fetch the remote's jit refs and merge them into yours (never loses an event).

    Invalid refs on the remote are skipped with a warning naming each one.

    \b
    Example:
      jit pull origin
      git fetch origin && jit pull --no-fetch   # after 'jit remote add-refspecs origin'
    """
    with meter("pull") as progress:
        data = env().tracker_as_is.pull(_remote(remote), fetch=not no_fetch, progress=progress)
    emit(data, _pull_line(data), quiet=str(data["counts"]["created"] + data["counts"]["fast_forwarded"]
                                          + data["counts"]["merged"]))


@click.command()
@click.argument("remote", required=False)
@output_options
def push(remote: str | None) -> None:
    """Push your jit refs that the remote does not have yet (leased, atomic, retried after a merge).

    \b
    Example:
      jit push origin
    """
    data = env().tracker_as_is.push(_remote(remote))
    emit(data, _push_line(data), quiet=str(data["count"]))


@click.command("sync")
@click.argument("remote", required=False)
@output_options
def sync_cmd(remote: str | None) -> None:
    """Pull, then push: afterwards the remote and this clone hold the same issues.

    \b
    Example:
      jit sync            # the hub, else origin
      jit sync upstream
    """
    with meter("sync") as progress:
        data = env().tracker_as_is.sync(_remote(remote), progress=progress)

    def human() -> None:
        click.echo(_pull_line(data["pull"]))
        click.echo(_push_line(data["push"]))

    emit(data, human)


@click.group(cls=Group)
def remote() -> None:
    """Make plain git fetch/pull bring the jit refs too (or stop doing so).

    \b
    Example:
      jit remote add-refspecs origin
    """


@remote.command("add-refspecs")
@click.argument("name")
@output_options
def add_refspecs(name: str) -> None:
    """Add +refs/jit/*:refs/jit-remotes/NAME/* to remote.NAME.fetch (idempotent).

    \b
    Example:
      jit remote add-refspecs origin
      git fetch origin && jit pull --no-fetch
    """
    data = env().tracker.add_refspecs(name)
    emit(data, (f"Added {data['refspec']} to {data['config_key']}" if data["added"]
                else f"{data['config_key']} already has {data['refspec']}")
         + f"\n(undo: {data['undo']})")


@remote.command("remove-refspecs")
@click.argument("name")
@output_options
def remove_refspecs(name: str) -> None:
    """Remove the jit refspec from remote.NAME.fetch (the tracking refs stay until you delete them).

    \b
    Example:
      jit remote remove-refspecs origin
    """
    data = env().tracker.remove_refspecs(name)
    emit(data, f"Removed {data['refspec']} from {data['config_key']}" if data["removed"]
         else f"{data['config_key']} did not have {data['refspec']}")

