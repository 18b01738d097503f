"""``jit-dispatch``: the orchestrator that hands ready work to agent processes.

Kept apart from the tracker (seed 001), but it calls the library (``gitjit.app.tracker.Tracker``)
directly instead of spawning ``jit`` for every read and claim.

* ``config``   dispatch.toml: load and validate (errors name file, line and field), edit with tomlkit
* ``agents``   agent processes, run locks, leases, the per-agent circuit breaker, the state directory
* ``supervise`` the supervisor of one agent run (standard library only, run by path)
* ``engine``   the dispatch cycle: sync, reap, renew, reclaim, match, claim, launch
* ``webhooks`` new events as they land (``jit events tail --follow``) and POSTing them to URLs
"""

from __future__ import annotations

__all__ = ["agents", "config", "engine", "supervise", "webhooks"]
