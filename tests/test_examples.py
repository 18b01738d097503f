"""The seed workflows under examples/ run as real processes against a fresh repository.

Each script is executed the way a user runs it (its own shebang, in the repository's
directory, `jit` found on PATH) and the outcome is checked through `jit ... --json`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, make_repo, run_jit

EXAMPLES = ROOT / "examples"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def jit_bin_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A directory holding a `jit` for the interpreter running the tests.

    The console script installed next to this interpreter comes first (so a stray `jit` of
    another installation earlier on PATH is not the one tested); then any `jit` on PATH; and
    if there is none, a shim that runs this interpreter's `python -m gitjit`."""
    here = Path(sys.executable).parent / "jit"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here.parent)
    found = shutil.which("jit")
    if found:
        return str(Path(found).parent)
    d = tmp_path_factory.mktemp("jit-shim")
    shim = d / "jit"
    # PYTHONPATH: the checkout under test, in case gitjit is not installed at all
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" '
                    f'exec "{sys.executable}" -m gitjit "$@"\n')
    shim.chmod(0o755)
    return str(d)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh repository, not `jit init`-ed (the seed scripts do that themselves where the seed does)."""
    return make_repo(tmp_path / "project")


def run_example(name: str, cwd: Path, jit_bin_dir: str, env: dict[str, str] | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess[str]:
    script = EXAMPLES / name
    e = {**os.environ, "PATH": jit_bin_dir + os.pathsep + os.environ.get("PATH", ""), **(env or {})}
    return subprocess.run([str(script)], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout)


def jit_json(repo: Path, *args: str) -> object:
    r = run_jit(*args, "--json", cwd=repo)
    assert r.returncode == 0, (args, r.returncode, r.stdout, r.stderr)
    return json.loads(r.stdout)


def by_title(repo: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for i in jit_json(repo, "query", "all")["issues"]:  # type: ignore[index]
        out.setdefault(i["title"], []).append(i)
    return out


def one(issues: dict[str, list[dict]], title: str) -> dict:
    assert len(issues[title]) == 1, issues[title]
    return issues[title][0]


SEED_SCRIPTS = ["seed002_agent_orchestration.sh", "seed004_readme_workflow.sh", "pattern1_polling_agent.sh",
                "pattern3_priority_dispatcher.py", "pattern6_stale_detector.py"]


@pytest.mark.parametrize("n", SEED_SCRIPTS)
def test_seed_script_is_executable_and_says_what_differs_from_the_seed(n: str) -> None:
    p = EXAMPLES / n
    text = p.read_text()
    assert os.access(p, os.X_OK), f"{n} is not executable"
    first = text.splitlines()[0]
    if n.startswith("pattern"):  # seed 000's scripts, kept as written
        assert first in ("#!/bin/bash", "#!/usr/bin/env python3")
        assert "run as written" in text
    elif n.endswith(".sh"):
        assert first == "#!/usr/bin/env bash" and "set -euo pipefail" in text
    else:
        assert first == "#!/usr/bin/env python3"
    assert "differs from the seed" in text


# ---------------------------------------------------------------------- seed 002

def test_seed002_workflow_runs_as_written(project: Path, jit_bin_dir: str) -> None:
    r = run_example("seed002_agent_orchestration.sh", project, jit_bin_dir)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "error:" not in r.stderr

    issues = by_title(project)
    story = ["Implement user authentication", "Create user model", "Implement login endpoint",
             "Add authentication middleware", "Add rate limiting to login"]
    for title in story:
        assert one(issues, title)["state"] == "done", title
    epic = one(issues, "Implement user authentication")
    assert epic["assignee"] == "copilot:lead"
    assert {g["key"]: g["status"] for g in epic["gates"]} == {"review": "passed", "integration-tests": "passed"}
    rate = one(issues, "Add rate limiting to login")
    assert rate["priority"] == "critical" and rate["assignee"] == "copilot:worker-1"
    assert rate["id"] in epic["dependencies"] and len(epic["dependencies"]) == 4
    assert {g["key"]: g["by"] for g in rate["gates"]} == {"unit-tests": "ci:github-actions",
                                                          "security-scan": "ci:snyk"}
    assert one(issues, "Implement login endpoint")["assignee"] == "copilot:worker-2"
    assert one(issues, "Create user model")["context"] == {"agent_notes": "Remember to update docs"}

    # Advanced patterns: claim-next took Feature A (oldest high), the filtered claim-next Feature B,
    # and the integration issue waits for both.
    fa, fb = one(issues, "Feature A"), one(issues, "Feature B")
    assert (fa["state"], fa["assignee"]) == ("in_progress", "copilot:worker-1")
    assert (fb["state"], fb["assignee"]) == ("in_progress", "copilot:worker-1")
    integ = one(issues, "Integration tests")
    assert integ["state"] == "open"
    assert sorted(b["issue_id"] for b in integ["blocked_reasons"]) == sorted([fa["id"], fb["id"]])
    assert len(jit_json(project, "query", "all")["issues"]) == 8  # type: ignore[index]

    passed = jit_json(project, "events", "query", "--event-type", "gate_passed")
    assert len(passed) == 10  # type: ignore[arg-type]
    # "Check status - epic should now be unblocked": the epic became ready when the last task finished
    ready = [e for e in jit_json(project, "events", "query", "--issue", epic["id"])  # type: ignore[union-attr]
             if e["type"] == "issue_state_changed" and e.get("to") == "ready"]
    assert ready, "no 'to: ready' transition recorded for the epic"
    assert f"{epic['short_id']} [done] Implement user authentication" in r.stdout  # graph show


# ---------------------------------------------------------------------- seed 004

def test_seed004_readme_workflow_runs(project: Path, jit_bin_dir: str) -> None:
    r = run_example("seed004_readme_workflow.sh", project, jit_bin_dir)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert "error:" not in r.stderr and "warning:" not in r.stderr

    issues = by_title(project)
    assert sum(len(v) for v in issues.values()) == 10
    # "How It Works": a story left mid-way, as the README leaves it
    hiw_epic = one(issues, "User authentication")
    hiw_new = one(issues, "Add rate limiting")
    assert hiw_epic["state"] == "open" and hiw_new["id"] in hiw_epic["dependencies"]
    assert hiw_new["state"] == "ready" and hiw_new["priority"] == "critical"
    model_hiw, model_full = sorted(issues["Create user model"], key=lambda i: i["created_at"])
    login_hiw, login_full = sorted(issues["Implement login endpoint"], key=lambda i: i["created_at"])
    assert model_hiw["state"] == "done" and model_hiw["gates"][0]["key"] == "unit-tests"
    assert (login_hiw["state"], login_hiw["assignee"]) == ("in_progress", "copilot:worker-2")

    # "Complete Example Workflow": everything done, the epic last, by the lead
    epic = one(issues, "Implement user authentication")
    full = [model_full, login_full, one(issues, "Add authentication middleware"),
            one(issues, "Write integration tests"), one(issues, "Add rate limiting to login")]
    assert all(i["state"] == "done" for i in full), [(i["title"], i["state"]) for i in full]
    assert (epic["state"], epic["assignee"]) == ("done", "copilot:copilot-lead")
    assert sorted(epic["dependencies"]) == sorted(i["id"] for i in full)
    e2e = one(issues, "Write integration tests")
    assert sorted(e2e["dependencies"]) == sorted(i["id"] for i in full[:3])
    assert one(issues, "Add rate limiting to login")["assignee"] == "copilot-worker-2"

    # the epic was claimed only after its last dependency was completed
    evs = jit_json(project, "events", "query")
    pos = {(e["type"], e.get("issue_id")): n for n, e in enumerate(evs)}  # type: ignore[union-attr]
    assert all(pos[("issue_completed", i["id"])] < pos[("issue_claimed", epic["id"])] for i in full)


# ---------------------------------------------------------------------- pattern 1

def _claimed(repo: Path, title: str, agent: str) -> str:
    iid = run_jit("issue", "create", "-q", "-t", title, cwd=repo, check=True).stdout.strip()
    run_jit("issue", "claim", iid, agent, cwd=repo, check=True)
    return iid


@pytest.fixture
def process_task(tmp_path: Path) -> tuple[Path, Path]:
    """A ./process-task.sh stand-in that logs the ids it is given."""
    log = tmp_path / "processed.log"
    script = tmp_path / "process-task.sh"
    script.write_text(f'#!/usr/bin/env bash\nset -eu\necho "$1" >> "{log}"\n')
    script.chmod(0o755)
    return script, log


@pytest.mark.skipif(shutil.which("jq") is None, reason="pattern 1 needs jq (.ci/run installs it)")
def test_pattern1_polling_agent_processes_its_work_once(project: Path, jit_bin_dir: str,
                                                       process_task: tuple[Path, Path]) -> None:
    run_jit("init", cwd=project, check=True)
    mine = [_claimed(project, f"Task {n}", "agent:my-worker") for n in range(2)]
    theirs = _claimed(project, "Someone else's", "agent:other")
    finished = _claimed(project, "Finished earlier", "agent:my-worker")
    run_jit("issue", "update", finished, "--state", "done", cwd=project, check=True)
    script, log = process_task

    r = run_example("pattern1_polling_agent.sh", project, jit_bin_dir,
                    env={"PROCESS_TASK": str(script), "MAX_ITERATIONS": "3", "POLL_INTERVAL_SECS": "0"})
    assert r.returncode == 0, (r.stdout, r.stderr)

    assert sorted(log.read_text().split()) == sorted(mine)  # each once, over three polls
    assert sorted(line for line in r.stdout.splitlines() if line.startswith("Processing")) == sorted(
        f"Processing {i}..." for i in mine)
    for i in mine + [finished]:
        assert jit_json(project, "issue", "show", i)["state"] == "done"  # type: ignore[index]
    other = jit_json(project, "issue", "show", theirs)
    assert (other["state"], other["assignee"]) == ("in_progress", "agent:other")  # type: ignore[index]


@pytest.mark.skipif(shutil.which("jq") is None, reason="pattern 1 needs jq (.ci/run installs it)")
def test_pattern1_runs_the_seeds_loop_even_when_the_work_fails(project: Path, jit_bin_dir: str, tmp_path: Path) -> None:
    run_jit("init", cwd=project, check=True)
    iid = _claimed(project, "Will fail", "agent:my-worker")
    failing = tmp_path / "fail.sh"
    failing.write_text("#!/usr/bin/env bash\nexit 3\n")
    failing.chmod(0o755)
    r = run_example("pattern1_polling_agent.sh", project, jit_bin_dir,
                    env={"PROCESS_TASK": str(failing), "MAX_ITERATIONS": "2", "POLL_INTERVAL_SECS": "0"})
    # the seed's loop ignores the failure of the work, but marks the issue done anyway; jit's
    # job is only to make the state change it is asked for
    assert r.returncode == 0, r.stderr
    assert jit_json(project, "issue", "show", iid)["state"] == "done"  # type: ignore[index]


# ---------------------------------------------------------------------- pattern 3

def test_pattern3_dispatcher_claims_by_tag(project: Path, jit_bin_dir: str) -> None:
    run_jit("init", cwd=project, check=True)

    def create(title: str, *extra: str) -> str:
        return run_jit("issue", "create", "-q", "-t", title, *extra, cwd=project, check=True).stdout.strip()

    build = create("Build it", "--context", 'tags=["build"]')
    train = create("Train the model", "-p", "critical", "--context", 'tags=["train", "gpu"]')
    audit = create("Audit deps", "--context", 'tags=["audit"]')
    plain = create("Write docs", "-p", "low")
    blocked = create("Release", "--context", 'tags=["build"]')
    run_jit("dep", "add", blocked, build, cwd=project, check=True)
    taken = create("Already taken", "--context", 'tags=["test"]')
    run_jit("issue", "claim", taken, "agent:someone", cwd=project, check=True)

    r = run_example("pattern3_priority_dispatcher.py", project, jit_bin_dir)
    assert r.returncode == 0, (r.stdout, r.stderr)

    expect = {build: "agent:fast-cpu", train: "agent:gpu-runner", audit: "agent:security-scanner",
              plain: "agent:default-worker"}
    lines = [x for x in r.stdout.splitlines() if x.startswith("Assigned")]  # jit's own output is interleaved
    # ready order: critical first, then oldest; the low-priority issue last
    assert lines == [f"Assigned {i} to {expect[i]}" for i in (train, build, audit, plain)]
    for iid, agent in expect.items():
        got = jit_json(project, "issue", "show", iid)
        assert (got["state"], got["assignee"]) == ("in_progress", agent)  # type: ignore[index]
    assert jit_json(project, "issue", "show", blocked)["assignee"] is None  # type: ignore[index]
    assert jit_json(project, "issue", "show", taken)["assignee"] == "agent:someone"  # type: ignore[index]
    assert jit_json(project, "query", "assignee", "agent:fast-cpu")["count"] == 1  # type: ignore[index]

    again = run_example("pattern3_priority_dispatcher.py", project, jit_bin_dir)
    assert again.returncode == 0 and again.stdout == ""  # nothing ready is left: idempotent


# ---------------------------------------------------------------------- pattern 6

def test_pattern6_releases_only_stale_claims(project: Path, jit_bin_dir: str) -> None:
    run_jit("init", cwd=project, check=True)
    stale = _claimed(project, "Stuck work", "agent:crashed")
    finished = _claimed(project, "Finished work", "agent:ok")
    run_jit("issue", "update", finished, "--state", "done", cwd=project, check=True)

    # With the seed's 4-hour threshold nothing is stale yet.
    r = run_example("pattern6_stale_detector.py", project, jit_bin_dir)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr

    time.sleep(8.0)
    fresh = _claimed(project, "Fresh work", "agent:busy")
    # 5 s: "Stuck work" and "Finished work" were claimed over 8 s ago; "Fresh work" just now
    # (the margins are wide so that a loaded machine's slow process starts do not matter).
    r = run_example("pattern6_stale_detector.py", project, jit_bin_dir,
                    env={"STALE_THRESHOLD_HOURS": str(5 / 3600)})
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f"Released stale issue: {stale}" in r.stdout.splitlines()
    assert fresh not in r.stdout
    # the seed also "releases" the finished issue; jit refuses that (it is done) and changes nothing
    assert "is done; nothing to release" in r.stderr

    released = jit_json(project, "events", "query", "--event-type", "issue_released")
    assert [(e["issue_id"], e["reason"], e["assignee"]) for e in released] == [  # type: ignore[union-attr]
        (stale, "timeout", "agent:crashed")]
    s = jit_json(project, "issue", "show", stale)
    assert (s["state"], s["assignee"]) == ("ready", None)  # type: ignore[index]
    assert jit_json(project, "issue", "show", fresh)["state"] == "in_progress"  # type: ignore[index]
    assert jit_json(project, "issue", "show", finished)["state"] == "done"  # type: ignore[index]

    # A second run (after the fresh work is finished) finds the same old claim events; releasing
    # them again is refused and changes nothing.
    run_jit("issue", "update", fresh, "--state", "done", cwd=project, check=True)
    before = jit_json(project, "events", "query", "--event-type", "issue_released")
    r = run_example("pattern6_stale_detector.py", project, jit_bin_dir,
                    env={"STALE_THRESHOLD_HOURS": str(5 / 3600)})
    assert r.returncode == 0
    assert jit_json(project, "events", "query", "--event-type", "issue_released") == before


@pytest.mark.parametrize("tz", ["Asia/Tokyo", "America/Los_Angeles"])
def test_pattern6_keeps_fresh_claims_on_a_host_away_from_utc(project: Path, jit_bin_dir: str, tz: str) -> None:
    """On a host at UTC+9 the seed's naive arithmetic saw every fresh claim as 9 hours old and
    released all of them (field defect 7): the timestamps now carry their offset and the
    script compares aware datetimes, whatever the host's time zone."""
    run_jit("init", cwd=project, check=True)
    fresh = _claimed(project, "Fresh work", "agent:busy")
    (claim,) = jit_json(project, "events", "query", "--event-type", "issue_claimed")  # type: ignore[misc]
    assert claim["timestamp"].endswith("+00:00")
    r = run_example("pattern6_stale_detector.py", project, jit_bin_dir, env={"TZ": tz})  # the seed's 4 hours
    assert (r.returncode, r.stdout) == (0, ""), (r.stdout, r.stderr)
    assert jit_json(project, "issue", "show", fresh)["state"] == "in_progress"  # type: ignore[index]
    assert jit_json(project, "events", "query", "--event-type", "issue_released") == []
