"""The worked sessions of docs/agents.md run for real: examples/agent_session_cli.sh (with `jit` on
PATH, as tests/test_examples.py runs the seed scripts) and examples/agent_session_library.py (with
this interpreter and this checkout), each in a fresh repository; the outcome is checked through
`jit ... --json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, make_repo, run_jit
from test_examples import jit_bin_dir  # noqa: F401 - the fixture

EXAMPLES = ROOT / "examples"


def _issues(repo: Path) -> dict[str, dict]:
    r = run_jit("query", "all", "--json", cwd=repo)
    assert r.returncode == 0, r.stderr
    return {i["title"]: i for i in json.loads(r.stdout)["issues"]}


@pytest.mark.slow
def test_cli_session(tmp_path: Path, jit_bin_dir: str) -> None:  # noqa: F811
    repo = make_repo(tmp_path / "project")
    env = {**os.environ, "PATH": jit_bin_dir + os.pathsep + os.environ.get("PATH", "")}
    r = subprocess.run([str(EXAMPLES / "agent_session_cli.sh")], check=False, cwd=repo, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.count("# gitjit: issues live on refs/jit/*") == 2
    assert "Ready: 2 issues:" in r.stdout and "no high-priority work left: stopping" in r.stdout
    issues = _issues(repo)
    parser, importer = issues["Implement the parser"], issues["Port the old importer"]
    assert parser["state"] == "done" and parser["assignee"] == "agent:worker-1"
    assert {g["key"]: g["status"] for g in parser["gates"]} == {"tests": "passed", "review": "passed"}
    assert importer["state"] == "ready" and importer["assignee"] is None
    evs = json.loads(run_jit("events", "query", "--issue", importer["id"], "--json", cwd=repo).stdout)
    assert any(e["type"] == "issue_released" and "credentials" in e.get("reason", "") for e in evs)


@pytest.mark.slow
def test_library_session(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run([sys.executable, str(EXAMPLES / "agent_session_library.py"), str(repo)], check=False, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "not yet: cannot move" in r.stdout and "no high-priority work left: stopping" in r.stdout
    issues = _issues(repo)
    assert issues["Implement the parser"]["state"] == "done"
    assert issues["Document the parser"]["state"] == "ready"
    assert issues["Document the parser"]["assignee"] is None
