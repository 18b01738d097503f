"""`jit demo`'s dispatch part: a hub, two clones, jit-dispatch on each, worker agent processes."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from gitjit.app.demo import DemoOptions, run_demo
from gitjit.app.tracker import Tracker

pytestmark = pytest.mark.slow


def processes_mentioning(text: str) -> list[str]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd:
            out.append(f"{pid}: {cmd}")
    return out


def test_demo_runs_on_two_machines_through_the_hub(tmp_path: Path) -> None:
    res = run_demo(DemoOptions(keep=True, base_dir=tmp_path, seed=3))
    root = Path(res["repository"]).parent
    hub = Path(res["hub"])
    assert hub.is_dir() and [m["name"] for m in res["machines"]] == ["machine-a", "machine-b"]
    story = res["story"]
    epic, found = story["epic"], story["discovered"]
    assert story["converged"] is True

    # the hub and both machines hold the same events
    def ids(p: Path) -> set[str]:
        return {e["id"] for e in Tracker(p).events()}

    assert ids(hub) == ids(root / "machine-a") == ids(root / "machine-b")

    evs = Tracker(hub).events()
    claims = Counter(e["issue_id"] for e in evs if e["type"] == "issue_claimed")
    assert set(claims.values()) == {1} and len(claims) == 6  # each issue claimed exactly once, on the hub
    claimer = {e["issue_id"]: e["assignee"] for e in evs if e["type"] == "issue_claimed"}
    assert claimer[epic] == "copilot:lead"  # workers take type:task work only
    assert claimer[found] == "copilot:security-scanner@machine-b"  # routed by its security tag
    others = {a for i, a in claimer.items() if i not in (epic, found)}
    assert all(a.startswith("copilot:worker-") for a in others)
    assert not [e for e in evs if e["type"] == "issue_released"]  # no agent failed
    # each claim carried a lease from its dispatcher
    assert all(e.get("expires_at") for e in evs if e["type"] == "issue_claimed" and e["issue_id"] != epic)
    for m in res["machines"]:
        assert m["dispatcher"]["totals"]["failed"] == 0
    assert sum(m["dispatcher"]["totals"]["claimed"] for m in res["machines"]) == 5
    assert any(n["actor"] == "jit-dispatch@machine-b" for n in res["narration"])
    assert processes_mentioning(str(root)) == []  # dispatchers and agents are gone


def test_demo_leaves_no_process_and_no_file(tmp_path: Path) -> None:
    res = run_demo(DemoOptions(base_dir=tmp_path, workers=1))
    assert res["status"]["done"] == 6 and res["story"]["converged"]
    assert list(tmp_path.iterdir()) == []
    assert processes_mentioning(str(tmp_path)) == []
