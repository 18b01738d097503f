"""A pushed jit.toml plus a forged claim must not run code on another machine (issue 31, item 14).

The attack, with the real git binary, a hub and two clones: someone with push access defines an
auto gate, creates an issue that requires it and claims it in the victim's name, and commits a
jit.toml whose command for that gate is ``touch PWNED``. The victim runs a plain ``git pull``,
then ``git commit``: the pre-commit hook checks the auto gates of the committer's work, and ran the
command. A committed jit.toml now runs nothing until this clone trusts its exact content
(``jit trust``, a sha256 in local git config); a changed file, the user's own edits included,
needs trusting again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo


@pytest.fixture(autouse=True)
def jit_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def clone(tmp_path: Path, hub: Path, name: str) -> tuple[Path, Jit, str]:
    path = tmp_path / name
    git("clone", "-q", str(hub), str(path), cwd=tmp_path)
    git("config", "user.name", f"User {name}", cwd=path)
    git("config", "user.email", f"{name}@example.invalid", cwd=path)
    j = Jit(path, actor=f"User {name} <{name}@example.invalid>")
    assert j("init", "--remote", "origin").exit_code == 0
    assert j("hooks", "install").exit_code == 0
    return path, j, f"User {name} <{name}@example.invalid>"


def commit(repo: Path, msg: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return git("commit", "-q", "--allow-empty", "-m", msg, *extra, cwd=repo, check=False)


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub = make_repo(tmp_path / "hub.git", bare=True)
    seed = make_repo(tmp_path / "seed")
    (seed / "jit.toml").write_text('[gates.lint]\ncommand = "echo lint ok"\n')  # the team's file
    git("add", "jit.toml", cwd=seed)
    git("commit", "-q", "-m", "root", cwd=seed)
    git("push", "-q", str(hub), "main", cwd=seed)
    a, ja, _ = clone(tmp_path, hub, "mallory")
    b, jb, victim = clone(tmp_path, hub, "victim")
    return hub, a, ja, b, jb, victim


def attack(a: Path, ja: Jit, victim: str) -> str:
    """What the attacker pushes: a gate, an issue claimed in the victim's name, a new jit.toml."""
    assert ja("registry", "add", "lint", "--title", "Lint", "--auto").exit_code == 0
    iid = ja("issue", "create", "-q", "-t", "Looks routine", "--gate", "lint").stdout.strip()
    assert ja("issue", "claim", iid, victim).exit_code == 0
    (a / "jit.toml").write_text('[gates.lint]\ncommand = "touch PWNED"\n')
    git("add", "jit.toml", cwd=a)
    assert commit(a, "tidy lint config").returncode == 0
    push = git("push", "-q", "origin", "main", cwd=a)
    assert "jit: pushed" in push.stderr
    return iid


def test_a_pushed_jit_toml_runs_nothing_until_trusted(world) -> None:  # type: ignore[no-untyped-def]
    hub, a, ja, b, jb, victim = world
    # the victim trusted the team's jit.toml long ago
    r = jb("trust")
    assert r.exit_code == 0 and "echo lint ok" in r.stdout
    iid = attack(a, ja, victim)

    git("pull", "-q", cwd=b)  # plain git: brings the new jit.toml and, through the refspecs, the issue
    assert (b / "jit.toml").read_text() == '[gates.lint]\ncommand = "touch PWNED"\n'
    mine = jb.json("query", "assignee", victim)["issues"]
    assert [i["id"] for i in mine] == [iid]  # the forged claim arrived: the hook will check this issue

    res = commit(b, "my own work")
    assert res.returncode == 0, res.stderr  # not blocked: the command is skipped, not failed
    assert not (b / "PWNED").exists()
    assert (f"jit: gate 'lint' of {iid[:8]}: jit.toml is not trusted in this clone, so the gate's command was "
            "not run: touch PWNED") in res.stderr
    assert "run 'jit trust'" in res.stderr
    gate = jb.json("issue", "show", iid)["gates"][0]
    assert gate["status"] == "pending"  # nothing recorded either way

    # what the victim can see, and the explicit run refused the same way
    st = jb.json("trust", "--show")
    assert st["trusted"] is False and st["commands"] == {"lint": "touch PWNED"}
    r = jb("gate", "run", iid, "lint", "--json")
    assert r.exit_code == 4
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "UNTRUSTED_CONFIG" and err["details"]["command"] == "touch PWNED"
    assert err["details"]["sha256"] == st["sha256"] and "jit trust" in err["hint"]
    assert not (b / "PWNED").exists()
    reg = jb.json("registry", "show", "lint")
    assert (reg["command"], reg["command_source"], reg["command_trusted"]) == ("touch PWNED", "jit.toml", False)
    assert "not trusted" in jb("registry", "list").stdout

    # only an explicit decision lets it run
    assert jb("trust").exit_code == 0
    res = commit(b, "after reading jit.toml and deciding to trust it")
    assert res.returncode == 0 and (b / "PWNED").exists()


def test_the_users_own_edit_needs_trust_again(world) -> None:  # type: ignore[no-untyped-def]
    hub, a, ja, b, jb, victim = world
    me = victim
    assert jb("trust").exit_code == 0
    assert jb("registry", "add", "lint", "--title", "Lint", "--auto").exit_code == 0
    iid = jb("issue", "create", "-q", "-t", "Mine", "--gate", "lint").stdout.strip()
    assert jb("issue", "claim", iid, me).exit_code == 0
    res = commit(b, "trusted file: the gate runs")
    assert res.returncode == 0 and "running echo lint ok" in res.stderr and "jit: gate 'lint' passed" in res.stderr

    (b / "jit.toml").write_text('[gates.lint]\ncommand = "touch EDITED"\n')  # uncommitted, by the user
    res = commit(b, "edited")
    assert res.returncode == 0 and not (b / "EDITED").exists() and "not trusted" in res.stderr
    assert jb("trust").exit_code == 0
    res = commit(b, "edited and trusted")
    assert res.returncode == 0 and (b / "EDITED").exists()
    # going back to content trusted before needs nothing new; revoking stops it again
    (b / "jit.toml").write_text('[gates.lint]\ncommand = "echo lint ok"\n')
    assert jb.json("trust", "--show")["trusted"] is True
    r = jb("trust", "--revoke")
    assert r.exit_code == 0 and "No longer trusted" in r.stdout
    assert jb.json("trust", "--show")["trusted"] is False
    # a command in this clone's git config is local configuration: it needs no trust
    git("config", "jit-gate.lint.command", "touch LOCAL", cwd=b)
    assert commit(b, "local command").returncode == 0 and (b / "LOCAL").exists()


def test_trust_refuses_what_it_cannot_trust(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    j = Jit(repo)
    assert j("init").exit_code == 0
    r = j("trust", "--json")
    assert r.exit_code == 3 and json.loads(r.stdout)["error"]["code"] == "NOT_FOUND"
    (repo / "jit.toml").write_text("[gates.lint\ncommand = 1\n")
    r = j("trust")
    assert r.exit_code == 4 and "not valid TOML" in r.stderr and "nothing was trusted" in r.stderr
    assert git("config", "--get-all", "jit.trustedToml", cwd=repo, check=False).stdout == ""
    st = j.json("trust", "--show")
    assert (st["exists"], st["valid"], st["trusted"]) == (True, False, False)
