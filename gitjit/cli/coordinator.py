"""``jit coordinator init-config|start|stop|status|agents``: seeds 002 and 004 as written.

The Rust jit's built-in coordinator became ``jit-dispatch`` (seed 001), so each of these runs the
matching ``jit-dispatch`` command, after a one-line note on stderr saying which. ``start`` runs the
dispatcher in the background (``--detach``), as the seeds' daemon did: their next lines run while
it works. ``init-config`` keeps a configuration that exists already, so a seed that runs it twice
still works. Any further arguments go to the ``jit-dispatch`` command.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from .core import Group, env

__all__ = ["COMMANDS", "coordinator"]

#: seed command -> (jit-dispatch arguments, what the seeds used it for)
COMMANDS: dict[str, tuple[list[str], str]] = {
    "init-config": (["init-config"], "Write dispatch.toml (the seeds' .jit/coordinator.json), keeping one that exists."),
    "start": (["start", "--detach"], "Start the dispatcher in the background (the seeds' coordinator daemon)."),
    "stop": (["stop"], "Stop the dispatcher started with 'jit coordinator start'."),
    "status": (["status"], "Whether the dispatcher runs, and what each agent is doing."),
    "agents": (["agents"], "Which issues each agent holds."),
}


@click.group(cls=Group)
def coordinator() -> None:
    """Seed 002/004's coordinator commands: each runs the matching jit-dispatch command.

    The coordinator became jit-dispatch (seed 001; docs/dispatch.md).

    \b
    Example:
      jit coordinator init-config    # jit-dispatch init-config
      jit coordinator start          # jit-dispatch start --detach
      jit coordinator status         # jit-dispatch status
      jit coordinator agents         # jit-dispatch agents
      jit coordinator stop           # jit-dispatch stop
    """


def _run(name: str, extra: tuple[str, ...]) -> int:
    from .dispatch import main as dispatch_main

    mapped, _ = COMMANDS[name]
    e = env()
    front: list[str] = []
    if e.repo:
        front += ["--repo", e.repo]
    if e.json:
        front.append("--json")
    shown = " ".join(mapped + list(extra))
    click.echo(f"note: 'jit coordinator {name}' runs 'jit-dispatch {shown}' (the coordinator became "
               "jit-dispatch: docs/dispatch.md)", err=True)
    if name == "init-config" and "--force" not in extra:
        kept = _kept_config(extra)
        if kept is not None:
            return kept
    return dispatch_main(front + mapped + list(extra))


def _kept_config(extra: tuple[str, ...]) -> int | None:
    """``init-config`` when the configuration exists: keep it and say so (0), or None to write one."""
    path = os.environ.get("JIT_DISPATCH_CONFIG") or "dispatch.toml"
    for i, a in enumerate(extra):
        if a in ("-c", "--config") and i + 1 < len(extra):
            path = extra[i + 1]
        elif a.startswith("--config="):
            path = a.partition("=")[2]
    p = Path(path)
    if not p.exists():
        return None
    from ..dispatch.config import load_config
    from .core import emit

    e = env()
    e.json = e.json or "--json" in extra  # the arguments meant for jit-dispatch: its output options
    e.quiet = e.quiet or "-q" in extra or "--quiet" in extra
    cfg = load_config(p, default_repo=e.repo)
    emit({"config": str(p), "id": cfg.id, "repos": [r.name for r in cfg.repos]},
         f"Kept {p} (dispatcher id {cfg.id}): it exists already; 'jit-dispatch init-config --force' writes a "
         "fresh one", quiet=str(p))
    return 0


def _command(name: str) -> click.Command:
    mapped, what = COMMANDS[name]

    @click.command(name, context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def cmd(args: tuple[str, ...]) -> int:
        return _run(name, args)

    cmd.help = (f"{what}\n\nRuns 'jit-dispatch {' '.join(mapped)}' (further arguments go to it).\n\n"
                f"\b\nExample:\n  jit coordinator {name}")
    return cmd


for _name in COMMANDS:
    coordinator.add_command(_command(_name))
