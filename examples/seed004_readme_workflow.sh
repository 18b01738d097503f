#!/usr/bin/env bash
# Seed 004 (the Rust jit's README): "How It Works" and "Complete Example Workflow", run against gitjit.
#
# Run it inside a git repository with `jit` on PATH:
#   git init demo && cd demo && bash /path/to/examples/seed004_readme_workflow.sh
#
# What differs from the seed:
# - Ids: seed 004 captures `$(jit issue create ...)` as the id. gitjit's default output is
#   `Created issue: <id>` (seed 002 parses that), so every create here adds `-q` (`--quiet`),
#   which prints the bare id. (`JIT_QUIET=1` in the environment does the same.)
# - Every `jit coordinator ...` line is left out (jit-dispatch replaces the built-in coordinator);
#   each place is marked with a "coordinator:" comment. The coordinator is what claimed the tasks
#   in the seed's story, so the claims it would have made are written out where it ran
#   ("added:" comments).
# - Steps the seed's text skips but its own story needs are added, each marked "added:":
#   `jit init` (seed 004's Quick Start) and the gate definitions the README never makes (without
#   them gitjit still works, treating unknown gates as manual postcheck gates, with a warning);
#   in "How It Works", `jit gate add` before passing a gate the task never required; and in the
#   complete workflow, finishing TASK3, TASK4 and TASK5 before the lead claims the epic
#   ("Once all tasks done, epic becomes unblocked": claiming it earlier is refused, exit 4).
# - `set -euo pipefail`: any command that fails stops the script.
set -euo pipefail

# added: seed 004's Quick Start step 2, and the gates its workflow requires.
jit init
jit registry add unit-tests --title "Unit Tests" --auto
jit registry add review --title "Code Review"
jit registry add integration-tests --title "Integration Tests" --auto
jit registry add security-scan --title "Security Scan" --auto

# ================================================================ How It Works

# ---------------------------------------------------------------- 1. Lead Agent Breaks Down Work

# Lead agent creates an epic
EPIC=$(jit issue create -q --title "User authentication" --priority high)

# Analyzes and creates sub-tasks
TASK1=$(jit issue create -q --title "Create user model" --priority high)
TASK2=$(jit issue create -q --title "Implement login endpoint" --priority high)

# Defines dependencies
jit dep add $EPIC $TASK1
jit dep add $EPIC $TASK2

# ---------------------------------------------------------------- 2. Worker Agents Execute Tasks

# Workers claim ready tasks
jit issue claim $TASK1 copilot:worker-1
jit issue claim $TASK2 copilot:worker-2

# added: the task was created without gates, so require the gate before passing it.
jit gate add $TASK1 unit-tests

# Work on them, pass quality gates
jit gate pass $TASK1 unit-tests
jit issue update $TASK1 --state done

# ---------------------------------------------------------------- 3. Dynamic Issue Creation

# Agent discovers new work while executing
NEW=$(jit issue create -q --title "Add rate limiting" --priority critical)
jit dep add $EPIC $NEW  # Epic now waits for this too

# ---------------------------------------------------------------- 4. Monitor Everything

jit status                  # Overview of work state
# coordinator: `jit coordinator agents` left out (`jit status` lists who holds what).
jit events tail             # Full audit trail
jit graph show $EPIC        # Visualize dependencies

# ================================================================ Complete Example Workflow

# ---------------------------------------------------------------- 1. Setup
# coordinator: `jit coordinator init-config` and its .jit/coordinator.json left out.

# ---------------------------------------------------------------- 2. Lead Agent: Break Down Epic into Tasks

# Lead agent claims the epic
EPIC_ID=$(jit issue create -q --title "Implement user authentication" \
  --desc "Complete auth system with tests" \
  --priority high \
  --gate review --gate integration-tests)

# Lead agent analyzes and creates sub-tasks dynamically
TASK1=$(jit issue create -q --title "Create user model" \
  --desc "SQLAlchemy model with fields" \
  --priority high \
  --gate unit-tests --gate review)

TASK2=$(jit issue create -q --title "Implement login endpoint" \
  --desc "POST /api/login with JWT" \
  --priority high \
  --gate unit-tests --gate review)

TASK3=$(jit issue create -q --title "Add authentication middleware" \
  --desc "Verify JWT on protected routes" \
  --priority high \
  --gate unit-tests --gate review)

TASK4=$(jit issue create -q --title "Write integration tests" \
  --desc "E2E tests for auth flow" \
  --priority normal \
  --gate review)

# Set up dependencies: epic depends on all tasks
jit dep add $EPIC_ID $TASK1
jit dep add $EPIC_ID $TASK2
jit dep add $EPIC_ID $TASK3
jit dep add $EPIC_ID $TASK4

# Task 4 depends on tasks 1-3 being complete
jit dep add $TASK4 $TASK1
jit dep add $TASK4 $TASK2
jit dep add $TASK4 $TASK3

# ---------------------------------------------------------------- 3. Worker Agents: Execute Tasks

# Mark tasks as ready for work (assuming no blockers)
# (gitjit derives readiness, so these are already ready and the updates change nothing)
jit issue update $TASK1 --state ready
jit issue update $TASK2 --state ready
jit issue update $TASK3 --state ready

# coordinator: `jit coordinator start` left out. It would find the ready issues and assign
# them to the worker agents; added: those assignments, made by hand.
jit issue claim $TASK1 copilot-worker-1
jit issue claim $TASK2 copilot-worker-2
jit issue claim $TASK3 copilot-worker-1

# ---------------------------------------------------------------- 4. Agent Work Simulation

# Worker agent workflow (automated by coordinator)
# Agent copilot-worker-1 working on TASK1:
jit gate pass $TASK1 unit-tests --by "copilot-worker-1"
jit gate pass $TASK1 review --by "human:tech-lead"
jit issue update $TASK1 --state done

# Agent copilot-worker-2 working on TASK2:
jit gate pass $TASK2 unit-tests --by "copilot-worker-2"
jit gate pass $TASK2 review --by "human:tech-lead"
jit issue update $TASK2 --state done

# ---------------------------------------------------------------- 5. Dynamic Issue Creation During Execution

# Worker agent discovers missing security requirement
TASK5=$(jit issue create -q --title "Add rate limiting to login" \
  --desc "Prevent brute force attacks" \
  --priority critical \
  --gate unit-tests --gate security-scan)

# Add as dependency to epic
jit dep add $EPIC_ID $TASK5

# Mark ready and coordinator will dispatch it
jit issue update $TASK5 --state ready
# added: the dispatch the coordinator would make (critical work goes first).
jit issue claim $TASK5 copilot-worker-2

# ---------------------------------------------------------------- 6. Monitoring Progress

# coordinator: `jit coordinator status` and `jit coordinator agents` left out.

# View dependency graph
jit graph show $EPIC_ID
# Shows full tree of dependencies

# Check overall status
jit status

# Query event log
jit events tail -n 20

# ---------------------------------------------------------------- 7. Completion and Cleanup

# added: "Once all tasks done" -- the seed never finishes TASK3, TASK5 and TASK4, and the epic
# cannot be claimed while they are open. The workers finish them here (TASK4 last: it depends
# on tasks 1-3, so it only became ready when TASK3 was done).
jit gate pass $TASK3 unit-tests --by "copilot-worker-1"
jit gate pass $TASK3 review --by "human:tech-lead"
jit issue update $TASK3 --state done

jit gate pass $TASK5 unit-tests --by "copilot-worker-2"
jit gate pass $TASK5 security-scan --by "ci:snyk"
jit issue update $TASK5 --state done

jit issue claim $TASK4 copilot-worker-1
jit gate pass $TASK4 review --by "human:tech-lead"
jit issue update $TASK4 --state done

# Once all tasks done, epic becomes unblocked
# Lead agent can claim and finalize
jit issue claim $EPIC_ID copilot:copilot-lead

# Run final integration tests, pass gates
jit gate pass $EPIC_ID integration-tests --by "ci:github-actions"
jit gate pass $EPIC_ID review --by "human:tech-lead"

# Mark epic complete
jit issue update $EPIC_ID --state done

# coordinator: `jit coordinator stop` left out.

jit status
