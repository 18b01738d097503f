"""Object housekeeping (gitjit/git/housekeeping.py): jit's writes start a geometric ``git repack``
when git's ``gc --auto`` would run, honour ``gc.auto``, pack what git's gc would leave loose, and
a repack running beside a live session loses nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import git, make_repo

from gitjit.git import open_repo
from gitjit.git.housekeeping import (
    GC_AUTO,
    GC_SPACING,
    NICE,
    REPACK,
    gc_due,
    housekeeping_script,
    loose_estimate,
    maybe_gc,
)


def _in_17(repo: Path) -> int:
    return loose_estimate(repo / ".git") // 256


def _count_objects(repo: Path) -> dict[str, int]:
    out = git("count-objects", "-v", cwd=repo).stdout
    return {k: int(v) for k, v in (line.split(": ") for line in out.splitlines())}


def _running(repo: Path) -> bool:
    return (repo / ".git" / "gc.pid").exists() or (repo / ".git" / "jit" / "housekeeping.pid").exists()


def _wait_for_gc(repo: Path, timeout: float = 90.0) -> None:
    """Until the background housekeeping has finished (no ``jit/housekeeping.pid``, no ``gc.pid``)
    and packed the loose objects."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(repo) and _count_objects(repo)["in-pack"] > 0:
            time.sleep(0.2)  # the pid files are removed at exit; let the last unlink/rename land
            if not _running(repo):
                return
        time.sleep(0.1)
    pytest.fail(f"git gc did not finish within {timeout}s: {_count_objects(repo)}")


def _blob_in_17(repo: Path, salt: str) -> str:
    """Write an (unreachable) blob whose id starts with 17, i.e. lands in objects/17."""
    n = 0
    while True:
        data = f"{salt}-{n}\n".encode()
        if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest().startswith("17"):
            return git("hash-object", "-w", "--stdin", cwd=repo, input=data.decode()).stdout.strip()
        n += 1


def test_writes_start_git_gc_auto_and_a_live_session_reads_through_it(repo: Path) -> None:
    from gitjit.app.tracker import Tracker

    git("config", "gc.auto", "1", cwd=repo)  # git's estimate: more than 1 loose object in objects/17
    t = Tracker(repo, actor="agent:test")
    t.init()
    marker = repo / ".git" / "jit" / "gc-started"
    made: dict[str, dict[str, object]] = {}
    for n in range(2000):  # ~170 creates on average until two of their objects land in objects/17
        issue = t.create_issue(f"issue {n}", labels=["team:a"])
        made[issue["id"]] = issue
        if marker.exists():
            break
    assert marker.exists(), "no git gc started after 2,000 writes"
    assert _in_17(repo) >= 2 or _count_objects(repo)["in-pack"] > 0  # it was due when started
    _wait_for_gc(repo)
    counts = _count_objects(repo)
    assert counts["in-pack"] >= 3 * len(made)  # every issue's blob, tree and commit packed
    assert counts["count"] < len(made)  # and the loose copies deleted
    # the repository this session opened before the gc reads every object from the new pack
    # (libgit2 looks in the packs again when a loose object is gone), and the session writes on
    g = t.store.git
    tips = g.tips("refs/jit/issues/")
    assert len(tips) == len(made)
    for ref, tip in tips.items():
        title = made[ref.rsplit("/", 1)[1]]["title"]
        assert f'"title":"{title}"' in g.read_file(tip, "events.jsonl").decode()
    first = next(iter(made))
    assert t.update_issue(first, title="after gc")["title"] == "after gc"
    assert Tracker(repo).show(first)["title"] == "after gc"
    assert git("fsck", "--no-progress", cwd=repo).returncode == 0


def test_gc_auto_zero_turns_it_off(repo: Path) -> None:
    from gitjit.app.tracker import Tracker

    git("config", "gc.auto", "0", cwd=repo)
    t = Tracker(repo, actor="agent:test")
    t.init()
    n = 0
    while _in_17(repo) < 2 and n < 2000:
        t.create_issue(f"issue {n}")
        n += 1
    assert _in_17(repo) >= 2
    assert not (repo / ".git" / "jit" / "gc-started").exists()
    assert not gc_due(open_repo(repo))
    assert _count_objects(repo)["in-pack"] == 0
    # the same session sees the setting change: one more write starts it
    git("config", "gc.auto", "1", cwd=repo)
    t.create_issue("one more")
    assert (repo / ".git" / "jit" / "gc-started").exists()
    _wait_for_gc(repo)


def test_not_while_git_refuses_or_soon_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git("config", "gc.auto", "256", cwd=repo)  # more than one object in objects/17
    g = open_repo(repo)
    assert not gc_due(g)
    _blob_in_17(repo, "a")
    assert not gc_due(g)  # one is not more than one
    _blob_in_17(repo, "b")
    assert gc_due(g)
    gc_log = repo / ".git" / "gc.log"
    gc_log.write_text("warning: the last gc failed\n")  # git refuses gc --auto for a day after this
    assert not maybe_gc(g)
    old = time.time() - 2 * 24 * 3600
    os.utime(gc_log, (old, old))
    gc_log.unlink()
    assert maybe_gc(g)  # started
    marker = repo / ".git" / "jit" / "gc-started"
    assert marker.exists()
    assert not maybe_gc(g)  # not again within GC_SPACING, whoever asks
    past = time.time() - GC_SPACING - 1
    os.utime(marker, (past, past))
    _wait_for_gc(repo)
    # unlike git gc's reachability repack, the geometric repack packs unreachable objects too: a
    # repository full of lost races' objects is not due (and repacked) again every minute
    assert _count_objects(repo)["count"] == 0 and not gc_due(g)
    _blob_in_17(repo, "c")
    _blob_in_17(repo, "d")
    os.utime(marker, (past, past))
    pid = repo / ".git" / "jit" / "housekeeping.pid"
    pid.write_text("12345\n")  # the last one still runs
    assert gc_due(g) and not maybe_gc(g)
    old = time.time() - 2 * 3600
    os.utime(pid, (old, old))  # an hour old: its process died without removing it
    assert maybe_gc(g)
    _wait_for_gc(repo)
    assert not pid.exists() and _count_objects(repo)["count"] == 0


def test_the_command_run(tmp_path: Path) -> None:
    """The geometric repack, with ``git gc --auto`` as its fallback; ``git gc --auto`` alone in a
    partial clone (promisor packs), which git's own gc keeps apart."""
    repo = make_repo(tmp_path / "r")
    script = housekeeping_script(repo / ".git")
    assert f"{NICE}{REPACK}" in script and f"|| {NICE}{GC_AUTO}" in script  # at the lowest priority
    assert git("repack", *REPACK.split()[2:], cwd=repo).returncode == 0  # this git knows every option
    from gitjit.app.tracker import Tracker

    t = Tracker(repo, actor="agent:a")
    for i in range(3):
        t.create_issue(f"n{i}")
    assert _count_objects(repo)["count"] > 0
    # the script itself, as maybe_gc runs it: nice exists here and the repack packs everything
    r = subprocess.run(["sh", "-c", script], cwd=repo / ".git", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert _count_objects(repo)["count"] == 0 and not (repo / ".git" / "jit" / "housekeeping.pid").exists()
    (repo / ".git" / "objects" / "pack" / "pack-0.promisor").write_text("")
    assert housekeeping_script(repo / ".git") == f"( {NICE}{GC_AUTO} )"


def test_too_many_packs_is_due(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r")
    git("config", "gc.autoPackLimit", "2", cwd=repo)
    g = open_repo(repo)
    for k in range(3):
        assert not gc_due(g)
        blob = git("hash-object", "-w", "--stdin", cwd=repo, input=f"pack {k}\n").stdout.strip()
        pack = str(repo / ".git" / "objects" / "pack" / "pack")
        git("pack-objects", "-q", pack, cwd=repo, input=blob + "\n")
    assert gc_due(g)  # three packs, more than gc.autoPackLimit
    keep = next((repo / ".git" / "objects" / "pack").glob("*.pack")).with_suffix(".keep")
    keep.write_text("")
    assert not gc_due(g)  # a kept pack is not counted, as in git


def test_the_loose_estimate_follows_objects_17_when_kept_between_writes(tmp_path: Path) -> None:
    """Each write asks for the estimate; the count is kept while ``objects/17`` is unchanged and
    taken again as soon as an object lands there or goes, however long ago the count was kept."""
    repo = make_repo(tmp_path / "r")
    common = repo / ".git"
    _blob_in_17(repo, "a")
    time.sleep(0.1)  # the directory's mtime is settled: the next count is kept
    assert loose_estimate(common) == 256
    assert loose_estimate(common) == 256
    _blob_in_17(repo, "b")
    assert loose_estimate(common) == 512
    time.sleep(0.1)
    assert loose_estimate(common) == 512
    for p in (common / "objects" / "17").iterdir():
        p.unlink()
        break
    assert loose_estimate(common) == 256


def test_nothing_due_is_looked_at_again_after_a_second_or_a_config_change(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """After finding nothing due, a process does not list ``objects/17`` on every write (under
    contention that listing was 4% of a claim): it looks again after ``GC_RECHECK`` seconds, or
    at once when the repository's config changed."""
    import gitjit.git.housekeeping as hk

    monkeypatch.setattr(hk, "GC_RECHECK", 0.5)
    repo = make_repo(tmp_path / "r")
    git("config", "gc.auto", "256", cwd=repo)
    g = open_repo(repo)
    marker = repo / ".git" / "jit" / "gc-started"
    assert not maybe_gc(g)  # nothing due: quiet for a while
    _blob_in_17(repo, "a")
    _blob_in_17(repo, "b")
    assert gc_due(g)
    assert not maybe_gc(g) and not marker.exists()  # not looked at within the window
    time.sleep(0.6)
    assert maybe_gc(g) and marker.exists()  # looked again: due, started
    _wait_for_gc(repo)

    other = make_repo(tmp_path / "o")
    git("config", "gc.auto", "0", cwd=other)
    g2 = open_repo(other)
    _blob_in_17(other, "a")
    _blob_in_17(other, "b")
    assert not maybe_gc(g2)  # turned off: nothing due
    git("config", "gc.auto", "256", cwd=other)
    os.utime(other / ".git" / "config", ns=(time.time_ns() + 10**9,) * 2)  # a changed config, whatever the clock's tick
    assert maybe_gc(g2)  # the config changed: looked at again at once
    _wait_for_gc(other)
