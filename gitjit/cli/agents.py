"""``jit prime`` and ``jit setup``: what a coding agent reads at the start of a session, and the
files that make its client run ``jit prime`` and know gitjit (gitjit/app/agentsetup.py)."""

from __future__ import annotations

import click

from .actions import acts
from .core import echo, emit, env, output_options


@click.command()
@click.option("-n", "--limit", type=click.IntRange(0, 10), default=5, show_default=True,
              help="How many of your claims and of the ready issues to show.")
@output_options
@acts("prime")
def prime() -> None:
    """A short card for the start of an agent session: the workflow, the exit codes to branch
    on, who you act as, the issues you hold and the ready queue (under 2 KB).

    Run it from a SessionStart hook ('jit setup claude' installs one). In a repository where
    'jit init' has not run it says how to start; -q prints the number of ready issues.

    \b
    Example:
      JIT_ACTOR=agent:worker-1 jit prime
      jit prime --json
    """


@click.command()
@click.argument("target", type=click.Choice(["claude", "codex", "cursor", "agents-md"]))
@click.option("--remove", is_flag=True, help="Take out what setup wrote; the user's text and settings stay.")
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@click.option("--no-mcp", is_flag=True, help="Leave the MCP client settings (.mcp.json, ...) alone.")
@output_options
def setup(target: str, remove: bool, dry_run: bool, no_mcp: bool) -> None:
    """Tell a coding agent how to work with gitjit in this repository.

    \b
    claude     CLAUDE.md block; 'jit prime' SessionStart and PreCompact hooks in
               .claude/settings.json; the gitjit MCP server in .mcp.json
    codex      AGENTS.md block; the MCP server in .codex/config.toml
    cursor     .cursor/rules/gitjit.mdc; the MCP server in .cursor/mcp.json
    agents-md  AGENTS.md block

    The block sits between gitjit's BEGIN/END marker lines; text outside it, other settings
    and other hooks are never changed. Running it again changes nothing; --remove gives the
    files back as they were.

    \b
    Example:
      jit setup claude
      jit setup agents-md --dry-run
      jit setup claude --remove
    """
    from ..app.agentsetup import setup as run_setup

    e = env()
    data = run_setup(target, repo=e.repo, remove=remove, dry_run=dry_run, mcp=not no_mcp)

    def human() -> None:
        would = "would be " if dry_run else ""
        for f in data["files"]:
            echo(f"{f['path']}: {would if f['change'] != 'unchanged' else ''}{f['change']} ({f['detail']})")

    emit(data, human, quiet="\n".join(f["path"] for f in data["files"] if f["change"] != "unchanged"))
