"""``jit hooks install|uninstall|status`` and ``jit hook run`` (what the installed shims call)."""

from __future__ import annotations

import os
import shutil
from typing import Any

import click

from .actions import acts
from .core import Group, emit, env, output_options, split_commas


def _git(ctx_env: Any) -> Any:
    from ..git import open_repo

    return open_repo(ctx_env.repo)


@click.group(cls=Group)
def hooks() -> None:
    """Install, remove and inspect gitjit's git hooks (docs/hooks.md).

    \b
    Example:
      jit hooks install
      jit hooks status --json
    """


@hooks.command()
@click.option("--hooks", "names", multiple=True, metavar="A,B",
              help="Only these hooks (default: pre-commit, commit-msg, post-commit, pre-push, post-merge, "
                   "post-checkout, post-rewrite).")
@click.option("--hooks-path", is_flag=True,
              help="Install into the directory core.hooksPath names (husky, a shared hooks folder) "
                   "instead of refusing.")
@output_options
def install(names: tuple[str, ...], hooks_path: bool) -> None:
    """Install the hook shims into the git common dir (covers linked worktrees); idempotent.

    A hook already there is kept as <hook>.legacy and still runs; 'jit hooks uninstall' restores it.

    \b
    Example:
      jit hooks install
      jit hooks install --hooks commit-msg,post-commit
    """
    from ..app import hooks as h

    data = h.install(_git(env()), hooks=split_commas(names) or None, hooks_path=hooks_path)

    def human() -> None:
        for r in data["hooks"]:
            kept = f" (kept the existing hook as {os.path.basename(r['legacy'])})" if r["legacy"] else ""
            click.echo(f"{r['action']:<9} {r['path']}{kept}")
        for w in data["warnings"]:
            click.echo(f"warning: {w}", err=True)

    emit(data, human, quiet=data["hooks_dir"])


@hooks.command()
@click.option("--hooks", "names", multiple=True, metavar="A,B", help="Only these hooks (default: all).")
@output_options
def uninstall(names: tuple[str, ...]) -> None:
    """Remove gitjit's hook shims and put back the hooks they had kept as <hook>.legacy.

    \b
    Example:
      jit hooks uninstall
    """
    from ..app import hooks as h

    data = h.uninstall(_git(env()), hooks=split_commas(names) or None)

    def human() -> None:
        if not data["hooks"]:
            click.echo("No gitjit hooks installed.")
        for r in data["hooks"]:
            note = {"foreign": "left in place (not gitjit's)", "restored": "removed; previous hook restored"}
            click.echo(f"{r['name']:<14} {note.get(r['action'], r['action'])}  {r['path']}")

    emit(data, human)


@hooks.command()
@click.option("--clear", is_flag=True, help="Empty the hooks problem log after showing it.")
@output_options
def status(clear: bool) -> None:
    """Which hooks are installed where, whether git runs them, the main branch, and recent problems.

    \b
    Example:
      jit hooks status --json
    """
    from ..app import hooks as h

    git = _git(env())
    data = h.status(git)
    data["jit_on_path"] = shutil.which("jit") is not None
    if clear:
        h.clear_log(git)

    def human() -> None:
        click.echo(f"hooks dir:   {data['hooks_dir']}"
                   + (f"  (core.hooksPath={data['core_hooks_path']})" if data["core_hooks_path"] else ""))
        click.echo(f"main branch: {data['main_branch']}"
                   + ("" if data["main_branch_exists"] else "  (no such branch yet; set: jit config set main-branch NAME)"))
        if not data["initialized"]:
            click.echo("jit is not initialized here: the hooks do nothing until 'jit init'")
        for r in data["hooks"]:
            legacy = f"  + chained {os.path.basename(r['legacy'])}" if r["legacy"] else ""
            click.echo(f"  {r['name']:<14} {r['state']}{legacy}")
        for p in data["inactive_shims"]:
            click.echo(f"inactive: {p} (git runs hooks from core.hooksPath instead)")
        if data["inactive_shims"] or (data["core_hooks_path"] and not data["installed"]):
            click.echo("hint: jit hooks install --hooks-path, or call 'jit hook run <hook> -- \"$@\"' from your "
                       "hook manager (docs/hooks.md)")
        for i in data["interpreters"]:
            if i["works"]:
                click.echo(f"runs:        {i['python']} -m gitjit")
            else:
                click.echo(f"warning: the shims run {i['python']}, which is gone or has lost its gitjit: they "
                           "fall back to 'jit' on PATH, then 'python3 -m gitjit'")
                click.echo("hint: run 'jit hooks install' from the environment gitjit is installed in")
        if not data["interpreters"] and not data["jit_on_path"]:
            click.echo("note: 'jit' is not on PATH; the shims fall back to 'python3 -m gitjit'")
        for r in data["remotes"]:
            if not r["refspec"]:
                click.echo(f"warning: 'git fetch'/'git pull' from {r['remote']} do not bring its jit refs, so issues "
                           f"created elsewhere never arrive that way; fix: {r['fix']}")
        if data["problems"]:
            click.echo(f"\nRecent problems ({data['problem_count']} in {data['log']}):")
            for line in data["problems"]:
                click.echo(f"  {line}")
        else:
            click.echo("No problems logged.")

    emit(data, human, quiet=str(data["installed"]))


@click.group(cls=Group)
def hook() -> None:
    """Run one hook's logic (the installed shims call this; hook managers can too).

    \b
    Example:
      jit hook run commit-msg -- .git/COMMIT_EDITMSG
    """


@hook.command("run", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.option("--pre-commit-framework", "framework", is_flag=True,
              help="Called by the pre-commit framework: take git's hook arguments from its PRE_COMMIT_* "
                   "variables; the framework chains other hooks itself.")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@acts("hook_run")
def run(name: str, framework: bool, args: tuple[str, ...]) -> None:  # the body is hook_run's (@acts)
    """Run hook NAME with git's hook arguments (after --); returns the status git should see.

    \b
    Example (what .git/hooks/commit-msg does):
      jit hook run commit-msg -- .git/COMMIT_EDITMSG
    """