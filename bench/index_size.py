"""The index's size against the pack it indexes, before and after a change to its storage:
``python -m bench.index_size --before REV [--sizes 100,100000] [--repo N=PATH ...] [--runs 9]
[--doc docs/performance.md]``.

For each size, a repository is built with ``bench.suite.build_repo`` (or taken from ``--repo
N=PATH``, one built so before and kept: building 100,000 issues takes minutes) and copied once per
side. Each side (``REV`` exported, and this checkout) then rebuilds its own index from nothing in
a new process (``jit index rebuild``: its wall and CPU time), the index is checkpointed, and its
file (plus WAL) is measured against ``size-pack`` of ``git count-objects -v`` (the repositories
are packed by ``git gc``). ``dbstat`` names the tables and indexes that take the space. The
index-served reads are then timed as in ``bench.frontdoor``: whole processes, the two sides
alternating, the median of ``--runs``.

With ``--doc``, the tables replace the part of that file between ``<!-- index-size:begin -->``
and ``<!-- index-size:end -->``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.frontdoor import Side, export, ready_ids
from bench.suite import ROOT, build_repo, git, load, machine, scrubbed_env

BEGIN, END = "<!-- index-size:begin -->", "<!-- index-size:end -->"
INDEX = Path(".git") / "jit" / "index.sqlite3"


def reads(ids: list[str]) -> list[tuple[str, list[str]]]:
    """The index-served reads (issue 4's figures)."""
    show = ids[len(ids) // 2]
    return [
        ("query ready --json", ["query", "ready", "--json"]),
        ("issue show --json", ["issue", "show", show, "--json"]),
        ("status --json", ["status", "--json"]),
        ("events tail --json", ["events", "tail", "--json"]),
        ("issue list --json", ["issue", "list", "--json"]),
        ("graph show ID", ["graph", "show", show]),
    ]


def rebuild(side: Side, repo: Path) -> dict[str, Any]:
    """``jit index rebuild`` by this side, from no index at all; then the index's bytes."""
    for s in ("", "-wal", "-shm"):
        Path(str(repo / INDEX) + s).unlink(missing_ok=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    side.run("rebuild", ["index", "rebuild", "--json"], repo)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    db = sqlite3.connect(repo / INDEX)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables = db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    db.close()
    size = sum(p.stat().st_size for p in (repo / INDEX, Path(str(repo / INDEX) + "-wal")) if p.exists())
    return {"bytes": size, "tables": tables, "wall_s": wall,
            "cpu_s": r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime}


def measure(size: int, base: Path, tmp: Path, sides: list[Side], runs: int, env: dict[str, str]) -> dict[str, Any]:
    git("gc", "-q", cwd=base, env=env)
    pack = dict(line.split(": ") for line in git("count-objects", "-v", cwd=base, env=env).splitlines())
    out: dict[str, Any] = {"size": size, "pack": int(pack["size-pack"]) * 1024, "load": [load()]}
    copies = {}
    for s in sides:
        copies[s.name] = tmp / f"{s.name}-{size}"
        shutil.rmtree(copies[s.name], ignore_errors=True)
        shutil.copytree(base, copies[s.name], symlinks=True)
        out[s.name] = rebuild(s, copies[s.name])
        b = out[s.name]
        print(f"{size:>7}  {s.name:<6} index {b['bytes'] / 1e6:8.1f} MB  pack {out['pack'] / 1e6:6.1f} MB  "
              f"ratio {b['bytes'] / out['pack']:.2f}  rebuild {b['wall_s']:.1f} s wall, {b['cpu_s']:.1f} s CPU",
              flush=True)
    ids = ready_ids(copies[sides[-1].name], {**env, "PYTHONPATH": str(sides[-1].tree)}, 8)
    out["reads"] = []
    for label, args in reads(ids):
        key = f"{size}:{label}"
        for s in sides:  # warm-up
            s.run(key + ":warm", args, copies[s.name])
        for i in range(runs):
            for s in (sides if i % 2 == 0 else sides[::-1]):
                s.run(key, args, copies[s.name])
        b, a = sides
        row = {"command": label, "before_cpu": statistics.median(b.cpus[key]) * 1000,
               "after_cpu": statistics.median(a.cpus[key]) * 1000,
               "before_wall": statistics.median(b.walls[key]) * 1000, "after_wall": statistics.median(a.walls[key]) * 1000}
        out["reads"].append(row)
        print(f"{size:>7}  {label:<22} before {row['before_cpu']:7.1f} ms CPU ({row['before_wall']:7.1f} wall)   "
              f"after {row['after_cpu']:7.1f} ms CPU ({row['after_wall']:7.1f} wall)   "
              f"ratio {row['after_cpu'] / row['before_cpu']:.2f}", flush=True)
    out["load"].append(load())
    for c in copies.values():
        shutil.rmtree(c)
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 10e6 else f"{n / 1e6:.2f} MB"


def table(results: list[dict[str, Any]], before: str, after: str, runs: int, cmdline: str) -> str:
    m = machine()
    loads = [x for r in results for x in r["load"]]
    lines = [BEGIN, "",
             (f"Measured {time.strftime('%Y-%m-%d')} with `{cmdline}` on {m.get('cpu')}, {os.cpu_count()} cores "
              f"(Python {m.get('python')}, SQLite {m.get('sqlite')}, {m.get('git')}), a shared machine: load average "
              f"{min(loads):.1f}-{max(loads):.1f} during the runs. Before `{before}`, after `{after}`. The index "
              "as `jit index rebuild` makes it from nothing, checkpointed (file + WAL); the pack after `git gc`."), "",
             ("| issues | pack | index before | ratio | index after | ratio | rebuild before (wall / CPU) "
              "| rebuild after (wall / CPU) |"),
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        b, a = r["before"], r["after"]
        lines.append(f"| {r['size']:,} | {_mb(r['pack'])} | {_mb(b['bytes'])} | "
                     f"{b['bytes'] / r['pack']:.2f} | {_mb(a['bytes'])} | {a['bytes'] / r['pack']:.2f} | "
                     f"{b['wall_s']:.1f} / {b['cpu_s']:.1f} s | {a['wall_s']:.1f} / {a['cpu_s']:.1f} s |")
    big = results[-1]
    lines += ["", (f"Where the space goes at {big['size']:,} issues (`SELECT name, SUM(pgsize) FROM dbstat GROUP BY "
                   "name`), the largest tables and indexes:"), "",
              "| before | MB | after | MB |", "|---|---:|---|---:|"]
    bt, at = big["before"]["tables"][:12], big["after"]["tables"][:12]
    for k in range(max(len(bt), len(at))):
        x = bt[k] if k < len(bt) else ("", 0)
        y = at[k] if k < len(at) else ("", 0)
        lines.append(f"| `{x[0]}` | {x[1] / 1e6:.1f} | `{y[0]}` | {y[1] / 1e6:.1f} |")
    lines += ["", (f"The index-served reads, whole processes, the median of {runs} alternating runs of each side, "
                   "CPU time (user + system) and wall time in milliseconds; ratio = after / before of the CPU medians:"),
              "",
              "| issues | command | before CPU | after CPU | ratio | before wall | after wall |",
              "|---:|---|---:|---:|---:|---:|---:|"]
    for r in results:
        for x in r["reads"]:
            lines.append(f"| {r['size']:,} | `{x['command']}` | {x['before_cpu']:.1f} | {x['after_cpu']:.1f} | "
                         f"{x['after_cpu'] / x['before_cpu']:.2f} | {x['before_wall']:.1f} | {x['after_wall']:.1f} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.index_size", description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the git revision to compare against")
    ap.add_argument("--sizes", default="100,100000", help="comma-separated issue counts")
    ap.add_argument("--repo", action="append", default=[],
                    help="N=PATH: the repository of N issues built before (by bench.suite.build_repo)")
    ap.add_argument("--after", help="a git revision to measure instead of this checkout")
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--doc", help="write the tables into this Markdown file, between the markers")
    a = ap.parse_args(argv)
    given = {int(k): Path(v) for k, v in (x.split("=", 1) for x in a.repo)}
    with tempfile.TemporaryDirectory(prefix="gitjit-index-size-") as d:
        tmp = Path(d)
        (tmp / "home").mkdir()
        env = scrubbed_env(tmp / "home")
        before = Side("before", export(a.before, tmp / "before-tree"), env)
        after = Side("after", export(a.after, tmp / "after-tree") if a.after else ROOT, env)
        head = subprocess.run(["git", "rev-parse", "--short", a.after or "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = "" if a.after else subprocess.run(["git", "status", "--porcelain", "gitjit"], cwd=ROOT,
                                                  capture_output=True, text=True, check=True).stdout.strip()
        results = []
        for n in (int(x) for x in a.sizes.split(",")):
            base = given.get(n) or build_repo(tmp, n, {**env, "PYTHONPATH": str(ROOT)})[0]
            results.append(measure(n, base, tmp, [before, after], a.runs, env))
    text = table(results, a.before, head + (" with uncommitted changes" if dirty else ""), a.runs,
                 "python -m bench.index_size " + " ".join(argv if argv is not None else sys.argv[1:]))
    print(text)
    if a.doc:
        p = Path(a.doc)
        doc = p.read_text()
        if BEGIN in doc and END in doc:
            doc = doc[:doc.index(BEGIN)] + text + doc[doc.index(END) + len(END):]
        else:
            doc = doc.rstrip() + "\n\n" + text + "\n"
        p.write_text(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
