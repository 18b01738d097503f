"""The benchmark's page-cache helpers (bench/suite.py): what it reports about a contention run's
starting point has to be true, so these read the kernel's own answer (mincore) back."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.suite import _hot_files, _refs_create_us, cpu_probe_ms, machine_cpu, memory_dir, resident, warm

linux = pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "posix_fadvise"),
                           reason="mincore and posix_fadvise as Linux has them")


def _evict(f: Path) -> None:
    fd = os.open(f, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages are not dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@linux
def test_resident_and_warm_read_the_page_cache(tmp_path: Path) -> None:
    files = []
    for k in range(2):
        f = tmp_path / f"data-{k}"
        f.write_bytes(os.urandom(64 * 4096 + 100))
        files.append(f)
    warm(files)
    assert resident(files) == 1.0
    for f in files:
        _evict(f)
    dropped = resident(files)
    if dropped is None or dropped > 0.5:
        pytest.skip("this kernel kept the pages cached after POSIX_FADV_DONTNEED")
    warm(files)
    assert resident(files) == 1.0


def test_resident_skips_missing_and_empty_files(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert resident([tmp_path / "missing", tmp_path / "empty"]) is None


def test_hot_files_are_the_index_the_packs_and_packed_refs(tmp_path: Path) -> None:
    g = tmp_path / ".git"
    (g / "jit").mkdir(parents=True)
    (g / "objects" / "pack").mkdir(parents=True)
    for name in ("jit/index.sqlite3", "jit/index.sqlite3-wal", "objects/pack/pack-1.pack", "objects/pack/pack-1.idx",
                 "packed-refs", "jit/gc-started", "HEAD"):
        (g / name).write_text("x")
    got = {str(p.relative_to(g)) for p in _hot_files(tmp_path)}
    assert got == {"jit/index.sqlite3", "jit/index.sqlite3-wal", "objects/pack/pack-1.pack",
                   "objects/pack/pack-1.idx", "packed-refs"}


def test_memory_dir_is_tmpfs_with_room_or_none(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x" * 1000)
    d = memory_dir(tmp_path)
    if d is None:
        return  # no tmpfs at /dev/shm here (or no room): the benchmark leaves the row out
    mounts = {m.split()[1]: m.split()[2] for m in Path("/proc/mounts").read_text().splitlines()}
    assert mounts[str(d)] == "tmpfs"
    st = os.statvfs(d)
    assert st.f_bavail * st.f_frsize > 2000


def test_refs_probe_leaves_the_ref_directory_as_it_was(tmp_path: Path) -> None:
    assert _refs_create_us(tmp_path) is None  # no refs/jit/issues: nothing to measure
    d = tmp_path / ".git" / "refs" / "jit" / "issues"
    d.mkdir(parents=True)
    (d / "0123456789ab").write_text("0" * 40 + "\n")
    us = _refs_create_us(tmp_path)
    assert us is not None and us > 0
    assert sorted(p.name for p in d.iterdir()) == ["0123456789ab"]


def test_cpu_probe_times_the_same_work() -> None:
    a, b = cpu_probe_ms(rounds=3), cpu_probe_ms(rounds=3)
    assert a > 0 and b > 0
    # the same work: far apart only if the machine itself changed speed between the two calls
    assert max(a, b) / min(a, b) < 10


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux's /proc/stat")
def test_machine_cpu_counts_this_process_busy_time() -> None:
    before = machine_cpu()
    assert before is not None
    t0 = time.process_time()
    while time.process_time() - t0 < 0.3:
        pass
    after = machine_cpu()
    assert after is not None
    busy, total = after[0] - before[0], after[1] - before[1]
    # the kernel counts in ticks (10 ms): 0.3 s of this process's CPU shows, within a few ticks
    assert busy >= 0.25
    assert total >= busy


def test_lean_claims_claim_only_what_a_claim_may_take(tracker, repo: Path) -> None:  # type: ignore[no-untyped-def]
    """bench/lean_claims.py, the floor the benchmark compares the claim path with, still has to be
    a claim: it takes every ready issue once, on its ref, and leaves claimed, blocked and
    finished issues alone."""
    from bench.lean_claims import run
    from gitjit.app.tracker import Tracker

    ids = [tracker.create_issue(f"task {k}")["id"] for k in range(10)]
    blocker, blocked, taken, done = ids[0], ids[1], ids[2], ids[3]
    tracker.add_dependency(blocked, [blocker])
    tracker.claim(taken, "agent:earlier")
    tracker.update_issue(done, state="done")
    r = run(str(repo), ids, procs=2, fsync=False)
    want = set(ids) - {blocked, taken, done}
    assert r["claims"] == r["distinct"] == len(want)
    got = {i: a for a, mine in r["holders"].items() for i in mine}
    assert set(got) == want
    fresh = Tracker(repo)
    fresh.use_index = False  # the refs themselves
    for i in ids:
        assert fresh.show(i)["assignee"] == got.get(i, "agent:earlier" if i == taken else None)
    # each process claimed only its own share
    assert {i for i in got if got[i] == "agent:lean0"} <= set(ids[0::2])


def test_lean_claims_meter_brackets_the_claims(tracker, repo: Path) -> None:  # type: ignore[no-untyped-def]
    """The meter is read once every worker is past the start barrier (not while they start up)
    and again when all are done."""
    from bench.lean_claims import run

    ids = [tracker.create_issue(f"task {k}")["id"] for k in range(4)]
    reads: list[float] = []
    r = run(str(repo), ids, procs=2, fsync=False, meter=lambda: reads.append(time.time()) or reads[-1])
    assert r["claims"] == 4 and len(reads) == 2
    assert r["meter"] == reads and reads[0] <= reads[1]


@pytest.mark.parametrize("race", [False, True], ids=["disjoint", "race"])
def test_profile_claims_profiles_real_claims(tracker, repo: Path, race: bool) -> None:  # type: ignore[no-untyped-def]
    """bench/profile_claims.py (how docs/performance.md's contention profiles are taken): its
    workers make real claims through the library, each ready issue once, and the merged profile
    is of those claims."""
    from bench.profile_claims import run
    from gitjit.app.tracker import Tracker

    ids = [tracker.create_issue(f"task {k}")["id"] for k in range(6)]
    tracker.add_dependency(ids[1], [ids[0]])  # blocked: never claimed
    # racing, each worker may take them all (a worker that finds the rest being written stops)
    r = run(str(repo), procs=2, per=6 if race else 3, race=race)
    want = set(ids) - {ids[1]}
    assert r["claims"] == r["distinct"] == len(want)
    got = {i: a for a, mine in r["holders"].items() for i in mine}
    assert set(got) == want
    fresh = Tracker(repo)
    fresh.use_index = False  # the refs themselves
    for i in ids:
        assert fresh.show(i)["assignee"] == got.get(i)
    calls = {f[2]: n[1] for f, n in r["stats"].stats.items() if os.path.join("gitjit", "app", "") in f[0]}
    if race:
        assert calls["claim_next"] >= len(want) and "claim" not in calls
    else:
        assert calls["claim"] == len(want) and "claim_next" not in calls
    assert calls["_write_issue"] >= len(want)


def test_index_current_rebuilds_an_index_other_code_wrote(tracker, repo: Path) -> None:  # type: ignore[no-untyped-def]
    """Before a contention run the benchmark brings the copy's index up to the code it measures,
    so that no worker rebuilds it inside the run's setup."""
    import sqlite3

    from bench.suite import index_current
    from gitjit.store.index import INDEX_FILE, Index, code_stamp

    tracker.create_issue("one")
    db = sqlite3.connect(repo / ".git" / INDEX_FILE)
    db.execute("UPDATE meta SET v='older code' WHERE k='stamp'")
    db.commit()
    db.close()
    assert index_current(repo, dict(os.environ)) >= 0
    ix = Index(repo / ".git")
    ix.open()
    assert ix.usable(code_stamp())
