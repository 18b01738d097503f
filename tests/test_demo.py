"""`jit demo`: seed 002's story played by real agents (threads, each with its own Tracker) in a
temporary repository, shown and then removed."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import _Main, git

from gitjit.app.demo import DISCOVERY, TASKS, DemoOptions, run_demo
from gitjit.app.tracker import Tracker


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point tempfile (the demo's default location) into tmp_path, to see what it leaves behind."""
    d = tmp_path / "tmp"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def cli(*args: str):  # type: ignore[no-untyped-def]
    from gitjit.cli import main

    return CliRunner().invoke(_Main(main), list(args), catch_exceptions=False)


def test_story_runs_to_the_end(tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    res = run_demo(DemoOptions(keep=True, base_dir=tmp_path, seed=7), log=lambda a, m: lines.append((a, m)))
    repo = Path(res["repository"])
    assert res["kept"] and repo.is_dir()
    story = res["story"]
    tasks, epic, found = story["tasks"], story["epic"], story["discovered"]
    assert set(tasks) == set(TASKS)

    # Everything is done, read back from the kept repository by a fresh Tracker.
    t = Tracker(repo)
    st = t.status()
    assert (st["done"], st["total"], st["in_progress"], st["open"], st["ready"]) == (6, 6, 0, 0, 0)
    assert res["status"]["done"] == 6

    # The discovered task: critical, from the worker on the login task, and the epic waited for it.
    new = t.show(found)
    assert new["title"] == DISCOVERY["title"] and new["priority"] == "critical"
    assert new["context"]["discovered_in"] == tasks["login"]
    assert new["context"]["discovered_by"] in [a for a, done in res["agents"].items() if tasks["login"] in done]
    assert found in t.show(epic)["dependencies"]
    assert t.show(tasks["login"])["context"]["agent_notes"].endswith(found)
    assert sorted(t.show(tasks["e2e"])["dependencies"]) == sorted(tasks[k] for k in ("model", "login", "middleware"))

    # Every task claimed exactly once, and finished by the worker that claimed it.
    evs = t.events()
    claims = Counter(e["issue_id"] for e in evs if e["type"] == "issue_claimed")
    assert claims == Counter({i: 1 for i in [*tasks.values(), found, epic]})
    finished = [i for done in res["agents"].values() for i in done]
    assert sorted(finished) == sorted([*tasks.values(), found])
    assert len([a for a, done in res["agents"].items() if done]) >= 2, res["agents"]
    assert all(a.startswith("copilot:") and "@machine-" in a for a in res["agents"])  # <agent>@<dispatcher>
    claimer = {e["issue_id"]: e["assignee"] for e in evs if e["type"] == "issue_claimed"}
    assert all(claimer[i] == a for a, done in res["agents"].items() for i in done)
    assert claimer[epic] == "copilot:lead"

    # Order: the e2e task starts after its three dependencies finish; the lead claims the epic last.
    pos = {(e["type"], e.get("issue_id")): n for n, e in enumerate(evs)}
    for k in ("model", "login", "middleware"):
        assert pos[("issue_completed", tasks[k])] < pos[("issue_claimed", tasks["e2e"])]
    for i in [*tasks.values(), found]:
        assert pos[("issue_completed", i)] < pos[("issue_claimed", epic)]
    assert any(e["type"] == "issue_state_changed" and e["issue_id"] == epic and e.get("to") == "ready"
               and e.get("derived") for e in evs)
    gates = {(e["issue_id"], e["gate_key"]): e["by"] for e in evs if e["type"] == "gate_passed"}
    assert gates[(found, "security-scan")] == "ci:snyk" and gates[(epic, "review")] == "human:tech-lead"

    # The report carries the graph and the whole timeline; the narration tells the story.
    top = res["graph"]["trees"][0]
    assert top["id"] == epic and {c["id"] for c in top["children"]} == {*tasks.values(), found}
    assert len(res["events"]) == len(evs)
    assert lines[0][0] == "copilot:lead" and lines[-1] == ("copilot:lead", f"finished epic {epic[:8]}")
    assert any("discovered" in m for _, m in lines)

    # git-native: only refs/jit/* were written; no branch, no working-tree file, fsck clean.
    refs = git("for-each-ref", "--format=%(refname)", cwd=repo).stdout.split()
    assert refs and all(r.startswith(("refs/jit/", "refs/jit-remotes/origin/")) for r in refs)
    assert len([r for r in refs if r.startswith("refs/jit/issues/")]) == 6
    assert git("status", "--porcelain", cwd=repo).stdout == ""
    assert git("rev-parse", "--verify", "-q", "HEAD", cwd=repo, check=False).returncode != 0
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0


def test_temp_dir_is_removed_unless_kept(tmp_path: Path) -> None:
    res = run_demo(DemoOptions(base_dir=tmp_path))
    assert res["kept"] is False and res["status"]["done"] == 6
    assert not Path(res["repository"]).exists()
    assert list(tmp_path.iterdir()) == []


def test_temp_dir_is_removed_when_the_story_fails(tmp_path: Path) -> None:
    from gitjit.core.errors import ExternalError

    # the agents cannot finish in 0.2 s: the demo gives up, stops its dispatchers and cleans up
    with pytest.raises(ExternalError, match="did not finish"):
        run_demo(DemoOptions(base_dir=tmp_path, timeout_secs=0.2))
    assert list(tmp_path.iterdir()) == []


def test_cli_human_output(tmpdir_here: Path) -> None:
    r = cli("demo")
    assert r.exit_code == 0, r.output
    out = r.stdout
    for needle in ("== Status ==", "Done: 6", "== Dependency graph", "└── ", "== Event timeline",
                   "issue_claimed", "gate_passed", "copilot:worker-1", "Add rate limiting to login",
                   "open -> ready  (derived)", "The temporary repositories were removed"):
        assert needle in out, needle
    # the narration comes first, the tree is the epic's with its five tasks under it
    assert out.index("finished epic") < out.index("== Status ==")
    tree = out.split("== Dependency graph")[1].split("== Event timeline")[0].strip().splitlines()[1:]
    assert tree[0].endswith("[done] Implement user authentication") and len(tree) == 1 + 5 + 3
    assert list(tmpdir_here.iterdir()) == []


def test_cli_json_and_keep(tmpdir_here: Path) -> None:
    r = cli("demo", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)  # nothing but the JSON on stdout
    assert data["kept"] is False and data["status"]["done"] == 6 and data["events"]
    assert {"repository", "story", "agents", "narration", "status", "graph", "events", "elapsed_secs"} <= set(data)
    assert list(tmpdir_here.iterdir()) == []

    r = cli("demo", "--keep", "-q", "--workers", "2")
    assert r.exit_code == 0, r.output
    repo = Path(r.stdout.strip())
    assert repo.is_dir() and repo.parent.parent == tmpdir_here
    r = cli("--repo", str(repo), "query", "state", "done", "--json")
    assert json.loads(r.stdout)["count"] == 6


def test_real_process_finishes_quickly_and_leaves_nothing(tmp_path: Path) -> None:
    import os
    import time

    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "gitjit", "demo"], cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "TMPDIR": str(tmp_path)}, timeout=120)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert time.monotonic() - t0 < 30
    assert "Done: 6" in p.stdout and p.stderr == ""
    assert list(tmp_path.iterdir()) == []
