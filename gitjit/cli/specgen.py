"""Write gitjit/cli/spec.py from the click commands: ``python -m gitjit.cli.specgen``.

The pre-dispatch (gitjit/cli/light.py) parses the hot commands without importing click, from a
description of their parameters. That description is not written by hand: this module reads it
off the click command objects (names, option strings, flags, repeats, types, defaults, which
action each command runs) and writes it as a Python literal. tests/test_cli_spec.py fails when
the file and the commands disagree, so a change to a hot command's options cannot leave the
pre-dispatch behind.
"""

from __future__ import annotations

import pprint
import sys
from pathlib import Path
from typing import Any

import click

from .core import _set_json, _set_quiet
from .root import ROOT_ENV, LazyGroup, cli

#: the commands the pre-dispatch takes: the reads agents run most, the three writes every agent
#: makes, and the hook that runs on every commit. Anything else goes to click.
HOT = [
    ("query", "ready"), ("query", "blocked"), ("query", "all"), ("query", "assignee"), ("query", "state"),
    ("query", "priority"), ("issue", "list"), ("issue", "show"), ("issue", "search"), ("status",),
    ("events", "tail"), ("events", "query"), ("graph", "show"), ("issue", "claim"), ("issue", "claim-next"),
    ("issue", "update"), ("hook", "run"), ("prime",),
]

SPEC_FILE = Path(__file__).with_name("spec.py")


def _type(t: click.ParamType) -> Any:
    if isinstance(t, click.Choice):
        return {"choice": list(t.choices), "case_sensitive": t.case_sensitive}
    if isinstance(t, click.IntRange):
        return {"int": [t.min, t.max]}
    if isinstance(t, click.FloatRange):
        return {"float": [t.min, t.max]}
    if t is click.INT:
        return {"int": [None, None]}
    if t is click.FLOAT:
        return {"float": [None, None]}
    if t is click.UNPROCESSED:
        return "raw"
    if t is click.STRING or isinstance(t, click.Path):
        return "str"
    if isinstance(t, click.types.BoolParamType):
        return "bool"
    return "unknown"


def _param(p: click.Parameter) -> dict[str, Any]:
    d: dict[str, Any] = {"name": p.name, "multiple": bool(getattr(p, "multiple", False)), "nargs": p.nargs,
                         "required": p.required, "type": _type(p.type)}
    if isinstance(p, click.Option):
        d.update(kind="option", opts=list(p.opts), secondary=list(p.secondary_opts), flag=bool(p.is_flag))
        default = p.default
        if default is None or type(default).__name__ == "Sentinel":  # click's "no default" (UNSET)
            default = False if p.is_flag else None
        d["default"] = default if isinstance(default, (str, int, float, bool, type(None))) else "unknown"
        if not p.expose_value:
            d["sets"] = {_set_json: "json", _set_quiet: "quiet"}.get(p.callback, "unknown")  # type: ignore[arg-type]
        elif p.callback is not None:
            d["sets"] = "unknown"
    else:
        d.update(kind="argument")
    return d


def build() -> dict[str, Any]:
    ctx = click.Context(cli, info_name="jit", **cli.context_settings)
    root = [_param(p) for p in cli.params if p.name in ROOT_ENV]
    commands: dict[str, Any] = {}
    for path in HOT:
        cmd: Any = cli
        c = ctx
        for word in path:
            cmd = cmd.get_command(c, word)
            c = click.Context(cmd, info_name=word, parent=c)
        action, fixed = cmd.callback.__gitjit_action__
        commands[" ".join(path)] = {
            "action": action, "fixed": dict(fixed), "params": [_param(p) for p in cmd.params],
            "ignore_unknown_options": bool(cmd.context_settings.get("ignore_unknown_options")),
        }
    version = next(p for p in cli.params if p.name == "version")
    return {
        "root": root, "root_env": dict(ROOT_ENV), "aliases": dict(LazyGroup.aliases),
        "version_opts": list(version.opts), "help_opts": list(ctx.help_option_names), "commands": commands,
    }


def render(spec: dict[str, Any]) -> str:
    return ('"""The hot commands\' parameters, for the pre-dispatch (gitjit/cli/light.py). GENERATED from the\n'
            'click commands by ``python -m gitjit.cli.specgen``; do not edit (tests/test_cli_spec.py checks it)."""\n\n'
            "from typing import Any\n\n"
            f"SPEC: dict[str, Any] = {pprint.pformat(spec, width=110, sort_dicts=True)}\n")


def main() -> int:
    SPEC_FILE.write_text(render(build()))
    print(f"wrote {SPEC_FILE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
