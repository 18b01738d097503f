#!/usr/bin/env bash
# Seed 002 (EXAMPLE.md, "Agent Orchestration Example"), run as written against gitjit.
#
# A lead agent breaks an epic into tasks with gates, workers claim and finish them, one
# discovers a critical task mid-way, and the lead closes the epic; then the "Monitoring"
# and "Advanced Patterns" sections.
#
# Run it inside a git repository with `jit` on PATH:
#   git init demo && cd demo && bash /path/to/examples/seed002_agent_orchestration.sh
#
# What differs from the seed:
# - Setup: no `cargo build` / `alias jit=...` (jit is the pip-installed console script) and no
#   `mkdir my-project && cd my-project`: the script uses the repository it is run in.
# - Every `jit coordinator ...` line is left out (the built-in coordinator became the separate
#   `jit-dispatch`); each place is marked with a "coordinator:" comment. So is the whole
#   "Running with Coordinator Daemon" section.
# - "Advanced Patterns": the seed writes `jit issue create --title "Feature A" --priority high ...`
#   with a literal `...` and no parsing; here the `...` is dropped and the id is parsed with the
#   same `grep -oP 'Created issue: \K.*'` as everywhere else in the seed.
# - `set -euo pipefail`: any command that fails stops the script (the seed has no error handling).
#
# Everything else is the seed's text: gitjit's default `jit issue create` output is exactly
# `Created issue: <id>`, which the seed's grep parses. (Seed 004 captures the bare id instead:
# see seed004_readme_workflow.sh and `jit issue create -q`.)
set -euo pipefail

# ---------------------------------------------------------------- Setup

# Initialize repository
jit init

# Setup gate definitions
jit registry add unit-tests --title "Unit Tests" --auto
jit registry add review --title "Code Review"
jit registry add integration-tests --title "Integration Tests" --auto

# coordinator: `jit coordinator init-config` left out (jit-dispatch replaces it).

# ---------------------------------------------------------------- 1. Lead Agent Creates Epic and Tasks

# Create the epic
EPIC=$(jit issue create \
  --title "Implement user authentication" \
  --desc "Complete auth system with JWT" \
  --priority high \
  --gate review --gate integration-tests | grep -oP 'Created issue: \K.*')

# Lead agent analyzes requirements and creates sub-tasks
TASK1=$(jit issue create \
  --title "Create user model" \
  --desc "SQLAlchemy model with email, password_hash fields" \
  --priority high \
  --gate unit-tests --gate review | grep -oP 'Created issue: \K.*')

TASK2=$(jit issue create \
  --title "Implement login endpoint" \
  --desc "POST /api/login endpoint with JWT generation" \
  --priority high \
  --gate unit-tests --gate review | grep -oP 'Created issue: \K.*')

TASK3=$(jit issue create \
  --title "Add authentication middleware" \
  --desc "Verify JWT tokens on protected routes" \
  --priority high \
  --gate unit-tests --gate review | grep -oP 'Created issue: \K.*')

# Setup dependency graph: epic depends on all tasks
jit dep add $EPIC $TASK1
jit dep add $EPIC $TASK2
jit dep add $EPIC $TASK3

# View the dependency tree
jit graph show $EPIC

# ---------------------------------------------------------------- 2. Pass Gates and Mark Tasks Ready

# Pass gates for tasks (in real scenario, CI would do this automatically)
jit gate pass $TASK1 unit-tests --by "ci:github-actions"
jit gate pass $TASK1 review --by "human:tech-lead"

jit gate pass $TASK2 unit-tests --by "ci:github-actions"
jit gate pass $TASK2 review --by "human:tech-lead"

jit gate pass $TASK3 unit-tests --by "ci:github-actions"
jit gate pass $TASK3 review --by "human:tech-lead"

# Mark tasks as ready for work
# (gitjit derives readiness, so these are already ready and the updates change nothing)
jit issue update $TASK1 --state ready
jit issue update $TASK2 --state ready
jit issue update $TASK3 --state ready

# Check status
jit status

# ---------------------------------------------------------------- 3. Agents Claim and Execute Work

# Worker agents claim tasks (could be automated by coordinator)
jit issue claim $TASK1 copilot:worker-1
jit issue claim $TASK2 copilot:worker-2

# coordinator: `jit coordinator agents` left out (`jit status` lists who holds what).

# View status
jit status
# Output shows:
#   Ready: 1
#   In Progress: 2

# ---------------------------------------------------------------- 4. Dynamic Issue Creation

# Worker discovers security requirement
# (security-scan is not in the registry: gitjit warns and treats it as a manual postcheck gate)
TASK4=$(jit issue create \
  --title "Add rate limiting to login" \
  --desc "Prevent brute force attacks - 5 attempts per minute" \
  --priority critical \
  --gate unit-tests --gate security-scan | grep -oP 'Created issue: \K.*')

# Add as dependency to epic
jit dep add $EPIC $TASK4

# Pass gates and mark ready
jit gate pass $TASK4 unit-tests --by "ci:github-actions"
jit gate pass $TASK4 security-scan --by "ci:snyk"
jit issue update $TASK4 --state ready

# Another agent can claim it
jit issue claim $TASK4 copilot:worker-1

# ---------------------------------------------------------------- 5. Complete Tasks

# As agents finish work, mark tasks complete
jit issue update $TASK1 --state done
jit issue update $TASK2 --state done
jit issue update $TASK3 --state done
jit issue update $TASK4 --state done

# Check status - epic should now be unblocked
jit status

# ---------------------------------------------------------------- 6. Lead Agent Completes Epic

# Epic dependencies are done, pass gates
jit gate pass $EPIC review --by "human:tech-lead"
jit gate pass $EPIC integration-tests --by "ci:github-actions"

# Mark epic ready and claim it
jit issue update $EPIC --state ready
jit issue claim $EPIC copilot:lead

# Lead agent does final integration and marks complete
jit issue update $EPIC --state done

# Final status
jit status
# Output shows:
#   Done: 5

# ---------------------------------------------------------------- Monitoring and Observability

# View event log
jit events tail -n 20

# Query specific events
jit events query --event-type gate_passed --limit 10

# Check dependency relationships
jit graph show $EPIC
jit graph downstream $TASK1

# Find root issues (no dependencies)
jit graph roots

# coordinator: `jit coordinator status` left out.

# ---------------------------------------------------------------- Running with Coordinator Daemon

# coordinator: the whole section (`jit coordinator start` / `stop`) is left out; jit-dispatch
# replaces it.

# ---------------------------------------------------------------- Advanced Patterns

# Parallel Work with Dependencies
# Create parallel tasks that don't depend on each other
FEATURE_A=$(jit issue create --title "Feature A" --priority high | grep -oP 'Created issue: \K.*')
FEATURE_B=$(jit issue create --title "Feature B" --priority high | grep -oP 'Created issue: \K.*')

# But both needed for integration
INTEGRATION=$(jit issue create --title "Integration tests" --priority normal | grep -oP 'Created issue: \K.*')
jit dep add $INTEGRATION $FEATURE_A
jit dep add $INTEGRATION $FEATURE_B

# Features can be worked on in parallel
# Integration automatically blocked until both complete

# Claiming Next Available Work
# Agent claims highest priority ready issue (Feature A: high, and the oldest)
jit issue claim-next --to copilot:worker-1

# With filter (gitjit implements the seed's "future enhancement"; this claims Feature B)
jit issue claim-next --filter "priority:high|critical" --to copilot:worker-1

# Cross-agent Communication via Context
# Agent adds context for other agents
jit issue update $TASK1 --context "agent_notes=Remember to update docs"

# View issue with context
jit issue show $TASK1
