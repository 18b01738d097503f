"""``jit graph …``: the dependency graph as trees, lists and exports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from . import render
from .actions import acts
from .core import dump, emit, env, ids, output_options


@click.group()
def graph() -> None:
    """Look at the dependency graph.

    \b
    Example:
      jit graph show $EPIC
      jit graph export --format mermaid -o graph.mmd
    """


@graph.command()
@click.argument("issue_id", required=False)
@output_options
@acts("graph_show")
def show(issue_id: str | None) -> None:
    """Draw the dependency tree under ISSUE_ID (or every tree, from the issues nothing depends on).

    \b
    Example:
      jit graph show $EPIC
    """


@graph.command()
@click.argument("issue_id")
@click.option("--direct", is_flag=True, help="Only direct dependencies.")
@output_options
def deps(issue_id: str, direct: bool) -> None:
    """What ISSUE_ID depends on (transitively unless --direct).

    \b
    Example:
      jit graph deps $EPIC
    """
    data = env().read(lambda r: r.graph_deps(issue_id, transitive=not direct), listing=True)
    emit(data, lambda: render.issue_list(data, "No dependencies."), quiet=lambda: ids(data))


@graph.command()
@click.argument("issue_id")
@output_options
def downstream(issue_id: str) -> None:
    """What depends on ISSUE_ID, transitively.

    \b
    Example:
      jit graph downstream $TASK1
    """
    data = env().read(lambda r: r.graph_downstream(issue_id), listing=True)
    emit(data, lambda: render.issue_list(data, "Nothing depends on it."), quiet=lambda: ids(data))


@graph.command()
@output_options
def roots() -> None:
    """Issues with no dependencies.

    \b
    Example:
      jit graph roots
    """
    data = env().read(lambda r: r.graph_roots(), listing=True)
    emit(data, lambda: render.issue_list(data), quiet=lambda: ids(data))


def _dot(g: dict[str, Any]) -> str:
    lines = ["digraph jit {", "  rankdir=LR;"]
    for n in g["nodes"]:
        label = f"{n['short_id']}\\n{n['title']}".replace('"', '\\"')
        lines.append(f'  "{n["id"]}" [label="{label}", tooltip="{n["state"]}"];')
    for e in g["edges"]:
        lines.append(f'  "{e["from"]}" -> "{e["to"]}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid(g: dict[str, Any]) -> str:
    lines = ["graph LR"]
    for n in g["nodes"]:
        title = n["title"].replace('"', "#quot;")
        lines.append(f'  {n["short_id"]}["{title} ({n["state"]})"]')
    for e in g["edges"]:
        lines.append(f"  {e['from'][:8]} --> {e['to'][:8]}")
    return "\n".join(lines) + "\n"


@graph.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@output_options
def export(fmt: str, output: str | None) -> None:
    """Export the whole graph (edges point from dependent to dependency).

    \b
    Example:
      jit graph export --format mermaid -o graph.mmd
    """
    e = env()
    g = e.read(lambda r: r.graph_export())
    # --json without -o means "print the JSON export"; with -o the file follows --format and
    # --json only shapes the confirmation printed on stdout
    as_json = fmt == "json" or (e.json and not output)
    text = dump(g) + "\n" if as_json else (
        _dot(g) if fmt == "dot" else _mermaid(g))
    if output:
        Path(output).write_text(text)
        emit({"written": output, "format": fmt, "nodes": len(g["nodes"]), "edges": len(g["edges"])},
             f"Wrote {output} ({len(g['nodes'])} nodes, {len(g['edges'])} edges)")
    else:
        e.flush_warnings()
        click.echo(text, nl=False)
