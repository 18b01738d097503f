"""The docs keep up with the CLI: every command (lazily loaded ones included) has help with an
example and a place in docs/cli.md, and the exit-code table there is gitjit.core.errors.EXIT_CODES."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from gitjit.cli import cli
from gitjit.core import errors

DOCS = Path(__file__).resolve().parent.parent / "docs"


def walk(cmd: click.Command, path: tuple[str, ...], ctx: click.Context):  # type: ignore[no-untyped-def]
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            sub = cmd.get_command(ctx, name)  # imports a lazy subcommand's module
            assert sub is not None, f"{' '.join(path + (name,))} is listed but cannot be loaded"
            yield from walk(sub, path + (name,), click.Context(sub, info_name=name, parent=ctx))


COMMANDS = list(walk(cli, (), click.Context(cli, info_name="jit")))
NAMES = [" ".join(p) or "jit" for p, _ in COMMANDS]


def test_the_walk_sees_lazy_commands() -> None:
    assert {"issue create", "issue claim-next", "graph export", "registry add", "events query", "status"} <= set(
        NAMES)


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=NAMES)
def test_help_has_an_example_and_the_docs_mention_the_command(path: tuple[str, ...], cmd: click.Command) -> None:
    assert cmd.help and "Example" in cmd.help, f"'jit {' '.join(path)}' help has no Example"
    if path:
        doc = (DOCS / "cli.md").read_text()
        assert f"jit {' '.join(path)}" in doc, f"docs/cli.md does not mention 'jit {' '.join(path)}'"


def _table(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading, 1)[1]
    section = re.split(r"\n#{1,6} ", section, maxsplit=1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-\s|]+\|$", line):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:]  # drop the header


def test_exit_code_table_equals_errors_exit_codes() -> None:
    rows = _table((DOCS / "cli.md").read_text(), "## Exit codes")
    assert {int(r[0]): r[1] for r in rows} == errors.EXIT_CODES
    assert [int(r[0]) for r in rows] == sorted(errors.EXIT_CODES)
    # every error class's machine code sits in the row of its exit status
    by_exit = {int(r[0]): r[2] for r in rows}
    classes = [getattr(errors, n) for n in errors.__all__ if isinstance(getattr(errors, n), type)]
    for c in classes:
        assert f"`{c.code}`" in by_exit[c.exit_code], (c.__name__, c.exit_code, c.code)


def test_documented_env_vars_and_identity_order() -> None:
    doc = (DOCS / "cli.md").read_text()
    for var in ("JIT_REPO", "JIT_ACTOR", "JIT_QUIET", "JIT_JSON", "JIT_RETRY_SECONDS", "JIT_DEBUG"):
        assert f"`{var}`" in doc
    ident = doc.split("## Actor identity", 1)[1]
    assert ident.index("--by") < ident.index("JIT_ACTOR") < ident.index("user.name <user.email>")


def test_json_doc_names_every_error_code() -> None:
    doc = (DOCS / "json.md").read_text()
    for n in errors.__all__:
        c = getattr(errors, n)
        if isinstance(c, type):
            assert f"`{c.code}`" in doc, c.code
