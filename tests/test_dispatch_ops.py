"""Running jit-dispatch unattended (field defect 10): its state stays out of the work tree (under
the git directory), `once` exits non-zero when every run failed, and the log goes through
`logging` with ISO-8601 timestamps, levels and rotation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import git, make_repo
from dispatchlib import agent_cmd, write_config

from gitjit.app.tracker import Tracker
from gitjit.dispatch.config import default_state_dir, load_config

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00"


def dispatch(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``jit-dispatch`` as a real process."""
    return subprocess.run([sys.executable, "-m", "gitjit.cli.dispatch", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"}, check=False)


def _seed_001_layout(repo: Path) -> Path:
    """dispatch.toml committed at the top of the project it serves, as seed 001 has it."""
    cfg = write_config(repo / "dispatch.toml", repos=[], agents=[{"id": "w", "command": agent_cmd()}])
    git("add", "dispatch.toml", cwd=repo)
    git("commit", "-qm", "dispatcher configuration", cwd=repo)
    return cfg


# ---------------------------------------------------------------------------------- state directory

def test_state_stays_out_of_the_work_tree(repo: Path, tracker: Tracker) -> None:
    iid = tracker.create_issue("something to do")["id"]
    cfg = _seed_001_layout(repo)
    r = dispatch("once", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert tracker.board(fresh=True).issues[iid].state == "done"
    # nothing new for `git add -A` to pick up: no .jit-dispatch/ (state.json, logs, locks...)
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo).stdout == ""
    git("add", "-A", cwd=repo)
    assert git("diff", "--cached", "--name-only", cwd=repo).stdout == ""
    state = load_config(cfg).state_dir
    common = Path(git("rev-parse", "--git-common-dir", cwd=repo).stdout.strip())
    common = common if common.is_absolute() else (repo / common)
    assert state.parent == common.resolve() / "jit-dispatch" and state.name.startswith("dispatch-")
    assert (state / "state.json").is_file() and any((state / "logs" / "w").iterdir())
    status = json.loads(dispatch("status", "--json", cwd=repo).stdout)
    assert Path(status["state_dir"]) == state


def test_default_state_dir_is_stable_and_distinct(tmp_path: Path) -> None:
    """The same file in two clones (or one clone moved) keeps its name; two files differ."""
    a, b = make_repo(tmp_path / "a"), make_repo(tmp_path / "elsewhere" / "b")
    for r in (a, b):
        (r / "ops").mkdir()
        (r / "ops" / "dispatch.toml").write_text("")
        (r / "dispatch.toml").write_text("")
    sa, sb = default_state_dir(a / "ops" / "dispatch.toml"), default_state_dir(b / "ops" / "dispatch.toml")
    assert sa.name == sb.name and sa.parent == (a / ".git" / "jit-dispatch").resolve()
    assert default_state_dir(a / "dispatch.toml").name != sa.name
    # outside any repository: next to the file, as before
    (tmp_path / "plain").mkdir()
    assert default_state_dir(tmp_path / "plain" / "x.toml") == (tmp_path / "plain" / ".jit-dispatch" / "x").resolve()


def test_a_state_dir_in_a_work_tree_ignores_itself(repo: Path, tracker: Tracker) -> None:
    """One an earlier version made next to the file is kept (its breakers, its webhook position),
    and so is an explicit state_dir inside the work tree: each holds a .gitignore of '*'."""
    tracker.create_issue("x")
    legacy = repo / ".jit-dispatch" / "dispatch"
    legacy.mkdir(parents=True)
    _seed_001_layout(repo)
    assert load_config(repo / "dispatch.toml").state_dir == legacy.resolve()
    assert dispatch("once", cwd=repo).returncode == 0
    assert (legacy / "state.json").is_file()
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo).stdout == ""

    other = write_config(repo / "other.toml", repos=[], state_dir="run/state", agents=[])
    assert dispatch("--config", str(other), "once", cwd=repo).returncode == 0
    assert (repo / "run" / "state" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo).stdout == "?? other.toml\n"


# ---------------------------------------------------------------------------------- once's exit status

def test_once_exits_non_zero_when_every_run_failed(tmp_path: Path, repo: Path, tracker: Tracker) -> None:
    bad = tracker.create_issue("fails")["id"]
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], backoff_secs=3600, agents=[
        {"id": "w", "command": agent_cmd("--exit", "3"), "max_concurrent": 2}])
    r = dispatch("--config", str(cfg), "once", cwd=tmp_path)
    assert r.returncode == 10, (r.stdout, r.stderr)
    assert "claimed 1, finished 0, failed 1" in r.stdout
    assert "error: every agent run failed (1 failed, none finished)" in r.stderr and "hint:" in r.stderr
    r = dispatch("--config", str(cfg), "once", "--json", cwd=tmp_path)  # (backing off: nothing ran)
    assert r.returncode == 0 and json.loads(r.stdout.splitlines()[-1])["claimed"] == 0

    tracker.unpark(bad)  # retry it at once
    r = dispatch("--config", str(cfg), "once", "--json", cwd=tmp_path)
    assert r.returncode == 10
    err = json.loads(r.stdout[r.stdout.rindex("\n{\n"):])["error"]  # after the log's JSON lines
    assert err["code"] == "EXTERNAL_FAILURE" and err["details"]["totals"]["failed"] == 1



def test_once_exits_zero_when_some_run_finished(tmp_path: Path, repo: Path, tracker: Tracker) -> None:
    tracker.create_issue("fails", context={"tags": ["x"]})
    tracker.create_issue("fine")
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "bad", "command": agent_cmd("--exit", "3"), "tags": ["x"]},
        {"id": "good", "command": agent_cmd()}])
    r = dispatch("--config", str(cfg), "once", cwd=tmp_path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "claimed 2, finished 1, failed 1" in r.stdout
    empty = write_config(tmp_path / "e.toml", repos=[{"path": str(repo)}], agents=[])
    assert dispatch("--config", str(empty), "once", cwd=tmp_path).returncode == 0  # nothing to do: fine


# ---------------------------------------------------------------------------------- logging

def test_log_lines_have_iso_timestamps_and_levels(tmp_path: Path, repo: Path, tracker: Tracker) -> None:
    tracker.create_issue("fails")
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "w", "command": agent_cmd("--exit", "3")}])
    r = dispatch("--config", str(cfg), "once", cwd=tmp_path)
    lines = r.stderr.splitlines()
    claimed = next(x for x in lines if " w <- " in x)
    failed = next(x for x in lines if "exited with code 3" in x)
    assert re.match(ISO + r" INFO    w <- ", claimed), claimed
    assert re.match(ISO + r" WARNING w on ", failed), failed

    tracker.unpark(tracker.board(fresh=True).ready()[0])
    r = dispatch("--config", str(cfg), "once", "--log-level", "warning", cwd=tmp_path)
    assert not any(" INFO " in x for x in r.stderr.splitlines()), r.stderr
    assert any(" WARNING w on " in x for x in r.stderr.splitlines()), r.stderr

    tracker.unpark(tracker.board(fresh=True).ready()[0])
    r = dispatch("--config", str(cfg), "once", "--json", "--log-level", "debug", cwd=tmp_path)
    recs = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{") and x.endswith("}")]
    assert {x["level"] for x in recs if "level" in x} >= {"debug", "info", "warning"}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", x["ts"]) for x in recs if "ts" in x)
    assert any(x.get("event") == "cycle" for x in recs)


def test_log_file_rotates(tmp_path: Path, repo: Path, tracker: Tracker) -> None:
    for i in range(6):
        tracker.create_issue(f"job {i}")
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], log_max_bytes=400, log_backups=2,
                       agents=[{"id": "w", "command": agent_cmd(), "max_concurrent": 3}])
    log = tmp_path / "logs" / "d.log"
    r = dispatch("--config", str(cfg), "once", "--log-file", str(log), "--log-level", "debug", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""  # the log went to the file
    files = sorted(p.name for p in log.parent.iterdir())
    assert files == ["d.log", "d.log.1", "d.log.2"], files  # rotated, at most 2 backups kept
    for p in log.parent.iterdir():
        assert p.stat().st_size <= 400 + 300, (p, p.stat().st_size)  # a record may cross the size
        assert all(re.match(ISO + " ", x) for x in p.read_text().splitlines()), p.read_text()


def test_log_options_are_checked(tmp_path: Path, repo: Path) -> None:
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[])
    r = dispatch("--config", str(cfg), "once", "--log-level", "loud", "--json", cwd=tmp_path)
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["code"] == "INVALID_ARGUMENT"
    bad = write_config(tmp_path / "e.toml", repos=[{"path": str(repo)}], agents=[], log_backups=-1)
    r = dispatch("--config", str(bad), "once", cwd=tmp_path)
    assert r.returncode == 2 and "log_backups" in r.stderr
