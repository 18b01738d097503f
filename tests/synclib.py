"""Helpers for the sharing tests: a bare hub, clones wired to it, and a comparable snapshot of a clone.

Real repositories and the real git binary only; used by tests/test_sync_*.py, tests/test_hub_claims.py
and tests/compat/test_git_merge_driver.py (plain functions, so hypothesis tests can build fresh
repositories per example).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import git, make_repo

from gitjit.app.tracker import Tracker
from gitjit.core.refs import GATES, ISSUES


def make_hub(path: Path) -> Path:
    return make_repo(path, bare=True)


def make_clone(path: Path, hub_url: str, *, refspecs: bool = False) -> Path:
    """A working repository with ``origin`` = the hub, `jit init`-ed (optionally with the fetch refspec)."""
    make_repo(path)
    git("remote", "add", "origin", hub_url, cwd=path)
    # durability (fsync per write) is tested elsewhere; here it only costs wall time
    git("config", "jit.fsync", "false", cwd=path)
    t = Tracker(path, actor="setup")
    t.init()
    if refspecs:

        t.add_refspecs("origin")
    return path


def hub_and_clones(base: Path, n: int) -> tuple[Path, list[Path]]:
    hub = make_hub(base / "hub.git")
    return hub, [make_clone(base / f"clone{i}", str(hub)) for i in range(n)]


def tracker(path: Path, actor: str = "agent:test") -> Tracker:
    return Tracker(path, actor=actor)


def jit_tips(path: Path, prefix: str = "refs/jit/") -> dict[str, str]:
    out = git("for-each-ref", "--format=%(refname) %(objectname)", prefix, cwd=path).stdout
    return dict(line.split(" ", 1) for line in out.splitlines() if line)  # type: ignore[misc]


def event_sets(path: Path) -> dict[str, list[str]]:
    """ref key -> sorted event ids, for every issue and gate ref."""
    t = Tracker(path)
    out: dict[str, list[str]] = {}
    for prefix in (ISSUES, GATES):
        for key, ld in t.store.load_all(prefix).items():
            out[prefix + key] = sorted(e.id for e in ld.events)
    return out


def snapshot(path: Path) -> dict[str, Any]:
    """Everything a user can see, in a form two clones can be compared by (order-independent)."""
    t = Tracker(path)
    st = t.status()
    st["conflicts"] = sorted(st["conflicts"], key=lambda c: json.dumps(c, sort_keys=True))
    st["recent_completions"] = sorted(st["recent_completions"], key=lambda c: c["id"])
    issues = sorted(t.query("all")["issues"], key=lambda i: i["id"])
    return {"issues": issues, "status": st, "events": event_sets(path),
            "tail": sorted(json.dumps(e, sort_keys=True) for e in t.events())}
