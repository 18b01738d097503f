"""``jit --help`` for people: every option has help text, the commands are grouped, internal
commands and aliases are hidden (and still work), and a mistyped command gets a suggestion."""

from __future__ import annotations

import json

import click
import pytest
from conftest import Jit
from test_docs_cli import COMMANDS, NAMES

from gitjit.cli import cli
from gitjit.cli.root import GROUP_ORDER, HELP_GROUPS, HIDDEN


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=NAMES)
def test_every_option_and_command_has_help(path: tuple[str, ...], cmd: click.Command) -> None:
    assert (cmd.help or "").strip(), f"'jit {' '.join(path)}' has no help"
    for p in cmd.params:
        if isinstance(p, click.Option) and not p.hidden:
            assert (p.help or "").strip(), f"'jit {' '.join(path)}' option {'/'.join(p.opts)} has no help"


def test_every_listed_command_is_in_a_group_or_hidden() -> None:
    names = cli.list_commands(click.Context(cli, info_name="jit"))
    loose = [n for n in names if n not in HIDDEN and n not in HELP_GROUPS]
    assert not loose, f"add these to HELP_GROUPS in gitjit/cli/root.py: {loose}"
    assert set(HELP_GROUPS.values()) <= set(GROUP_ORDER)


def test_root_help_is_grouped_and_hides_internal_commands(jit: Jit) -> None:
    out = jit("--help").stdout
    sections = [line[:-1] for line in out.splitlines() if line and not line.startswith(" ") and line.endswith(":")]
    assert "Options" in sections and "Commands" not in sections
    assert [s for s in sections if s in GROUP_ORDER] == [g for g in GROUP_ORDER if g in sections]
    assert {"Work", "Gates & deps", "Share", "Inspect", "Setup"} <= set(sections)
    listed = {line.split()[0] for line in out.split("Options:", 1)[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ") and not line.strip().startswith("-")}
    assert not listed & {"merge-driver", "hook", "fsck"}
    assert {"issue", "query", "doctor", "hooks", "push"} <= listed
    # one column for the command names across the sections
    starts = {line.index(line.split()[1]) for line in out.split("Work:", 1)[1].splitlines()
              if line.startswith("  ") and len(line.split()) > 1 and not line.startswith("   ")}
    assert len(starts) == 1


def test_hidden_commands_still_work(jit: Jit) -> None:
    assert jit("fsck", "--json").exit_code == 0
    assert jit("hook", "--help").exit_code == 0
    assert jit("merge-driver", "--help").exit_code == 0


@pytest.mark.parametrize("typo, want", [("statu", "status"), ("isue", "issue"), ("lis", "list"),
                                        ("doctr", "doctor")])
def test_top_level_typo_gets_a_suggestion(jit: Jit, typo: str, want: str) -> None:
    r = jit(typo)
    assert r.exit_code == 2
    # the closest command first; more may follow as the command list grows ('doctr': 'doctor' or 'doc')
    assert f"error: No such command '{typo}'. Did you mean '{want}'" in r.stderr
    suggested = r.stderr.split("Did you mean ", 1)[1].split("?", 1)[0].split(" or ")
    assert len(suggested) == len(set(suggested)) <= 3
    r = jit(typo, "--json")
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "INVALID_ARGUMENT" and f"Did you mean '{want}'" in err["message"]


def test_typo_far_from_everything_gets_no_suggestion(jit: Jit) -> None:
    r = jit("zzzzqqq")
    assert r.exit_code == 2 and "No such command 'zzzzqqq'." in r.stderr and "Did you mean" not in r.stderr


def test_subcommand_typo_still_suggests(jit: Jit) -> None:
    r = jit("issue", "updat")
    assert r.exit_code == 2 and "Did you mean 'update'?" in r.stderr
