"""``jit doc …`` (alias ``jit document``): issues that point at design documents in the repository."""

from __future__ import annotations

import click

from .core import Group, emit, env, output_options


@click.group(cls=Group)
def doc() -> None:
    """Document references: issues that point at files of the repository, with the commit seen.

    \b
    Example:
      jit doc add 3f1c docs/design/auth.md --label "Auth design"
      jit doc check-links
    """


@doc.command("add")
@click.argument("issue_id")
@click.argument("path")
@click.option("-c", "--commit", help="Record this commit (it must hold the file); default: HEAD.")
@click.option("-l", "--label", "--title", "label", help="A title for the reference.")
@click.option("--doc-type", help="What kind of document (design, adr, spec, ...).")
@click.option("--skip-scan", is_flag=True, help="Accepted for the seed's scripts; gitjit does not scan assets.")
@output_options
def add(issue_id: str, path: str, commit: str | None, label: str | None, doc_type: str | None,
        skip_scan: bool) -> None:
    """Point an issue at the document PATH (relative to the top of the repository).

    The file must be in the working tree; the reference records the commit it was seen at.

    \b
    Example:
      jit doc add 3f1c docs/design/auth.md --label "Auth design" --doc-type design
    """
    data = env().tracker.doc_add(issue_id, path, commit=commit, label=label, doc_type=doc_type)
    d = data["document"]
    emit(data, f"Issue {data['issue_id'][:8]} references {d['path']}"
         + (f" at {d['commit'][:12]}" if d["commit"] else " (not committed yet)"), quiet=d["path"])


@doc.command("list")
@click.argument("issue_id")
@output_options
def list_(issue_id: str) -> None:
    """List the documents an issue references.

    \b
    Example:
      jit doc list 3f1c --json
    """
    data = env().tracker.doc_list(issue_id)

    def human() -> None:
        if not data["documents"]:
            click.echo("No documents.")
        for d in data["documents"]:
            extra = " ".join(x for x in (d["doc_type"] and f"[{d['doc_type']}]", d["label"]) if x)
            click.echo(f"{d['path']}  {(d['commit'] or 'uncommitted')[:12]}" + (f"  {extra}" if extra else ""))

    emit(data, human, quiet="\n".join(d["path"] for d in data["documents"]))


@doc.command("check-links")
@click.option("--scope", default="all", show_default=True, metavar="all|issue:ID",
              help="Every issue's documents, or one issue's.")
@output_options
def check_links(scope: str) -> int:
    """Check the documents issues reference: each file is in the working tree, and the relative
    links of Markdown documents lead to files. Exit 4 when a document is missing.

    \b
    Example:
      jit doc check-links
      jit doc check-links --scope issue:3f1c --json
    """
    data = env().tracker.doc_check_links(scope=scope)

    def human() -> None:
        for p in data["problems"]:
            click.echo(f"{p['severity']}: {p['path']} ({p['issue_id'][:8]}): {p['message']}")
        click.echo(f"checked {data['documents']} document(s) of {data['issues']} issue(s), {data['links']} link(s): "
                   f"{data['errors']} error(s), {data['warnings']} warning(s)")

    emit(data, human)
    return 0 if data["valid"] else 4


@doc.command("archive")
@click.argument("path")
@click.option("--type", "category", required=True, metavar="CATEGORY",
              help="Archive category: the document moves to <doc-archive>/CATEGORY/.")
@click.option("--dry-run", is_flag=True, help="Say what would happen; change nothing.")
@click.option("--force", is_flag=True, help="Archive even while unfinished issues reference it.")
@output_options
def archive(path: str, category: str, dry_run: bool, force: bool) -> None:
    """Move a document to the archive (in the working tree) and record the move on every issue
    that references it. The archive is dev/archive unless 'jit config set doc-archive DIR'.

    \b
    Example:
      jit doc archive docs/design/auth.md --type features --dry-run
    """
    data = env().tracker.doc_archive(path, category=category, dry_run=dry_run, force=force)
    n = len(data["issues_updated"])
    verb = "Would move" if dry_run else "Moved"
    emit(data, f"{verb} {data['source']} to {data['destination']} ({n} issue(s) updated)",
         quiet=data["destination"])
