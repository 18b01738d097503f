"""Where contending claimers spend their CPU: ``python -m bench.profile_claims REPO [options]``.

PROCS processes (8) each open REPO through the library as a long-running agent would, wait at
a common start, and claim PER issues (100) with ``cProfile`` running on the CPU clock of each:
``Tracker.claim`` of their own shares of the ready list (disjoint, the default), or with
``--race`` ``Tracker.claim_next`` all at once (every worker starts at the head of the same ready
list). The workers' statistics are merged and printed (``--sort``, ``--top``, ``--match`` a
regular expression over the rows; ``--callers``/``--callees`` for what calls, or is called by,
the matching functions), with the claims made, the workers' CPU a claim (profiled: cProfile
inflates Python-heavy code more than C calls) and whether any issue was claimed twice.

This is how docs/performance.md's contention profiles are taken. It claims real issues:
**run it on a copy** of a repository (``cp -a``), as the benchmark runs its contention rows on
its own copies. Options: ``--procs N``, ``--per N``, ``--race``, ``--offset N`` (skip the first
N ready issues), ``--out FILE`` (the merged statistics, for ``python -m pstats FILE``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import pstats
import queue
import sys
import tempfile
import threading
import time
from typing import Any


def _worker(repo: str, ids: list[str], n: int, race: bool, agent: str, path: str, out: Any, barrier: Any) -> None:
    import cProfile

    from gitjit.app.tracker import Tracker
    from gitjit.core.errors import AlreadyClaimedError, NoWorkError

    t = Tracker(repo, actor=agent)
    t.board()  # the index open before the start, as a long-running agent has it
    claimed: list[str] = []
    lost = 0
    prof = cProfile.Profile(time.process_time)
    barrier.wait()
    c0, t0 = time.process_time(), time.time()
    prof.enable()
    if race:
        for _ in range(n):
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
    prof.disable()
    t1, c1 = time.time(), time.process_time()
    prof.dump_stats(path)
    out.put({"agent": agent, "claimed": claimed, "lost": lost, "start": t0, "end": t1, "cpu": c1 - c0,
             "stats": path})


def run(repo: str, *, procs: int = 8, per: int = 100, race: bool = False, offset: int = 0,
        workdir: str | None = None) -> dict[str, Any]:
    """Profile ``procs`` contending claimers in ``repo``; the merged ``pstats.Stats`` and the
    claims (``holders``: agent -> ids), with the claims a second and the CPU a claim."""
    from gitjit.app.tracker import Tracker

    ready = Tracker(repo).board().ready()[offset:offset + procs * per]
    if not ready:
        raise SystemExit(f"{repo}: no ready issue to claim")
    # spawned, not forked: a child must not inherit this process's open SQLite connection
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    barrier = ctx.Barrier(procs)
    tmp = tempfile.mkdtemp(prefix="jit-profile-", dir=workdir)
    paths = [os.path.join(tmp, f"worker-{k}.prof") for k in range(procs)]
    ps = [ctx.Process(target=_worker, args=(repo, ready[k::procs], per, race, f"agent:prof{k}", paths[k], out,
                                            barrier)) for k in range(procs)]
    for p in ps:
        p.start()
    rows: list[dict[str, Any]] = []
    try:
        while len(rows) < procs:
            try:
                rows.append(out.get(timeout=1))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in ps):
                    raise RuntimeError("a profiled claimer failed") from None
    except (RuntimeError, threading.BrokenBarrierError, KeyboardInterrupt):
        for p in ps:
            p.kill()
        raise
    for p in ps:
        p.join()
    stats = pstats.Stats(*[r["stats"] for r in rows])
    for path in paths:
        try:
            os.unlink(path)
        except OSError:
            pass
    os.rmdir(tmp)
    claimed = [i for r in rows for i in r["claimed"]]
    span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    return {"procs": procs, "mode": "claim_next race" if race else "disjoint claims", "claims": len(claimed),
            "distinct": len(set(claimed)), "lost": sum(r["lost"] for r in rows), "seconds": round(span, 3),
            "claims_per_s": round(len(claimed) / span, 1) if span else None,
            "cpu_ms_per_claim": round(sum(r["cpu"] for r in rows) * 1000 / max(len(claimed), 1), 2),
            "holders": {r["agent"]: r["claimed"] for r in rows}, "stats": stats}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.profile_claims",
                                 description=(__doc__ or "").splitlines()[0])
    ap.add_argument("repo")
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--per", type=int, default=100, help="claims per process")
    ap.add_argument("--race", action="store_true", help="all call claim_next (default: disjoint claim)")
    ap.add_argument("--offset", type=int, default=0, help="skip this many ready issues")
    ap.add_argument("--sort", default="cumulative", help="a pstats sort key (cumulative, tottime, calls, ...)")
    ap.add_argument("--top", type=int, default=60)
    ap.add_argument("--match", default="", help="only rows whose function matches this regular expression")
    ap.add_argument("--callers", action="store_true", help="print who calls the matching functions")
    ap.add_argument("--callees", action="store_true", help="print what the matching functions call")
    ap.add_argument("--out", help="write the merged statistics here (python -m pstats FILE)")
    a = ap.parse_args(argv)
    r = run(a.repo, procs=a.procs, per=a.per, race=a.race, offset=a.offset)
    print(f"{r['procs']} processes, {r['mode']}: {r['claims']} claims ({r['distinct']} distinct, {r['lost']} lost) "
          f"in {r['seconds']} s: {r['claims_per_s']}/s profiled, {r['cpu_ms_per_claim']} ms of CPU a claim profiled")
    st: pstats.Stats = r["stats"]
    st.sort_stats(a.sort)
    restrict: list[Any] = [a.match] if a.match else []
    if a.callers:
        st.print_callers(*restrict, a.top)
    elif a.callees:
        st.print_callees(*restrict, a.top)
    else:
        st.print_stats(*restrict, a.top)
    if a.out:
        st.dump_stats(a.out)
    return 0 if r["claims"] == r["distinct"] else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
