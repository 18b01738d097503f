"""The ``jit`` command line as click defines it: the root group, its options, the lazily loaded
command modules, and how click's errors become gitjit's (``click_main``). ``gitjit.cli.main`` is
the one entry point; it comes here for everything the pre-dispatch (gitjit/cli/light.py) leaves.

``main(argv) -> int`` never raises: a GitjitError becomes its documented exit code and
message (or ``{"error": ...}`` under ``--json``); anything unexpected is reported in one
line (set ``JIT_DEBUG=1`` for the traceback) with exit 1.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import click
from click.shell_completion import CompletionItem

from .. import __version__
from ..core.errors import GitjitError, UsageError
from ..core.reads import CAPTURED_CREATE, CAPTURED_CREATE_HINT
from .core import Group
from .io import Env, captured_create_output, report_crash, report_error, use_env, wants_json

__all__ = ["ROOT_ENV", "LazyGroup", "cli", "click_main"]

#: what each option before the command sets in the ``Env`` (the pre-dispatch, gitjit/cli/light.py,
#: reads this through the generated spec)
ROOT_ENV = {"repo": "repo", "actor": "actor", "json_": "json", "quiet": "quiet", "no_color": "no_color"}


class LazyGroup(Group):
    """Subcommand modules are imported only when the command runs: ``jit --version`` stays cheap."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
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
        "doc": ("doc", "doc"),
        "snapshot": ("snapshot", "snapshot"),
        "validate": ("validate", "validate"),
        "prime": ("agents", "prime"),
        "setup": ("agents", "setup"),
        "completion": ("complete", "completion"),
        "man": ("manpage", "man"),
        "serve": ("serve", "serve"),
        "mcp": ("mcp", "mcp"),
    }
    aliases: ClassVar[dict[str, str]] = {"dependency": "dep", "list": "issue", "document": "doc"}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        name = self.aliases.get(name, name)
        if name in self.lazy:
            mod, attr = self.lazy[name]
            import importlib

            cmd: click.Command = getattr(importlib.import_module(f"gitjit.cli.{mod}"), attr)
        else:
            cmd = super().get_command(ctx, name)  # type: ignore[assignment]
        if cmd is not None and ctx.resilient_parsing:  # a shell completion: ids, states... by name
            from .complete import attach

            attach(cmd)
        return cmd

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        return [c for c in super().shell_complete(ctx, incomplete) if c.value not in HIDDEN]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """``jit --help`` lists the commands by ``HELP_GROUPS``, without ``HIDDEN`` ones."""
        shown = [n for n in self.list_commands(ctx) if n not in HIDDEN]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(n) for n in shown)
        groups: dict[str, list[tuple[str, str]]] = {g: [] for g in GROUP_ORDER}
        for name in shown:
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            groups.setdefault(HELP_GROUPS.get(name, "Other"), []).append((name, cmd.get_short_help_str(limit)))
        width = max(len(n) for rows in groups.values() for n, _ in rows)  # one column across sections
        for title, rows in groups.items():
            if rows:
                with formatter.section(title):
                    formatter.write_dl([(n.ljust(width), h) for n, h in rows])

    def suggestions(self, ctx: click.Context, name: str) -> list[str]:
        """A mistyped command gets suggestions among the lazily loaded ones too, and the aliases,
        without loading them: ``jit statu`` -> "Did you mean 'status'?"."""
        import difflib

        close = difflib.get_close_matches(name, [n for n in self.list_commands(ctx) if n not in HIDDEN]
                                          + list(self.aliases))
        # an alias stands for its command: 'doctr' suggests 'doctor' or 'doc', not also 'document'
        return [c for c in close if self.aliases.get(c) not in close]


#: the sections of ``jit --help``, in order; a command not in ``HELP_GROUPS`` lands in "Other"
GROUP_ORDER = ["Work", "Gates & deps", "Share", "Inspect", "Agents", "Setup", "Other"]
#: the section of ``jit --help`` each command is listed in (a new command: one line here)
HELP_GROUPS = {
    "issue": "Work", "query": "Work", "status": "Work",
    "dep": "Gates & deps", "gate": "Gates & deps", "registry": "Gates & deps",
    "push": "Share", "pull": "Share", "sync": "Share", "remote": "Share", "import": "Share", "export": "Share",
    "graph": "Inspect", "events": "Inspect", "doctor": "Inspect", "schema": "Inspect",
    "dispatch": "Agents", "coordinator": "Agents",
    "init": "Setup", "config": "Setup", "hooks": "Setup", "trust": "Setup", "index": "Setup", "demo": "Setup",
    "completion": "Setup", "man": "Setup",
    "doc": "Work", "snapshot": "Share", "validate": "Inspect", "prime": "Agents", "setup": "Agents",
    "serve": "Inspect", "mcp": "Agents",
}
#: commands that work but are not listed in ``jit --help``: what git and the hook shims call, and aliases
HIDDEN = {"merge-driver", "hook", "fsck", "document"}



@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="jit")
@click.option("--repo", metavar="PATH", shell_complete=lambda _c, _p, inc: [CompletionItem(inc, type="dir")],
              help="Repository to use (default: found from the current directory; env JIT_REPO).")
@click.option("--by", "actor", metavar="ACTOR", help="Who is acting (env JIT_ACTOR; default: git user.name <user.email>).")
@click.option("--json", "json_", is_flag=True, help="JSON output for every command.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the essential value (e.g. a new issue's id).")
@click.option("--schema", is_flag=True, is_eager=True, expose_value=False, callback=lambda c, p, v: _schema(c, v),
              help="Print what 'jit schema --json' prints (every schema's name, kind, description) and exit.")
@click.option("--no-color", "no_color", is_flag=True,
              help="No colour, even on a terminal (also: env NO_COLOR; FORCE_COLOR colours a pipe).")
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


def _schema(ctx: click.Context, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from .schema import print_catalog

        print_catalog()
        ctx.exit(0)


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
        # a shell completion (gitjit/cli/complete.py) of jit, or of git-jit asked by its own name
        var = "_GIT_JIT_COMPLETE" if "_GIT_JIT_COMPLETE" in os.environ else "_JIT_COMPLETE"
        if os.environ.get(var, "").startswith("fish"):
            from .complete import register

            register()  # fish's protocol, the same with every click allowed
        e = use_env(Env())
        e.no_color = "--no-color" in args  # for an error click reports before the root option is seen
        rv = cli.main(args=args, prog_name="jit", complete_var=var, standalone_mode=False, obj=e)
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
