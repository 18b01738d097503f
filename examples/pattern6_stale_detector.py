#!/usr/bin/env python3
# stale-detector.py -- seed 000, "Pattern 6: Stale Issue Detection", run as written against gitjit.
#
# What differs from the seed: STALE_THRESHOLD_HOURS can be set in the environment (as a float,
# default 4, the seed's value), so a test can make a fresh claim stale. Everything else is the
# seed's code, and it works unchanged because:
# - `jit events tail --json` prints a JSON *array* of events (the seed iterates it directly),
#   each with `type`, `issue_id` and an ISO 8601 `timestamp`;
# - timestamps carry their UTC offset (`2026-12-07T19:01:55.123456+00:00`), so
#   `datetime.fromisoformat` gives an aware datetime; the seed's naive `datetime.now()` is the
#   host's *local* time, which on a host at UTC+9 made every fresh claim look 9 hours old (and
#   released them all). This script compares aware datetimes instead: `datetime.now(timezone.utc)`,
#   and a timestamp without an offset (written by gitjit before 2026-12-07) is read as UTC;
# - releasing an issue that is no longer held (done, or already released) is refused by jit
#   with exit 4 and changes nothing, so the seed's unconditional release is harmless.
# Like the seed, it sees only the claims among the last `events tail` events (20 by default).

import subprocess
import json
import os
from datetime import datetime, timedelta, timezone

STALE_THRESHOLD_HOURS = float(os.environ.get("STALE_THRESHOLD_HOURS", "4"))

def get_events():
    result = subprocess.run(
        ["jit", "events", "tail", "--json"],
        capture_output=True, text=True
    )
    return json.loads(result.stdout)

def find_stale_issues():
    """Find issues claimed more than N hours ago"""
    events = get_events()
    claimed_issues = {}
    
    # Build map of issue -> last claimed time
    for event in events:
        if event["type"] == "issue_claimed":
            issue_id = event["issue_id"]
            timestamp = datetime.fromisoformat(event["timestamp"])
            if timestamp.tzinfo is None:  # written before timestamps carried an offset: UTC
                timestamp = timestamp.replace(tzinfo=timezone.utc)
            claimed_issues[issue_id] = timestamp
    
    # Check for stale issues
    now = datetime.now(timezone.utc)
    stale = []
    
    for issue_id, claimed_at in claimed_issues.items():
        age = now - claimed_at
        if age > timedelta(hours=STALE_THRESHOLD_HOURS):
            stale.append((issue_id, age))
    
    return stale

def reclaim_stale_issue(issue_id):
    """Release and reclaim a stale issue"""
    subprocess.run(["jit", "issue", "release", issue_id, "timeout"])
    print(f"Released stale issue: {issue_id}")

if __name__ == "__main__":
    stale_issues = find_stale_issues()
    
    for issue_id, age in stale_issues:
        print(f"Stale issue {issue_id} (age: {age})")
        reclaim_stale_issue(issue_id)
