"""``jit graph …``: the dependency graph as trees, lists and exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from . import render
from .actions import acts
from .core import Group, dump, emit, env, ids, output_options


@click.group(cls=Group)
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


#: fill colour of a node by effective state, the same in both pictures: a PNG must tell done from
#: blocked (``open``: something still blocks it) at a glance
STATE_COLOURS = {
    "open": "#f8d7da",         # light red: blocked by a dependency or a precheck gate
    "ready": "#cfe2ff",        # light blue
    "in_progress": "#fff3cd",  # light yellow
    "done": "#d1e7dd",         # light green
    "rejected": "#e2e3e5",     # light grey
    "archived": "#f8f9fa",     # near white
}


_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _visible(text: str) -> str:
    """Control characters (C0, DEL, C1, line separators) as ``\\uXXXX`` text: a picture shows
    them, never obeys them."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dot_string(text: str) -> str:
    """``text`` as the inside of a DOT double-quoted string whose label shows it literally: a
    backslash doubled (a title ending in ``\\`` escaped the closing quote, and ``\\n`` or
    ``\\N`` would be read as a label escape), a double quote escaped, controls made visible."""
    return _visible(text).replace("\\", "\\\\").replace('"', '\\"')


def _dot(g: dict[str, Any]) -> str:
    lines = ["digraph jit {", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fillcolor="#ffffff"];']
    for n in g["nodes"]:
        label = f"{dot_string(n['short_id'])} [{n['state']}]\\n{dot_string(n['title'])}"
        colour = STATE_COLOURS.get(n["state"], "#ffffff")
        lines.append(f'  "{n["id"]}" [label="{label}", tooltip="{n["state"]}", fillcolor="{colour}"];')
    for e in g["edges"]:
        lines.append(f'  "{e["from"]}" -> "{e["to"]}";')
    lines.append("}")
    return "\n".join(lines) + "\n"


#: what a mermaid label may hold as is; every other character is written as ``#<code point>;``,
#: mermaid's entity escape. ``#`` itself is never kept (``#35;`` in a title would be decoded),
#: nor ``"``, ``<``, ``>``, ``&``, backquotes, ``%`` or ``;``, nor any control or invisible character.
_MERMAID_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:/()[]+=@!?'*")


def mermaid_label(text: str) -> str:
    """``text`` for a quoted mermaid label, escaped by construction: ASCII letters, digits, space
    and a little safe punctuation are kept, printable non-ASCII text too (titles in any script),
    and everything else becomes a numeric entity, which mermaid decodes back to the character."""
    return "".join(c if c in _MERMAID_KEEP or (ord(c) > 0xA0 and c.isprintable()) else f"#{ord(c)};"
                   for c in text)


def mermaid_id(iid: str) -> str:
    """The node name of an issue: its full id (the first 8 characters of two ids can be the same),
    after a letter, so that no id reads as a number or a keyword."""
    return "i" + iid


def _mermaid(g: dict[str, Any]) -> str:
    lines = ["graph LR"]
    for state, colour in STATE_COLOURS.items():
        lines.append(f"  classDef {state} fill:{colour},stroke:#555555")
    for n in g["nodes"]:
        cls = n["state"] if n["state"] in STATE_COLOURS else "open"
        lines.append(f'  {mermaid_id(n["id"])}["{mermaid_label(n["title"])} ({n["state"]})"]:::{cls}')
    for e in g["edges"]:
        lines.append(f"  {mermaid_id(e['from'])} --> {mermaid_id(e['to'])}")
    return "\n".join(lines) + "\n"


@graph.command()
@click.option("-f", "--format", "fmt", type=click.Choice(["dot", "mermaid", "json"]), default="dot", show_default=True,
              help="Output format: Graphviz DOT, Mermaid, or JSON.")
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
