#!/usr/bin/env bash
# dispatch_worker.sh -- an agent for jit-dispatch (see examples/dispatch.toml).
#
# jit-dispatch has already claimed the issue for this agent and starts it with:
#   JIT_ISSUE_ID    the issue to work on
#   JIT_ISSUE_FILE  the issue as JSON (title, description, gates, context, ...)
#   JIT_REPO        the repository, so plain `jit` commands act on it
#   JIT_AGENT       this agent's id in dispatch.toml; JIT_ACTOR: the assignee, who writes
# Exit 0 after marking the issue done. Exiting without that makes the dispatcher release the
# issue (or retry, as configured), and count a failure against this agent's circuit breaker.
set -euo pipefail
: "${JIT_ISSUE_ID:?start me from jit-dispatch}"

field() {  # field NAME: one value from the issue JSON (python3 is there: gitjit needs it)
    python3 -c 'import json, os, sys; print(json.load(open(os.environ["JIT_ISSUE_FILE"]))[sys.argv[1]])' "$1"
}
pending_gates() {
    python3 -c 'import json, os
for g in json.load(open(os.environ["JIT_ISSUE_FILE"]))["gates"]:
    if g["status"] != "passed":
        print(g["key"])'
}

echo "[$JIT_AGENT] working on $JIT_ISSUE_ID: $(field title)"

# ... the real work goes here (WORK_SECS lets a demo take its time) ...
sleep "${WORK_SECS:-0}"

for gate in $(pending_gates); do
    jit gate pass "$JIT_ISSUE_ID" "$gate" --by "$JIT_ACTOR"
done
jit issue update "$JIT_ISSUE_ID" --state done
echo "[$JIT_AGENT] finished $JIT_ISSUE_ID"
