"""Soak: 8 processes run a random mix of every write command on 500 issues for a fixed number
of operations; then every acknowledged write must be in the final state exactly once, every
refused one must have left nothing, and each issue's history must be a valid chain (each
commit's log contains its parent's, one operation per commit, nothing dropped or altered).

Each worker is a long-lived process calling ``gitjit.cli.main(argv)`` (the CLI without the
interpreter start-up), and every operation runs under its own actor name, so its events can be
found again. ``JIT_SOAK_OPS`` (default 1200) sets the total number of operations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import git, make_repo

from gitjit.app.doctor import verify_history
from gitjit.app.tracker import Tracker
from gitjit.core.fold import fold_issue, parse_events
from gitjit.git import open_repo
from gitjit.store.entities import DOC, GATES, ISSUES, EntityStore

WORKERS = 8
ISSUE_COUNT = 500
OPS = int(os.environ.get("JIT_SOAK_OPS", "1200"))
SOAK_STATS = os.environ.get("JIT_SOAK_STATS")  # read at import: tests run with JIT_* scrubbed

WORKER = textwrap.dedent('''
    import contextlib, io, json, os, random, sys, time
    repo, wid, n, seed, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    os.environ["JIT_REPO"] = repo
    from gitjit.cli import main
    from gitjit.git import open_repo
    rnd = random.Random(seed)
    g = open_repo(repo)
    def ids():
        return sorted(r.rsplit("/", 1)[1] for r in g.tips("refs/jit/issues/"))
    pool = ids()
    out = open(log, "w")
    for k in range(n):
        if k % 25 == 0:
            pool = ids()
        me = f"soak:{wid}:{k}"
        # a third of the operations go to 10 hot issues, so writers really race on the same refs
        i = rnd.choice(pool[:10]) if rnd.random() < 0.33 else rnd.choice(pool)
        j = rnd.choice(pool)
        op = rnd.choice(["create", "update", "update", "state", "assign", "unassign", "claim", "claim", "claim-next",
                         "release", "dep-add", "dep-rm", "gate-add", "gate-pass", "gate-fail", "gate-remove", "delete",
                         "label", "registry"])
        argv, expect = {
            "create": (["issue", "create", "-q", "-t", f"new {me}", "-p", rnd.choice(["low", "high"])], "issue_created"),
            "update": (["issue", "update", i, "-t", f"t {me}", "--context", f"k{wid}_{k}={k}"], "issue_updated"),
            "label": (["issue", "update", i, "-l", f"w:{wid}-{k}", "-d", f"d {me}"], "issue_updated"),
            "state": (["issue", "update", i, "-s", rnd.choice(["done", "rejected", "open", "archived"])],
                      None),  # a no-op when the issue is in that state already
            "assign": (["issue", "assign", i, me], "issue_assigned"),
            "unassign": (["issue", "unassign", i], None),
            "claim": (["issue", "claim", i, me], "issue_claimed"),
            "claim-next": (["issue", "claim-next", me], "issue_claimed"),
            "release": (["issue", "release", i, f"r {me}"], "issue_released"),
            "dep-add": (["dep", "add", i, j], None),
            "dep-rm": (["dep", "rm", i, j], None),
            "gate-add": (["gate", "add", i, f"g{wid}-{k}"], "gate_added"),
            "gate-pass": (["gate", "pass", i, "review", "--by", me], "gate_passed"),
            "gate-fail": (["gate", "fail", i, "review", "--by", me, "--reason", "no"], "gate_failed"),
            "gate-remove": (["gate", "remove", i, "review"], "gate_removed"),
            "delete": (["issue", "delete", j], "issue_deleted"),  # j: rarely a hot issue, which stay alive
            "registry": (["registry", "add", f"r{wid}-{k}", "--title", f"R {me}"], "gate_defined"),
        }[op]
        so, se = io.StringIO(), io.StringIO()
        t0 = time.monotonic()
        with contextlib.redirect_stdout(so), contextlib.redirect_stderr(se):
            rc = main(["--by", me, *argv])
        out.write(json.dumps({"actor": me, "op": op, "argv": argv, "rc": rc, "expect": expect,
                              "stdout": so.getvalue()[-200:], "stderr": se.getvalue()[-300:],
                              "s": round(time.monotonic() - t0, 4)}) + "\\n")
        out.flush()
''')


@pytest.mark.slow
def test_eight_writers_on_five_hundred_issues(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    t = Tracker(repo, actor="setup")
    t.init()
    t.registry_add("review", title="Review")
    for n in range(ISSUE_COUNT):
        t.create_issue(f"soak {n}", gates=["review"] if n % 3 == 0 else [])
    started = time.monotonic()
    per = OPS // WORKERS
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(repo), str(w), str(per), str(1000 + w),
                               str(tmp_path / f"w{w}.jsonl")], stderr=subprocess.PIPE, text=True)
             for w in range(WORKERS)]
    for p in procs:
        _, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err[-3000:]
    elapsed = time.monotonic() - started
    log = [json.loads(x) for w in range(WORKERS) for x in (tmp_path / f"w{w}.jsonl").read_text().splitlines()]
    assert len(log) == per * WORKERS
    for r in log:  # never a traceback or an "unexpected" exit
        # the exit code and stderr first: pytest shortens a long message from the end
        assert r["rc"] in (0, 2, 3, 4, 6, 7, 8, 9), f"exit {r['rc']}: {r['stderr'][-2000:]!r} {r}"
        assert "Traceback" not in r["stderr"] and "internal error" not in r["stderr"], \
            f"{r['stderr'][-2000:]!r} {r}"

    g = open_repo(repo)
    store = EntityStore(g)
    by_actor: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    introduced: dict[str, set[str]] = defaultdict(set)  # actor -> commits that added its events
    problems: list[str] = []
    commits = 0
    for prefix in (ISSUES, GATES):
        for key, ld in store.load_all(prefix).items():
            for e in ld.events:
                by_actor[e.actor].append((key, e))
            n, bad = verify_history(g, ld.tip, where=ld.ref)
            commits += n
            problems += bad
            # one operation per commit: the events a commit adds share one actor
            c = ld.tip
            while c:
                parents = g.parents(c)
                mine = {e.id: e for e in parse_events(g.read_file(c, DOC))}
                base = {e.id for p in parents for e in parse_events(g.read_file(p, DOC))}
                actors = {e.actor for i, e in mine.items() if i not in base}
                if len(actors) != 1:
                    problems.append(f"{ld.ref}: commit {c[:12]} adds events of {sorted(actors)}")
                for a in actors:
                    introduced[a].add(c)
                c = parents[0] if parents else None
            if prefix == ISSUES:
                st = fold_issue(key, ld.events)
                assert not [x for x in st.conflicts if x.type == "claim"], (key, st.conflicts)
    assert not store.warnings, store.warnings
    assert not problems, problems[:20]

    stats = Counter()
    for r in log:
        a = r["actor"]
        mine = by_actor.get(a, [])
        if r["rc"] == 0:
            stats["acknowledged"] += 1
            if r["expect"]:
                assert any(e.type == r["expect"] for _, e in mine), f"acknowledged write lost: {r}"
            if r["op"] == "claim-next":
                claimed = r["stdout"].strip()
                assert any(k == claimed and e.type == "issue_claimed" for k, e in mine), r
            if r["op"] == "create":
                assert any(k == r["stdout"].strip() and e.type == "issue_created" for k, e in mine), r
            if mine:
                assert len(introduced[a]) == 1, f"{a}'s events were written more than once: {r}"
        else:
            stats[f"refused_exit_{r['rc']}"] += 1
            assert not mine, f"a refused command wrote events: {r} -> {[e.type for _, e in mine]}"
    fsck = git("fsck", "--no-dangling", "--no-progress", cwd=repo, check=False)
    assert fsck.returncode == 0, fsck.stderr
    doctor = subprocess.run([sys.executable, "-m", "gitjit", "--repo", str(repo), "doctor", "--json"],
                            capture_output=True, text=True, timeout=600)
    assert doctor.returncode == 0, doctor.stdout[-3000:]
    stats.update({"operations": len(log), "workers": WORKERS, "issues_at_start": ISSUE_COUNT, "commits": commits,
                  "seconds": round(elapsed), "ops_per_second": round(len(log) / elapsed, 1),
                  "slowest_op_s": max(r["s"] for r in log)})
    print(f"\nsoak: {dict(stats)}")
    out = SOAK_STATS
    if out:
        Path(out).write_text(json.dumps(dict(stats), indent=1))
