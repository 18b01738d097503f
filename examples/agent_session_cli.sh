#!/bin/sh
# agent_session_cli.sh -- docs/agents.md, "Working through the CLI": one agent's session, start to
# finish, the way `jit prime` tells an agent to work. Run it in a git repository with `jit` on PATH
# (tests/test_examples.py runs it in a fresh one). JIT_ACTOR names the agent (default
# agent:worker-1); everything it does is recorded under that name.
#
# 1. A lead files two issues (in real life: another agent or a human, earlier).
# 2. The agent reads its card (`jit prime`), claims the first ready issue, passes its gates (an
#    automatic one whose checker runs here, a manual review) and marks it done.
# 3. It claims the next one, fails at it and releases it with a reason.
# 4. Its loop ends when claim-next exits 8 (no work), branching on the exit codes the card lists.
set -eu

export JIT_ACTOR="${JIT_ACTOR:-agent:worker-1}"
jit init -q >/dev/null

# --- 1. the lead's side: a gate whose checker runs in this clone, and two issues
jit --by agent:lead registry add review --title "Code review" >/dev/null
jit --by agent:lead registry add tests --title "Tests pass" --auto --command 'test -n "$JIT_ISSUE_ID"' >/dev/null
jit --by agent:lead issue create -q -t "Implement the parser" -p high --gate tests,review >/dev/null
jit --by agent:lead issue create -q -t "Port the old importer" -p normal >/dev/null

# --- 2. the agent's session starts with its card
jit prime

ID=$(jit issue claim-next "$JIT_ACTOR")
jit issue show "$ID"
# ... the work itself happens here: edit, build, commit ...
jit gate run "$ID" tests                       # runs the checker; records pass or fail
jit gate pass "$ID" review --by human:reviewer # a manual gate, attested by someone else
jit issue update "$ID" --state done

# --- 3. the next issue: the work fails, so give it back with the reason
ID=$(jit issue claim-next "$JIT_ACTOR")
jit issue release "$ID" "importer needs credentials this agent does not have"

# --- 4. the loop an agent runs, branching on claim-next's exit code (7, 8, 9: see `jit prime`)
rounds=0
while [ "$rounds" -lt 3 ]; do
    rounds=$((rounds + 1))
    set +e
    ID=$(jit issue claim-next "$JIT_ACTOR" --filter "priority:high|critical" 2>/dev/null)
    rc=$?
    set -e
    case "$rc" in
        0) echo "claimed $ID"; jit issue release "$ID" "not today" >/dev/null ;;
        8) echo "no high-priority work left: stopping"; break ;;
        7|9) echo "contention (exit $rc): retrying"; sleep 1 ;;
        *) echo "unexpected exit $rc" >&2; exit "$rc" ;;
    esac
done

jit prime
