"""Seeds 002 and 004 call ``jit coordinator init-config|start|stop|status|agents``: each line, as
written, runs the matching jit-dispatch command (a note on stderr says which), in a real shell with
``jit`` on PATH, against a real repository and a real background dispatcher."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import git, make_repo

NOTE = "note: 'jit coordinator {name}' runs 'jit-dispatch {mapped}' (the coordinator became jit-dispatch: " \
       "docs/dispatch.md)\n"


@pytest.fixture
def sh(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run a seed line in a shell, in a jit-initialised repository, with ``jit`` on PATH."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
    (bindir / "jit").chmod(0o755)
    (bindir / "jit-dispatch").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit.cli.dispatch "$@"\n')
    (bindir / "jit-dispatch").chmod(0o755)
    repo = make_repo(tmp_path / "my-project")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    assert subprocess.run(["jit", "init"], cwd=repo, env=env, capture_output=True, check=False).returncode == 0

    def run(line: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["sh", "-c", line], cwd=repo, env=env, capture_output=True, text=True, timeout=120,
                              check=False)

    run.repo = repo  # type: ignore[attr-defined]
    yield run
    run("jit-dispatch stop --release --timeout 30")  # never leave a dispatcher behind


def test_every_coordinator_line_of_the_seeds_runs_its_jit_dispatch_command(sh) -> None:  # type: ignore[no-untyped-def]
    repo: Path = sh.repo
    # seed 002 "Setup" / seed 004 "Quick Start" and "Complete Example Workflow": both run init-config
    first = sh("jit coordinator init-config")
    assert first.returncode == 0, first.stderr
    assert first.stderr == NOTE.format(name="init-config", mapped="init-config")
    assert first.stdout.startswith("Wrote dispatch.toml (dispatcher id ") and (repo / "dispatch.toml").exists()
    before = (repo / "dispatch.toml").read_text()
    again = sh("jit coordinator init-config")
    assert again.returncode == 0 and again.stdout.startswith("Kept dispatch.toml (dispatcher id ")
    assert (repo / "dispatch.toml").read_text() == before

    # an agent that finishes whatever it is given, and a ready issue for it (seed 004, step 3)
    worker = shlex.join(["sh", "-c", 'jit issue update "$JIT_ISSUE_ID" --state done'])
    assert sh(f"jit-dispatch agent add copilot-worker-1 --command {shlex.quote(worker)}").returncode == 0
    iid = sh("jit issue create -q -t 'Create user model'").stdout.strip()
    assert sh(f"jit issue update {iid} --state ready").returncode == 0

    status = sh("jit coordinator status")
    assert status.returncode == 0 and status.stderr == NOTE.format(name="status", mapped="status")
    assert "not running" in status.stdout and "copilot-worker-1" in status.stdout
    agents = sh("jit coordinator agents")
    assert agents.returncode == 0 and agents.stderr == NOTE.format(name="agents", mapped="agents")
    assert agents.stdout.startswith("copilot-worker-1: 0 issue(s)")

    # "jit coordinator start": a daemon, so the seed's next lines run while it dispatches
    started = sh("jit coordinator start")
    assert started.returncode == 0, started.stderr
    assert started.stderr == NOTE.format(name="start", mapped="start --detach")
    assert started.stdout.startswith("Started dispatcher ")
    running = sh("jit coordinator status --json")
    assert json.loads(running.stdout)["running"] is True
    deadline = time.monotonic() + 60
    while json.loads(sh(f"jit issue show {iid} --json").stdout)["state"] != "done":
        assert time.monotonic() < deadline, "the dispatcher did not hand the ready issue to the agent"
        time.sleep(0.2)
    assert sh("jit coordinator agents").returncode == 0

    stopped = sh("jit coordinator stop")
    assert stopped.returncode == 0 and stopped.stdout.startswith("Stopped dispatcher ")
    assert stopped.stderr == NOTE.format(name="stop", mapped="stop")
    assert json.loads(sh("jit coordinator status --json").stdout)["running"] is False
    assert sh("jit coordinator stop").stdout == "No dispatcher is running with this configuration.\n"
    assert git("status", "--porcelain", "--", ".git", cwd=repo).stdout == ""


def test_coordinator_errors_and_options(sh) -> None:  # type: ignore[no-untyped-def]
    bad = sh("jit coordinator frobnicate")
    assert bad.returncode == 2 and "No such command 'frobnicate'" in bad.stderr
    assert "hint: see 'jit coordinator --help'" in bad.stderr
    # without a configuration: jit-dispatch's own error and exit code, after the note
    missing = sh("jit coordinator status")
    assert missing.returncode != 0 and missing.stderr.startswith(NOTE.format(name="status", mapped="status"))
    assert "error: " in missing.stderr
    # --json and --force pass through; -c names another file
    data = json.loads(sh("jit --json coordinator init-config -c other.toml").stdout)
    assert data["config"] == "other.toml" and data["repos"]
    kept = json.loads(sh("jit coordinator init-config --config other.toml --json").stdout)
    assert kept == data
    assert sh("jit coordinator init-config -c other.toml --force").stdout.startswith("Wrote other.toml")
    helped = sh("jit coordinator --help")
    assert helped.returncode == 0 and "jit-dispatch start --detach" in helped.stdout
