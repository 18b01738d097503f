"""``jit validate``: the seed's read-only consistency check (``jit doctor``'s checks, no repairs,
and the data's own consistency)."""

from __future__ import annotations

import click

from .core import emit, env, output_options


@click.command()
@click.option("--strict", is_flag=True, help="Exit 4 on warnings too, not only on errors.")
@output_options
def validate(strict: bool) -> int:
    """Check the tracker without changing it: every jit ref, the locks, the index and hooks (as
    'jit doctor' does), then the data: missing or deleted dependencies, undefined gates, cycles,
    conflicts, finished issues with open gates, missing documents. Exit 0 when no error, 4 otherwise
    (with --strict, 4 when anything at all was found).

    \b
    Example:
      jit validate
      jit validate --strict --json
    """
    from ..app.validate import validate as run

    e = env()
    data = run(e.tracker_as_is)

    def human() -> None:
        for p in data["problems"]:
            click.echo(f"{p['severity']}: {p['subject']}: {p['message']}")
            if p["fix"]:
                click.echo(f"  fix: {p['fix']}")
        c = data["checked"]
        verdict = "valid" if data["valid"] else "NOT valid"
        click.echo(f"{verdict}: {data['errors']} error(s), {data['warnings']} warning(s) "
                   f"({c['issues']} issues, {c['gates']} gates, {c['events']} events)")

    emit(data, human)
    return 0 if data["valid"] and not (strict and data["problems"]) else 4
