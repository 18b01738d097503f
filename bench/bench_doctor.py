"""``jit doctor --full`` against the depth of one issue's history: wall time and peak memory.

For each size N, a fresh repository holds one issue whose ref is a chain of N commits, each adding
one ``issue_updated`` event (a context change, ~300 bytes a line), as N updates of one issue would
leave it: commit k holds the whole log of k events, in canonical form (docs/design.md). The chain
is written with ``git fast-import`` (N library writes give the same commits, only slower), then
``python -m gitjit doctor --full --json`` runs in a child process; its wall time and peak RSS (from
``wait4``) are reported, with the time of ``git fsck`` alone, which ``--full`` runs too.

Run: ``python -m bench.bench_doctor [--commits 500,1000,5000] [--timeout 900]`` (prints JSON).
Issue 31 item 13 measured 20.7 s / 259 MB at 500 commits, 64 s / 910 MB at 1,000 and more than
454 s / 11.5 GB at 5,000 before ``verify_history`` checked each commit against its parent's
verified log instead of parsing every commit's whole log and keeping all of them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["build_history", "measure"]


def _git(*args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, **kw)


def build_history(repo: Path, n: int) -> str:
    """A repository at ``repo`` whose one issue has a history of ``n`` commits; returns its id."""
    from gitjit.api import Tracker
    from gitjit.core.event import Event
    from gitjit.core.fold import parse_events

    repo.mkdir(parents=True)
    _git("init", "-q", "-b", "main", str(repo), cwd=repo)
    _git("config", "user.name", "bench", cwd=repo)
    _git("config", "user.email", "bench@example.invalid", cwd=repo)
    t = Tracker(repo, actor="agent:bench")
    t.init()
    iid = t.create_issue("one issue, a long history", description="x" * 200)["id"]
    ref = f"refs/jit/issues/{iid}"
    tip = _git("rev-parse", ref, cwd=repo).stdout.decode().strip()
    doc = _git("cat-file", "blob", f"{tip}:events.jsonl", cwd=repo).stdout
    clock = max(e.clock for e in parse_events(doc))
    # streamed: the commits hold n(n+1)/2 events between them (4 GB at 5,000), never all in memory
    fi = subprocess.Popen(["git", "fast-import", "--quiet", "--done", "--force"], cwd=repo, stdin=subprocess.PIPE)
    assert fi.stdin is not None
    for k in range(1, n):
        clock += 1
        e = Event.from_json({
            "id": secrets.token_hex(16), "type": "issue_updated", "issue_id": iid, "clock": clock,
            "timestamp": f"2026-12-07T10:{k // 3600 % 60:02d}:{k // 60 % 60:02d}.{k % 60:06d}",
            "actor": "agent:bench", "changes": {"context_set": {"step": k, "note": f"update number {k} " + "y" * 150}}})
        doc += (e.to_line() + "\n").encode()
        msg = f"update {k}".encode()
        fi.stdin.write(b"commit %s\ncommitter bench <bench@example.invalid> %d +0000\ndata %d\n%s\n"
                       % (ref.encode(), 1_800_000_000 + k, len(msg), msg))
        if k == 1:
            fi.stdin.write(b"from %s\n" % tip.encode())
        fi.stdin.write(b"M 100644 inline events.jsonl\ndata %d\n%s\n" % (len(doc), doc))
    fi.stdin.write(b"done\n")
    fi.stdin.close()
    if fi.wait() != 0:
        raise RuntimeError("git fast-import failed")
    _git("gc", "-q", cwd=repo)  # as a long-lived repository would be: packed, deltified
    subprocess.run([sys.executable, "-m", "gitjit", "status"], cwd=repo, check=True, capture_output=True)  # the index
    return iid


def measure(n: int, *, timeout: float = 900, max_memory_mb: int | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jit-doctor-") as d:
        repo = Path(d) / "repo"
        t0 = time.monotonic()
        build_history(repo, n)
        built = round(time.monotonic() - t0, 1)
        res = _run_wait4([sys.executable, "-m", "gitjit", "doctor", "--full", "--json"], repo, timeout,
                         max_memory_mb=max_memory_mb)
        fsck = _run_wait4(["git", "fsck", "--no-dangling", "--no-progress"], repo, timeout)
        report = json.loads(res.pop("stdout") or b"null") if res.get("exit") is not None else None
        res.pop("stderr", None)
        return {"commits": n, "build_seconds": built, "doctor_full": res,
                "git_fsck_seconds": fsck.get("seconds"),
                "commits_checked": (report or {}).get("checked", {}).get("commits"),
                "problems": [p["problem"] for p in (report or {}).get("problems", [])
                             if p["severity"] != "info"][:5]}


def _run_wait4(cmd: list[str], cwd: Path, timeout: float, *, max_memory_mb: int | None = None) -> dict[str, Any]:
    """Run ``cmd``; wall time, and the peak RSS of that one child (``wait4``). ``max_memory_mb``
    caps its address space (a run that would take the machine's memory fails instead)."""

    def cap() -> None:
        if max_memory_mb:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (max_memory_mb << 20, max_memory_mb << 20))

    t0 = time.monotonic()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=cap)
    out_parts: list[bytes] = []
    import threading

    def drain(stream: Any, into: list[bytes]) -> None:
        into.append(stream.read())

    readers = [threading.Thread(target=drain, args=(p.stdout, out_parts), daemon=True),
               threading.Thread(target=drain, args=(p.stderr, []), daemon=True)]
    for r in readers:
        r.start()
    deadline = t0 + timeout
    while True:
        pid, status, usage = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            pid, status, usage = os.wait4(p.pid, 0)
            p.returncode = -9
            return {"seconds": None, "timed_out_after": timeout, "max_rss_mb": usage.ru_maxrss // 1024,
                    "exit": None}
        time.sleep(0.05)
    for r in readers:
        r.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(time.monotonic() - t0, 2), "max_rss_mb": usage.ru_maxrss // 1024,
            "exit": p.returncode, "stdout": b"".join(out_parts)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", default="500,1000,5000", help="history depths to measure (comma-separated)")
    ap.add_argument("--timeout", type=float, default=900, help="give up on one doctor run after this many seconds")
    ap.add_argument("--max-memory", type=int, default=None, metavar="MB",
                    help="cap the doctor's address space (a run over it fails with MemoryError)")
    a = ap.parse_args(argv)
    rows = []
    for n in (int(x) for x in a.commits.split(",") if x.strip()):
        rows.append(measure(n, timeout=a.timeout, max_memory_mb=a.max_memory))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
