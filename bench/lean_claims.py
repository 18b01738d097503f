"""The least a claim must do, in a real repository: ``python bench/lean_claims.py REPO [PER_PROCESS] [PROCS] [--no-fsync]``.

PROCS processes (8) each claim PER_PROCESS (100) of REPO's ready issues of their own, doing only
what any claim of a gitjit issue has to do, with no generality: lock the issue's ref, read and
parse its event log, fold it, check that it is unclaimed and unfinished and that its
dependencies are finished (one SQL query of the index), add an ``issue_claimed`` event, write the
blob, tree and commit, move the ref (with its reflog, fsync as configured by ``jit init``), then
record the claim in the index in one transaction (the ref's tip, the event's row, the events'
stored JSON, the issue's columns and stored state).

Where ``bench/floor_claims.py`` gives the git work alone in a small repository, this gives the
floor of a whole claim in the repository the benchmark measures, so the distance between
``Tracker.claim`` and this is what gitjit's general path costs (docs/performance.md). Left out,
so a real claim costs more: the rules beyond that check (gates, leases, trust), the derived
notices, the JSON of the issue and of its dependents (the issue's stored JSON is replaced by its
folded state: **run it on a copy**, or rebuild the index after it with ``jit index rebuild``),
the owner records of the locks, housekeeping, the answer, retries, and every error path.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

DOC = "events.jsonl"


def _worker(repo_dir: str, ids: list[str], out: Any, barrier: Any, fsync: bool, agent: str) -> None:
    import pygit2

    from gitjit.core.board import event_json
    from gitjit.core.event import Event
    from gitjit.core.fold import fold_issue, parse_events, serialize_events
    from gitjit.core.event import Event
    from gitjit.core.model import TERMINAL_STATES, compact_json, new_event_id, now_ts, utc_ts
    from gitjit.store.index import ZDICT, body_pack, pack, ts_key

    pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, fsync)
    repo = pygit2.Repository(repo_dir + "/.git")
    db = sqlite3.connect(repo_dir + "/.git/jit/index.sqlite3", isolation_level=None, timeout=30)
    db.execute("PRAGMA synchronous=OFF")
    # the samples the stored states and JSON are compressed against (gitjit/store/index.py)
    samples = dict(db.execute("SELECT k, v FROM meta WHERE k IN ('zsample', 'zdocs')").fetchall())
    zdict = ZDICT + (samples.get("zdocs", "") + samples.get("zsample", "")).encode("utf-8")
    sig = pygit2.Signature("bench", "bench@example.invalid")
    terminal = tuple(TERMINAL_STATES)
    claimed: list[str] = []
    barrier.wait()
    c0, t0 = time.process_time(), time.time()
    for iid in ids:
        name = "refs/jit/issues/" + iid
        with repo.transaction() as tx:
            tx.lock_ref(name)
            tip = repo.references[name].target
            data = repo[tip].tree[DOC].data  # type: ignore[attr-defined,union-attr]
            evs = list(parse_events(data, where=name))
            st = fold_issue(iid, evs)
            if st.assignee is not None or st.state in terminal:
                continue  # the lock is released without a write
            deps = list(st.dependencies)
            if deps:
                q = (f"SELECT count(*) FROM issues WHERE id IN ({','.join('?' * len(deps))}) "
                     f"AND base NOT IN ({','.join('?' * len(terminal))})")
                if db.execute(q, [*deps, *terminal]).fetchone()[0]:
                    continue
            ev = Event(id=new_event_id(), type="issue_claimed", issue_id=iid, clock=st.clock + 1,
                       timestamp=now_ts(), actor=agent, assignee=agent, nonce=new_event_id())
            allev = evs + [ev]
            tb = repo.TreeBuilder()
            tb.insert(DOC, repo.create_blob(serialize_events(allev)), pygit2.enums.FileMode.BLOB)
            commit = repo.create_commit(None, sig, sig, f"claim {iid}\n\nby {agent}", tb.write(), [tip])
            tx.set_target(name, commit, message=f"claim {iid}")
        after = fold_issue(iid, allev)
        stext = compact_json(after.to_json())
        db.execute("BEGIN IMMEDIATE")
        (rno,) = db.execute("UPDATE refs SET tip=? WHERE ref=? RETURNING rno", (str(commit), name)).fetchone()
        db.execute("INSERT OR IGNORE INTO evtypes(type) VALUES(?)", (ev.type,))
        (code,) = db.execute("SELECT code FROM evtypes WHERE type=?", (ev.type,)).fetchone()
        db.execute("INSERT OR REPLACE INTO events(rno, seq, ts, clock, type, iss) VALUES(?,?,?,?,?,NULL)",
                   (rno, len(evs), ts_key(utc_ts(ev.timestamp)), ev.clock, code))
        db.execute("UPDATE evblobs SET events=? WHERE rno=?",
                   (pack(json.dumps([event_json(e) for e in allev], ensure_ascii=False), stext), rno))
        db.execute("UPDATE issues SET base=?, assignee=?, claimed_at=?, eff=? WHERE id=?",
                   (after.state, after.assignee, after.claimed_at, after.state, iid))
        # the issue's JSON (the state stands in for it) and its state, one stream (Index.pack_body)
        db.execute("UPDATE docs SET dlen=?, body=? WHERE id=?", (*body_pack(zdict, stext, stext), iid))
        db.execute("COMMIT")
        claimed.append(iid)
    out.put({"agent": agent, "claimed": claimed, "start": t0, "end": time.time(), "cpu": time.process_time() - c0})


def run(repo: str, ids: list[str], *, procs: int = 8, fsync: bool = True,
        meter: Callable[[], Any] | None = None) -> dict[str, Any]:
    """``procs`` processes claim their share of ``ids`` (``ids[k::procs]``) in ``repo``'s work
    tree at once; claims a second, CPU a claim (the workers' own), and the claims made. With
    ``meter``: its value when every worker is past the start barrier and when the last is done
    (``"meter": [start, end]``; the benchmark passes the machine's CPU counters)."""
    # spawned, not forked: a child must not inherit the caller's open SQLite connections (SQLite
    # keeps one lock table per process; a forked copy of it fails with "disk I/O error")
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    barrier = ctx.Barrier(procs + 1)  # and this process: the workers' start is the meter's
    ps = [ctx.Process(target=_worker, args=(repo, ids[k::procs], out, barrier, fsync, f"agent:lean{k}"))
          for k in range(procs)]
    for p in ps:
        p.start()
    try:
        barrier.wait(timeout=300)  # a worker that died on the way never arrives
    except threading.BrokenBarrierError:
        for p in ps:
            p.kill()
        raise RuntimeError("a lean claimer failed before the start") from None
    m0 = meter() if meter is not None else None
    rows: list[dict[str, Any]] = []
    while len(rows) < procs:
        try:
            rows.append(out.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in ps):
                for p in ps:
                    p.kill()
                raise RuntimeError("a lean claimer failed") from None
    m1 = meter() if meter is not None else None
    for p in ps:
        p.join()
    claimed = [i for r in rows for i in r["claimed"]]
    span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    return {"procs": procs, "claims": len(claimed), "distinct": len(set(claimed)), "seconds": round(span, 3),
            "claims_per_s": round(len(claimed) / span, 1) if span else None,
            "cpu_ms_per_claim": round(sum(r["cpu"] for r in rows) * 1000 / max(len(claimed), 1), 2),
            "fsync": fsync, "holders": {r["agent"]: r["claimed"] for r in rows}, "meter": [m0, m1]}


def main(argv: list[str]) -> int:
    fsync = "--no-fsync" not in argv
    argv = [a for a in argv if a != "--no-fsync"]
    if len(argv) < 2:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    repo = argv[1]
    per = int(argv[2]) if len(argv) > 2 else 100
    procs = int(argv[3]) if len(argv) > 3 else 8
    from gitjit.app.tracker import Tracker

    ids = Tracker(repo).board().ready()[:per * procs]
    r = run(repo, ids, procs=procs, fsync=fsync)
    print(f"{procs} processes, {r['claims']} lean claims (fsync {'on' if fsync else 'off'}) in {r['seconds']} s: "
          f"{r['claims_per_s']}/s, {r['cpu_ms_per_claim']} ms of CPU a claim")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
