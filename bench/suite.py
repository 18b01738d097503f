"""The benchmark: ``python -m bench [--quick] [--sizes 1000,10000,100000] [--runs N]``.

For each size it builds a repository with realistic dependencies (epics of ~25 issues, each
issue depending on 0-3 earlier ones nearby; most old work done, recent work open or in
progress; gates on a fifth of the issues) by ``jit import``, then measures, as real processes
of the ``jit`` console script next to this interpreter (no version-manager shim):
``query ready --json``, ``query blocked``, ``issue show``, ``status``, ``events tail``,
``graph export``, ``issue claim``, ``issue claim-next``, ``issue update``, ``issue create``,
and the other commands of ``OTHER_COMMANDS`` (listing, search, event queries, graph walks, the
registry, the index's status, description, assignee, dependency and gate writes; a few runs each);
in-process through the library: the ready query with a warm index, claims and claim-next in one
process and in 8 processes contending for the same work, and creating every issue of the size
one by one. Once per run: ``jit --version``, refs layout (flat vs sharded loose refs), sync of
1,000 and 10,000 changed issues between two clones (``bench/bench_sync.py``) and ``git
commit`` with and without the hooks (``bench/bench_hooks.py``).

Every process figure is the median of ``--runs`` runs, wall time and CPU time (user + system
of the process and its children): on a shared machine the CPU time is the steadier one.
Results: ``bench/results.json`` and the generated part of ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
JIT = str(Path(sys.executable).parent / "jit")
TARGETS_MS = {
    "query_ready_json": {100: 60, 10_000: 200, 100_000: 600},
    "issue_show": {100_000: 200}, "claim": {100_000: 200}, "update": {100_000: 200},
    "lib_ready": {100_000: 50}, "version": 50,
}


# ---------------------------------------------------------------------------------- environment

def scrubbed_env(home: Path) -> dict[str, str]:
    # PYTHONDONTWRITEBYTECODE (set in some sandboxes) would measure compiling gitjit on every run
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "JIT_")) and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C.UTF-8",
                "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid",
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    return env


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    import sqlite3

    import pygit2

    git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": platform.platform(),
            "python": platform.python_version(), "git": git, "pygit2": pygit2.__version__,
            "libgit2": pygit2.LIBGIT2_VERSION, "sqlite": sqlite3.sqlite_version,
            "filesystem": _fs_type(), "date": time.strftime("%Y-%m-%d %H:%M"), "cpu_probe_ms": cpu_probe_ms()}


def _fs_type() -> str:
    """The temporary directory's file system, from ``/proc/mounts`` where there is one: type,
    device and, for ext3/ext4, whether it has a journal (without one, ext4 makes every file
    creation scan past recently freed inodes: see ``settle``)."""
    tmp = os.path.realpath(tempfile.gettempdir())
    try:
        mounts = [line.split()[:3] for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        mounts = []
    best: list[str] | None = None
    for dev, point, kind in (m for m in mounts if len(m) == 3):
        if (tmp == point or tmp.startswith(point.rstrip("/") + "/")) and (best is None or len(point) > len(best[1])):
            best = [dev, point, kind]
    if best is None:
        try:
            r = subprocess.run(["stat", "-f", "-c", "%T", tmp], capture_output=True, text=True)
            return r.stdout.strip()
        except OSError:
            return ""
    dev, point, kind = best
    out = f"{kind} ({dev} on {point})"
    if kind in ("ext3", "ext4") and os.path.isdir("/proc/fs/jbd2"):
        name = os.path.basename(dev)
        journal = any(j.split("-")[0] == name for j in os.listdir("/proc/fs/jbd2"))
        out += ", with a journal" if journal else ", **without a journal**"
    return out


def load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return -1.0


# ---------------------------------------------------------------------------------- timing

def proc(args: list[str], cwd: Path, env: dict[str, str], runs: int,
         prepare: Callable[[int], list[str]] | None = None) -> dict[str, Any]:
    """Median wall and CPU milliseconds of a process; ``prepare(i)`` gives per-run arguments."""
    walls, cpus = [], []
    out = ""
    for i in range(runs):
        a = args + (prepare(i) if prepare else [])
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(a, cwd=cwd, env=env, capture_output=True)
        walls.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(a)} failed ({p.returncode}): {p.stderr.decode()[-400:]}")
        out = p.stdout
    return {"wall_ms": round(statistics.median(walls) * 1000, 1), "cpu_ms": round(statistics.median(cpus) * 1000, 1),
            "min_ms": round(min(walls) * 1000, 1), "runs": runs, "out_bytes": len(out)}


def inproc(fn: Callable[[], Any], runs: int) -> dict[str, Any]:
    walls = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return {"wall_ms": round(statistics.median(walls) * 1000, 2), "min_ms": round(min(walls) * 1000, 2),
            "runs": runs}


# ---------------------------------------------------------------------------------- data

VERBS = ["Implement", "Fix", "Refactor", "Document", "Test", "Review", "Design", "Migrate", "Profile", "Remove"]
NOUNS = ["parser", "lexer", "login flow", "cache", "scheduler", "index", "exporter", "CLI", "API", "queue",
         "retry logic", "config loader", "metrics", "sync", "importer"]


def dataset(n: int, seed: int = 4) -> list[dict[str, Any]]:
    """``n`` issues as ``jit import`` lines: epics of 25, dependencies on 0-3 earlier issues of the same or
    the previous epic; the oldest 80% mostly finished, the next 15% half in flight, the newest 5% open."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1)
    out: list[dict[str, Any]] = []
    state_of: list[str] = []
    for i in range(n):
        epic = i // 25
        lo = max(0, (epic - 1) * 25)
        k = rng.choices([0, 1, 2, 3], [35, 35, 20, 10])[0]
        deps = sorted(rng.sample(range(lo, i), min(k, i - lo))) if i > lo else []
        pos = i / max(n, 1)
        r = rng.random()
        if pos < 0.8:
            state = "done" if r < 0.9 else "rejected" if r < 0.94 else "archived" if r < 0.98 else "open"
        elif pos < 0.95:
            state = "done" if r < 0.4 else "in_progress" if r < 0.5 else "open"
        else:
            state = "open"
        if state == "done" and any(state_of[d] not in ("done", "rejected") for d in deps):
            state = "open"
        state_of.append(state)
        created = base + timedelta(seconds=37 * i)
        rec: dict[str, Any] = {
            "key": f"i{i}", "title": f"{rng.choice(VERBS)} {rng.choice(NOUNS)} #{i}",
            "description": f"Part of epic {epic}. " + " ".join(rng.choice(NOUNS) for _ in range(rng.randint(5, 25))),
            "priority": rng.choices(["low", "normal", "high", "critical"], [15, 60, 20, 5])[0], "state": state,
            "labels": [f"team:{rng.choice(['core', 'web', 'infra', 'data'])}",
                       f"type:{rng.choice(['task', 'bug', 'feature'])}"],
            "depends_on": [f"i{d}" for d in deps], "created_at": created.isoformat(),
        }
        if rng.random() < 0.3:
            rec["context"] = {"component": rng.choice(NOUNS), "estimate": rng.randint(1, 13)}
        if rng.random() < 0.2:
            rec["gates"] = ["review"]
            if state == "done":
                rec["gate_status"] = {"review": {"status": "passed", "by": "human:reviewer"}}
        if state == "in_progress":
            rec["assignee"] = f"agent:w{rng.randint(1, 20)}"
        if state == "done":
            rec["completed_at"] = (created + timedelta(hours=rng.randint(1, 200))).isoformat()
        out.append(rec)
    return out


# ---------------------------------------------------------------------------------- repositories

def git(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def build_repo(tmp: Path, n: int, env: dict[str, str]) -> tuple[Path, dict[str, Any]]:
    from gitjit.app.exchange import import_file
    from gitjit.app.tracker import Tracker

    repo = tmp / f"repo-{n}"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp, env=env)
    data = tmp / f"issues-{n}.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in dataset(n)))
    info: dict[str, Any] = {}
    with _environ(env):
        t = Tracker(repo, actor="agent:bench")
        t.init()
        t.registry_add("review", title="Code review")
        t0 = time.perf_counter()
        res = import_file(t, str(data))
        info["import_s"] = round(time.perf_counter() - t0, 2)
        info["imported"] = res["count"]
        t.board()
        assert t.index.indexer() is not None
    git("gc", "-q", cwd=repo, env=env)
    size = dict(line.split(": ") for line in git("count-objects", "-v", cwd=repo, env=env).splitlines())
    info["pack_kib"] = int(size["size-pack"])
    info["bytes_per_issue"] = round(int(size["size-pack"]) * 1024 / n)
    # what a fresh clone's first command (or an upgrade) costs: every ref read from the packed
    # repository and folded, in a new process (an in-process rebuild would reuse the parsed events)
    rb = proc([JIT, "index", "rebuild", "--json"], repo, env, 1)
    info["index_rebuild_s"] = round(rb["wall_ms"] / 1000, 2)
    info["index_rebuild_cpu_s"] = round(rb["cpu_ms"] / 1000, 2)
    # the index as a clone has it (measured after the import it would include the import's WAL)
    db = repo / ".git" / "jit" / "index.sqlite3"
    info["index_bytes"] = sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())
    info["events"] = _count_events(repo, env)
    return repo, info


def _count_events(repo: Path, env: dict[str, str]) -> float:
    import sqlite3

    db = sqlite3.connect(repo / ".git" / "jit" / "index.sqlite3")
    ev, iss = db.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM issues)").fetchone()
    db.close()
    return round(ev / max(iss, 1), 2)


class _environ:
    """Run library code under the scrubbed environment (identity, no user config)."""

    def __init__(self, env: dict[str, str]):
        self.env = env

    def __enter__(self) -> None:
        self.saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)

    def __exit__(self, *a: Any) -> None:
        os.environ.clear()
        os.environ.update(self.saved)


# ---------------------------------------------------------------------------------- measurements

def measure_size(tmp: Path, n: int, runs: int, env: dict[str, str], create_all: bool) -> dict[str, Any]:
    res: dict[str, Any] = {"n": n, "load_before": load()}
    print(f"[bench] {n} issues: building", file=sys.stderr, flush=True)
    repo, res["build"] = build_repo(tmp, n, env)
    with _environ(env):
        from gitjit.app.tracker import Tracker

        t = Tracker(repo)
        b = t.board()
        ready = b.ready()
        res["ready_count"] = len(ready)
        res["blocked_count"] = len(b.blocked())
        show_id = next((i for i in ready if t.show(i)["dependencies"]), ready[0])
    print(f"[bench] {n}: reads ({len(ready)} ready)", file=sys.stderr, flush=True)
    r = res["proc"] = {}
    r["query_ready_json"] = proc([JIT, "query", "ready", "--json"], repo, env, runs)
    r["query_blocked"] = proc([JIT, "query", "blocked"], repo, env, runs)
    r["issue_show"] = proc([JIT, "issue", "show", show_id, "--json"], repo, env, runs)
    r["status"] = proc([JIT, "status", "--json"], repo, env, runs)
    r["events_tail"] = proc([JIT, "events", "tail", "--json"], repo, env, runs)
    r["graph_export"] = proc([JIT, "graph", "export", "--format", "json"], repo, env, max(3, runs // 2))
    r["query_ready_full_cli"] = proc([sys.executable, "-m", "gitjit", "query", "ready", "--json"], repo, env,
                                     max(3, runs // 2))
    print(f"[bench] {n}: process writes", file=sys.stderr, flush=True)
    pool = list(ready)
    random.Random(1).shuffle(pool)
    cr = max(1, min(runs, len(pool) // 4))
    claim_ids, pool = pool[:cr], pool[cr:]
    with _environ(env):
        from gitjit.app.tracker import Tracker

        every = Tracker(repo).board().ready() + Tracker(repo).board().blocked()
    random.Random(2).shuffle(every)
    upd_ids = every[:runs]
    r["claim"] = proc([JIT, "issue", "claim"], repo, env, cr, lambda i: [claim_ids[i], f"agent:p{i}"])
    r["update"] = proc([JIT, "issue", "update"], repo, env, runs,
                       lambda i: [upd_ids[i % len(upd_ids)], "--context", f"run={i}"])
    r["claim_next"] = proc([JIT, "issue", "claim-next"], repo, env, cr, lambda i: [f"agent:n{i}"])
    r["create"] = proc([JIT, "-q", "issue", "create", "-t"], repo, env, runs, lambda i: [f"bench create {i}"])
    r["query_ready_after_writes"] = proc([JIT, "query", "ready", "--json"], repo, env, runs)
    res["other"] = other_commands(repo, env, max(3, runs // 2), show_id, upd_ids)

    print(f"[bench] {n}: library", file=sys.stderr, flush=True)
    lib = res["lib"] = {}
    with _environ(env):
        from gitjit.app.tracker import Tracker

        t = Tracker(repo, actor="agent:lib")
        t.board()
        lib["ready_ids"] = inproc(lambda: t.board().ready(), runs * 3)
        lib["ready_query"] = inproc(lambda: t.query("ready"), runs)
        lib["refresh_noop"] = inproc(lambda: t.board(), runs * 3)
        pool = t.board().ready()
        random.Random(3).shuffle(pool)
        k = max(1, min(200, len(pool) // 5))
        ids = pool[:k]

        def each(fn: Callable[[int, str], Any], items: list[str]) -> dict[str, float]:
            t0, c0, done = time.perf_counter(), time.process_time(), 0
            for j, i in enumerate(items):
                try:
                    fn(j, i)
                    done += 1
                except Exception:  # noqa: BLE001 - NoWorkError ends claim_next
                    break
            d = max(done, 1)
            return {"wall_ms": round((time.perf_counter() - t0) * 1000 / d, 2),
                    "cpu_ms": round((time.process_time() - c0) * 1000 / d, 2), "count": done}

        lib["claim"] = each(lambda j, i: t.claim(i, "agent:lib"), ids)
        lib["update"] = each(lambda j, i: t.update_issue(i, context={"lib": j}), (every * 2)[:k])
        lib["claim_next"] = each(lambda j, i: t.claim_next("agent:lib-next"), ids)
        c = min(1000, n)
        lib["create"] = each(lambda j, i: t.create_issue(f"library create {j}", description="created by the benchmark",
                                                          labels=["team:bench"]), [""] * c)
        # the same writes without fsync (git config jit.fsync false): what durability costs here
        git("config", "jit.fsync", "false", cwd=repo, env=env)
        t = Tracker(repo, actor="agent:lib")
        rest = [i for i in t.board().ready() if i not in set(ids)][:50]
        lib["claim_nofsync"] = each(lambda j, i: t.claim(i, "agent:lib"), rest)
        lib["create_nofsync"] = each(lambda j, i: t.create_issue(f"nofsync {j}"), [""] * 50)
        git("config", "--unset", "jit.fsync", cwd=repo, env=env)
    print(f"[bench] {n}: contention", file=sys.stderr, flush=True)
    # 100 claims a process at 10,000 issues and more: the window holds at least one `git pack-refs`
    # (loose refs are packed every 200-400 writes), as the steady state does
    res["contention"] = contention(tmp, repo, env, procs=8, limit=max(10, min(100, len(ready) // 20)))
    with _environ(env):
        from gitjit.app.tracker import Tracker

        left = Tracker(repo).board().ready()
    res["contention_disjoint"] = contention(tmp, repo, env, procs=8, limit=0, disjoint=left[:min(800, len(left))])
    # the same without fsync: how much of the contended rate is the disk's (informational, no target)
    git("config", "jit.fsync", "false", cwd=repo, env=env)
    with _environ(env):
        left = Tracker(repo).board().ready()
    res["contention_disjoint_nofsync"] = contention(tmp, repo, env, procs=8, limit=0,
                                                    disjoint=left[:min(800, len(left))])
    res["contention_disjoint_nofsync"]["mode"] += " with `jit.fsync false`"
    git("config", "--unset", "jit.fsync", cwd=repo, env=env)
    # the same as contention_disjoint, but from the page cache as the quiet minute left it (where
    # enough ready work is left: the smallest repository has run out by now)
    with _environ(env):
        left = Tracker(repo).board().ready()
    if len(left) >= 400:
        res["contention_disjoint_cold"] = contention(tmp, repo, env, procs=8, limit=0,
                                                     disjoint=left[:min(800, len(left) // 2)], cold=True)
        res["contention_disjoint_cold"]["mode"] += ", page cache not warmed"
        left = left[min(800, len(left) // 2):]
    # the same on a copy in memory (tmpfs: no disk behind fsync or file creation): what the disk costs
    shm = memory_dir(repo) if len(left) >= 200 else None
    if shm is not None:
        copy = shm / f"jit-bench-{n}-{os.getpid()}"
        try:
            shutil.copytree(repo, copy, symlinks=True)
            with _environ(env):
                Tracker(copy).board()  # the copy's index, checked before the clock starts
            res["contention_disjoint_tmpfs"] = contention(tmp, copy, env, procs=8, limit=0,
                                                          disjoint=left[:min(800, len(left))])
            res["contention_disjoint_tmpfs"]["mode"] += f", a copy of the repository on tmpfs ({shm})"
        finally:
            shutil.rmtree(copy, ignore_errors=True)
    # the least a claim must do (bench/lean_claims.py), on this repository and disk: how far
    # gitjit's general claim path is from the floor of any claim here (informational). Last,
    # because it leaves the index's stored JSON of these issues simplified: the index goes after it
    if len(left) >= 200:
        res["contention_lean"] = lean_contention(tmp, repo, env, left[:min(800, len(left))])
    if create_all:
        print(f"[bench] {n}: creating {n} issues through the library", file=sys.stderr, flush=True)
        res["create_all"] = create_many(tmp, n, env)
        res["create_all_batch"] = create_many_batched(tmp, n, env)
    res["load_after"] = load()
    shutil.rmtree(repo, ignore_errors=True)
    return res


def _create_us(d: Path, n: int = 30) -> float:
    """Median µs to create an empty file in ``d``. The files stay (under ``d``, named
    ``jit-bench-probe-*``) until ``_drop_probes``: deleting them would add to what it measures."""
    ts = []
    for _ in range(n):
        p = d / f"jit-bench-probe-{time.monotonic_ns()}"
        t0 = time.perf_counter()
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        ts.append(time.perf_counter() - t0)
        os.close(fd)
    return round(statistics.median(ts) * 1e6, 1)


def _drop_probes(d: Path) -> None:
    for p in d.glob("jit-bench-probe-*"):
        p.unlink(missing_ok=True)


def _refs_create_us(repo: Path) -> float | None:
    """``_create_us`` in ``refs/jit/issues``, where every claim's ref lock is created: a directory of
    its own on disk, often in another inode group than ``.git/objects``, and the one the claims'
    own ``git pack-refs --prune`` frees inodes in. The probes are named ``*.lock`` (git, libgit2
    and jit skip those when they list refs) and removed at once."""
    d = repo / ".git" / "refs" / "jit" / "issues"
    if not d.is_dir():
        return None
    ts = []
    made = []
    try:
        for _ in range(30):
            p = d / f"jit-bench-probe-{time.monotonic_ns()}.lock"
            t0 = time.perf_counter()
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            ts.append(time.perf_counter() - t0)
            os.close(fd)
            made.append(p)
    finally:
        for p in made:
            p.unlink(missing_ok=True)
    return round(statistics.median(ts) * 1e6, 1)


def cpu_probe_ms(rounds: int = 5) -> float:
    """How long a fixed piece of pure-Python work (JSON out and back and a sort: what a claim's
    Python does most) takes right now, median of ``rounds``, in ms. This VM's CPUs are shared
    with the host's other work: a similar loop took 0.195-0.285 s minutes apart on an idle guest,
    and longer while the other vCPU wrote files (docs/performance.md, "Latest round"). Measured at
    the start and end of every contention row, it says how fast the machine was for that row."""
    d = {str(i): [i, f"value {i}", {"k": i % 7}] for i in range(400)}
    ts = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(20):
            x = json.loads(json.dumps(d))
            sorted(x.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ts.append(time.perf_counter() - t0)
    return round(statistics.median(ts) * 1000, 2)


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far (``/proc/stat``: every process and the
    kernel's own threads, such as writeback), or None off Linux."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v) - idle) / hz, sum(v) / hz


def _wait_for_barrier(barrier: Path, n: int, ps: list[subprocess.Popen[bytes]], deadline: float) -> None:
    """Until all ``n`` workers have reached the start barrier (or one exited, or the deadline)."""
    while time.time() < deadline and len(list(barrier.iterdir())) < n:
        if any(p.poll() is not None for p in ps):
            return
        time.sleep(0.0005)


def index_current(repo: Path, env: dict[str, str]) -> float:
    """Bring the repository's index in step with the refs and with the code being measured,
    before any worker starts (``jit index status`` refreshes it, rebuilding an outdated one): on
    a copy made by other code (a by-hand A/B on an older copy), one worker would otherwise rebuild
    it in its setup while the others wait, a minute at 100,000 issues. Returns the seconds it
    took (well under one unless it rebuilt)."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "gitjit", "index", "status", "--json"], cwd=repo,
                       env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise RuntimeError(f"jit index status failed: {p.stderr.strip()[-500:]}")
    return round(time.perf_counter() - t0, 2)


def settle(tmp: Path, repo: Path, *, max_s: float = 180.0) -> dict[str, Any]:
    """Let the file system forget this benchmark's own deletions before a timed contention run.

    On ext4 without a journal (this machine's disk; docs/performance.md), every file creation
    scans past the inodes of its directory's group freed in the last minute or more. Building
    and deleting the earlier repositories, and `git gc` after the import, free hundreds of
    thousands of inodes; a claim creates five files (three loose objects, the ref lock, a
    reflog), each of which then took up to ~0.8 ms instead of ~0.08 ms. That is the setup's
    cost, not the claims': flush, then wait (at most ``max_s``) until creating a file in the
    repository's object directory costs at most twice what it costs in a new directory. The
    claims' own deletions (packed loose refs, repacked loose objects) stay in the measurement."""
    objects = repo / ".git" / "objects"
    fresh = tmp / f"fresh-{time.monotonic_ns()}"
    fresh.mkdir()
    os.sync()
    t0 = time.monotonic()
    base = _create_us(fresh)
    first = now = _create_us(objects)
    while now > 2 * base and time.monotonic() - t0 < max_s:
        time.sleep(10)
        base, now = _create_us(fresh), _create_us(objects)
    _drop_probes(fresh)
    fresh.rmdir()
    return {"create_us_at_start": first, "create_us": now, "create_us_new_dir": base,
            "waited_s": round(time.monotonic() - t0, 1)}


def _hot_files(repo: Path) -> list[Path]:
    """The files every claim reads pages of at random: the index, the packs and ``packed-refs``."""
    g = repo / ".git"
    return sorted([*g.glob("jit/index.sqlite3*"), *g.glob("objects/pack/*"), g / "packed-refs"])


def resident(files: list[Path]) -> float | None:
    """The share of ``files``' pages in the page cache (``mincore``), or None where it cannot be read."""
    import ctypes
    import mmap

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    page = mmap.PAGESIZE
    have = total = 0
    for f in files:
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue
        try:
            size = os.fstat(fd).st_size
            if not size:
                continue
            addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if addr in (None, ctypes.c_void_p(-1).value):
                return None
            try:
                n = (size + page - 1) // page
                vec = (ctypes.c_ubyte * n)()
                if libc.mincore(addr, size, vec) != 0:
                    return None
                have += sum(b & 1 for b in vec)
                total += n
            finally:
                libc.munmap(addr, size)
        finally:
            os.close(fd)
    return round(have / total, 3) if total else None


def warm(files: list[Path]) -> None:
    """Read ``files`` into the page cache, as a repository in steady use has them."""
    for f in files:
        try:
            with open(f, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except OSError:
            pass


def memory_dir(repo: Path) -> Path | None:
    """A tmpfs directory with room for two copies of ``repo`` (``/dev/shm`` on Linux), or None."""
    d = Path("/dev/shm")
    try:
        kinds = {m.split()[1]: m.split()[2] for m in Path("/proc/mounts").read_text().splitlines() if len(m.split()) > 2}
        if kinds.get(str(d)) != "tmpfs":
            return None
        size = sum(f.stat().st_size for f in repo.rglob("*") if f.is_file() and not f.is_symlink())
        st = os.statvfs(d)
        return d if st.f_bavail * st.f_frsize > 2 * size else None
    except OSError:
        return None


#: ``other_commands``' rows: key, label in the table
OTHER_COMMANDS = [
    ("issue_list", "`jit issue list -s in_progress --json`"),
    ("search_one", "`jit issue search TITLE --json` (one issue's title)"),
    ("search_none", "`jit issue search 'no such words' --json`"),
    ("events_issue", "`jit events query --issue ID --json`"),
    ("events_type", "`jit events query --event-type issue_claimed --limit 10 --json`"),
    ("graph_deps", "`jit graph deps ID --json`"),
    ("graph_downstream", "`jit graph downstream ID --json`"),
    ("graph_show", "`jit graph show ID`"),
    ("registry_list", "`jit registry list --json`"),
    ("index_status", "`jit index status --json`"),
    ("update_description", "`jit issue update ID -d TEXT`"),
    ("assign", "`jit issue assign ID AGENT`"),
    ("dep_add", "`jit dep add A B`"),
    ("gate_pass", "`jit gate pass ID review`"),
]


def other_commands(repo: Path, env: dict[str, str], runs: int, show_id: str, upd_ids: list[str]) -> dict[str, Any]:
    """The rest of the commands a user or agent runs, one process each, so that a slow one shows
    up in the benchmark (issue 4: "every command must stay interactive"). The writes use issues
    made for them (no edge between new issues can close a cycle)."""
    with _environ(env):
        from gitjit.app.tracker import Tracker

        t = Tracker(repo, actor="agent:bench")
        title = t.show(show_id)["title"]
        fresh = [t.create_issue(f"other command {k}", gates=["review"])["id"] for k in range(3 * runs)]
    o: dict[str, Any] = {}
    o["issue_list"] = proc([JIT, "issue", "list", "-s", "in_progress", "--json"], repo, env, runs)
    o["search_one"] = proc([JIT, "issue", "search", title, "--json"], repo, env, runs)
    o["search_none"] = proc([JIT, "issue", "search", "no such words", "--json"], repo, env, runs)
    o["events_issue"] = proc([JIT, "events", "query", "--issue", show_id, "--json"], repo, env, runs)
    o["events_type"] = proc([JIT, "events", "query", "--event-type", "issue_claimed", "--limit", "10", "--json"],
                            repo, env, runs)
    o["graph_deps"] = proc([JIT, "graph", "deps", show_id, "--json"], repo, env, runs)
    o["graph_downstream"] = proc([JIT, "graph", "downstream", show_id, "--json"], repo, env, runs)
    o["graph_show"] = proc([JIT, "graph", "show", show_id], repo, env, runs)
    o["registry_list"] = proc([JIT, "registry", "list", "--json"], repo, env, runs)
    o["index_status"] = proc([JIT, "index", "status", "--json"], repo, env, runs)
    o["update_description"] = proc([JIT, "issue", "update"], repo, env, runs,
                                   lambda i: [upd_ids[i % len(upd_ids)], "-d", f"described by the benchmark {i}"])
    o["assign"] = proc([JIT, "issue", "assign"], repo, env, runs, lambda i: [fresh[i], f"agent:o{i}"])
    o["dep_add"] = proc([JIT, "dep", "add"], repo, env, runs, lambda i: [fresh[runs + i], fresh[2 * runs + i]])
    o["gate_pass"] = proc([JIT, "gate", "pass"], repo, env, runs, lambda i: [fresh[2 * runs + i], "review"])
    return o


def contention(tmp: Path, repo: Path, env: dict[str, str], *, procs: int, limit: int,
               disjoint: list[str] | None = None, cold: bool = False) -> dict[str, Any]:
    """``procs`` processes claim through the library at once: ``claim_next`` until each has ``limit``
    claims or no work is left (all race for the same first candidates), or, with ``disjoint``, each
    claims its own share of those issues (no two want the same one). Checks that no issue was
    claimed twice and that every claim is on the ref. ``cpu_ms_per_claim`` counts every process's
    CPU time from the start barrier on: on a machine with C cores the rate cannot exceed
    C * 1000 / cpu_ms_per_claim.

    After ``settle``'s quiet minute, the repository's files are read back into the page cache
    (``warm``) unless ``cold``: this machine's kernel pages out what nobody touched for about a
    minute (DAMON reclaim, docs/performance.md), which left the index and the packs half on disk
    and every claim waiting for its reads, as a repository in steady use does not."""
    fs = {"index_check_s": index_current(repo, env), **settle(tmp, repo)}
    hot = _hot_files(repo)
    fs["resident_before"] = resident(hot)
    if not cold:
        warm(hot)
    fs["resident_at_start"] = resident(hot)
    fs["refs_create_us_at_start"] = _refs_create_us(repo)
    fs["cpu_probe_ms_at_start"] = cpu_probe_ms()
    barrier = tmp / f"barrier-{time.monotonic_ns()}"
    barrier.mkdir()
    outs = [tmp / f"claims-{k}.json" for k in range(procs)]
    extra: list[list[str]] = [[] for _ in range(procs)]
    if disjoint is not None:
        for k in range(procs):
            f = tmp / f"ids-{k}.json"
            f.write_text(json.dumps(disjoint[k::procs]))
            extra[k] = [str(f)]
    ps = [subprocess.Popen([sys.executable, "-m", "bench.workers", "claim", str(repo), f"agent:c{k}", str(limit),
                            str(barrier), str(procs), str(outs[k]), *extra[k]], cwd=ROOT,
                           env={**env, "PYTHONPATH": str(ROOT)})
          for k in range(procs)]
    _wait_for_barrier(barrier, procs, ps, time.time() + 120)
    m0 = machine_cpu()
    for p in ps:
        if p.wait(timeout=1800) != 0:
            raise RuntimeError("a contention worker failed")
    m1 = machine_cpu()
    rows = [json.loads(o.read_text()) for o in outs]
    claimed = [i for r in rows for i in r["claimed"]]
    span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    cpu = sum(r["cpu"] for r in rows)
    if m0 is not None and m1 is not None and claimed:
        # from the barrier to the last worker's exit: also each worker's last write of its results
        # and its exit (small), and every other process on the machine (idle while this runs)
        fs["machine_ms_per_claim"] = round((m1[0] - m0[0]) * 1000 / len(claimed), 1)
        fs["machine_idle"] = round(1 - (m1[0] - m0[0]) / max(m1[1] - m0[1], 1e-9), 3)
    with _environ(env):
        from gitjit.app.tracker import Tracker

        ref = Tracker(repo)
        ref.use_index = False  # check against the refs themselves
        holders = {r["agent"]: set(r["claimed"]) for r in rows}
        wrong = [i for a, ids in holders.items() for i in ids if ref.show(i)["assignee"] != a]
    shutil.rmtree(barrier, ignore_errors=True)
    after = _create_us(repo / ".git" / "objects")
    _drop_probes(repo / ".git" / "objects")
    fs["refs_create_us_after"] = _refs_create_us(repo)
    fs["cpu_probe_ms_after"] = cpu_probe_ms()
    return {"procs": procs, "mode": "disjoint claims" if disjoint is not None else "claim_next race",
            "claims": len(claimed), "distinct": len(set(claimed)), "seconds": round(span, 3),
            "claims_per_s": round(len(claimed) / span, 1) if span else None,
            "cpu_ms_per_claim": round(cpu * 1000 / max(len(claimed), 1), 1),
            "double_claims": len(claimed) - len(set(claimed)), "wrong_holder": len(wrong),
            "fs": fs, "create_us_after": after}


def lean_contention(tmp: Path, repo: Path, env: dict[str, str], ids: list[str]) -> dict[str, Any]:
    """8 processes claim their shares of ``ids`` with ``bench/lean_claims.py`` (the least any claim
    must do), after the same quiet wait and page-cache warming as ``contention``; checked against
    the refs as ``contention`` is. The index is deleted afterwards (the lean claims simplify the
    stored JSON of the issues they claim; the next command rebuilds it)."""
    from bench.lean_claims import run

    fs = settle(tmp, repo)
    warm(_hot_files(repo))
    fs["cpu_probe_ms_at_start"] = cpu_probe_ms()
    with _environ(env):
        r = run(str(repo), ids, procs=8, fsync=True, meter=machine_cpu)
        m0, m1 = r.pop("meter")
        from gitjit.app.tracker import Tracker

        ref = Tracker(repo)
        ref.use_index = False  # check against the refs themselves
        wrong = [i for a, got in r.pop("holders").items() for i in got if ref.show(i)["assignee"] != a]
    if m0 is not None and m1 is not None and r["claims"]:
        fs["machine_ms_per_claim"] = round((m1[0] - m0[0]) * 1000 / r["claims"], 1)
        fs["machine_idle"] = round(1 - (m1[0] - m0[0]) / max(m1[1] - m0[1], 1e-9), 3)
    fs["cpu_probe_ms_after"] = cpu_probe_ms()
    for f in (repo / ".git" / "jit").glob("index.sqlite3*"):
        f.unlink()
    after = _create_us(repo / ".git" / "objects")
    _drop_probes(repo / ".git" / "objects")
    return {**r, "mode": "disjoint claims, the least a claim must do (`bench/lean_claims.py`), same disk",
            "double_claims": r["claims"] - r["distinct"], "wrong_holder": len(wrong),
            "fs": fs, "create_us_after": after}


def _creator(tmp: Path, name: str, env: dict[str, str]) -> Any:
    """A Tracker on a fresh repository ``tmp/name`` (call inside ``_environ(env)``)."""
    from gitjit.app.tracker import Tracker

    git("init", "-q", str(tmp / name), cwd=tmp, env=env)
    t = Tracker(tmp / name, actor="agent:creator")
    t.init()
    return t


def _create_args(j: int) -> tuple[tuple[str], dict[str, Any]]:
    return (f"issue {j}",), {"description": "created one by one through the library",
                             "priority": ("normal", "high", "low")[j % 3], "labels": ["team:bench"]}


def create_many(tmp: Path, n: int, env: dict[str, str]) -> dict[str, Any]:
    """Create ``n`` issues one by one through the library in a fresh repository."""
    with _environ(env):
        t = _creator(tmp, f"create-{n}", env)
        t0 = time.perf_counter()
        marks = {}
        for j in range(n):
            a, kw = _create_args(j)
            t.create_issue(*a, **kw)
            if (j + 1) in (1000, 10_000, 100_000):
                marks[str(j + 1)] = round(time.perf_counter() - t0, 1)
        total = time.perf_counter() - t0
    shutil.rmtree(tmp / f"create-{n}", ignore_errors=True)
    return {"n": n, "seconds": round(total, 1), "per_issue_ms": round(total * 1000 / n, 2),
            "per_s": round(n / total, 1), "elapsed_at": marks}


def create_many_batched(tmp: Path, n: int, env: dict[str, str]) -> dict[str, Any]:
    """The same ``n`` ``create_issue`` calls inside one ``Tracker.batch()`` (fresh repository):
    staged by the calls, written at the end of the block; the clock stops once the index is in step."""
    with _environ(env):
        t = _creator(tmp, f"create-batch-{n}", env)
        t0 = time.perf_counter()
        with t.batch() as b:
            for j in range(n):
                a, kw = _create_args(j)
                b.create_issue(*a, **kw)
            staged = time.perf_counter() - t0
        total = time.perf_counter() - t0
        ok = len(t.board().ready()) == n
    shutil.rmtree(tmp / f"create-batch-{n}", ignore_errors=True)
    return {"n": n, "seconds": round(total, 1), "staging_s": round(staged, 1), "commit_s": round(total - staged, 1),
            "per_issue_ms": round(total * 1000 / n, 3), "all_ready": ok}


def refs_layout(tmp: Path, k: int, env: dict[str, str]) -> dict[str, Any]:
    """``k`` loose refs in one directory vs 256 shard directories: create, look up, list, pack; and the
    index's stat check over each layout."""
    import pygit2

    from gitjit.store.index import scan_loose

    out: dict[str, Any] = {"refs": k}
    for layout in ("flat", "sharded"):
        repo = tmp / f"refs-{layout}"
        git("init", "-q", str(repo), cwd=tmp, env=env)
        git("commit", "-q", "--allow-empty", "-m", "x", cwd=repo, env=env)
        r = pygit2.Repository(str(repo))
        head = r.head.target
        names = [os.urandom(6).hex() for _ in range(k)]
        refs = [f"refs/jit/issues/{x}" if layout == "flat" else f"refs/jit/issues/{x[:2]}/{x}" for x in names]
        t0 = time.perf_counter()
        for ref in refs:
            r.create_reference(ref, head)
        create = time.perf_counter() - t0
        sample = random.Random(2).sample(refs, min(2000, k))
        t0 = time.perf_counter()
        for ref in sample:
            r.references.get(ref)
        lookup = time.perf_counter() - t0
        t0 = time.perf_counter()
        loose, dirs = scan_loose(str(repo / ".git"))
        scan = time.perf_counter() - t0
        t0 = time.perf_counter()
        for d in dirs:
            os.stat(repo / ".git" / d)
        statc = time.perf_counter() - t0
        t0 = time.perf_counter()
        git("pack-refs", "--all", "--prune", cwd=repo, env=env)
        pack = time.perf_counter() - t0
        out[layout] = {"create_us": round(create / k * 1e6, 1), "lookup_us": round(lookup / len(sample) * 1e6, 1),
                       "list_loose_ms": round(scan * 1000, 1), "dirs": len(dirs), "stat_dirs_ms": round(statc * 1000, 3),
                       "pack_s": round(pack, 2), "found": len(loose)}
        shutil.rmtree(repo, ignore_errors=True)
    return out


def startup(tmp: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    return {
        "python_c_pass": proc([sys.executable, "-c", "pass"], tmp, env, runs),
        "python_S_c_pass": proc([sys.executable, "-S", "-c", "pass"], tmp, env, runs),
        "jit_version": proc([JIT, "--version"], tmp, env, runs),
        "full_cli_version": proc([sys.executable, "-m", "gitjit", "--version"], tmp, env, runs),
        "import_pygit2": proc([sys.executable, "-c", "import pygit2"], tmp, env, runs),
        "import_full_stack": proc([sys.executable, "-c", "import gitjit.app.tracker, gitjit.cli.issue"], tmp, env, runs),
    }


def small_repo(tmp: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    """The Rust jit's reference point: ``query ready`` on 100 issues."""
    repo, info = build_repo(tmp, 100, env)
    r = {"build": info, "query_ready_json": proc([JIT, "query", "ready", "--json"], repo, env, runs),
         "create": proc([JIT, "-q", "issue", "create", "-t"], repo, env, runs, lambda i: [f"c{i}"])}
    shutil.rmtree(repo, ignore_errors=True)
    return r


def sync_figures(sizes: list[int]) -> dict[str, Any]:
    try:
        from bench.bench_sync import bench_merge, bench_sync
    except ImportError as e:
        return {"missing": f"bench/bench_sync.py not importable: {e}"}
    out: dict[str, Any] = {}
    for n in sizes:
        print(f"[bench] sync {n}", file=sys.stderr, flush=True)
        out[f"sync_{n}"] = bench_sync(n)
    print("[bench] merge 1000", file=sys.stderr, flush=True)
    out["merge_1000"] = bench_merge(min(1000, max(sizes)))
    return out


def hooks_figures(runs: int) -> dict[str, Any]:
    if not (ROOT / "gitjit" / "hooks.py").exists() and not (ROOT / "gitjit" / "hooks").exists():
        return {"missing": "gitjit/hooks does not exist"}
    try:
        from bench.bench_hooks import bench_hooks
    except ImportError as e:
        return {"missing": f"bench/bench_hooks.py not importable: {e}"}
    return bench_hooks(runs=runs)


# ---------------------------------------------------------------------------------- report

def _fmt(x: Any) -> str:
    if isinstance(x, dict) and "wall_ms" in x:
        cpu = f" / {x['cpu_ms']:.0f}" if "cpu_ms" in x else ""
        return f"{x['wall_ms']:.0f}{cpu}"
    return str(x)


def _each(x: dict[str, float]) -> str:
    return f"{x['wall_ms']} ms each ({x['cpu_ms']} ms CPU)"


def _met(value: float | None, target: float | None) -> str:
    if value is None or target is None:
        return ""
    return "met" if value <= target else "**missed**"


def summary(res: dict[str, Any]) -> list[str]:
    """Every target of issue 4 against its measured figure (wall-clock medians)."""
    by_n = {r["n"]: r for r in res["sizes"]}
    big = by_n.get(100_000)
    rows: list[tuple[str, str, Any, float | None]] = []

    def add(what: str, target: str, value: Any, limit: float | None, unit: str = "ms") -> None:
        shown = "not measured" if value is None else f"{value} {unit}".strip()
        ok = "" if value is None or limit is None else ("met" if float(value) <= limit else "**missed**")
        rows.append((what, target, shown, ok))  # type: ignore[arg-type]

    sm = res.get("small")
    add("`jit query ready --json`, 100 issues, whole process", "< 60 ms",
        sm and sm["query_ready_json"]["wall_ms"], 60)
    add("`jit --version`", "< 50 ms", res["startup"]["jit_version"]["wall_ms"], 50)
    for n, lim in ((10_000, 200), (100_000, 600)):
        r = by_n.get(n)
        add(f"`jit query ready --json`, {n:,} issues", f"< {lim} ms", r and r["proc"]["query_ready_json"]["wall_ms"], lim)
    add("library ready query, 100,000 issues, warm index (ordered ids)", "< 50 ms",
        big and big["lib"]["ready_ids"]["wall_ms"], 50)
    add("library `Tracker.query('ready')` with full issue JSON, 100,000 issues", "(< 50 ms)",
        big and big["lib"]["ready_query"]["wall_ms"], 50)
    for k, label in (("issue_show", "`jit issue show`"), ("claim", "`jit issue claim`"), ("update", "`jit issue update`")):
        add(f"{label}, 100,000 issues, whole process", "< 200 ms", big and big["proc"][k]["wall_ms"], 200)
    for key in ("contention", "contention_disjoint"):
        c = big[key] if big else (res["sizes"][-1][key] if res["sizes"] else None)
        n = big["n"] if big else (res["sizes"][-1]["n"] if res["sizes"] else 0)
        if c:
            add(f"claims, 8 processes, library API, {c['mode']} ({n:,} issues); no double claim: "
                f"{'yes' if c['double_claims'] == 0 and c['wrong_holder'] == 0 else '**NO**'}", "≥ 500/s",
                c["claims_per_s"], None, "/s")
            rows[-1] = (*rows[-1][:3], "met" if (c["claims_per_s"] or 0) >= 500 else "**missed**")  # type: ignore[assignment]
    sy = res.get("sync", {})
    s10 = sy.get("sync_10000") if isinstance(sy, dict) else None
    add("sync bringing 10,000 changed issues (pull)", "< 20 s", s10 and s10["pull_changed_seconds"], 20, "s")
    add("creating 100,000 issues through the library, one `create_issue` call each", "< 180 s",
        big and big.get("create_all") and big["create_all"]["seconds"], 180, "s")
    add("creating 100,000 issues through the library, `create_issue` calls inside one `Tracker.batch()`", "< 180 s",
        big and big.get("create_all_batch") and big["create_all_batch"]["seconds"], 180, "s")
    add("creating 100,000 issues through the library in one `import_items` call (`jit import`)", "< 180 s",
        big and big["build"]["import_s"], 180, "s")
    for r in res["sizes"]:
        add(f"packed repository size per issue, {r['n']:,} issues ({r['build']['events']} events each)",
            "< 1,536 bytes", r["build"]["bytes_per_issue"], 1536, "bytes")
    out = ["### Targets", "", "| target | goal | measured | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return out + [""]


def report(res: dict[str, Any]) -> str:
    m = res["machine"]
    L = [f"Generated by `{res['command']}` on {m['date']} ({res['seconds']:.0f} s).", "",
         f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']} RAM, {m['os']}, file system {m['filesystem']}; "
         f"Python {m['python']}, {m['git']}, pygit2 {m['pygit2']} (libgit2 {m['libgit2']}), SQLite {m['sqlite']}. "
         f"Load average (1 min) at the start: {res['load_start']:.1f}, at the end: {res['load_end']:.1f}."
         + (f" CPU probe at the start (`cpu_probe_ms`: a fixed piece of Python work; this VM's CPU speed varies "
            f"with the host's load): {m['cpu_probe_ms']} ms." if m.get("cpu_probe_ms") is not None else ""), "",
         "Process figures are `wall / CPU` milliseconds, medians of the runs; CPU is user + system time of the "
         "process and its children, which a busy machine distorts far less than wall time.", ""]
    L += summary(res)
    s = res["startup"]
    L += ["### Startup", "", "| what | median ms (wall / CPU) | min wall ms | target |", "|---|---|---|---|"]
    for k, label in (("python_c_pass", "`python -c pass` (interpreter + site)"),
                     ("python_S_c_pass", "`python -S -c pass` (no site)"),
                     ("import_pygit2", "`python -c 'import pygit2'`"),
                     ("import_full_stack", "`python -c 'import gitjit.app.tracker, gitjit.cli.issue'`"),
                     ("full_cli_version", "`python -m gitjit --version` (full CLI)"),
                     ("jit_version", "`jit --version`")):
        tgt = "< 50 ms " + _met(s[k]["wall_ms"], 50) if k == "jit_version" else ""
        L.append(f"| {label} | {_fmt(s[k])} | {s[k]['min_ms']:.0f} | {tgt} |")
    sm = res.get("small")
    if sm:
        L += ["", "### 100 issues", "", "| what | median ms (wall / CPU) | target |", "|---|---|---|",
              f"| `jit query ready --json` | {_fmt(sm['query_ready_json'])} | < 60 ms "
              f"{_met(sm['query_ready_json']['wall_ms'], 60)} |",
              f"| `jit issue create` | {_fmt(sm['create'])} | (Rust jit: ~9 ms) |"]
    for r in res["sizes"]:
        n = r["n"]
        b, p, lib = r["build"], r["proc"], r["lib"]
        qt = TARGETS_MS["query_ready_json"].get(n)
        big = n >= 100_000
        L += ["", f"### {n:,} issues", "",
              f"Built by `jit import` in {b['import_s']} s ({n / b['import_s']:.0f} issues/s); cold index rebuild "
              f"(`jit index rebuild` after `git gc`) {b['index_rebuild_s']} s wall / "
              f"{b.get('index_rebuild_cpu_s', '?')} s CPU (git's included); index file {b['index_bytes'] / 1024 / 1024:.1f} MiB; "
              f"{b['events']} events per issue; after `git gc` the pack is {b['pack_kib']} KiB = "
              f"**{b['bytes_per_issue']} bytes per issue** (target < 1,536: {_met(b['bytes_per_issue'], 1536)}). "
              f"{r['ready_count']} ready, {r['blocked_count']} blocked. Load average {r['load_before']:.1f} → "
              f"{r['load_after']:.1f}.", "",
              "| command (one process each) | median ms (wall / CPU) | min wall ms | target |", "|---|---|---|---|"]
        rows = [("query_ready_json", "`jit query ready --json`", qt),
                ("query_ready_full_cli", "`python -m gitjit query ready --json` (full CLI, for comparison)", None),
                ("query_blocked", "`jit query blocked`", None),
                ("issue_show", "`jit issue show ID --json`", 200 if big else None),
                ("status", "`jit status --json`", None), ("events_tail", "`jit events tail --json`", None),
                ("graph_export", "`jit graph export --format json`", None),
                ("claim", "`jit issue claim ID AGENT`", 200 if big else None),
                ("update", "`jit issue update ID --context k=v`", 200 if big else None),
                ("claim_next", "`jit issue claim-next AGENT`", None), ("create", "`jit issue create -t T`", None),
                ("query_ready_after_writes", "`jit query ready --json` right after those writes", qt)]
        for k, label, tgt in rows:
            tcol = f"< {tgt} ms {_met(p[k]['wall_ms'], tgt)}" if tgt else ""
            L.append(f"| {label} | {_fmt(p[k])} | {p[k]['min_ms']:.0f} | {tcol} |")
        if r.get("other"):
            L += ["", "| other commands (one process each) | median ms (wall / CPU) | min wall ms |", "|---|---|---|"]
            L += [f"| {label} | {_fmt(r['other'][k])} | {r['other'][k]['min_ms']:.0f} |"
                  for k, label in OTHER_COMMANDS if k in r["other"]]
        lt = 50 if big else None
        L += ["", "| library, in process | median | target |", "|---|---|---|",
              f"| ready query, warm index (ordered ids) | {lib['ready_ids']['wall_ms']} ms | "
              f"{'< 50 ms ' + _met(lib['ready_ids']['wall_ms'], lt) if lt else ''} |",
              f"| ready query, warm index (`Tracker.query('ready')`, full issue dicts) | {lib['ready_query']['wall_ms']} ms | |",
              f"| freshness check when nothing changed (`Tracker.board()`) | {lib['refresh_noop']['wall_ms']} ms | |",
              f"| `claim` | {_each(lib['claim'])} | |",
              f"| `update_issue` | {_each(lib['update'])} | |",
              f"| `claim_next` | {_each(lib['claim_next'])} | |",
              f"| `create_issue` ({lib['create']['count']} in a row) | {_each(lib['create'])} | |",
              f"| `claim` with `jit.fsync false` | {_each(lib['claim_nofsync'])} | |",
              f"| `create_issue` with `jit.fsync false` | {_each(lib['create_nofsync'])} | |"]
        for key in ("contention", "contention_disjoint", "contention_disjoint_nofsync", "contention_disjoint_cold",
                    "contention_disjoint_tmpfs", "contention_lean"):
            c = r.get(key)
            if not c:
                continue
            fs = c.get("fs")
            note = (f"; creating a file in `.git/objects`: {fs['create_us']} µs before (waited {fs['waited_s']} s "
                    f"from {fs['create_us_at_start']} µs; {fs['create_us_new_dir']} µs in a new directory), "
                    f"{c['create_us_after']} µs after") if fs else ""
            if fs and fs.get("resident_at_start") is not None:
                note += (f"; index, packs and packed-refs in the page cache: {fs['resident_before']:.0%} after the "
                         f"quiet wait, {fs['resident_at_start']:.0%} at the start")
            if fs and fs.get("machine_ms_per_claim") is not None:
                note += (f"; the whole machine (workers, kernel threads, anything else) used "
                         f"{fs['machine_ms_per_claim']} ms of CPU a claim, idle {fs['machine_idle']:.0%}")
            if fs and fs.get("cpu_probe_ms_at_start") is not None:
                note += (f"; CPU probe (the same Python work each time, `cpu_probe_ms`): "
                         f"{fs['cpu_probe_ms_at_start']} ms at the start, {fs.get('cpu_probe_ms_after')} ms after")
            if fs and "refs_create_us_at_start" in fs:
                def _us(v: Any) -> str:  # None: no such directory (`git pack-refs --prune` emptied it)
                    return "no directory (every ref packed)" if v is None else f"{v} µs"

                note += (f"; in `refs/jit/issues` (where each claim creates its ref lock): "
                         f"{_us(fs['refs_create_us_at_start'])} at the start, "
                         f"{_us(fs.get('refs_create_us_after'))} after")
            L.append(f"| {c['procs']} processes at once, {c['mode']} | {c['claims']} claims in {c['seconds']} s = "
                     f"**{c['claims_per_s']}/s**, {c['cpu_ms_per_claim']} ms CPU per claim; double claims: "
                     f"{c['double_claims']}, claims not on the ref: {c['wrong_holder']}{note} | "
                     + (f"≥ 500/s {_met(-(c['claims_per_s'] or 0), -500)} |" if key in ("contention", "contention_disjoint")
                        else "(what limits the rate: informational) |"))
        ca = r.get("create_all")
        if ca:
            L.append(f"| creating all {ca['n']:,} issues one by one (fresh repository) | {ca['seconds']} s "
                     f"({ca['per_s']}/s; elapsed at {ca['elapsed_at']}) | "
                     f"{'< 180 s ' + _met(ca['seconds'], 180) if big else ''} |")
        cb = r.get("create_all_batch")
        if cb:
            L.append(f"| the same {cb['n']:,} `create_issue` calls inside one `Tracker.batch()` | {cb['seconds']} s "
                     f"(staging {cb['staging_s']} s, writing {cb['commit_s']} s; {cb['per_issue_ms']} ms an issue; "
                     f"all {cb['n']:,} ready after: {'yes' if cb['all_ready'] else '**NO**'}) | "
                     f"{'< 180 s ' + _met(cb['seconds'], 180) if big else ''} |")
    rl = res.get("refs_layout")
    if rl:
        L += ["", f"### Loose refs: one directory or 256 shards ({rl['refs']:,} refs)", "",
              "| layout | create µs/ref | lookup µs | list all loose ms | stat every dir ms | pack-refs s |",
              "|---|---|---|---|---|---|"]
        for lay in ("flat", "sharded"):
            x = rl[lay]
            L.append(f"| {lay} ({x['dirs']} dirs) | {x['create_us']} | {x['lookup_us']} | {x['list_loose_ms']} | "
                     f"{x['stat_dirs_ms']} | {x['pack_s']} |")
    sy = res.get("sync", {})
    L += ["", "### Sync between two clones (bench/bench_sync.py)", ""]
    if "missing" in sy:
        L.append(f"Not measured: {sy['missing']}.")
    else:
        L += ["| what | seconds |", "|---|---|"]
        for k, v in sy.items():
            if k.startswith("sync_"):
                tgt = " (target < 20 s: " + _met(v["pull_changed_seconds"], 20) + ")" if v["n"] >= 10_000 else ""
                L += [f"| push {v['n']:,} new issues | {v['push_new_seconds']} |",
                      f"| pull {v['n']:,} new issues | {v['pull_new_seconds']} |",
                      f"| push {v['n']:,} changed issues | {v['push_changed_seconds']} |",
                      f"| **pull {v['n']:,} changed issues** | **{v['pull_changed_seconds']}**{tgt} |"]
        mg = sy.get("merge_1000")
        if mg:
            L.append(f"| pull and reconcile {mg['n']:,} diverged issues (merge commits) | {mg['seconds']} "
                     f"(fetch {mg['fetch_seconds']}, reconcile {mg['reconcile_seconds']}) |")
    hk = res.get("hooks", {})
    L += ["", "### `git commit` with and without the hooks (bench/bench_hooks.py)", ""]
    if "missing" in hk:
        L.append(f"Not measured: {hk['missing']}.")
    elif hk:
        cpu = hk.get("cpu_ms", {})
        L += ["| scenario | median wall ms | median CPU ms |", "|---|---|---|"]
        for k, label in (("no_hooks_ms", "plain git, no hooks"), ("hooks_plain_ms", "gitjit hooks, plain commit"),
                         ("hooks_refs_ms", "gitjit hooks, `Refs: <id>` trailer"),
                         ("hooks_gate_ms", "gitjit hooks, held issue with an auto gate")):
            L.append(f"| {label} | {hk.get(k)} | {cpu.get(k, '')} |")
    return "\n".join(L) + "\n"


def write_doc(text: str, path: Path) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    body = path.read_text() if path.exists() else f"# Performance\n\n{start}\n{end}\n"
    if start not in body:
        body += f"\n{start}\n{end}\n"
    head, _, rest = body.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{text}{end}{tail}")


# ---------------------------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 200 and 1,000, sync of 200 (for development)")
    ap.add_argument("--sizes", help="comma-separated issue counts (default 1000,10000,100000)")
    ap.add_argument("--runs", type=int, default=7, help="runs per process figure (median)")
    ap.add_argument("--no-create-all", action="store_true", help="skip creating every issue one by one")
    ap.add_argument("--skip", default="", help="comma-separated: sync,hooks,refs,small")
    ap.add_argument("--out", default=str(ROOT / "docs" / "performance.md"))
    ap.add_argument("--json", default=str(ROOT / "bench" / "results.json"))
    a = ap.parse_args(argv)
    sizes = [int(x) for x in a.sizes.split(",")] if a.sizes else ([200, 1000] if a.quick else [1000, 10_000, 100_000])
    sync_sizes = [200] if a.quick else [1000, 10_000]
    skip = set(filter(None, a.skip.split(",")))
    if not Path(JIT).exists():
        print(f"no console script at {JIT}: pip install -e . first", file=sys.stderr)
        return 2
    # bytecode for every module, as an installed package has: otherwise the first runs compile them
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "gitjit")], capture_output=True,
                   env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"})
    t_start = time.perf_counter()
    res: dict[str, Any] = {"command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
                           "machine": machine(), "load_start": load(), "sizes": []}
    with tempfile.TemporaryDirectory(prefix="jit-bench-") as d:
        tmp = Path(d)
        env = scrubbed_env(tmp)
        res["startup"] = startup(tmp, env, a.runs * 2)
        if "small" not in skip:
            res["small"] = small_repo(tmp, env, a.runs * 2)
        for n in sizes:
            res["sizes"].append(measure_size(tmp, n, a.runs, env, create_all=not a.no_create_all))
        if "refs" not in skip:
            print("[bench] refs layout", file=sys.stderr, flush=True)
            res["refs_layout"] = refs_layout(tmp, 2000 if a.quick else 20_000, env)
    if "sync" not in skip:
        res["sync"] = sync_figures(sync_sizes)
    if "hooks" not in skip:
        print("[bench] hooks", file=sys.stderr, flush=True)
        res["hooks"] = hooks_figures(a.runs)
    res["load_end"] = load()
    res["seconds"] = time.perf_counter() - t_start
    Path(a.json).write_text(json.dumps(res, indent=2) + "\n")
    write_doc(report(res), Path(a.out))
    print(report(res))
    return 0
