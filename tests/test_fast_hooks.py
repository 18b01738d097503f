"""`jit hook run NAME -- ARGS` (what the installed shims exec on every commit) starts without click."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import git


def test_hook_run_takes_the_light_path_and_behaves_like_the_full_cli(tracker, repo: Path) -> None:  # type: ignore[no-untyped-def]
    iid = tracker.create_issue("linked")["id"]
    msg = repo / "MSG"
    code = ("import sys; from gitjit.cli.fast import main; rc = main(sys.argv[1:]);"
            "print(rc, sorted({'click', 'gitjit.cli'} & set(sys.modules)))")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", code, *args], cwd=repo, capture_output=True, text=True)

    msg.write_text(f"Fix it\n\nRefs: {iid[:6]}\n")
    r = run("hook", "run", "commit-msg", "--", str(msg))
    assert r.stdout.strip() == "0 []", (r.stdout, r.stderr)
    msg.write_text("Fix it\n\nRefs: ffffffffffff\n")
    r = run("hook", "run", "commit-msg", "--", str(msg))
    assert r.stdout.strip() == "1 []" and "ffffffffffff" in r.stderr  # an unknown id stops the commit
    # any other shape goes to the full CLI
    r = run("hook", "run", "--help")
    assert r.stdout.strip().endswith("['click', 'gitjit.cli']")
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=repo)
