"""How fast ``jit mcp`` answers, through the MCP SDK's own client over stdio:
``python -m bench.mcp [--sizes 100,100000] [--runs 40] [--doc docs/performance.md]``.

For each size it builds a repository the way ``python -m bench`` does (``bench.suite.build_repo``:
``jit import`` of generated issues with realistic dependencies; about a minute at 100,000), starts
one ``jit mcp`` process on it with the SDK's ``stdio_client``, and times tool calls in one
interleaved loop: ``show`` (a random issue), ``ready`` (limit 20), ``update`` (a priority change)
and ``claim_next`` (each claimed issue is released again, untimed, so the repository keeps its
size and the ready list its length). Each figure is the wall time of ``call_tool`` in the client:
JSON-RPC over the pipes, the server's work, and the client's own checks of the answer (the SDK
validates structured content against the tool's output schema). The table goes between
``<!-- mcp:begin -->`` and ``<!-- mcp:end -->`` of ``--doc``, with the machine and its load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .suite import ROOT, build_repo, load, machine, scrubbed_env

BEGIN, END = "<!-- mcp:begin -->", "<!-- mcp:end -->"
TOOLS = ("show", "ready", "update", "claim_next")
MODES = ("fsync", "nofsync")
#: the seed jit's whole-process figures (a process per command), for comparison
SEED_MS = {100: {"show": "4-6", "ready": "4-6", "update": "4-6", "claim_next": "4-6"},
           100_000: {"claim_next": "810"}}
TARGET_MS = {"show": (2, 2), "ready": (2, 2), "update": (5, 10), "claim_next": (5, 10)}


def children() -> set[int]:
    """This process's child processes (every thread's, from /proc)."""
    out: set[int] = set()
    me = os.getpid()
    for tid in os.listdir(f"/proc/{me}/task"):
        try:
            out |= {int(x) for x in Path(f"/proc/{me}/task/{tid}/children").read_text().split()}
        except OSError:
            pass
    return out


def cpu_ns(pid: int) -> int:
    """CPU time a process's threads have run, in nanoseconds (``/proc/PID/task/*/schedstat``):
    unlike wall time, it does not grow when other processes take the cores."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


async def measure(repo: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """Two servers on the repository, one writing with fsync (gitjit's default) and one with
    ``jit.fsync false`` (read when a server opens the repository), called in turn in one loop."""
    from contextlib import AsyncExitStack

    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from .suite import git

    params = StdioServerParameters(command=sys.executable, args=["-m", "gitjit", "mcp", "--actor", "agent:bench"],
                                   cwd=str(repo), env={**env, "PYTHONPATH": str(ROOT)})
    times: dict[str, dict[str, list[float]]] = {m: {t: [] for t in TOOLS} for m in MODES}
    server_cpu: dict[str, dict[str, list[float]]] = {m: {t: [] for t in TOOLS} for m in MODES}
    client_cpu: dict[str, dict[str, list[float]]] = {m: {t: [] for t in TOOLS} for m in MODES}
    pids: dict[str, int] = {}
    rng = random.Random(7)
    warm = 3
    async with AsyncExitStack() as stack:
        sessions: dict[str, Any] = {}
        for mode in MODES:
            if mode == "nofsync":
                git("config", "jit.fsync", "false", cwd=repo, env=env)
            before = children()
            r, w = await stack.enter_async_context(stdio_client(params))
            s = await stack.enter_async_context(ClientSession(r, w))
            await s.initialize()
            await s.list_tools()
            await s.call_tool("status", {})  # the repository is open (and its fsync setting read)
            sessions[mode] = s
            new = children() - before
            pids[mode] = max(new) if new else -1
        git("config", "--unset", "jit.fsync", cwd=repo, env=env)
        s = sessions["fsync"]

        async def ready(limit: int) -> list[str]:
            return [i["id"] for i in (await s.call_tool("ready", {"limit": limit})).structured_content["issues"]]

        # each timed claim_next takes a different issue (none is released: a claim-release cycle of
        # one issue would grow its event log on every round); where fewer issues are ready than
        # claims to time, fresh ones are added first, untimed
        need = len(MODES) * (runs + warm)
        have = len(await ready(need))
        for n in range(need - have):
            await s.call_tool("create", {"title": f"benchmark work {n}"})
        listed = await ready(200)

        async def call(mode: str, name: str, args: dict[str, Any]) -> None:
            pid = pids[mode]
            s0 = cpu_ns(pid) if pid > 0 else 0
            c0 = time.process_time()
            t0 = time.perf_counter()
            res = await sessions[mode].call_tool(name, args)
            times[mode][name].append((time.perf_counter() - t0) * 1000)
            client_cpu[mode][name].append((time.process_time() - c0) * 1000)
            if pid > 0:
                server_cpu[mode][name].append((cpu_ns(pid) - s0) / 1e6)
            if res.is_error:
                raise RuntimeError(f"{name}: {res.content[0].text if res.content else res}")

        for n in range(runs + warm):
            for mode in MODES:
                await call(mode, "show", {"id": rng.choice(listed)})
                await call(mode, "ready", {"limit": 20})
                await call(mode, "update", {"id": rng.choice(listed),
                                            "priority": rng.choice(["low", "normal", "high"])})
                await call(mode, "claim_next", {})
                if n < warm:  # the first calls open the index and warm the caches
                    for t in TOOLS:
                        for series in (times, client_cpu, server_cpu):
                            if series[mode][t]:
                                series[mode][t].pop()
    def med(v: list[float]) -> float | None:
        return round(statistics.median(v), 2) if v else None

    out: dict[str, Any] = {m: {t: {"median_ms": med(v), "p90_ms": round(sorted(v)[int(len(v) * 0.9)], 2),
                                   "runs": len(v), "server_cpu_ms": med(server_cpu[m][t]),
                                   "client_cpu_ms": med(client_cpu[m][t])}
                               for t, v in times[m].items()} for m in MODES}
    out["added_ready"] = max(0, need - have)
    return out


def in_process(repo: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """The same calls without MCP: the server's ``Service.run`` in this process (argument check,
    Tracker, no JSON-RPC, no SDK), on the CPU time of this thread: what the Tracker itself costs."""
    from gitjit.mcp.server import Service
    from gitjit.schema.mcp import parse

    from .suite import _environ

    rng = random.Random(11)
    cpu: dict[str, list[float]] = {t: [] for t in TOOLS}
    with _environ(env):
        svc = Service([str(repo)], actor="agent:bench-inproc")
        r = svc.repos[0]
        try:
            def call(tool: str, args: dict[str, Any]) -> Any:
                return svc.run(tool, parse(tool, args), r)

            have = len(call("ready", {"limit": runs + 3})["issues"])
            for n in range(runs + 3 - have):
                call("create", {"title": f"benchmark work (in process) {n}"})
            listed = [i["id"] for i in call("ready", {"limit": 200})["issues"]]
            for n in range(runs + 3):
                for tool, args in (("show", {"id": rng.choice(listed)}), ("ready", {"limit": 20}),
                                   ("update", {"id": rng.choice(listed), "priority": rng.choice(["low", "high"])}),
                                   ("claim_next", {})):
                    c0 = time.thread_time()
                    call(tool, args)
                    if n >= 3:
                        cpu[tool].append((time.thread_time() - c0) * 1000)
        finally:
            svc.close()
    return {t: round(statistics.median(v), 2) for t, v in cpu.items()}


def table(results: dict[int, dict[str, Any]], info: dict[str, Any], command: str) -> str:
    m = info["machine"]
    out = [(f"Measured {m['date']} with `{command}` on {m['cpu']}, {m['cores']} cores (Python {m['python']}, "
           f"{m['git']}, {m['filesystem']}), load average {info['load_before']:.1f} before and "
           f"{info['load_after']:.1f} after: two `jit mcp` processes per size, one writing with fsync (the "
           "default) and one with `jit.fsync false`, called in turn; the median (and 90th percentile) of "
           f"{info['runs']} calls of each tool on each, in milliseconds: the wall time of the SDK client's "
           "`call_tool`, and the CPU time the call cost the server process (all its threads, from "
           "`/proc/PID/task/*/schedstat`) and the client (wall time grows with the load; CPU time much "
           "less). Tracker CPU = the same call made in process, without MCP (`Service.run`: the argument "
           "check and the Tracker). Seed jit = the seed's whole process per command."), "",
           ("| issues | tool | wall median | wall p90 | server CPU | client CPU | wall median, no fsync | "
            "server CPU, no fsync | Tracker CPU | target | seed jit (process) |"),
           "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n, res in results.items():
        for t in TOOLS:
            small, big = TARGET_MS[t]
            target = small if n <= 1000 else big
            seed = SEED_MS.get(n, {}).get(t, "")
            a, b = res["fsync"][t], res["nofsync"][t]
            out.append(f"| {n:,} | `{t}` | {a['median_ms']:.2f} | {a['p90_ms']:.2f} | {_f(a['server_cpu_ms'])} | "
                       f"{_f(a['client_cpu_ms'])} | {b['median_ms']:.2f} | {_f(b['server_cpu_ms'])} | "
                       f"{_f(res.get('in_process', {}).get(t))} | < {target} | {seed} |")
    added = {n: res["added_ready"] for n, res in results.items() if res["added_ready"]}
    if added:
        out += ["", "Ready issues added before timing (so that each claim takes a different one): " + ", ".join(
            f"{k} at {n:,}" for n, k in added.items()) + "."]
    return "\n".join(out)


def _f(x: float | None) -> str:
    return "" if x is None else f"{x:.2f}"


def write_doc(doc: Path, text: str) -> None:
    body = doc.read_text()
    block = f"{BEGIN}\n\n{text}\n\n{END}"
    if BEGIN in body and END in body:
        body = body.split(BEGIN)[0] + block + body.split(END, 1)[1]
    else:
        body = body.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(body)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.mcp", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100,100000", help="issue counts, comma-separated")
    ap.add_argument("--runs", type=int, default=40, help="timed calls of each tool per size")
    ap.add_argument("--doc", default=str(ROOT / "docs" / "performance.md"), help="where the table goes ('' : nowhere)")
    ap.add_argument("--repo", action="append", default=[], metavar="N=PATH",
                    help="for size N, a copy of the repository at PATH (built by python -m bench) instead of "
                         "building one; PATH itself is not changed")
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",") if x]
    given = {int(k): v for k, v in (x.split("=", 1) for x in a.repo)}
    tmp = Path(tempfile.mkdtemp(prefix="jit-bench-mcp-"))
    env = scrubbed_env(tmp / "home")
    (tmp / "home").mkdir()
    info: dict[str, Any] = {"machine": machine(), "runs": a.runs, "load_before": load()}
    results: dict[int, dict[str, Any]] = {}
    try:
        for n in sizes:
            t0 = time.perf_counter()
            if n in given:
                repo, built = tmp / f"repo-{n}", {"copied_from": given[n]}
                shutil.copytree(given[n], repo, symlinks=True)
                print(f"copied {given[n]} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            else:
                repo, built = build_repo(tmp, n, env)
                print(f"built {n:,} issues in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
            results[n] = asyncio.run(measure(repo, env, a.runs))
            results[n]["in_process"] = in_process(repo, env, a.runs)
            results[n]["build"] = built
            print(json.dumps({n: {m: results[n][m] for m in (*MODES, "in_process")}}), file=sys.stderr)
            shutil.rmtree(repo, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["load_after"] = load()
    command = "python -m bench.mcp " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(results, info, command.strip())
    print(text)
    if a.doc:
        write_doc(Path(a.doc), text)
    (ROOT / "bench" / "mcp_results.json").write_text(json.dumps({"info": info, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
