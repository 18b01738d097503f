"""``jit trust``: let the commands of the work tree's jit.toml run in this clone (gitjit/trust.py)."""

from __future__ import annotations

import json
from typing import Any

import click

from .core import emit, env, output_options


@click.command()
@click.option("--show", "action", flag_value="show", help="Say whether jit.toml is trusted and what it runs; change nothing.")
@click.option("--revoke", "action", flag_value="revoke", help="Stop trusting the current content of jit.toml.")
@output_options
def trust(action: str | None) -> None:
    """Trust the current content of jit.toml: its gate commands may run in this clone.

    A committed jit.toml comes with 'git pull', so its commands are code from anyone who can
    push. Read it first. This records the file's sha256 in this clone's git config
    (jit.trustedToml); any change to the file, yours included, needs 'jit trust' again.

    \b
    Example:
      jit trust --show
      jit trust
      jit trust --revoke
    """
    data = env().tracker.jit_toml_trust(action or "trust")

    def human() -> None:
        _describe(data)
        if action == "show":
            click.echo("Trusted: its commands may run in this clone." if data["trusted"] else
                       "Not trusted: its commands are not run here until you run 'jit trust'.")
        elif action == "revoke":
            click.echo("No longer trusted: its commands are not run here." if data["changed"] else
                       "It was not trusted; nothing changed.")
        else:
            click.echo("Trusted: its commands may run in this clone (a changed jit.toml needs 'jit trust' again)."
                       if data["changed"] else "Already trusted; nothing changed.")

    emit(data, human, quiet="trusted" if data["trusted"] else "untrusted")


def _describe(data: dict[str, Any]) -> None:
    if not data["exists"]:
        click.echo(f"No jit.toml ({data['path'] or 'no work tree'}).")
        return
    cmds = data["commands"]
    click.echo(f"{data['path']} ({data['sha256']})"
               + (":" if cmds else " defines no command" + ("" if data["valid"] else " (not valid TOML)")))
    for key, cmd in cmds.items():
        click.echo(f"  [gates.{key}] command = {json.dumps(cmd, ensure_ascii=False)}")
