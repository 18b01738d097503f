#!/usr/bin/env python3
# priority-dispatcher.py -- seed 000, "Pattern 3: Priority-Based Multi-Agent", run against gitjit.
#
# Claims every ready issue for the agent whose capabilities match the issue's
# `context.tags` (e.g. `jit issue create -t Build --context 'tags=["build"]'`), or for
# agent:default-worker. `jit query ready` lists critical work first, then the oldest.
# Run it inside the repository (or set JIT_REPO) with `jit` on PATH.
#
# What differs from the seed:
# - The result of `jit issue claim` is checked: the seed printed "Assigned ..." even when the
#   claim failed (e.g. another dispatcher won the issue meanwhile: exit 7, "already claimed").
#   Here a lost race prints "Skipped ..." and the dispatcher goes on, as the seed's own "Best
#   Practices: Handle Failures Gracefully" advises. Any other failure stops it with that exit code.
# - `jit query ready` is run with check=True, so a broken repository fails loudly instead of
#   with a JSON decode error.
# Everything else (the capability table, the matching rule, the output) is the seed's.

import json
import subprocess
import sys

AGENT_CAPABILITIES = {
    "agent:fast-cpu": ["build", "test"],
    "agent:gpu-runner": ["train", "inference"],
    "agent:security-scanner": ["security", "audit"],
}

# gitjit's documented exit code for "someone else holds the issue" (docs/cli.md).
EXIT_ALREADY_CLAIMED = 7


def get_ready_issues():
    result = subprocess.run(
        ["jit", "query", "ready", "--json"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(result.stdout)["issues"]


def match_agent_to_issue(issue):
    """Match issue to appropriate agent based on tags"""
    issue_tags = issue.get("context", {}).get("tags", [])

    for agent_id, capabilities in AGENT_CAPABILITIES.items():
        if any(tag in capabilities for tag in issue_tags):
            return agent_id

    # Default agent
    return "agent:default-worker"


def dispatch():
    ready = get_ready_issues()

    for issue in ready:
        agent_id = match_agent_to_issue(issue)

        result = subprocess.run([
            "jit", "issue", "claim",
            issue["id"], agent_id
        ], capture_output=True, text=True)

        if result.returncode == EXIT_ALREADY_CLAIMED:
            print(f"Skipped {issue['id']} (already claimed)")
            continue
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            sys.exit(result.returncode)

        print(f"Assigned {issue['id']} to {agent_id}")


if __name__ == "__main__":
    dispatch()
