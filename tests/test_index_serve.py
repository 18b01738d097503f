"""A tracker that serves requests in a long-lived process (``Tracker.serve``, as ``jit mcp``
does): its refreshes leave recording the index's snapshot to the idle work between requests
(``Tracker.idle``), which lists the refs once a write is a clock tick old. These tests check that
it records what it should, and that another process's writes, made at any moment (in the same
clock tick as this process's own writes included), are seen by its next read."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import make_repo

from gitjit.app.tracker import Tracker
from gitjit.store.index import Index


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    r = make_repo(tmp_path / "repo")
    Tracker(r, actor="setup").init()
    return r


def _wait_due(t: Tracker) -> None:
    due = t.idle_due()
    assert due is not None
    time.sleep(max(0.0, (due - time.time_ns()) / 1e9))


def test_idle_work_records_the_snapshot_a_write_left_to_it(repo: Path) -> None:
    t = Tracker(repo, actor="agent:srv")
    t.serve()
    a = t.create_issue("a")["id"]
    t.board()
    t.update_issue(a, title="a, renamed")
    # the write moved the ref folder: idle work is due, a clock tick after it
    due = t.idle_due()
    assert due is not None and due > time.time_ns() - 5_000_000_000
    _wait_due(t)
    t.idle()
    assert t.idle_due() is None  # recorded, and not racy: nothing left to do
    # the shared snapshot now matches the refs: any process's check is a stat per folder
    ix = Index(Tracker(repo).git.common_dir)
    assert ix.open()
    try:
        assert ix.check() is None
    finally:
        ix.close()
    assert t.show(a)["title"] == "a, renamed"


def test_a_read_in_serve_mode_records_nothing_itself(repo: Path) -> None:
    t = Tracker(repo, actor="agent:srv")
    t.serve()
    a = t.create_issue("a")["id"]
    t.board()
    ix = Index(Tracker(repo).git.common_dir)
    assert ix.open()
    try:
        before = ix.meta_json("sig")
        time.sleep(0.05)  # the write is no longer racy: a refresh without serve mode would record
        assert t.show(a)["title"] == "a"
        assert ix.meta_json("sig") == before
        assert t.idle_due() is not None and t.idle_due() <= time.time_ns()  # left to the idle work
        t.idle()
        assert ix.meta_json("sig") != before and ix.check() is None
    finally:
        ix.close()


WRITER = textwrap.dedent("""
    import json, random, sys
    from gitjit.app.tracker import Tracker
    repo, ids, n, log = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    t = Tracker(repo, actor="agent:writer")
    rng = random.Random(5)
    with open(log, "a") as out:
        for k in range(1, n + 1):
            iid = rng.choice(ids)
            t.update_issue(iid, title=f"w {k}")
            out.write(f"{iid} {k}\\n")  # written after the write returned
            out.flush()
""")


def test_a_serving_tracker_sees_every_write_another_process_made_before_its_read(repo: Path,
                                                                                 tmp_path: Path) -> None:
    """Stress: another process updates issues as fast as it can while the serving tracker reads,
    writes (its own writes make the signature racy), and does its idle work at once or when due.
    Every read must show each issue at least as new as the last write the other process had
    finished before the read began (titles count up)."""
    srv = Tracker(repo, actor="agent:srv")
    srv.serve()
    ids = [srv.create_issue(f"s {n}")["id"] for n in range(6)]
    log = tmp_path / "writes.log"
    log.write_text("")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(repo), json.dumps(ids), "150", str(log)], env=env)
    reads = 0
    try:
        step = 0
        while writer.poll() is None or step < 3:
            if writer.poll() is not None:
                step += 1
            done: dict[str, int] = {}
            for line in log.read_text().splitlines():
                iid, k = line.split()
                done[iid] = int(k)
            b = srv.board()
            for iid, k in done.items():
                title = b.issues[iid].title
                seen = int(title.split()[1]) if title.startswith("w ") else 0
                assert seen >= k, f"{iid}: read {title!r} after the other process had written 'w {k}'"
            reads += 1
            mode = reads % 4
            if mode == 0:
                srv.update_issue(ids[reads % len(ids)], labels_add=[f"r:{reads % 5}"])
            elif mode == 1:
                srv.idle()
            elif mode == 2:
                due = srv.idle_due()
                if due is not None:
                    time.sleep(min(0.03, max(0.0, (due - time.time_ns()) / 1e9)))
                    srv.idle()
    finally:
        writer.wait(timeout=120)
    assert writer.returncode == 0
    assert reads > 10
    want = {iid: Tracker(repo).show(iid)["title"] for iid in ids}
    assert {iid: srv.show(iid)["title"] for iid in ids} == want


@pytest.mark.parametrize("idle_first", [False, True])
def test_a_write_in_the_same_clock_tick_as_the_last_listing_is_seen(repo: Path, idle_first: bool) -> None:
    """On a file system whose timestamps tick coarsely, another process's write can leave the ref
    folder's mtime as this process last saw it. Simulated by putting the mtime back: the serving
    tracker's listing was racy (taken right after its own write), so its next read lists again;
    idle work done before the tick has passed leaves the listing racy too."""
    srv = Tracker(repo, actor="agent:srv")
    srv.serve()
    a = srv.create_issue("a")["id"]
    assert srv.show(a)["title"] == "a"  # this process's listing, right after its write: racy
    if idle_first:
        srv.idle()
    folder = Path(srv.git.common_dir) / "refs" / "jit" / "issues"
    st = os.stat(folder)
    other = Tracker(repo, actor="agent:other")
    other.use_index = False  # a writer that keeps no index (plain git, an older jit): only the refs tell
    other.update_issue(a, title="by the other process")
    os.utime(folder, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(folder).st_mtime_ns == st.st_mtime_ns
    assert srv.show(a)["title"] == "by the other process"
