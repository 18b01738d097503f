"""Whole-process time of ``jit prime`` next to the reads it stands beside:
``python -m bench.prime [--sizes 100] [--runs 21] [--doc docs/performance.md]``.

One repository per size (bench.suite's data set), every command run as the ``jit`` console script
runs it (``from gitjit.cli import main``), interleaved in one loop so that the machine's noise
falls on all of them alike; each figure is the median of ``--runs`` processes: wall time and CPU
time (user + system) in milliseconds. ``jit prime`` is timed with the actor given (``JIT_ACTOR``,
as an agent runs it) and without (the actor then comes from git's ``user.name``/``user.email``).
With ``--doc`` the table replaces the part of that file between ``<!-- prime:begin -->`` and
``<!-- prime:end -->``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.suite import ROOT, build_repo, machine, scrubbed_env

BEGIN, END = "<!-- prime:begin -->", "<!-- prime:end -->"
CODE = "import sys; from gitjit.cli import main; sys.exit(main())"

COMMANDS = [
    ("jit query ready --json", ["query", "ready", "--json"], {}),
    ("jit status --json", ["status", "--json"], {}),
    ("jit prime (JIT_ACTOR set)", ["prime"], {"JIT_ACTOR": "agent:bench"}),
    ("jit prime --json (JIT_ACTOR set)", ["prime", "--json"], {"JIT_ACTOR": "agent:bench"}),
    ("jit prime (actor from git config)", ["prime"], {}),
]


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CODE, *args], cwd=cwd, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise RuntimeError(f"jit {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()[-500:]}")
    return wall, r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100")
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--doc", type=Path)
    a = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="jit-bench-prime-") as d:
        tmp = Path(d)
        home = tmp / "home"
        home.mkdir()
        env = {**scrubbed_env(home), "PYTHONPATH": str(ROOT)}
        subprocess.run(["git", "config", "--global", "user.name", "bench"], env=env, check=True)
        subprocess.run(["git", "config", "--global", "user.email", "bench@example.invalid"], env=env, check=True)
        for n in (int(s) for s in a.sizes.split(",")):
            repo, _ = build_repo(tmp, n, env)
            times: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in COMMANDS}
            for label, args, extra in COMMANDS:  # warm-up: the index in step, files in the page cache
                run(args, repo, {**env, **extra})
            for i in range(a.runs):
                order = COMMANDS if i % 2 == 0 else COMMANDS[::-1]
                for label, args, extra in order:
                    times[label].append(run(args, repo, {**env, **extra}))
            for label, _, _ in COMMANDS:
                walls, cpus = zip(*times[label])
                rows.append((n, label, statistics.median(cpus) * 1000, statistics.median(walls) * 1000))
    m = machine()
    cmd = "python -m bench.prime " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [(f"Measured {time.strftime('%Y-%m-%d')} with `{cmd.strip()}` on {m.get('cpu', '?')}, "
              f"{m.get('cores', '?')} cores (Python {m.get('python', '?')}, {m.get('git', '?')}): the median of "
              f"{a.runs} interleaved runs of each whole process, milliseconds."), "",
             "| issues | command | CPU | wall |", "|---|---|---|---|"]
    lines += [f"| {n:,} | `{label}` | {cpu:.1f} | {wall:.1f} |" for n, label, cpu, wall in rows]
    table = "\n".join(lines)
    print(table)
    if a.doc:
        text = a.doc.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            text = head + BEGIN + "\n" + table + "\n" + END + rest.split(END, 1)[1]
        else:
            text += f"\n## `jit prime`\n\n{BEGIN}\n{table}\n{END}\n"
        a.doc.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
