#!/usr/bin/env bash
# simple-agent.sh -- seed 000, "Pattern 1: Simple Polling Agent", run against gitjit.
#
# A single agent polls for the work assigned to it (by a dispatcher, a lead agent or
# `jit issue claim`), processes each issue and marks it done. Needs `jq` and `jit` on PATH;
# run it inside the repository (or set JIT_REPO).
#
# What differs from the seed:
# - The seed's values are settable from the environment (defaults are the seed's):
#     AGENT_ID             agent:my-worker
#     PROCESS_TASK         ./process-task.sh   (called with the issue id; must exit 0)
#     POLL_INTERVAL_SECS   60                  (the seed's `sleep 60`)
#     MAX_ITERATIONS       0                   (0 = poll forever, as the seed does; N = stop after
#                                               N polls, without sleeping after the last one)
# - The jq filter keeps only issues still in progress. `jit query assignee` lists everything
#   assigned to the agent, finished issues included, so the seed's `.issues[].id` would run
#   process-task.sh again on every finished issue at every poll.
# - `set -euo pipefail`: a failing process-task.sh (or a refused `--state done`, e.g. a gate
#   that has not passed) stops the agent instead of being ignored.
set -euo pipefail

AGENT_ID="${AGENT_ID:-agent:my-worker}"
PROCESS_TASK="${PROCESS_TASK:-./process-task.sh}"
POLL_INTERVAL_SECS="${POLL_INTERVAL_SECS:-60}"
MAX_ITERATIONS="${MAX_ITERATIONS:-0}"

iteration=0
while true; do
    # Get my assigned work
    WORK=$(jit query assignee "$AGENT_ID" --json)

    # Process each task
    echo "$WORK" | jq -r '.issues[] | select(.state == "in_progress") | .id' | while read -r ISSUE_ID; do
        echo "Processing $ISSUE_ID..."

        # Do the actual work here
        "$PROCESS_TASK" "$ISSUE_ID"

        # Mark complete
        jit issue update "$ISSUE_ID" --state done
    done

    iteration=$((iteration + 1))
    if [ "$MAX_ITERATIONS" -gt 0 ] && [ "$iteration" -ge "$MAX_ITERATIONS" ]; then
        break
    fi
    sleep "$POLL_INTERVAL_SECS"
done
