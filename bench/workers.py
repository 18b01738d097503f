"""Worker processes for the contention benchmark: ``python -m bench.workers claim REPO AGENT LIMIT BARRIER N OUT``.

Each worker opens the repository through the library, waits at a file barrier until all N
workers are ready, then calls ``claim_next`` until there is no work or it has LIMIT claims,
and writes what it claimed (and when) to OUT as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _barrier(barrier: str, agent: str, n: int) -> None:
    b = Path(barrier)
    (b / agent.replace(":", "_")).touch()
    deadline = time.time() + 60
    while len(list(b.iterdir())) < n and time.time() < deadline:
        time.sleep(0.001)


def claim(repo: str, agent: str, limit: int, barrier: str, n: int, out: str, ids_file: str | None = None) -> None:
    """claim_next until LIMIT claims or no work; with IDS_FILE, claim exactly those issues instead."""
    from gitjit.app.tracker import Tracker
    from gitjit.core.errors import AlreadyClaimedError, NoWorkError

    t = Tracker(repo, actor=agent)
    t.board()  # open the index before the clock starts, as a long-running agent would have
    ids = json.loads(Path(ids_file).read_text()) if ids_file else None
    _barrier(barrier, agent, n)
    claimed: list[str] = []
    lost = 0
    c0 = time.process_time()
    t0 = time.time()
    if ids is None:
        while len(claimed) < limit:
            try:
                claimed.append(t.claim_next(agent)["id"])
            except NoWorkError:
                break
    else:
        for iid in ids:
            try:
                claimed.append(t.claim(iid, agent)["id"])
            except AlreadyClaimedError:
                lost += 1
    t1 = time.time()
    Path(out).write_text(json.dumps({"agent": agent, "claimed": claimed, "start": t0, "end": t1, "lost": lost,
                                     "cpu": time.process_time() - c0}))


if __name__ == "__main__":
    if sys.argv[1] == "claim":
        repo, agent, limit, barrier, n, out = sys.argv[2:8]
        claim(repo, agent, int(limit), barrier, int(n), out, sys.argv[8] if len(sys.argv) > 8 else None)
