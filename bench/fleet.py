"""A fleet of agents on one hub: ``python -m bench.fleet [claims|sync|all] [options]``.

**claims**: CLONES clones (8), each a separate process running ``jit issue claim-next AGENT
--remote origin --json`` in a loop (in-process, as tests/test_hub_claims.py's workers do, so
Python's start-up is not counted) against one bare hub served by TRANSPORT, until the ISSUES
ready issues run out. It checks that every issue was won exactly once and that the hub agrees,
and counts the git processes each claim started (pushes and fetches per won claim).

The **floor** is measured in the same run, interleaved: the same number of processes, each
running ``git push`` of one new ref (a one-commit ref, ``git push URL SHA:refs/floor/...``) to
the same server, one after the other. A claim is expressed as a multiple of that round trip
(``floor claims/s`` ÷ ``claims/s``: 2.0 means a claim costs two bare pushes).

**sync**: at SIZE issues (100,000), a no-op ``jit sync`` (nothing moved on either side), a pull
and a sync of CHANGED (10,000) issues changed on the hub, and a pull when only a few refs moved.

Transports: ``daemon`` (git daemon), ``http`` (git http-backend behind a small CGI server),
``file``; the servers teams run, from tests/servers.py: ``apache`` (smart HTTP, a login for
pushes), ``nginx`` (with fcgiwrap), ``ssh`` (sshd, a shared connection per client process),
``gitolite`` (agents log in as an account that may push ``refs/jit/issues/*``, not gates); or
``module:function`` for another server (bench/hubs.py). The table goes to
``docs/performance.md`` (section "A fleet on one hub") with ``--write``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.hubs import Served, resolve

PRIORITIES = ["low", "normal", "high", "critical"]


# ----------------------------------------------------------------------------- helpers

def _git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def _scrub(home: Path) -> None:
    for k in list(os.environ):
        if k.startswith(("GIT_", "JIT_")):
            del os.environ[k]
    os.environ.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                       "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"})


def _clone(path: Path, url: str, *, fsync: bool) -> Path:
    from gitjit.app.tracker import Tracker

    path.mkdir(parents=True)
    _git("init", "-q", "-b", "main", str(path), cwd=path)
    _git("remote", "add", "origin", url, cwd=path)
    _git("config", "jit.fsync", "true" if fsync else "false", cwd=path)
    Tracker(path, actor="setup").init()
    return path


def _machine() -> str:
    load = os.getloadavg()
    return f"{os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"


# ----------------------------------------------------------------------------- workers

WORKER = r"""
import contextlib, io, json, os, sys, time
from gitjit.cli import main
from gitjit.git import run as git_run
repo, agent, barrier, out_file = sys.argv[1:5]
counts = {"push": 0, "fetch": 0, "ls-remote": 0, "other": 0}
real = git_run.run
def counting(args, **kw):
    name = git_run._name(args).removeprefix("git ")
    counts[name if name in counts else "other"] += 1
    return real(args, **kw)
git_run.run = counting
if os.environ.get("FLEET_TRACE"):
    from gitjit.store import sync as _sync
    _pb = _sync.Syncer.push_batch
    def _traced(self, remote, updates):
        st = _pb(self, remote, updates)
        print(json.dumps({"t": time.time(), "agent": agent, "push": [[r[0][-12:], st[r[0]][0], st[r[0]][1]] for r in updates]}), file=sys.__stderr__, flush=True)
        return st
    _sync.Syncer.push_batch = _traced
# connect once before the start (over ssh: this machine's shared connection is up, as it stays
# up between an agent's claims); the floor's pushers do the same
import subprocess
subprocess.run(["git", "-C", repo, "ls-remote", "origin", "refs/heads/warm-up"], capture_output=True)
# warm up as a running agent session is: the modules a claim needs are imported before the start
# (a claim-next for a label no issue has: a quiet pull and "no work"; no claim is made)
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    main(["--repo", repo, "issue", "claim-next", agent, "--remote", "origin", "--filter", "label:bench-warm-up",
          "--json"])
counts = dict.fromkeys(counts, 0)
open(os.path.join(barrier, agent.replace(":", "_")), "w").close()
while not os.path.exists(os.path.join(barrier, "go")):
    time.sleep(0.002)
won, errors = [], []
prof = None
if os.environ.get("FLEET_PROFILE"):  # a directory: each agent's loop profiled on its CPU clock
    import cProfile
    prof = cProfile.Profile(time.process_time)
    prof.enable()
t0 = time.time(); c0 = time.process_time()
while True:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        rc = main(["--repo", repo, "issue", "claim-next", agent, "--remote", "origin", "--json"])
    if rc == 8:
        break
    if rc == 0:
        won.append(json.loads(out.getvalue())["id"])
    else:
        errors.append([rc, out.getvalue()[-300:]])
        if len(errors) > 20:
            break
t1 = time.time()
if prof is not None:
    prof.disable()
    prof.dump_stats(os.path.join(os.environ["FLEET_PROFILE"], agent.replace(":", "_") + f"-{os.getpid()}.prof"))
json.dump({"agent": agent, "won": won, "errors": errors, "start": t0, "end": t1, "last_win": t1,
           "cpu": time.process_time() - c0, "git": counts}, open(out_file, "w"))
"""

FLOOR = r"""
import os, subprocess, sys, time
repo, url, name, n, barrier, out_file = sys.argv[1:7]
sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True).stdout.strip()
subprocess.run(["git", "ls-remote", url, "refs/heads/warm-up"], cwd=repo, capture_output=True)
open(os.path.join(barrier, name), "w").close()
while not os.path.exists(os.path.join(barrier, "go")):
    time.sleep(0.002)
t0 = time.time()
for i in range(int(n)):
    subprocess.run(["git", "push", "-q", url, f"{sha}:refs/floor/{name}/{i}-{time.monotonic_ns()}"], cwd=repo,
                   check=True, capture_output=True)
open(out_file, "w").write(f"{t0} {time.time()}")
"""


def _go(barrier: Path, procs: list[subprocess.Popen[str]], n: int) -> None:
    deadline = time.monotonic() + 120
    while len(list(barrier.iterdir())) < n:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            errs = [p.communicate()[1] for p in procs if p.poll() is not None]
            raise RuntimeError(f"workers did not start: {errs[:1]}")
        time.sleep(0.01)
    (barrier / "go").touch()


def floor(tmp: Path, served: Served, url: str, procs: int, per: int) -> float:
    """Bare pushes of one new ref each, ``procs`` processes at once (to the repository at ``url``):
    pushes per second."""
    src = tmp / f"floor-src-{time.monotonic_ns()}"
    src.mkdir()
    _git("init", "-q", "-b", "main", cwd=src)
    (src / "f").write_text("x\n")
    _git("add", "f", cwd=src)
    _git("commit", "-qm", "floor", cwd=src)
    _git("push", "-q", url, f"+HEAD:refs/heads/floor-{time.monotonic_ns()}", cwd=src)
    barrier = tmp / f"fb-{time.monotonic_ns()}"
    barrier.mkdir()
    outs = [tmp / f"fo-{k}-{time.monotonic_ns()}" for k in range(procs)]
    ps = [subprocess.Popen([sys.executable, "-c", FLOOR, str(src), url, f"p{k}", str(per), str(barrier), str(o)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, **served.client_env(k, "floor")}) for k, o in enumerate(outs)]
    _go(barrier, ps, procs)
    for p in ps:
        _, err = p.communicate(timeout=600)
        if p.returncode:
            raise RuntimeError(f"floor push failed: {err}")
    spans = [tuple(map(float, o.read_text().split())) for o in outs]
    return procs * per / (max(s[1] for s in spans) - min(s[0] for s in spans))


def claims(tmp: Path, served: Served, *, clones: int, issues: int, fsync: bool) -> dict[str, Any]:
    """One race: a fresh hub with ``issues`` ready issues, ``clones`` agents claiming them all."""
    from gitjit.app.tracker import Tracker

    name = f"hub-{time.monotonic_ns()}.git"
    url = served.create(name)
    run = tmp / name.removesuffix(".git")
    seed = _clone(run / "seed", url, fsync=False)
    t = Tracker(seed, actor="lead")
    ids = set()
    with t.batch() as b:
        for n in range(issues):
            ids.add(b.create_issue(f"job {n}", priority=PRIORITIES[n % 4])["id"])
    t.push()
    paths = []
    for k in range(clones):
        c = _clone(run / f"w{k}", url, fsync=fsync)
        tc = Tracker(c, actor=f"agent:{k}")
        tc.pull()
        tc.board()
        paths.append(c)
    barrier = run / "barrier"
    barrier.mkdir()
    outs = [run / f"out{k}.json" for k in range(clones)]
    ps = [subprocess.Popen([sys.executable, "-c", WORKER, str(c), f"agent:{k}", str(barrier), str(o)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, **served.client_env(k, "agent")})
          for k, (c, o) in enumerate(zip(paths, outs))]
    _go(barrier, ps, clones)
    for p in ps:
        _, err = p.communicate(timeout=900)
        if p.returncode:
            raise RuntimeError(f"worker failed: {err[-2000:]}")
        if os.environ.get("FLEET_TRACE"):
            with open(os.environ["FLEET_TRACE"], "a") as fh:
                fh.write(err)
    res = [json.loads(o.read_text()) for o in outs]
    won = [(i, r["agent"]) for r in res for i in r["won"]]
    errors = [e for r in res for e in r["errors"]]
    double = len(won) - len({i for i, _ in won})
    missing = len(ids - {i for i, _ in won})
    Tracker(seed).pull()
    final = {i["id"]: i["assignee"] for i in Tracker(seed).query("all")["issues"]}
    disagree = sum(1 for i, a in won if final.get(i) != a)
    span = max(r["end"] for r in res) - min(r["start"] for r in res)
    git = {k: sum(r["git"][k] for r in res) for k in res[0]["git"]}
    return {"claims": len(won), "seconds": span, "rate": len(won) / span, "double": double, "missing": missing,
            "hub_disagrees": disagree, "errors": len(errors), "error_sample": errors[:2],
            "pushes_per_claim": git["push"] / max(1, len(won)), "fetches_per_claim": git["fetch"] / max(1, len(won)),
            "ls_remotes_per_claim": git["ls-remote"] / max(1, len(won)),
            "cpu_ms_per_claim": 1000 * sum(r["cpu"] for r in res) / max(1, len(won)),
            "per_agent": sorted(len(r["won"]) for r in res)}


def bench_claims(transport: str, *, rounds: int, clones: int, issues: int, floor_per: int,
                 fsync: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jit-fleet-") as d:
        tmp = Path(d)
        _scrub(tmp)
        base = tmp / "served"
        base.mkdir()
        _git("init", "-q", "--bare", str(base / "hub.git"), cwd=base)
        rows = []
        with resolve(transport)(base) as served:
            os.environ.update(served.env)  # the setup's client (gitolite: the lead)
            floor_url = served.create("floor-fleet.git")
            for _ in range(rounds):
                f = floor(tmp, served, floor_url, clones, floor_per)
                c = claims(tmp, served, clones=clones, issues=issues, fsync=fsync)
                c["floor"] = f
                c["ratio"] = f / c["rate"]
                rows.append(c)
        return {"transport": transport, "clones": clones, "issues": issues, "rounds": rows,
                "rate_median": statistics.median(r["rate"] for r in rows),
                "floor_median": statistics.median(r["floor"] for r in rows),
                "ratio_median": statistics.median(r["ratio"] for r in rows),
                "pushes_per_claim_median": statistics.median(r["pushes_per_claim"] for r in rows),
                "ok": all(r["double"] == 0 and r["missing"] == 0 and r["hub_disagrees"] == 0 and r["errors"] == 0
                          for r in rows),
                "machine": _machine()}


# ----------------------------------------------------------------------------- sync


def _bulk_issues(t: Any, n: int) -> list[str]:
    ids: list[str] = []
    with t.batch() as b:
        for k in range(n):
            ids.append(b.create_issue(f"issue {k}", priority=PRIORITIES[k % 4])["id"])
    return ids


def _change_many(path: Path, ids: list[str], actor: str) -> None:
    """Append one event to each of ``ids`` (setup, not measured): through the store, fsync off."""
    from gitjit.app.tracker import Tracker
    from gitjit.core.event import Event
    from gitjit.core.fold import fold_issue
    from gitjit.core.model import new_event_id, now_ts
    from gitjit.core.refs import ISSUES

    t = Tracker(path, actor=actor)
    for n, iid in enumerate(ids):
        def build(cur, iid=iid, n=n):  # type: ignore[no-untyped-def]
            clock = fold_issue(iid, cur.events).clock + 1
            return [Event(id=new_event_id(), type="issue_updated", issue_id=iid, clock=clock, timestamp=now_ts(),
                          actor=actor, changes={"context_set": {"k": n}}, fields=["context"])]
        t.store.append(ISSUES, iid, build, message=f"update {iid}", author=(actor, "bench@example.invalid"),
                       what="update")


def _timed(fn: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _copy(src: Path, dst: Path) -> None:
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def bench_sync(transport: str, *, size: int, changed: int, few: int, repeats: int,
               setup_dir: Path | None = None) -> dict[str, Any]:
    """``setup_dir``: keep the hub and the two clones at SIZE issues there (built on the first run,
    ~30 minutes here) and copy them for each later run instead of building them again."""
    from gitjit.app.tracker import Tracker

    with tempfile.TemporaryDirectory(prefix="jit-fleet-sync-") as d:
        tmp = Path(d)
        _scrub(tmp)
        base = tmp / "served"
        base.mkdir()
        kept = setup_dir is not None and (setup_dir / "ids.json").exists()
        if kept:
            assert setup_dir is not None
            _copy(setup_dir / "hub.git", base / "hub.git")
        with resolve(transport)(base) as served:
            if setup_dir is not None and served.creator is not None:
                raise SystemExit("--setup keeps the hub as a folder: use a server of its base folder "
                                 "(daemon, http, file)")
            os.environ.update(served.env)
            url = served.url("hub.git") if kept else served.create("hub.git")
            t0 = time.perf_counter()
            if kept:
                assert setup_dir is not None
                a, b = tmp / "a", tmp / "b"
                _copy(setup_dir / "a", a)
                _copy(setup_dir / "b", b)
                for c in (a, b):
                    _git("remote", "set-url", "origin", url, cwd=c)
                ids = json.loads((setup_dir / "ids.json").read_text())
            else:
                a = _clone(tmp / "a", url, fsync=False)
                b = _clone(tmp / "b", url, fsync=False)
                ta = Tracker(a, actor="agent:a")
                ids = _bulk_issues(ta, size)
                ta.push()
                Tracker(b).pull()
                if setup_dir is not None:
                    setup_dir.mkdir(parents=True, exist_ok=True)
                    for name, src in (("hub.git", base / "hub.git"), ("a", a), ("b", b)):
                        _copy(src, setup_dir / name)
                    (setup_dir / "ids.json").write_text(json.dumps(ids))
            setup = time.perf_counter() - t0
            _git("config", "jit.fsync", "true", cwd=b)
            out: dict[str, Any] = {"transport": transport, "size": size, "setup_seconds": round(setup, 1),
                                   "machine": _machine()}
            noop = []
            for _ in range(repeats):
                dt, res = _timed(lambda: Tracker(b).sync("origin"))
                assert res["push"]["count"] == 0 and not res["pull"]["created"], res
                noop.append(dt)
            out["noop_sync_seconds"] = [round(x, 3) for x in noop]
            # a few refs moved
            _change_many(a, ids[:few], "agent:a")
            Tracker(a).push()
            dt, res = _timed(lambda: Tracker(b).pull("origin"))
            assert len(res["fast_forwarded"]) == few, res["counts"]
            out["pull_few"] = {"moved": few, "seconds": round(dt, 3)}
            # many refs moved
            _change_many(a, ids[:changed], "agent:a")
            Tracker(a).push()
            dt, res = _timed(lambda: Tracker(b).sync("origin"))
            assert len(res["pull"]["fast_forwarded"]) == changed, res["pull"]["counts"]
            out["sync_changed"] = {"moved": changed, "seconds": round(dt, 3)}
            return out


# ----------------------------------------------------------------------------- report


def table(results: dict[str, Any]) -> str:
    lines = [("| transport | clones | issues | claims/s (median) | floor pushes/s | claim = N bare pushes | "
              "pushes / won claim | fetches / won claim | CPU ms / claim | correct |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results.get("claims", []):
        rs = r["rounds"]
        each = ", ".join(f"{x['rate']:.2f}" for x in rs)
        lines.append(
            f"| {r['transport']} | {r['clones']} | {r['issues']} | **{r['rate_median']:.2f}** "
            f"({each}) | {r['floor_median']:.2f} | "
            f"**{r['ratio_median']:.2f}** | {r['pushes_per_claim_median']:.2f} | "
            f"{statistics.median(x['fetches_per_claim'] for x in rs):.2f} | "
            f"{statistics.median(x['cpu_ms_per_claim'] for x in rs):.0f} | "
            f"{'yes' if r['ok'] else 'NO'} |")
    s = results.get("sync")
    if s:
        lines += ["", (f"Sync at {s['size']:,} issues over {s['transport']}: no-op `jit sync` "
                       f"{', '.join(f'{x:.2f}' for x in s['noop_sync_seconds'])} s; `jit pull` after "
                       f"{s['pull_few']['moved']} moved refs {s['pull_few']['seconds']:.2f} s; `jit sync` of "
                       f"{s['sync_changed']['moved']:,} changed issues {s['sync_changed']['seconds']:.2f} s.")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fleet", description=__doc__.split("\n\n")[0])
    p.add_argument("what", nargs="?", default="claims", choices=["claims", "sync", "all"])
    p.add_argument("--transport", action="append", help="daemon, http, file, apache, nginx, ssh, gitolite or module:function (repeatable)")
    p.add_argument("--clones", type=int, default=8)
    p.add_argument("--issues", type=int, default=80)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--floor-per", type=int, default=10, help="bare pushes per process for the floor")
    p.add_argument("--no-fsync", action="store_true", help="jit.fsync false in the agents' clones")
    p.add_argument("--size", type=int, default=100_000)
    p.add_argument("--changed", type=int, default=10_000)
    p.add_argument("--few", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--setup", type=Path, help="sync: keep the hub and clones at SIZE issues in this directory and "
                                              "reuse them on later runs (building them takes ~30 minutes)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--write", action="store_true",
                   help="put the table in docs/performance.md, section 'A fleet on one hub', under 'Latest run'")
    a = p.parse_args(argv)
    transports = a.transport or ["daemon", "http"]
    results: dict[str, Any] = {"command": "python -m bench.fleet " + " ".join(argv or sys.argv[1:])}
    if a.what in ("claims", "all"):
        results["claims"] = [bench_claims(t, rounds=a.rounds, clones=a.clones, issues=a.issues,
                                          floor_per=a.floor_per, fsync=not a.no_fsync) for t in transports]
    if a.what in ("sync", "all"):
        results["sync"] = bench_sync(transports[0], size=a.size, changed=a.changed, few=a.few, repeats=a.repeats,
                                     setup_dir=a.setup)
    print(json.dumps(results, indent=1, default=str))
    print(table(results))
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))
    if a.write:
        write_doc(results)
    return 0


def write_doc(results: dict[str, Any]) -> None:
    """Replace the text between '### Latest run' and the next heading of docs/performance.md's
    section 'A fleet on one hub' with this run's machine, command and table."""
    doc = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
    text = doc.read_text()
    start = text.index("## A fleet on one hub")
    mark = text.index("### Latest run", start) + len("### Latest run\n")
    end = text.find("\n#", mark)
    end = len(text) if end < 0 else end + 1
    body = (f"\n`{results['command']}`, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{_machine()} at the end:\n\n{table(results)}\n\n")
    doc.write_text(text[:mark] + body + text[end:])


if __name__ == "__main__":
    raise SystemExit(main())
