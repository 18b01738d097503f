"""``jit doctor`` / ``jit fsck``: verify the jit data and setup; ``--fix`` repairs without losing events."""

from __future__ import annotations

import click

from .core import emit, env, output_options
from .progress import meter

_MARK = {"error": "ERROR", "warning": "warning", "info": "info"}


@click.command()
@click.option("--fix", is_flag=True, help="Repair what can be repaired without losing events.")
@click.option("--full", is_flag=True, help="Also walk every commit of every jit ref and run git fsck.")
@output_options
def doctor(fix: bool, full: bool) -> int:
    """Check every jit ref (parses, schema, folds, clocks), locks, the index, the hooks and the merge
    driver; each problem comes with the command that fixes it. Exit 0 when no error remains, 4 otherwise.

    Alias: jit fsck. Unreadable refs are parked under refs/jit-quarantine/ by --fix, never deleted.

    \b
    Example:
      jit doctor
      jit doctor --fix --json
    """
    from ..app.doctor import Doctor

    e = env()
    with meter("doctor") as progress:
        data = Doctor(e.tracker_as_is.git, e.tracker_as_is.store).run(fix=fix, full=full, progress=progress)
    e.tracker_as_is.warnings.clear()  # the report names every skipped ref itself

    def human() -> None:
        c = data["checked"]
        click.echo(f"checked {c['refs']} jit refs ({c['issues']} issues, {c['gates']} gates, {c['events']} events), "
                   f"{c['tracking_refs']} remote-tracking refs, {c['locks']} lock files"
                   + (f", {c.get('commits', 0)} commits" if full else ""))
        for p in data["problems"]:
            click.echo(f"{_MARK.get(p['severity'], p['severity'])}: {p['subject']}: {p['message']}")
            if p["repaired"]:
                click.echo(f"  repaired: {p['repaired']}")
            elif p["fix"]:
                click.echo(f"  fix: {p['fix']}")
        if fix:
            left = data["remaining_errors"] or []
            click.echo(f"repaired {data['repaired']} problem(s); "
                       + ("no errors remain." if not left else f"{len(left)} error(s) remain."))
        elif data["ok"]:
            click.echo("No errors found." if data["warnings"] == 0 else
                       f"No errors found ({data['warnings']} warning(s)).")
        else:
            click.echo(f"{data['errors']} error(s); run 'jit doctor --fix' to repair what can be repaired.")

    emit(data, human)
    return 0 if data["ok"] else 4
