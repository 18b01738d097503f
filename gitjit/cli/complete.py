"""Shell completion for bash, zsh and fish: ``jit completion SHELL`` prints the script.

The scripts are click's (``_JIT_COMPLETE=bash_complete jit`` answers with the candidates for the
words in ``COMP_WORDS``/``COMP_CWORD``), registered for ``jit`` and ``git-jit`` both, plus what
each shell's own git completion needs for ``git jit <TAB>``: bash's calls ``_git_jit``, zsh's
``_git-jit``, and fish's completes ``git-jit`` with the words after ``git jit``.

Besides commands and options, arguments and options are completed by their name (``COMPLETERS``,
applied to every command as it loads during a completion, so a new command with an ``issue_id``
argument completes ids without a line of its own): issue ids and assignees from the index
(no pygit2: gitjit/app/reader.py; nothing when the index cannot answer at once), states with
their aliases, priorities.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem, FishComplete, add_completion_class, get_completion_class

from ..core.model import _STATE_ALIASES, Priority, State

__all__ = ["COMPLETERS", "Fish", "attach", "completion", "register", "script"]

SHELLS = ["bash", "zsh", "fish"]


def _repo(ctx: click.Context) -> str | None:
    return ctx.find_root().params.get("repo") or os.environ.get("JIT_REPO") or None


def _listing(ctx: click.Context) -> list[dict[str, Any]]:
    """Every issue in the index as it stands, or nothing (a completion never waits for a
    rebuild, never loads pygit2, never fails)."""
    try:
        from ..app.reader import open_reader

        reader = open_reader(_repo(ctx))
        if reader is None:
            return []
        with reader:
            return list(reader.list_issues()["issues"])
    except Exception:  # noqa: BLE001 - a completion offers less rather than printing a traceback
        return []


def issue_ids(ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    issues = [i for i in _listing(ctx) if i["id"].startswith(incomplete.lower())]
    shorts = [i["short_id"] for i in issues]
    return [CompletionItem(i["short_id"] if shorts.count(i["short_id"]) == 1 else i["id"],
                           help=f"[{i['state']}] {i['title']}"[:80]) for i in issues]


def assignees(ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    names = sorted({i["assignee"] for i in _listing(ctx) if i.get("assignee")})
    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def states(_ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    out = [CompletionItem(s) for s in State.__members__]
    out += [CompletionItem(a, help=f"alias of {s}") for a, s in _STATE_ALIASES.items()]
    return [c for c in out if c.value.startswith(incomplete.lower())]


def priorities(_ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(p) for p in Priority.__members__ if p.startswith(incomplete.lower())]


def directories(_ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="dir")]  # the shell lists them


def files(_ctx: click.Context, _p: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="file")]


Completer = Callable[[click.Context, click.Parameter, str], list[CompletionItem]]
#: what a parameter of this name completes with (arguments and options alike)
COMPLETERS: dict[str, Completer] = {
    "issue_id": issue_ids, "ids": issue_ids, "from_id": issue_ids, "to_ids": issue_ids, "issue": issue_ids,
    "state": states, "priority": priorities, "assignee": assignees, "assignee_arg": assignees,
    "repo": directories, "file": files, "output": files,
}


def attach(cmd: click.Command) -> click.Command:
    """Give ``cmd``'s parameters (and its subcommands', loaded ones) their completers by name,
    unless they have their own."""
    stack = [cmd]
    while stack:
        c = stack.pop()
        for p in c.params:
            fn = COMPLETERS.get(p.name or "")
            if fn is not None and getattr(p, "_custom_shell_complete", None) is None:
                p._custom_shell_complete = fn
        if isinstance(c, click.Group):
            stack.extend(c.commands.values())
    return cmd


# ----------------------------------------------------------------------------------- the scripts

_BASH_GIT = r'''
complete -o nosort -F _jit_completion git-jit

# git jit <TAB>: git's bash completion calls _git_jit with the whole line in COMP_WORDS
_git_jit() {
    local i=${__git_cmd_idx:-1}
    local COMP_CWORD=$((COMP_CWORD - i))
    local -a COMP_WORDS=("jit" "${COMP_WORDS[@]:i+1}")
    _jit_completion jit
}
'''

_ZSH_GIT = r'''
compdef _jit_completion git-jit

# git jit <TAB>: zsh's git completion calls _git-jit with the words from "jit" on
_git-jit() {
    _jit_completion "$@"
}
'''

class Fish(FishComplete):
    """click's fish protocol as click 8.2.1 and 8.4.2 on speak it (``plain,VALUE<tab>HELP`` lines
    and the script that reads them), the same with every click allowed: 8.4.0 and 8.4.1 changed
    both, and their script does not run in fish (``string split \\n`` came out as a line break).
    The script splits at the first comma only (click's split a help holding one)."""

    source_template = """\
function %(complete_func)s;
    set -l response (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) \
COMP_CWORD=(commandline -t) %(prog_name)s);

    for completion in $response;
        set -l metadata (string split -m 1 "," $completion);

        if test $metadata[1] = "dir";
            __fish_complete_directories $metadata[2];
        else if test $metadata[1] = "file";
            __fish_complete_path $metadata[2];
        else if test $metadata[1] = "plain";
            echo $metadata[2];
        end;
    end;
end;

complete --no-files --command %(prog_name)s --arguments \
"(%(complete_func)s)";
"""

    def format_completion(self, item: CompletionItem) -> str:
        if item.help:  # one line each: a line break or a tab in the help would start another field
            return f"{item.type},{item.value}\t{' '.join(item.help.split())}"
        return f"{item.type},{item.value}"


def register() -> None:
    """Answer ``_JIT_COMPLETE=fish_complete`` with ``Fish`` (before click's run)."""
    add_completion_class(Fish, "fish")


_FISH_GIT = r'''
complete --no-files --command git-jit --arguments "(_jit_completion)";
# git jit <TAB>: complete "jit" with the words after "git jit"
complete --no-files --command git --condition "__fish_seen_subcommand_from jit" \
    --arguments "(env _JIT_COMPLETE=fish_complete COMP_WORDS=(commandline -cp | string replace -r '^\s*git\s+(.*\s)?jit\b' 'jit') COMP_CWORD=(commandline -t) jit | string replace -r '^plain,' '' | string match -v -r '^(dir|file),')";
'''


def script(shell: str, cli: click.Command) -> str:
    """The completion script for ``shell`` (bash, zsh or fish) of the root command ``cli``."""
    cls = Fish if shell == "fish" else get_completion_class(shell)
    if cls is None:  # pragma: no cover - the command's Choice allows only the known shells
        raise click.BadParameter(f"no completion for {shell!r}")
    src = cls(cli, {}, "jit", "_JIT_COMPLETE").source()
    return src.rstrip("\n") + "\n" + {"bash": _BASH_GIT, "zsh": _ZSH_GIT, "fish": _FISH_GIT}[shell]


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the shell completion script for SHELL (bash, zsh or fish): commands, options,
    states, priorities, assignees and issue ids complete, for 'jit', 'git-jit' and 'git jit'.

    \b
    Example:
      eval "$(jit completion bash)"     # in ~/.bashrc
      eval "$(jit completion zsh)"      # in ~/.zshrc, after compinit
      jit completion fish | source      # in ~/.config/fish/config.fish
    """
    click.echo(script(shell, click.get_current_context().find_root().command), nl=False)
