#!/usr/bin/env python3
# multi-repo-orchestrator.py -- seed 000, "Pattern 7: Federated Multi-Repo Orchestration", for gitjit.
#
# Finds the highest-priority ready work across several jit repositories and claims it for one
# agent. `jit-dispatch` does this natively (several [[repos]] in one dispatch.toml, with leases,
# hubs, capacity and tags: see examples/dispatch.toml); this is the seed's do-it-yourself version.
#
# What differs from the seed:
# - The repositories are arguments (or JIT_REPOS, separated by ':'), not the seed's hard-coded
#   /workspace paths; AGENT_ID may be set in the environment (default agent:multi-repo-worker).
# - Ties within a priority go to the oldest issue (`created_at`), as `jit query ready` orders work
#   within one repository; the seed's sort kept whatever order the repositories were listed in.
# - The claim is checked: if another agent took the issue meanwhile (exit 7), the next candidate
#   is tried instead of printing "Claimed" for an issue that is not ours.
# - A repository that cannot be read stops the script with its error (check=True) instead of a
#   JSON decode error.
import json
import os
import subprocess
import sys

EXIT_ALREADY_CLAIMED = 7  # gitjit's documented exit code (docs/cli.md)


def query_repo(repo_path, agent_id):
    """Query a specific repo for work"""
    result = subprocess.run(
        ["jit", "query", "ready", "--json"],
        cwd=repo_path,
        capture_output=True,
        text=True,
        check=True,
    )
    issues = json.loads(result.stdout)["issues"]

    # Add repo context to each issue
    for issue in issues:
        issue["repo"] = repo_path

    return issues


def dispatch_across_repos(repos, agent_id):
    """Find and claim highest priority work across all repos"""
    all_issues = []

    for repo in repos:
        issues = query_repo(repo, agent_id)
        all_issues.extend(issues)

    if not all_issues:
        return None

    # Sort by priority, then age
    priority_order = {"critical": 0, "high": 1, "normal": 2, "low": 3}
    all_issues.sort(
        key=lambda i: (priority_order.get(i.get("priority", "normal"), 4), i.get("created_at", ""))
    )

    # Claim the highest priority issue we can win
    for top_issue in all_issues:
        r = subprocess.run(
            ["jit", "issue", "claim", top_issue["id"], agent_id],
            cwd=top_issue["repo"], capture_output=True, text=True,
        )
        if r.returncode == 0:
            return top_issue
        if r.returncode != EXIT_ALREADY_CLAIMED:
            sys.stderr.write(r.stderr)
            raise SystemExit(r.returncode)

    return None


if __name__ == "__main__":
    agent_id = os.environ.get("AGENT_ID", "agent:multi-repo-worker")
    repos = sys.argv[1:] or [p for p in os.environ.get("JIT_REPOS", "").split(":") if p]
    if not repos:
        sys.exit("usage: pattern7_multi_repo_orchestrator.py REPO [REPO...]   (or set JIT_REPOS=a:b:c)")
    issue = dispatch_across_repos(repos, agent_id)

    if issue:
        print(f"Claimed {issue['id']} from {issue['repo']}")
    else:
        print("No work available")
