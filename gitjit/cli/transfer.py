"""``jit import``, ``jit export`` and ``jit index …``: bulk transfer and the local index."""

from __future__ import annotations

import sys

import click

from .core import Group, emit, env, output_options
from .progress import meter


@click.command("import")
@click.argument("file")
@click.option("-f", "--format", "fmt", type=click.Choice(["jsonl", "rust-jit", "beads"]), default="jsonl",
              show_default=True, help="jsonl (jit export), rust-jit (a .jit directory) or beads (issues.jsonl).")
@click.option("--dry-run", is_flag=True, help="Check the whole input and report; write nothing.")
@click.option("--skip-missing-deps", is_flag=True,
              help="Drop (and report) dependencies on issues neither in FILE nor in the repository.")
@output_options
def import_(file: str, fmt: str, dry_run: bool, skip_missing_deps: bool) -> None:
    """Import issues from FILE ("-" for stdin). The whole input is checked first: a bad line
    is reported with its number and nothing is written.

    \b
    Example:
      jit export -o issues.jsonl && jit --repo ../other import issues.jsonl
      jit import .jit --format rust-jit
      jit import .beads/issues.jsonl --format beads --skip-missing-deps
    """
    from ..app.exchange import import_file

    e = env()
    text = sys.stdin.read() if file == "-" and fmt != "rust-jit" else None
    with meter("import") as progress:
        data = import_file(e.tracker, file, fmt, dry_run=dry_run, stdin_text=text,
                           skip_missing_deps=skip_missing_deps, progress=progress)
    verb = "Checked" if dry_run else "Imported"
    gates = f", defined gates {', '.join(data['gates_defined'])}" if data["gates_defined"] else ""
    skipped = data["skipped_dependencies"]
    if skipped and not e.json:  # what was dropped, on stderr (all of it is in the JSON result)
        for s in skipped[:20]:
            click.echo(f"warning: line {s['line']} ({s['key']}): dependency on {s['depends_on']} skipped: "
                       "it is neither in the input nor in the repository", err=True)
        if len(skipped) > 20:
            click.echo(f"warning: … and {len(skipped) - 20} more skipped dependencies (--json lists them all)",
                       err=True)
    dropped = f"; skipped {len(skipped)} dependenc{'y' if len(skipped) == 1 else 'ies'} on missing issues" \
        if skipped else ""
    emit(data, f"{verb} {data['count']} issue{'s' if data['count'] != 1 else ''} from {file}{gates}{dropped}",
         quiet="\n".join(data["ids"].values()))


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@click.option("-f", "--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True,
              help="Output format (one JSON object per line).")
@output_options
def export(output: str | None, fmt: str) -> None:
    """Export the gate registry and every issue, one JSON object a line (what 'jit import' reads
    back, ids included; checker commands stay local).

    \b
    Example:
      jit export -o issues.jsonl
    """
    from ..app.exchange import export_lines

    e = env()
    with meter("export") as progress:
        lines = list(export_lines(e.tracker, progress=progress))
    text = "".join(line + "\n" for line in lines)
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        gates = sum(1 for line in lines if line.startswith('{"gate":'))
        both = f" and {gates} gate definition{'s' if gates != 1 else ''}" if gates else ""
        emit({"written": output, "format": fmt, "count": len(lines) - gates, "gates": gates},
             f"Wrote {len(lines) - gates} issues{both} to {output}", quiet=output)
    else:
        e.flush_warnings()
        click.echo(text, nl=False)


@click.group(cls=Group)
def index() -> None:
    """The local index (<git dir>/jit/index.sqlite3): a disposable cache of refs/jit/*.

    \b
    Example:
      jit index status
    """


@index.command()
@output_options
def rebuild() -> None:
    """Throw the index away and read every ref again.

    \b
    Example:
      jit index rebuild
    """
    e = env()
    ix = e.tracker.index.indexer()
    if ix is None:
        from ..core.errors import ExternalError

        raise ExternalError("the index cannot be used in this repository (see the warning above)")
    with meter("index rebuild") as progress:
        data = ix.rebuild(progress=progress)
    data.update(ix.ix.stats())
    emit(data, f"Rebuilt the index from {data['refs']} refs in {data['seconds']}s ({data['issues']} issues)")


@index.command("status")
@output_options
def status_() -> None:
    """Where the index is, how big, whether it matches the refs, and when it last changed; while
    another process rebuilds it, who and for how long (without waiting for it).

    \b
    Example:
      jit index status --json
    """
    e = env()
    ix = e.tracker.index.indexer()
    if ix is None:
        from ..core.errors import ExternalError

        raise ExternalError("the index cannot be used in this repository")
    # while another process rebuilds the index, say so at once instead of waiting for it
    busy = ix.ix.long_write_info()
    if busy is None:
        ix.refresh()
        d = ix.ix.check()
    elif ix.ix.db is None:
        ix._open()  # the figures as last committed: a reader never waits for the writer
    data = {"fresh": busy is None and (d is None or d.empty), "long_write": busy, **ix.ix.stats()}

    def human() -> None:
        click.echo(f"index: {data['path']} ({data['bytes'] // 1024} KiB)")
        click.echo(f"  issues: {data['issues']} ({data['deleted']} deleted), gates: {data['gates']}, "
                   f"events: {data['events']}, edges: {data['edges']}")
        click.echo(f"  loose refs: {data['loose_refs']}, bad refs: {data['bad_refs']}, "
                   f"broken cycle edges: {data['broken_edges']}")
        click.echo(f"  in step with the refs: {'yes' if data['fresh'] else 'no'}; built {data['built_at']}")
        if busy is not None:
            who = f"process {busy['pid']}, for {busy['seconds']} s" if busy["pid"] is not None else "another process"
            click.echo(f"  a long write is running ({who}): a rebuild, or a fold of many refs; the figures above "
                       "are from before it, and commands wait for it")

    emit(data, human)
