#!/bin/bash
# simple-agent.sh -- seed 000, "Pattern 1: Simple Polling Agent", run as written against gitjit.
#
# What differs from the seed (only what a test needs to run it to completion):
# - The work command and the poll interval come from the environment, defaulting to the seed's
#   values: PROCESS_TASK (./process-task.sh) and POLL_INTERVAL_SECS (60).
# - MAX_ITERATIONS (default 0 = forever, as in the seed) bounds the `while true` loop.
# Everything else is the seed's script. It works unchanged because `jit query assignee` lists
# the agent's *current* work (finished issues are not "assigned work"; `jit issue list
# --assignee` lists them all), so each issue is processed once.

AGENT_ID="${AGENT_ID:-agent:my-worker}"
PROCESS_TASK="${PROCESS_TASK:-./process-task.sh}"
POLL_INTERVAL_SECS="${POLL_INTERVAL_SECS:-60}"
MAX_ITERATIONS="${MAX_ITERATIONS:-0}"
iteration=0

while true; do
    # Get my assigned work
    WORK=$(jit query assignee "$AGENT_ID" --json)
    
    # Process each task
    echo "$WORK" | jq -r '.issues[].id' | while read -r ISSUE_ID; do
        echo "Processing $ISSUE_ID..."
        
        # Do the actual work here
        "$PROCESS_TASK" "$ISSUE_ID"
        
        # Mark complete
        jit issue update "$ISSUE_ID" --state done
    done
    
    iteration=$((iteration + 1))
    if [ "$MAX_ITERATIONS" -gt 0 ] && [ "$iteration" -ge "$MAX_ITERATIONS" ]; then break; fi
    sleep "$POLL_INTERVAL_SECS"
done
