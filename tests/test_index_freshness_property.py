"""Property: whatever jit processes and plain git do to ``refs/jit/*``, in any order and with or
without freshness checks in between, every process's index answers as a fold of the refs does.

Each example gets a repository of its own (examples never share state, so a failure replays
exactly), with two long-lived trackers using the index (``mine`` writes, ``other`` only reads and
checks) and git deleting, rewinding, re-pointing and packing refs behind their backs. Checks
happen only where the example puts them: a check between two steps can hide a missed change
(``test_index.py::test_a_ref_deleted_right_after_this_process_wrote_it_is_seen_gone`` is the one
such miss found, where a check-free sequence left a deleted issue in every answer)."""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from pathlib import Path

from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from gitjit.app.tracker import Tracker
from gitjit.core.errors import GitjitError

STEPS = ["create", "create", "update", "claim", "claim next", "release", "done", "dep", "other update",
         "external update", "delete", "delete newest", "rewind", "repoint", "pack", "check mine", "check other"]


def _answers(t: Tracker) -> dict:
    b = t.board()
    return {"issues": {i: (st.title, st.state, st.priority, st.assignee, tuple(st.dependencies), tuple(st.labels))
                       for i, st in sorted(b.issues.items())},
            "ready": t.query("ready")["issues"] and [i["id"] for i in t.query("ready")["issues"]],
            "blocked": [i["id"] for i in t.query("blocked")["issues"]]}


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(hs.lists(hs.tuples(hs.sampled_from(STEPS), hs.integers(0, 10**6)), min_size=1, max_size=14))
def test_every_index_answers_as_the_refs_do(steps: list[tuple[str, int]]) -> None:
    _check(steps, serve=False)


#: ``mine`` serves as ``jit mcp`` does (``Tracker.serve``): its refreshes leave recording the
#: snapshot to its idle work, run between steps right away (often while the signature is racy) or
#: once it is due (a clock tick after the last change)
SERVE_STEPS = [*STEPS, "idle mine", "idle mine when due", "idle mine when due"]


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(hs.lists(hs.tuples(hs.sampled_from(SERVE_STEPS), hs.integers(0, 10**6)), min_size=1, max_size=14))
def test_a_serving_index_answers_as_the_refs_do(steps: list[tuple[str, int]]) -> None:
    _check(steps, serve=True)


def _check(steps: list[tuple[str, int]], *, serve: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="jit-fresh-"))
    try:
        repo = make_repo(root / "repo")
        mine = Tracker(repo, actor="agent:mine")
        mine.init()
        if serve:
            mine.serve()
        other = Tracker(repo, actor="agent:other")
        ids = [mine.create_issue(f"seed {n}")["id"] for n in range(3)]
        other.board()
        history: dict[str, list[str]] = {}
        for kind, n in steps:
            rng = random.Random(n)
            live = [i for i in ids if git("rev-parse", "-q", "--verify", f"refs/jit/issues/{i}", cwd=repo,
                                          check=False).returncode == 0]
            for i in live:
                tip = git("rev-parse", f"refs/jit/issues/{i}", cwd=repo).stdout.strip()
                if tip not in history.setdefault(i, []):
                    history[i].append(tip)
            pick = rng.choice(live) if live else None
            try:
                if kind == "create":
                    ids.append(mine.create_issue(f"new {n}", priority=rng.choice(["low", "high"]))["id"])
                elif pick is None:
                    pass
                elif kind == "update":
                    mine.update_issue(pick, title=f"title {n}")
                elif kind == "claim":
                    mine.claim(pick, "agent:mine")
                elif kind == "claim next":  # from the lazy claim board (``fold_moved`` on a stale view)
                    mine.claim_next("agent:mine")
                elif kind == "release":
                    mine.release(pick, "let go")
                elif kind == "other update":  # the other long-lived process writes too (its own notes)
                    other.update_issue(pick, labels_add=[f"l{n % 3}"], title=f"by other {n}")
                elif kind == "done":
                    mine.update_issue(pick, state="done")
                elif kind == "dep" and len(live) > 1:
                    mine.add_dependency(pick, [rng.choice([i for i in live if i != pick])])
                elif kind == "external update":  # another process that keeps no index
                    ext = Tracker(repo, actor="agent:ext")
                    ext.use_index = False
                    ext.update_issue(pick, priority=rng.choice(["critical", "normal"]))
                elif kind == "delete":
                    git("update-ref", "-d", f"refs/jit/issues/{pick}", cwd=repo)
                elif kind == "delete newest" and ids[-1] in live:  # often just written by ``mine``
                    git("update-ref", "-d", f"refs/jit/issues/{ids[-1]}", cwd=repo)
                elif kind == "rewind" and len(history[pick]) > 1:
                    git("update-ref", f"refs/jit/issues/{pick}", rng.choice(history[pick][:-1]), cwd=repo)
                elif kind == "repoint" and len(live) > 1:  # a ref set to another issue's history: a bad ref
                    src = rng.choice([i for i in live if i != pick])
                    git("update-ref", f"refs/jit/issues/{pick}", f"refs/jit/issues/{src}", cwd=repo)
                elif kind == "pack":
                    git("pack-refs", "--all", cwd=repo)
                elif kind == "check mine":
                    mine.board()
                elif kind == "check other":
                    other.board()
                elif kind == "idle mine":
                    mine.idle()
                elif kind == "idle mine when due":
                    due = mine.idle_due()
                    if due is not None:
                        time.sleep(min(0.05, max(0.0, (due - time.time_ns()) / 1e9)))
                        mine.idle()
            except GitjitError:
                pass  # refused (a cycle, already claimed, a bad ref...): nothing written
        ref = Tracker(repo)
        ref.use_index = False
        want = _answers(ref)
        assert _answers(mine) == want
        assert _answers(other) == want
        assert _answers(Tracker(repo)) == want
    finally:
        shutil.rmtree(root, ignore_errors=True)
