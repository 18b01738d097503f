"""Reads of ``jit mcp`` that come after a pause, as an agent's do (it writes, thinks, reads):
``python -m bench.mcp_pause [--pause-ms 50] [--runs 60] [--size 100]``.

One server, one client (the SDK's, over stdio), no other writer: each round is an ``update``, a
pause, then ``show`` and ``ready``. During the pause the server does its idle work (docs/index.md,
"A server's idle work"), so the reads find the index's snapshot recorded. ``python -m bench.mcp``
measures the opposite case: two servers on one repository called back to back, where every read
follows the other server's writes and lists the refs. Prints the median wall time of each call and
the CPU time it cost the server (all its threads), in milliseconds; with ``jit.fsync false``, as
the point is the reads.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .mcp import children, cpu_ns
from .suite import ROOT, build_repo, git, load, scrubbed_env


async def measure(repo: Path, env: dict[str, str], runs: int, pause: float) -> dict[str, Any]:
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "gitjit", "mcp", "--actor", "agent:bench"],
                                   cwd=str(repo), env={**env, "PYTHONPATH": str(ROOT)})
    before = children()
    out: dict[str, list[tuple[float, float]]] = {"update": [], "show": [], "ready": []}
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        await s.list_tools()
        new = children() - before
        pid = max(new)
        ids = [i["id"] for i in (await s.call_tool("ready", {"limit": 200})).structured_content["issues"]]
        rng = random.Random(3)

        async def timed(name: str, args: dict[str, Any], keep: bool) -> None:
            c0, t0 = cpu_ns(pid), time.perf_counter()
            res = await s.call_tool(name, args)
            if res.is_error:
                raise RuntimeError(f"{name}: {res.structured_content}")
            if keep:
                out[name].append(((time.perf_counter() - t0) * 1000, (cpu_ns(pid) - c0) / 1e6))

        for n in range(runs + 3):
            keep = n >= 3  # the first rounds open the index and warm the caches
            await timed("update", {"id": rng.choice(ids), "priority": rng.choice(["low", "high"])}, keep)
            await asyncio.sleep(pause)
            await timed("show", {"id": rng.choice(ids)}, keep)
            await timed("ready", {"limit": 20}, keep)
    return {k: {"wall_ms": round(statistics.median(x[0] for x in v), 2),
                "server_cpu_ms": round(statistics.median(x[1] for x in v), 2)} for k, v in out.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mcp_pause", description=__doc__.split("\n\n")[0])
    ap.add_argument("--pause-ms", type=float, default=50, help="the pause after each write (ms)")
    ap.add_argument("--runs", type=int, default=60, help="rounds timed")
    ap.add_argument("--size", type=int, default=100, help="issues in the repository built for it")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="jit-bench-mcp-pause-"))
    try:
        env = scrubbed_env(tmp / "home")
        (tmp / "home").mkdir()
        repo, _ = build_repo(tmp, a.size, env)
        git("config", "jit.fsync", "false", cwd=repo, env=env)
        before = load()
        res = asyncio.run(measure(repo, env, a.runs, a.pause_ms / 1000))
        print(json.dumps({"pause_ms": a.pause_ms, "runs": a.runs, "size": a.size, "load_before": before,
                          "load_after": load(), "results": res}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
