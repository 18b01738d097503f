"""``jit snapshot export|verify``: the tracker at one moment, as a self-contained archive."""

from __future__ import annotations

import click

from .core import Group, emit, env, output_options


@click.group(cls=Group)
def snapshot() -> None:
    """Export the whole tracker at one moment (issues, gates, events, refs, a checksummed manifest).

    \b
    Example:
      jit snapshot export --out backup.tar --format tar
      jit snapshot verify backup.tar
    """


@snapshot.command()
@click.option("--out", metavar="PATH", help="Where to write (default: jit-snapshot-<time>[.tar] here).")
@click.option("--format", "fmt", type=click.Choice(["dir", "tar"]), default="dir", show_default=True,
              help="A directory, or one tar archive.")
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@output_options
def export(out: str | None, fmt: str, force: bool) -> None:
    """Write a snapshot read from one listing of the refs (a write meanwhile is not in it).

    \b
    Example:
      jit snapshot export --out snap --json
    """
    from ..app.snapshot import export_snapshot

    data = export_snapshot(env().tracker, out=out, fmt=fmt, force=force)
    c = data["counts"]
    emit(data, f"Wrote {data['path']}: {c['issues']} issues, {c['gates']} gates, {c['events']} events, "
         f"{c['documents']} documents ({data['files']} files)", quiet=data["path"])


@snapshot.command()
@click.argument("path")
@output_options
def verify(path: str) -> int:
    """Check a snapshot: every file against the manifest's SHA-256 and size, nothing unlisted, every
    event document parses. Exit 4 when anything is wrong.

    \b
    Example:
      jit snapshot verify backup.tar
    """
    from ..app.snapshot import verify_snapshot

    data = verify_snapshot(path)

    def human() -> None:
        for p in data["problems"]:
            click.echo(f"problem: {p}")
        click.echo(f"{data['path']}: " + ("OK" if data["ok"] else f"{len(data['problems'])} problem(s)")
                   + f" ({data['files']} files, {data['events']} events, {data['refs']} refs)")

    emit(data, human)
    return 0 if data["ok"] else 4
