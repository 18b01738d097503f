"""Before/after of a change to gitjit's start-up path, on copies of the same repositories:
``python -m bench.frontdoor --before REV [--sizes 100,100000] [--runs 15] [--only 'issue list']
[--doc docs/performance.md]`` (``--only``: the commands whose label holds that text).

The checkout this runs from is *after*; ``REV`` (any git revision of this repository) is
*before*, exported to a temporary folder. Each side runs as its console script would (the
``jit`` entry of its own ``pyproject.toml``, as ``python -c 'from MOD import main; ...'`` with
that side first on ``sys.path``), on its own copy of each repository, so that both read an
index of their own in the same state. Runs alternate, before, after, before, ... and every
figure is the median of ``--runs`` runs of one process: wall time and CPU time (user + system).
The ratio column is after / before of the CPU medians, the steadier figure on a shared machine.

With ``--doc``, the table replaces the part of that file between the markers
``<!-- frontdoor:begin -->`` and ``<!-- frontdoor:end -->``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import tomllib

from bench.suite import ROOT, build_repo, machine, scrubbed_env

#: the writes are timed at this size and above (the issue's targets are at 100,000 issues)
WRITES_FROM = 10_000
BEGIN, END = "<!-- frontdoor:begin -->", "<!-- frontdoor:end -->"


def export(rev: str, dest: Path) -> Path:
    """The tree of ``rev`` (its package and pyproject) in ``dest``."""
    dest.mkdir(parents=True)
    arch = subprocess.run(["git", "archive", rev, "gitjit", "pyproject.toml"], cwd=ROOT, check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=arch, check=True)
    return dest


def entry(tree: Path) -> str:
    """The module whose ``main`` the tree's ``jit`` console script runs."""
    spec = tomllib.loads((tree / "pyproject.toml").read_text())["project"]["scripts"]["jit"]
    return str(spec.split(":")[0])


class Side:
    def __init__(self, name: str, tree: Path, env: dict[str, str]) -> None:
        self.name = name
        self.tree = tree
        self.env = {**env, "PYTHONPATH": str(tree)}
        self.code = f"import sys; from {entry(tree)} import main; sys.exit(main())"
        self.walls: dict[str, list[float]] = {}
        self.cpus: dict[str, list[float]] = {}

    def run(self, key: str, args: list[str], cwd: Path) -> None:
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", self.code, *args], cwd=cwd, env=self.env, capture_output=True)
        wall = time.perf_counter() - t0
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            raise RuntimeError(f"{self.name}: jit {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
        self.walls.setdefault(key, []).append(wall)
        self.cpus.setdefault(key, []).append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)


def commands(n: int, ids: list[str]) -> list[tuple[str, Any]]:
    """``(label, args or a function of the run's number giving them)`` for one size."""
    show = ids[len(ids) // 2]
    out: list[tuple[str, Any]] = [
        ("jit --version", ["--version"]),
        ("query ready --json", ["query", "ready", "--json"]),
        ("issue show --json", ["issue", "show", show, "--json"]),
        ("status --json", ["status", "--json"]),
        ("events tail --json", ["events", "tail", "--json"]),
        ("graph show ID", ["graph", "show", show]),
        ("issue list --json", ["issue", "list", "--json"]),
    ]
    if n >= WRITES_FROM:
        out += [  # a write per run, each claim on an issue of its own (every side has its own copy)
            ("issue claim ID AGENT", lambda i: ["issue", "claim", ids[i], f"agent:bench-{i}"]),
            ("issue update ID --priority", lambda i: ["issue", "update", ids[-1], "--priority",
                                                      "high" if i % 2 else "low"]),
        ]
    return out


def ready_ids(repo: Path, env: dict[str, str], k: int) -> list[str]:
    import json

    p = subprocess.run([sys.executable, "-m", "gitjit", "query", "ready", "--json"], cwd=repo, env=env,
                       capture_output=True, text=True, check=True)
    return [i["id"] for i in json.loads(p.stdout)["issues"]][:k]


def measure(size: int, tmp: Path, sides: list[Side], runs: int, env: dict[str, str],
            only: str | None = None) -> list[dict[str, Any]]:
    base, _info = build_repo(tmp, size, env)
    copies = {}
    for s in sides:
        copies[s.name] = tmp / f"{s.name}-{size}"
        shutil.copytree(base, copies[s.name], symlinks=True)
    ids = ready_ids(base, {**env, "PYTHONPATH": str(sides[-1].tree)}, runs + 3)
    if size >= WRITES_FROM and len(ids) < runs + 3:
        raise SystemExit(f"only {len(ids)} ready issues at {size}: fewer runs, please")
    rows = []
    for label, args in commands(size, ids):
        if only and only not in label:
            continue
        key = f"{size}:{label}"
        for s in sides:  # warm-up: each side's index in step, its files in the page cache
            s.run(key + ":warm", args(runs) if callable(args) else args, copies[s.name])
        for i in range(runs):
            order = sides if i % 2 == 0 else sides[::-1]
            for s in order:
                s.run(key, args(i) if callable(args) else args, copies[s.name])
        b, a = sides
        rows.append({"size": size, "command": label,
                     "before_cpu": statistics.median(b.cpus[key]) * 1000, "after_cpu": statistics.median(a.cpus[key]) * 1000,
                     "before_wall": statistics.median(b.walls[key]) * 1000,
                     "after_wall": statistics.median(a.walls[key]) * 1000})
        r = rows[-1]
        print(f"{size:>7}  {label:<28} before {r['before_cpu']:7.1f} ms CPU ({r['before_wall']:7.1f} wall)   "
              f"after {r['after_cpu']:7.1f} ms CPU ({r['after_wall']:7.1f} wall)   "
              f"ratio {r['after_cpu'] / r['before_cpu']:.2f}", flush=True)
    shutil.rmtree(base)
    for c in copies.values():
        shutil.rmtree(c)
    return rows


def table(rows: list[dict[str, Any]], before: str, after: str, runs: int, cmdline: str) -> str:
    m = machine()
    lines = [BEGIN, "",
             f"Measured {time.strftime('%Y-%m-%d')} with `{cmdline}` on {m.get('cpu', platform.processor())}, "
             f"{os.cpu_count()} cores (Python {m.get('python', platform.python_version())}, {m.get('git', '')}): before "
             f"`{before}`, after `{after}`; the median of {runs} alternating runs of each process, CPU time "
             "(user + system) and wall time in milliseconds; ratio = after / before of the CPU medians.", "",
             "| issues | command | before CPU | after CPU | ratio | before wall | after wall |",
             "|---:|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['size']:,} | `{r['command']}` | {r['before_cpu']:.1f} | {r['after_cpu']:.1f} | "
                     f"{r['after_cpu'] / r['before_cpu']:.2f} | {r['before_wall']:.1f} | {r['after_wall']:.1f} |")
    lines += ["", END]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.frontdoor", description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the git revision to compare against")
    ap.add_argument("--sizes", default="100,100000")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--doc", help="write the table into this Markdown file, between the markers")
    ap.add_argument("--only", help="time only the commands whose label holds this text, e.g. 'issue list'")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gitjit-frontdoor-") as d:
        tmp = Path(d)
        env = scrubbed_env(tmp / "home")
        (tmp / "home").mkdir()
        before = Side("before", export(a.before, tmp / "before-tree"), env)
        after = Side("after", ROOT, env)
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "gitjit"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        rows: list[dict[str, Any]] = []
        for n in (int(x) for x in a.sizes.split(",")):
            rows += measure(n, tmp, [before, after], a.runs, {**env, "PYTHONPATH": str(ROOT)}, a.only)
    text = table(rows, a.before, head + (" with uncommitted changes" if dirty else ""), a.runs,
                 "python -m bench.frontdoor " + " ".join(argv if argv is not None else sys.argv[1:]))
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
