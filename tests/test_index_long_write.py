"""A long write to the index (a rebuild) is waited for, not timed out into folding every ref.

A rebuild holds the index's write lock for as long as folding every ref takes (about a minute at
100,000 issues). Processes that need the index meanwhile (after an upgrade of gitjit, every agent
at once) used to wait the index's timeout, give up, and fold every ref themselves: each one
slower than the rebuild it gave up on, with ~1.2 GB of memory at 100,000 issues, and without
the index for the rest of its life. The rebuilder now marks its long write and renews the mark
while it runs; waiters keep waiting while the mark is fresh (docs/index.md, "Long writes")."""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import ROOT

from gitjit.app.tracker import Tracker
from gitjit.store.index import HEARTBEAT_STALE_S, INDEX_FILE, WRITE_MARK, Index


def _many(t: Tracker, n: int) -> list[str]:
    with t.batch() as b:
        ids = [b.create_issue(f"issue {i}", priority=("high", "normal", "low")[i % 3])["id"] for i in range(n)]
        for i in range(3, n, 7):
            b.add_dependency(ids[i], [ids[i - 3]])
    return ids


def _outdate(repo: Path) -> None:
    """As after an upgrade of gitjit: the index was written by other code and must be rebuilt."""
    db = sqlite3.connect(repo / ".git" / INDEX_FILE)
    db.execute("UPDATE meta SET v='an older gitjit' WHERE k='stamp'")
    db.commit()
    db.close()


def _short_timeout(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real_open = Index.open
    monkeypatch.setattr(Index, "open", lambda self, **kw: real_open(self, **{**kw, "timeout": seconds}))


def _moved_behind_the_index(tracker: Tracker, repo: Path, title: str) -> str:
    """A new issue, then retitled by a tracker that does not use the index: a moved ref that the
    next reader must fold in under the index's write lock."""
    a = tracker.create_issue("first")["id"]
    behind = Tracker(repo)
    behind.use_index = False
    behind.update_issue(a, title=title)
    return a


@contextmanager
def _long_write_held(repo: Path, seconds: float, until: threading.Event | None = None) -> Iterator[list[float]]:
    """Another connection holds the index's write lock under a renewed long-write mark for
    ``seconds`` (or until ``until`` is set, if sooner), from a thread; yields the list its
    release time is appended to."""
    holder = Index(repo / ".git")
    holder.open()
    assert holder.begin(wait=0)
    released: list[float] = []

    def hold() -> None:
        with holder.long_write():
            if until is None:
                time.sleep(seconds)
            else:
                until.wait(seconds)
        released.append(time.monotonic())
        holder.commit()

    th = threading.Thread(target=hold)
    th.start()
    mark = repo / ".git" / WRITE_MARK
    deadline = time.monotonic() + 30
    while not mark.exists() and time.monotonic() < deadline:  # the thread has begun its long write
        time.sleep(0.001)
    try:
        yield released
    finally:
        th.join()
        holder.close()


def _ready(repo: Path) -> list[str]:
    t = Tracker(repo)
    t.use_index = False  # from the refs themselves
    return t.board().ready()


def test_a_rebuild_in_another_process_is_waited_for(tracker: Tracker, repo: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A real ``jit index rebuild`` in another process takes far longer than this process's
    (shortened) timeout: this process waits for it and answers from the rebuilt index, with no
    "index unavailable" warning, instead of folding every ref itself."""
    _many(tracker, 1500)
    want = _ready(repo)
    _outdate(repo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    mark = repo / ".git" / WRITE_MARK
    rebuild = subprocess.Popen([sys.executable, "-m", "gitjit", "index", "rebuild", "--json"], cwd=repo, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not mark.exists():  # the rebuilder holds the lock and is folding
            assert rebuild.poll() is None and time.monotonic() < deadline, rebuild.communicate()
            time.sleep(0.002)
        _short_timeout(monkeypatch, 0.05)
        t0 = time.monotonic()
        t = Tracker(repo)
        got = t.board().ready()
        waited = time.monotonic() - t0
    finally:
        out, err = rebuild.communicate(timeout=120)
    assert rebuild.returncode == 0, err
    assert not [w for w in t.store.warnings if "index unavailable" in w], t.store.warnings
    assert got == want
    assert waited > 0.05  # it really waited past its own timeout
    assert not mark.exists()
    assert t.index.indexer().last.get("changed_refs", 0) == 0  # nothing left for it to fold


def test_a_marked_long_write_holds_waiters_until_it_ends(tracker: Tracker, repo: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The mark's contract, timed: a lock held 1.5 s under a renewed mark keeps a process that must
    fold a moved ref (its timeout: 0.2 s) waiting for those 1.5 s; it then folds it and answers."""
    a = _moved_behind_the_index(tracker, repo, "written where the index did not see it")
    with _long_write_held(repo, 1.5) as released:
        _short_timeout(monkeypatch, 0.2)
        t = Tracker(repo)
        title = t.show(a)["title"]
        done = time.monotonic()
    assert title == "written where the index did not see it"
    assert released and done >= released[0]
    assert not [w for w in t.store.warnings if "index unavailable" in w], t.store.warnings
    assert t.index.indexer().last["changed_refs"] == 1  # folded into the index, by this process
    assert not (repo / ".git" / WRITE_MARK).exists()


def test_a_stale_mark_does_not_make_anyone_wait(tracker: Tracker, repo: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A mark its writer stopped renewing (killed, or stopped with SIGSTOP) is ignored: the waiter
    times out as before, folds the refs itself (correct, slower) and says so."""
    a = tracker.create_issue("first")["id"]
    mark = repo / ".git" / WRITE_MARK
    mark.write_text("99999 0\n")
    old = time.time() - HEARTBEAT_STALE_S - 5
    os.utime(mark, (old, old))
    holder = sqlite3.connect(repo / ".git" / INDEX_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        _short_timeout(monkeypatch, 0.2)
        t0 = time.monotonic()
        t = Tracker(repo)
        t.update_issue(a, title="edited past a stale mark")
        assert time.monotonic() - t0 < HEARTBEAT_STALE_S
        assert t.show(a)["title"] == "edited past a stale mark"
        assert any("index unavailable" in w for w in t.store.warnings), t.store.warnings
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_bulk_fold_does_not_keep_every_log_in_memory(tracker: Tracker, repo: Path) -> None:
    """After rebuilding the index in-process, the store's cache of parsed logs is not left holding
    every ref (100,000 of them were ~750,000 objects that each full garbage collection walked)."""
    _many(tracker, 400)
    want = _ready(repo)
    _outdate(repo)
    t = Tracker(repo)
    gc.collect()
    before = len(gc.get_objects())
    assert t.board().ready() == want
    assert t.index.indexer().last["changed_refs"] >= 400
    gc.collect()
    kept = len(gc.get_objects()) - before
    assert kept < 1000, kept  # with every log cached: 2,242 (each log's events and their tuple)
    assert len(t.store._parsed) < 50
    # and this process's next write still reads what it needs
    iid = want[0]
    t.claim(iid, "agent:after-rebuild")
    assert Tracker(repo).show(iid)["assignee"] == "agent:after-rebuild"


def test_the_cli_says_whom_it_waits_for(tracker: Tracker, repo: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A command held up by a long write says so on stderr, once, naming the writer; its answer
    on stdout is unchanged."""
    import json

    from gitjit.cli import main

    a = _moved_behind_the_index(tracker, repo, "seen after the wait")
    monkeypatch.setattr("gitjit.git._pygit2._skip_bundle", False)  # main() sets it for this process
    monkeypatch.chdir(repo)
    told = threading.Event()
    real_notice = Index._long_write_notice

    def notice(self: Index) -> str:
        text = real_notice(self)  # read while the writer still holds on: it names the writer
        told.set()  # the writer lets go once the waiter has said it waits (at most 30 s)
        return text

    monkeypatch.setattr(Index, "_long_write_notice", notice)
    with _long_write_held(repo, 30.0, until=told):
        _short_timeout(monkeypatch, 0.1)
        rc = main(["issue", "show", a, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert json.loads(out)["title"] == "seen after the wait"
    notices = [line for line in err.splitlines() if "waiting for a long write to the index" in line]
    assert len(notices) == 1 and f"process {os.getpid()}" in notices[0], err


def test_a_long_lived_process_tries_the_index_again_after_giving_up(tracker: Tracker, repo: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Giving up on the index (here: a lock held past the timeout by an unmarked writer) lasts
    ``INDEX_RETRY_S``, not the rest of the process's life: then the same Tracker folds what moved
    into the index and answers from it again."""
    from gitjit.store.indexboard import IndexBoard

    a = _moved_behind_the_index(tracker, repo, "written while locked out")
    holder = sqlite3.connect(repo / ".git" / INDEX_FILE, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    _short_timeout(monkeypatch, 0.1)
    t = Tracker(repo)
    try:
        assert t.show(a)["title"] == "written while locked out"
        assert any("index unavailable" in w for w in t.store.warnings), t.store.warnings
        assert not isinstance(t.board(), IndexBoard)  # within INDEX_RETRY_S: still the refs
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    monkeypatch.setattr(t.index._indexer, "retry_at", 0.0)  # as if INDEX_RETRY_S had passed
    b = t.board()
    assert isinstance(b, IndexBoard)
    assert b.issues[a].title == "written while locked out"
    t.update_issue(a, title="and after")
    monkeypatch.undo()
    fresh = Tracker(repo)
    assert fresh.show(a)["title"] == "and after"
    assert fresh.index.indexer().last.get("changed_refs", 0) == 0  # the index had it already


def test_index_status_names_a_running_long_write_without_waiting(tracker: Tracker, repo: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`jit index status` during another process's rebuild answers at once with the figures last
    committed, ``fresh: false`` and who is writing; afterwards ``long_write`` is null again."""
    import json

    from gitjit.cli import main

    _moved_behind_the_index(tracker, repo, "moved")
    monkeypatch.setattr("gitjit.git._pygit2._skip_bundle", False)  # main() sets it for this process
    monkeypatch.chdir(repo)
    done = threading.Event()
    with _long_write_held(repo, 30.0, until=done) as released:
        t0 = time.monotonic()
        assert main(["index", "status", "--json"]) == 0
        took = time.monotonic() - t0
        during = json.loads(capsys.readouterr().out)
        assert main(["index", "status"]) == 0
        human = capsys.readouterr().out
        assert not released  # both answered while the write was still running
        done.set()
    assert took < 15  # not the 30 s the write would have lasted
    assert during["long_write"]["pid"] == os.getpid() and during["long_write"]["seconds"] >= 0
    assert during["fresh"] is False and during["issues"] == 1
    assert f"a long write is running (process {os.getpid()}" in human
    assert main(["index", "status", "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["long_write"] is None and after["fresh"] is True
