#!/usr/bin/env python3
"""agent_session_library.py -- docs/agents.md, "Working through the library": one agent's session
in Python, through ``gitjit.api`` (no subprocesses). Run it in a git repository, or give the
repository as the first argument (tests/test_examples.py runs it in a fresh one). JIT_ACTOR names
the agent (default agent:lib-worker).

1. A lead files two issues, the second depending on the first, one gated by a review.
2. The agent reads its card, claims the first ready issue, passes the gate, marks it done.
3. The dependent issue becomes ready; the agent claims it, cannot finish, releases it.
4. Its loop ends on NoWorkError (exit 8 on the command line), branching on the errors the card lists.
"""

from __future__ import annotations

import os
import sys
import time

from gitjit.api import AlreadyClaimedError, BlockedError, BusyError, NoWorkError, Tracker, prime, prime_text

repo = sys.argv[1] if len(sys.argv) > 1 else "."
me = os.environ.get("JIT_ACTOR", "agent:lib-worker")

# --- 1. the lead's side
lead = Tracker(repo, actor="agent:lead")
lead.init()
lead.registry_add("review", title="Code review")
parser = lead.create_issue("Implement the parser", priority="high", gates=["review"])
docs = lead.create_issue("Document the parser")
lead.add_dependency(docs["id"], [parser["id"]])  # docs waits for the parser

# --- 2. the agent's session starts with its card
t = Tracker(repo, actor=me)
card = prime(t)
print(prime_text(card))
assert card["ready_count"] == 1 and card["ready"][0]["id"] == parser["id"]

issue = t.claim_next(me)
print(f"claimed {issue['short_id']}: {issue['title']}")
try:
    t.update_issue(issue["id"], state="done")
except BlockedError as e:  # exit 4: the review gate has not passed yet
    print(f"not yet: {e.message}")
t.gate_set(issue["id"], "review", True, by="human:reviewer")
done = t.update_issue(issue["id"], state="done")
print(f"{done['short_id']} is {done['state']}")

# --- 3. the dependent issue is ready now; this time the work fails
nxt = t.claim_next(me)
assert nxt["id"] == docs["id"], nxt
released = t.release(nxt["id"], "the style guide is missing")
print(f"released {released['short_id']} ({released['state']})")

# --- 4. the loop an agent runs
while True:
    try:
        got = t.claim_next(me, filter="priority:high|critical")
    except NoWorkError:
        print("no high-priority work left: stopping")
        break
    except (AlreadyClaimedError, BusyError) as e:  # exits 7 and 9: someone else was faster, or busy
        print(f"contention ({e.code}): retrying")
        time.sleep(1)
        continue
    t.release(got["id"], "not today")

print(prime_text(prime(t)))
