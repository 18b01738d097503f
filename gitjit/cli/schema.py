"""``jit schema [NAME]``: the JSON Schema of every ``--json`` output, the error object and every
input document, generated from the pydantic models of record (``gitjit.schema``)."""

from __future__ import annotations

import click

from .core import dump, emit, env, output_options


@click.command()
@click.argument("name", required=False)
@output_options
def schema(name: str | None) -> None:
    """Print the JSON Schema of NAME (always JSON); without NAME, list the names.

    Outputs are named after their shape (issue, issue-list, status, events, error, ...), inputs after
    the document (stored-event, remote-event, import-line, context, dispatch-config, ...); docs/json.md
    says which command prints which.

    \b
    Example:
      jit schema
      jit schema issue > issue.schema.json
    """
    from ..core.errors import UsageError
    from ..schema import catalog

    if name is None:
        data = catalog_data()
        width = max(len(n) for n in catalog.SCHEMAS)
        emit(data, "\n".join(f"{s['name']:<{width}}  {s['kind']:<6}  {s['description']}" for s in data["schemas"]),
             quiet="\n".join(catalog.SCHEMAS))
        return
    if name not in catalog.SCHEMAS:
        raise UsageError(f"no schema named {name!r}", hint="list them with: jit schema")
    env().flush_warnings()
    click.echo(dump(catalog.json_schema(name)))


def catalog_data() -> dict[str, list[dict[str, str]]]:
    """What ``jit schema --json`` prints: every schema's name, kind and description."""
    from ..schema import catalog

    return {"schemas": [{"name": n, "kind": kind, "description": catalog.description(n)}
                        for n, (_, kind) in catalog.SCHEMAS.items()]}


def print_catalog() -> None:
    """``jit --schema`` (the seed's top-level flag): the catalog as JSON, whatever the options."""
    env().flush_warnings()
    click.echo(dump(catalog_data()))
