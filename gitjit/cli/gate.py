"""``jit registry …`` (gate definitions) and ``jit gate …`` (gates on issues)."""

from __future__ import annotations

import click

from .core import Group, emit, env, output_options, split_commas


@click.group(cls=Group)
def registry() -> None:
    """Gate definitions shared through the repository (checker commands stay local).

    \b
    Example:
      jit registry add unit-tests --title "Unit Tests" --auto --command "pytest -q"
    """


@registry.command()
@click.argument("key")
@click.option("-t", "--title", required=True, help="One-line title of the gate.")
@click.option("-d", "--desc", "--description", "desc", default="", help="What the gate checks.")
@click.option("-a", "--auto", "mode", flag_value="auto", help="Checked by a command.")
@click.option("--manual", "mode", flag_value="manual", default=True, help="Attested by a person or agent (default).")
@click.option("--stage", type=click.Choice(["precheck", "postcheck"]), default="postcheck", show_default=True,
              help="precheck gates block starting; postcheck gates block done.")
@click.option("--command", "command", help="Checker command, kept in this clone's git config only.")
@output_options
def add(key: str, title: str, desc: str, mode: str, stage: str, command: str | None) -> None:
    """Define gate KEY.

    \b
    Example:
      jit registry add unit-tests --title "Unit Tests" --auto --command "pytest -q"
      jit registry add review --title "Code Review"
    """
    data = env().tracker.registry_add(key, title=title, description=desc, mode=mode, stage=stage, command=command)
    emit(data, f"Defined gate {key} ({data['mode']}, {data['stage']})", quiet=key)


@registry.command("list")
@output_options
def list_() -> None:
    """List gate definitions.

    \b
    Example:
      jit registry list --json
    """
    data = env().tracker.registry_list()

    def human() -> None:
        if not data["gates"]:
            click.echo("No gates defined.")
        for g in data["gates"]:
            cmd = f"  [{g['command']}]" if g["command"] else ""
            if g["command"] and not g.get("command_trusted"):
                cmd += " (jit.toml not trusted here: see 'jit trust')"
            click.echo(f"{g['key']:<20} {g['mode']:<7} {g['stage']:<10} {g['title']}{cmd}")

    emit(data, human, quiet="\n".join(g["key"] for g in data["gates"]))


@registry.command()
@click.argument("key")
@output_options
def show(key: str) -> None:
    """Show one gate definition and where its checker command comes from.

    \b
    Example:
      jit registry show unit-tests
    """
    data = env().tracker.registry_show(key)
    emit(data, "\n".join(f"{k}: {v}" for k, v in data.items()), quiet=key)


@registry.command()
@click.argument("key")
@output_options
def remove(key: str) -> None:
    """Remove gate KEY's definition (issues that require it keep the requirement).

    \b
    Example:
      jit registry remove unit-tests
    """
    data = env().tracker.registry_remove(key)
    emit(data, f"Removed gate {key}", quiet=key)


@click.group(cls=Group)
def gate() -> None:
    """Gates required by issues: define (the registry), add, pass, fail, run.

    \b
    Example:
      jit gate pass 3f1c review --by human:tech-lead
    """


@gate.command("define")
@click.argument("key")
@click.option("-t", "--title", required=True, help="One-line title of the gate.")
@click.option("-d", "--description", "--desc", "desc", default="", help="What passing it means.")
@click.option("--stage", type=click.Choice(["precheck", "postcheck"]), default="postcheck", show_default=True,
              help="precheck gates block starting; postcheck gates block done.")
@click.option("-m", "--mode", type=click.Choice(["manual", "auto"]), default=None,
              help="manual: attested by a person or agent (default); auto: checked by a command.")
@click.option("--auto", "auto", is_flag=True, help="Same as --mode auto.")
@click.option("--checker-command", "--command", "command",
              help="Checker command, kept in this clone's git config only (as registry add --command).")
@output_options
def gate_define(key: str, title: str, desc: str, stage: str, mode: str | None, auto: bool,
                command: str | None) -> None:
    """Define gate KEY in the registry: the seed's name for 'jit registry add', same effect.

    \b
    Example:
      jit gate define tests -t "Unit tests" --auto --checker-command "pytest -q"
      jit gate define review -t "Code review" -d "A second pair of eyes"
    """
    from ..core.errors import UsageError

    if auto and mode == "manual":
        raise UsageError("--auto and --mode manual contradict each other", hint="give one of them")
    m = "auto" if auto else (mode or "manual")
    data = env().tracker.registry_add(key, title=title, description=desc, mode=m, stage=stage, command=command)
    emit(data, f"Defined gate {key} ({data['mode']}, {data['stage']})", quiet=key)


@gate.command("add")
@click.argument("issue_id")
@click.argument("keys", nargs=-1, required=True)
@output_options
def gate_add(issue_id: str, keys: tuple[str, ...]) -> None:
    """Require gates on an issue.

    \b
    Example:
      jit gate add 3f1c unit-tests review
    """
    data = env().tracker.gate_add(issue_id, split_commas(keys))
    emit(data, f"Issue {data['issue_id'][:8]} requires {', '.join(data['added']) or 'nothing new'}",
         quiet=data["issue_id"])


@gate.command("remove")
@click.argument("issue_id")
@click.argument("key")
@output_options
def gate_remove(issue_id: str, key: str) -> None:
    """Stop requiring a gate on an issue.

    \b
    Example:
      jit gate remove 3f1c review
    """
    data = env().tracker.gate_remove(issue_id, key)
    emit(data, f"Issue {data['issue_id'][:8]} no longer requires {key}", quiet=data["issue_id"])


def _gate_set(issue_id: str, key: str, passed: bool, by: str | None, reason: str | None) -> None:
    data = env().tracker.gate_set(issue_id, key, passed, by=by, reason=reason)
    emit(data, f"Gate {key} {data['status']} on {data['issue_id'][:8]} by {data['by']}", quiet=data["status"])


@gate.command("pass")
@click.argument("issue_id")
@click.argument("key")
@click.option("-b", "--by", "by", help="Who attests the pass (default: the acting identity).")
@output_options
def gate_pass(issue_id: str, key: str, by: str | None) -> None:
    """Record that gate KEY passed on an issue.

    \b
    Example:
      jit gate pass 3f1c review --by human:tech-lead
    """
    _gate_set(issue_id, key, True, by, None)


@gate.command("fail")
@click.argument("issue_id")
@click.argument("key")
@click.option("-b", "--by", "by", help="Who or what checked (default: the acting actor).")
@click.option("--reason", help="Why it failed (shown to whoever picks the issue up).")
@output_options
def gate_fail(issue_id: str, key: str, by: str | None, reason: str | None) -> None:
    """Record that gate KEY failed on an issue.

    \b
    Example:
      jit gate fail 3f1c unit-tests --by ci:github-actions --reason "2 tests failed"
    """
    _gate_set(issue_id, key, False, by, reason)


@gate.command("run")
@click.argument("issue_id")
@click.argument("key")
@click.option("-b", "--by", "by", help="Who or what checked (default: the acting actor).")
@click.option("--timeout", type=float, default=600, show_default=True,
              help="Seconds the checker may run before it counts as failed.")
@output_options
def gate_run(issue_id: str, key: str, by: str | None, timeout: float) -> None:
    """Run gate KEY's checker command (local configuration only) and record the result.

    \b
    Example:
      jit gate run 3f1c unit-tests
    """
    from ..core.errors import BlockedError

    e = env()
    try:
        data = e.tracker.gate_run(issue_id, key, by=by, timeout=timeout)
    except BlockedError as err:  # the checker failed: what it printed comes before the error
        if not e.json and not e.quiet:
            e.flush_warnings()
            _checker_output(err.details)
        raise

    def human() -> None:
        _checker_output(data)
        click.echo(f"Gate {key} passed on {data['issue_id'][:8]}")

    emit(data, human, quiet=data["status"])


def _checker_output(d: dict[str, object]) -> None:
    """What the checker printed (the last 4,000 characters of each stream), on stderr: under
    ``--json`` it is in the output's ``stdout``/``stderr`` (``error.details`` when it failed)."""
    if "exit_code" not in d:
        return  # it did not run (timed out): nothing was captured
    out = [str(d.get(k) or "") for k in ("stdout", "stderr")]
    lines = [line for text in out for line in text.splitlines()]
    click.echo(f"jit: {d.get('command')} exited {d.get('exit_code')}" + (":" if lines else " (no output)"),
               err=True)
    for line in lines:
        click.echo(f"  | {line}", err=True)
