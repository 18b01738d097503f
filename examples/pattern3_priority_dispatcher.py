#!/usr/bin/env python3
# priority-dispatcher.py -- seed 000, "Pattern 3: Priority-Based Multi-Agent", run as written
# against gitjit.
#
# What differs from the seed: nothing but this header. It works unchanged because
# `jit query ready --json` prints {"issues": [...], "count": N} with full issue objects,
# critical first then oldest, and `context.tags` is a JSON list when the issue was created with
# e.g. `jit issue create -t Build --context 'tags=["build"]'` (a --context value that parses
# as JSON is stored as JSON). Like the seed, it prints "Assigned ..." even if a claim failed
# (another dispatcher won the issue: jit exits 7, "already claimed by X").

import subprocess
import json

AGENT_CAPABILITIES = {
    "agent:fast-cpu": ["build", "test"],
    "agent:gpu-runner": ["train", "inference"],
    "agent:security-scanner": ["security", "audit"],
}

def get_ready_issues():
    result = subprocess.run(
        ["jit", "query", "ready", "--json"],
        capture_output=True, text=True
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
        
        subprocess.run([
            "jit", "issue", "claim",
            issue["id"], agent_id
        ])
        
        print(f"Assigned {issue['id']} to {agent_id}")

if __name__ == "__main__":
    dispatch()
