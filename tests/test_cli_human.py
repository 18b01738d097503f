"""Times and columns for people: "3m ago" where people read times, columns that keep their
place when an actor's name is 60 characters long."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import Jit

from gitjit.cli import render
from gitjit.cli.demo import ACTOR_WIDTH, timeline

NOW = datetime(2026, 12, 7, 12, 0, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("delta, want", [
    (timedelta(seconds=5), "just now"), (timedelta(seconds=59), "just now"), (timedelta(minutes=3), "3m ago"),
    (timedelta(minutes=59, seconds=59), "59m ago"), (timedelta(hours=5), "5h ago"), (timedelta(days=2), "2d ago"),
    (timedelta(days=13), "13d ago"), (timedelta(days=40), "2026-10-28"), (timedelta(minutes=-5), "2026-12-07 12:05"),
])
def test_ago(delta: timedelta, want: str) -> None:
    assert render.ago((NOW - delta).isoformat(), NOW) == want


def test_ago_takes_stored_forms_and_leaves_other_text() -> None:
    assert render.ago("2026-12-07T11:57:00.000000+00:00", NOW) == "3m ago"
    assert render.ago("2026-12-07T11:57:00Z", NOW) == "3m ago"
    assert render.ago("2026-12-07T11:57:00", NOW) == "3m ago"  # naive: UTC
    assert render.ago("not a time", NOW) == "not a time"


def test_fit() -> None:
    assert render.fit("ab", 4) == "ab  "
    assert render.fit("abcd", 4) == "abcd"
    assert render.fit("abcdef", 4) == "abc…"


def test_status_says_how_long_ago_work_finished(jit: Jit) -> None:
    a = jit("issue", "create", "-q", "-t", "Finish me").stdout.strip()
    assert jit("issue", "update", a, "--state", "done").exit_code == 0
    out = jit("status").stdout
    assert f"  - Finish me ({a[:8]}, just now)" in out
    # the JSON keeps the timestamp
    assert jit.json("status")["recent_completions"][0]["completed_at"].startswith("20")


def test_demo_timeline_columns_hold_with_a_60_character_actor() -> None:
    long = "agent:" + "x" * 54
    assert len(long) == 60
    t0 = "2026-12-07T12:00:00.000000+00:00"
    events = [{"timestamp": t0, "actor": "agent:a", "type": "issue_created", "issue_id": "a" * 32, "title": "T",
               "priority": "high"},
              {"timestamp": t0, "actor": long, "type": "issue_claimed", "issue_id": "a" * 32, "assignee": long}]
    lines = timeline(events)
    col = [ln.index("issue_c") for ln in lines]
    assert col[0] == col[1], lines  # the type column starts at the same place
    assert "x" * (ACTOR_WIDTH - len("agent:") - 1) + "…" in lines[1]
    assert long in lines[1]  # what changed still names the assignee in full


def test_dispatch_status_widens_for_long_agent_ids_up_to_a_point(repo: Path) -> None:
    from test_dispatch_config import dispatch_cli

    assert dispatch_cli("init-config", cwd=repo).exit_code == 0
    long = "worker-" + "y" * 53
    for aid in ("w1", "w" * 20, long):
        assert dispatch_cli("agent", "add", aid, "--command", "true", cwd=repo).exit_code == 0
    out = dispatch_cli("status", cwd=repo).output.splitlines()
    rows = [ln for ln in out if "running" in ln and ln.startswith("  ")]
    assert len(rows) == 3, out
    assert len({r.index(" 0/1 running") for r in rows}) == 1  # one column
    assert rows[0].index(" 0/1") == 2 + 40
    assert any(r.split()[0] == long[:39] + "…" for r in rows)
