"""The ``jit`` command line as click defines it: the root group, its options, the lazily loaded
command modules, and how click's errors become gitjit's (``click_main``). ``gitjit.cli.main`` is
the one entry point; it comes here for everything the pre-dispatch (gitjit/cli/light.py) leaves.

``main(argv) -> int`` never raises: a GitjitError becomes its documented exit code and
message (or ``{"error": ...}`` under ``--json``); anything unexpected is reported in one
line (set ``JIT_DEBUG=1`` for the traceback) with exit 1.
"""

from __future__ import annotations

from typing import Any

import click

from .. import __version__
from ..core.errors import GitjitError, UsageError
from ..core.reads import CAPTURED_CREATE, CAPTURED_CREATE_HINT
from .io import Env, captured_create_output, report_crash, report_error, use_env, wants_json

__all__ = ["click_main", "cli", "LazyGroup", "ROOT_ENV"]

#: what each option before the command sets in the ``Env`` (the pre-dispatch, gitjit/cli/light.py,
#: reads this through the generated spec)
ROOT_ENV = {"repo": "repo", "actor": "actor", "json_": "json", "quiet": "quiet"}


class LazyGroup(click.Group):
    """Subcommand modules are imported only when the command runs: ``jit --version`` stays cheap."""

    lazy = {
        "issue": ("issue", "issue"),
        "dep": ("dep", "dep"),
        "gate": ("gate", "gate"),
        "registry": ("gate", "registry"),
        "query": ("query", "query"),
        "graph": ("graph", "graph"),
        "events": ("events", "events"),
        "status": ("misc", "status"),
        "init": ("misc", "init"),
        "merge-driver": ("misc", "merge_driver"),
        "config": ("misc", "config"),
        "trust": ("trust", "trust"),
        "hooks": ("hooks", "hooks"),
        "hook": ("hooks", "hook"),
        "push": ("sync", "push"),
        "pull": ("sync", "pull"),
        "sync": ("sync", "sync_cmd"),
        "remote": ("sync", "remote"),
        "doctor": ("doctor", "doctor"),
        "fsck": ("doctor", "doctor"),
        "demo": ("demo", "demo"),
        "dispatch": ("dispatch", "dispatch"),
        "coordinator": ("coordinator", "coordinator"),  # seeds 002/004: runs jit-dispatch
        "import": ("transfer", "import_"),
        "export": ("transfer", "export"),
        "index": ("transfer", "index"),
        "schema": ("schema", "schema"),
        "mcp": ("mcp", "mcp"),
    }
    aliases = {"dependency": "dep", "list": "issue"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = self.aliases.get(name, name)
        if name in self.lazy:
            mod, attr = self.lazy[name]
            import importlib

            return getattr(importlib.import_module(f"gitjit.cli.{mod}"), attr)  # type: ignore[no-any-return]
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jit")
@click.option("--repo", metavar="PATH", help="Repository to use (default: found from the current directory; env JIT_REPO).")
@click.option("--by", "actor", metavar="ACTOR", help="Who is acting (env JIT_ACTOR; default: git user.name <user.email>).")
@click.option("--json", "json_", is_flag=True, help="JSON output for every command.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the essential value (e.g. a new issue's id).")
@click.pass_context
def cli(ctx: click.Context, **opts: Any) -> None:
    """gitjit: a git-native issue tracker that AI agents coordinate through.

    Issues, dependencies, gates and claims live on refs/jit/* of the git repository
    you run it in; nothing touches your working tree.

    \b
    Example:
      jit init
      jit issue create -t "Implement parser" -p high
      jit query ready --json
    """
    e = ctx.ensure_object(Env)
    for name, attr in ROOT_ENV.items():
        if opts[name]:
            setattr(e, attr, opts[name])


def click_main(args: list[str]) -> int:
    """Run ``args`` through click; never raises (see ``gitjit.cli.main``)."""
    as_json = wants_json(args)
    bad = _not_utf8(args)
    if bad is not None:  # bytes a shell passed that are not UTF-8 (argv holds them as surrogates)
        try:  # show the bytes as the shell passed them
            shown = str(args[bad].encode("utf-8", "surrogateescape"))[2:-1]
        except UnicodeEncodeError:
            shown = args[bad].encode("utf-8", "backslashreplace").decode()
        return report_error(UsageError(
            f"argument {bad + 1} ({shown[:200]}) is not valid UTF-8",
            hint="jit takes its arguments as UTF-8 text; check the encoding of your shell (LANG, LC_ALL)"), as_json)
    try:
        rv = cli.main(args=args, prog_name="jit", standalone_mode=False, obj=use_env(Env()))
        return rv if isinstance(rv, int) else 0
    except GitjitError as e:
        return report_error(e, as_json)
    except click.exceptions.NoSuchOption as e:
        return report_error(UsageError(e.format_message(), hint="see 'jit --help'"), as_json)
    except click.exceptions.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "jit"
        if captured_create_output(args):  # ID=$(jit issue create …) without -q, then $ID unquoted
            return report_error(UsageError(f"{e.format_message()}: {CAPTURED_CREATE}", hint=CAPTURED_CREATE_HINT),
                                as_json)
        return report_error(UsageError(e.format_message(), hint=f"see '{cmd} --help'"), as_json)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except (KeyboardInterrupt, BrokenPipeError) as e:
        return report_crash(e, as_json)
    except click.exceptions.ClickException as e:
        return report_error(UsageError(e.format_message()), as_json)
    except Exception as e:  # noqa: BLE001 - the last line of defence: never a traceback for users
        return report_crash(e, as_json)


def _not_utf8(args: list[str]) -> int | None:
    """Index of the first argument holding undecodable bytes. Paths (``--repo``, ``-o``) and the
    merge driver's file names may be any bytes the file system allows, so they are exempt."""
    if args[:1] == ["merge-driver"]:
        return None
    skip = False
    for i, a in enumerate(args):
        if skip:
            skip = False
            continue
        if a in ("--repo", "-o", "--output"):
            skip = True
            continue
        if a.startswith(("--repo=", "--output=")):
            continue
        if any("\ud800" <= c <= "\udfff" for c in a):
            return i
    return None
