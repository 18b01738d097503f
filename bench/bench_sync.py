"""How long sharing takes: real clones, a real bare hub, the real git binary.

* ``bench_merge(n)``: two clones hold the same ``n`` issues, each changes every one of them offline,
  one pushes; the seconds the other's ``pull`` takes to fetch and reconcile ``n`` *diverged* issues
  (``n`` deterministic merge commits), then to push the merges back.
* ``bench_sync(n)``: seconds to push ``n`` new issues, to pull them into another clone (``n`` refs
  created), and to pull ``n`` changed issues (``n`` fast-forwards).

The setup writes events through ``EntityStore`` directly (it is not what is measured) with
``jit.fsync`` off; the measured phases run with the default (fsync on).

Run: ``python bench/bench_sync.py [N]`` (prints JSON). ``bench_merge`` and ``bench_sync`` are what
bench runners import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["bench_merge", "bench_sync"]


@contextmanager
def _scrubbed(tmp: Path) -> Iterator[None]:
    """git and jit see a private HOME and no system config, like the tests."""
    saved = dict(os.environ)
    for k in list(os.environ):
        if k.startswith(("GIT_", "JIT_")):
            del os.environ[k]
    os.environ.update({"HOME": str(tmp), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                       "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid"})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _clone(path: Path, hub: Path) -> Path:
    from gitjit.app.tracker import Tracker

    _git("init", "-q", str(path), cwd=path.parent)
    _git("remote", "add", "origin", str(hub), cwd=path)
    _git("config", "jit.fsync", "false", cwd=path)
    Tracker(path).init()
    return path


def _fsync(path: Path, on: bool) -> None:
    _git("config", "jit.fsync", "true" if on else "false", cwd=path)


def _write(path: Path, ids: list[str], kind: str, actor: str) -> None:
    """Append one event to each issue (``created`` makes them) through the CAS store."""
    from gitjit.app.tracker import Tracker
    from gitjit.core.event import Event
    from gitjit.core.fold import fold_issue
    from gitjit.core.model import new_event_id, now_ts
    from gitjit.core.refs import ISSUES

    t = Tracker(path, actor=actor)
    for n, iid in enumerate(ids):
        def build(cur, iid=iid, n=n):  # type: ignore[no-untyped-def]
            clock = fold_issue(iid, cur.events).clock + 1 if cur else 1
            if kind == "created":
                return [Event(id=new_event_id(), type="issue_created", issue_id=iid, clock=clock, timestamp=now_ts(),
                              actor=actor, title=f"issue {n}", priority="normal")]
            return [Event(id=new_event_id(), type="issue_updated", issue_id=iid, clock=clock, timestamp=now_ts(),
                          actor=actor, changes={"context_set": {actor: n}}, fields=["context"])]
        t.store.append(ISSUES, iid, build, message=f"{kind} {iid}", author=(actor, "bench@example.invalid"),
                       what=kind)


def _setup(tmp: Path, n: int) -> tuple[Path, Path, Path, list[str]]:
    from gitjit.core.model import new_issue_id

    hub = tmp / "hub.git"
    _git("init", "-q", "--bare", str(hub), cwd=tmp)
    a, b = _clone(tmp / "a", hub), _clone(tmp / "b", hub)
    ids = sorted({new_issue_id() for _ in range(n)})
    _write(a, ids, "created", "agent:a")
    return hub, a, b, ids


def bench_merge(n: int = 1000) -> dict[str, Any]:
    """Seconds for one clone to pull and reconcile ``n`` issues that both clones changed."""
    from gitjit.app.tracker import Tracker

    with tempfile.TemporaryDirectory(prefix="jit-bench-sync-") as d, _scrubbed(Path(d)):
        tmp = Path(d)
        hub, a, b, ids = _setup(tmp, n)
        Tracker(a).push()
        Tracker(b).pull()
        _write(a, ids, "updated", "agent:a")
        _write(b, ids, "updated", "agent:b")
        Tracker(a).push()
        _fsync(b, True)
        tb = Tracker(b)
        t0 = time.perf_counter()
        tb._syncer().fetch("origin")  # noqa: SLF001
        t1 = time.perf_counter()
        res = tb.pull(fetch=False)
        t2 = time.perf_counter()
        pushed = tb.push()
        t3 = time.perf_counter()
        assert len(res["merged"]) == n, res["counts"]
        assert pushed["count"] == n
        return {
            "n": n,
            "merged": len(res["merged"]),
            "fetch_seconds": round(t1 - t0, 3),
            "reconcile_seconds": round(t2 - t1, 3),
            "seconds": round(t2 - t0, 3),
            "per_issue_ms": round((t2 - t0) * 1000 / n, 3),
            "push_merges_seconds": round(t3 - t2, 3),
            "fsync": True,
        }


def bench_sync(n: int = 1000) -> dict[str, Any]:
    """Seconds to push ``n`` new issues, pull them into a second clone, and pull ``n`` changes."""
    from gitjit.app.tracker import Tracker

    with tempfile.TemporaryDirectory(prefix="jit-bench-sync-") as d, _scrubbed(Path(d)):
        tmp = Path(d)
        hub, a, b, ids = _setup(tmp, n)
        _fsync(a, True)
        _fsync(b, True)
        t0 = time.perf_counter()
        assert Tracker(a).push()["count"] == n
        t1 = time.perf_counter()
        assert len(Tracker(b).pull()["created"]) == n
        t2 = time.perf_counter()
        _fsync(a, False)
        _write(a, ids, "updated", "agent:a")
        _fsync(a, True)
        t3 = time.perf_counter()
        assert Tracker(a).push()["count"] == n
        t4 = time.perf_counter()
        assert len(Tracker(b).pull()["fast_forwarded"]) == n
        t5 = time.perf_counter()
        return {
            "n": n,
            "push_new_seconds": round(t1 - t0, 3),
            "pull_new_seconds": round(t2 - t1, 3),
            "push_changed_seconds": round(t4 - t3, 3),
            "pull_changed_seconds": round(t5 - t4, 3),
            "fsync": True,
        }


if __name__ == "__main__":
    size = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    print(json.dumps({"bench_merge": bench_merge(size), "bench_sync": bench_sync(size)}, indent=2))
