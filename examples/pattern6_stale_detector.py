#!/usr/bin/env python3
# stale-detector.py -- seed 000, "Pattern 6: Stale Issue Detection", run against gitjit.
#
# Releases (with reason "timeout") every issue that has been held longer than
# STALE_THRESHOLD_HOURS since its last claim, so another agent can take it.
# Run it inside the repository (or set JIT_REPO) with `jit` on PATH, e.g. from cron.
#
# What differs from the seed:
# - STALE_THRESHOLD_HOURS (default 4, the seed's value) can be set in the environment, as a
#   float (e.g. 0.5, or 0.001 to try it out).
# - The seed read `jit events tail --json`, which returns only the newest 20 events, so a claim
#   older than that was never seen. Here `jit events query --event-type issue_claimed --json`
#   returns every claim event.
# - Only issues still in progress are candidates (`jit query state in_progress`): the seed
#   also "released" issues that were long finished or already released (the release then
#   failed, unnoticed). A failed release is now reported instead of printed as done.
# - "now" is taken in UTC: gitjit's timestamps are naive UTC (so `datetime.fromisoformat`
#   parses them as the seed expects), and the seed's local `datetime.now()` would be off by the
#   machine's UTC offset.

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

STALE_THRESHOLD_HOURS = float(os.environ.get("STALE_THRESHOLD_HOURS", "4"))


def jit_json(*args):
    result = subprocess.run(["jit", *args, "--json"], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def get_events():
    return jit_json("events", "query", "--event-type", "issue_claimed")


def find_stale_issues():
    """Find issues claimed more than N hours ago"""
    events = get_events()
    claimed_issues = {}

    # Build map of issue -> last claimed time
    for event in events:
        if event["type"] == "issue_claimed":
            issue_id = event["issue_id"]
            timestamp = datetime.fromisoformat(event["timestamp"])
            claimed_issues[issue_id] = timestamp

    # Only work that is still held can be stale
    held = {i["id"] for i in jit_json("query", "state", "in_progress")["issues"]}

    # Check for stale issues
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    stale = []

    for issue_id, claimed_at in claimed_issues.items():
        if issue_id not in held:
            continue
        age = now - claimed_at
        if age > timedelta(hours=STALE_THRESHOLD_HOURS):
            stale.append((issue_id, age))

    return stale


def reclaim_stale_issue(issue_id):
    """Release and reclaim a stale issue"""
    result = subprocess.run(["jit", "issue", "release", issue_id, "timeout"], capture_output=True, text=True)
    if result.returncode != 0:
        print(f"Could not release {issue_id}: {result.stderr.strip()}", file=sys.stderr)
        return False
    print(f"Released stale issue: {issue_id}")
    return True


if __name__ == "__main__":
    stale_issues = find_stale_issues()

    failed = 0
    for issue_id, age in stale_issues:
        print(f"Stale issue {issue_id} (age: {age})")
        if not reclaim_stale_issue(issue_id):
            failed += 1
    sys.exit(1 if failed else 0)
