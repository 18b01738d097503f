"""How much gitjit's hooks add to ``git commit``: medians of real ``git commit`` runs.

Scenarios, each in a fresh repository under a temporary directory:

* ``no_hooks``: git alone (``core.hooksPath`` pointing at an empty directory);
* ``hooks_plain``: all gitjit hooks installed, a commit with no trailer and no gate defined
  (the common case: every hook takes its fast path and never imports the library);
* ``hooks_refs``: the message carries ``Refs: <id>`` (commit-msg checks it, post-commit links it);
* ``hooks_gate``: the committer holds an issue with an auto gate whose checker is ``true``
  (pre-commit runs and records it), and the message carries ``Refs:``.

Each figure is the median wall time; ``cpu_ms`` holds the median CPU time (user + system of git
and every process it started), which a busy machine distorts much less. ``jit_startup`` is the
floor any hook pays: one ``jit --version`` process. The shims find
``jit`` on PATH; here PATH starts with the console script of this interpreter, so a version
manager's shim (pyenv adds ~0.1 s per call) is not measured.

Run: ``python bench/bench_hooks.py`` (prints JSON). ``bench_hooks()`` is what bench runners import.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["bench_hooks"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "JIT_"))}
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    script = Path(sys.executable).parent / "jit"
    if script.exists():
        (bindir / "jit").symlink_to(script)
    else:  # no console script next to the interpreter: run the module
        (bindir / "jit").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gitjit "$@"\n')
        (bindir / "jit").chmod(0o755)
    env.update({
        "HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C.UTF-8", "GIT_TERMINAL_PROMPT": "0",
        "PATH": f"{bindir}{os.pathsep}{env.get('PATH', '')}",
    })
    return env


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    p = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.strip()[-500:]}")
    return p.stdout.strip()


def _median_ms(args: list[str], cwd: Path, env: dict[str, str], runs: int, cpu: dict[str, float],
               key: str) -> float:
    """Median wall time; the median CPU time (user + system of git and its hooks) goes to ``cpu[key]``,
    which a busy machine inflates far less than wall time."""
    times, cpus = [], []
    for _ in range(runs):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        _run(args, cwd, env)
        times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    cpu[key] = round(statistics.median(cpus) * 1000, 1)
    return round(statistics.median(times) * 1000, 1)


def _repo(tmp: Path, name: str, env: dict[str, str], *, hooks: bool, issues: int) -> tuple[Path, str | None]:
    r = tmp / name
    _run(["git", "init", "-q", "-b", "main", str(r)], tmp, env)
    _run(["git", "config", "user.name", "Bench"], r, env)
    _run(["git", "config", "user.email", "bench@example.invalid"], r, env)
    _run(["git", "commit", "-q", "--allow-empty", "-m", "root"], r, env)
    if not hooks:
        (tmp / "empty-hooks").mkdir(exist_ok=True)
        _run(["git", "config", "core.hooksPath", str(tmp / "empty-hooks")], r, env)
        return r, None
    _run(["jit", "init"], r, env)
    _run(["jit", "hooks", "install"], r, env)
    first = None
    for i in range(issues):
        iid = _run(["jit", "-q", "issue", "create", "-t", f"issue {i}"], r, env)
        first = first or iid
    return r, first


def bench_hooks(*, runs: int = 9, issues: int = 50) -> dict[str, Any]:
    """Median wall time (ms) of ``git commit --allow-empty`` per scenario, and the overheads."""
    if shutil.which("git") is None:
        raise RuntimeError("git is not on PATH")
    with tempfile.TemporaryDirectory(prefix="jit-bench-hooks-") as d:
        tmp = Path(d)
        env = _env(tmp)
        commit = ["git", "commit", "-q", "--allow-empty", "-m"]
        out: dict[str, Any] = {"runs": runs, "issues": issues}
        cpu: dict[str, float] = {}
        out["jit_startup_ms"] = _median_ms(["jit", "--version"], tmp, env, runs, cpu, "jit_startup_ms")

        r, _ = _repo(tmp, "plain-git", env, hooks=False, issues=0)
        out["no_hooks_ms"] = _median_ms(commit + ["work"], r, env, runs, cpu, "no_hooks_ms")

        r, iid = _repo(tmp, "hooks", env, hooks=True, issues=issues)
        assert iid is not None
        out["hooks_plain_ms"] = _median_ms(commit + ["work"], r, env, runs, cpu, "hooks_plain_ms")
        out["hooks_refs_ms"] = _median_ms(commit + [f"work\n\nRefs: {iid[:8]}"], r, env, runs, cpu,
                                          "hooks_refs_ms")

        _run(["jit", "registry", "add", "quick", "--title", "Quick", "--auto", "--command", "true"], r, env)
        gated = _run(["jit", "-q", "issue", "create", "-t", "gated", "--gate", "quick"], r, env)
        _run(["jit", "issue", "claim", gated, "Bench <bench@example.invalid>"], r, env)
        out["hooks_gate_ms"] = _median_ms(commit + [f"work\n\nRefs: {gated[:8]}"], r, env, runs, cpu,
                                          "hooks_gate_ms")

        base = out["no_hooks_ms"]
        for k in ("hooks_plain", "hooks_refs", "hooks_gate"):
            out[f"{k}_overhead_ms"] = round(out[f"{k}_ms"] - base, 1)
        out["cpu_ms"] = cpu
        return out


if __name__ == "__main__":
    print(json.dumps(bench_hooks(), indent=2))
