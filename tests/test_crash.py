"""Crash safety: real ``python -m gitjit`` writes killed with SIGKILL at random moments.

After every kill the store must be valid: ``git fsck`` clean, every jit ref parses and folds,
every write acknowledged (exit 0) before the kill is present, an error (exit != 0, not a kill)
changed nothing, and no half-written change is visible: each operation's events (every trial
writes under its own actor) arrive together in exactly one commit, or not at all. Stale lock
files left by a killed writer are removed by the next writer once no live owner holds them.

The first tests pin the lock-recovery rules one by one; the harness (``slow``) does the kills.
``JIT_CRASH_KILLS`` (default 200) sets how many kills the harness must survive.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

import pytest
from conftest import git, make_repo

from gitjit.app.doctor import Doctor
from gitjit.app.tracker import Tracker
from gitjit.core.fold import fold_gate, fold_issue, parse_events
from gitjit.git import open_repo
from gitjit.store import locks
from gitjit.store.entities import DOC, GATES, ISSUES, EntityStore

KILLS = int(os.environ.get("JIT_CRASH_KILLS", "200"))
CRASH_STATS = os.environ.get("JIT_CRASH_STATS")  # read at import: tests run with JIT_* scrubbed
CRASH_SEED = os.environ.get("JIT_CRASH_SEED")  # read at import: tests run with JIT_* scrubbed


def jit_proc(repo: Path, *args: str, actor: str = "agent:test", extra: dict[str, str] | None = None,
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JIT_REPO": str(repo), "JIT_ACTOR": actor, **(extra or {})}
    return subprocess.run([sys.executable, "-m", "gitjit", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


_HOLDER = textwrap.dedent("""
    import os, signal, sys, time, pygit2
    from gitjit.store import locks
    repo, ref, how = sys.argv[1], sys.argv[2], sys.argv[3]
    r = pygit2.Repository(repo)
    with locks.owning(r.path, ref):
        tx = r.transaction(); tx.__enter__(); tx.lock_ref(ref)   # libgit2 creates <ref>.lock
        print("locked", flush=True)
        if how == "die":
            os.kill(os.getpid(), signal.SIGKILL)                  # killed mid-write, lock left behind
        time.sleep(120)
""")


def hold_lock(repo: Path, ref: str, how: str) -> subprocess.Popen[str]:
    p = subprocess.Popen([sys.executable, "-c", _HOLDER, str(repo), ref, how], stdout=subprocess.PIPE, text=True)
    if how == "die":
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL
    else:
        assert p.stdout is not None and p.stdout.readline().strip() == "locked"
    return p


# ----------------------------------------------------------------------------- lock rules

def test_a_lock_left_by_a_killed_writer_is_removed_by_the_next_write(repo: Path, monkeypatch) -> None:
    t = Tracker(repo, actor="agent:a")
    iid = t.create_issue("locked out")["id"]
    ref = ISSUES + iid
    hold_lock(repo, ref, "die")
    lock = repo / ".git" / (ref + ".lock")
    assert lock.exists() and locks.owners(repo / ".git", ref)  # the dead writer's record is there
    monkeypatch.setenv("JIT_STALE_LOCK_SECONDS", "0.3")
    t0 = time.monotonic()
    t.update_issue(iid, title="written after the crash")
    assert time.monotonic() - t0 < 10
    assert not lock.exists()
    assert Tracker(repo).show(iid)["title"] == "written after the crash"
    log = [json.loads(x) for x in (repo / ".git" / "jit" / "recovered.log").read_text().splitlines()]
    assert log[-1]["ref"] == ref and log[-1]["state"] == "removed"
    assert log[-1]["owners"] and log[-1]["owners"][0]["alive"] is False
    assert not locks.owners(repo / ".git", ref)  # the dead record went with the lock


def test_a_lock_whose_owner_is_alive_is_never_removed(repo: Path) -> None:
    t = Tracker(repo, actor="agent:a")
    iid = t.create_issue("held")["id"]
    ref = ISSUES + iid
    holder = hold_lock(repo, ref, "hold")
    try:
        lock = repo / ".git" / (ref + ".lock")
        old = time.time() - 3600
        os.utime(lock, (old, old))  # even an hour-old lock stays while its owner lives
        r = jit_proc(repo, "issue", "update", iid, "-t", "x",
                     extra={"JIT_RETRY_SECONDS": "0.5", "JIT_STALE_LOCK_SECONDS": "0"})
        assert r.returncode == 9, r.stderr
        assert f"is being written by jit process {holder.pid} (running)" in r.stderr
        assert "hint: another jit process is writing the same issue" in r.stderr
        assert lock.exists()
        rj = jit_proc(repo, "issue", "update", iid, "-t", "x", "--json",
                      extra={"JIT_RETRY_SECONDS": "0.2", "JIT_STALE_LOCK_SECONDS": "0"})
        err = json.loads(rj.stdout)["error"]
        assert err["code"] == "BUSY" and str(holder.pid) in err["details"]["lock"]
    finally:
        holder.kill()
        holder.wait()
    # its owner is gone now: the next write takes over
    r = jit_proc(repo, "issue", "update", iid, "-t", "after", extra={"JIT_STALE_LOCK_SECONDS": "0"})
    assert r.returncode == 0, r.stderr
    assert Tracker(repo).show(iid)["title"] == "after"


def test_a_young_lock_without_owner_is_left_until_it_is_old(repo: Path) -> None:
    t = Tracker(repo, actor="agent:a")
    iid = t.create_issue("young")["id"]
    lock = repo / ".git" / ISSUES / (iid + ".lock")
    lock.write_text("")  # as git update-ref would hold it: no owner record
    r = jit_proc(repo, "issue", "update", iid, "-t", "x",
                 extra={"JIT_RETRY_SECONDS": "0.3", "JIT_STALE_LOCK_SECONDS": "60"})
    assert r.returncode == 9
    assert "no running jit process owns it, so it is removed once it is 60s old" in r.stderr
    assert "hint: retry shortly" in r.stderr
    assert lock.exists()
    old = time.time() - 61
    os.utime(lock, (old, old))
    r = jit_proc(repo, "issue", "update", iid, "-t", "x", extra={"JIT_STALE_LOCK_SECONDS": "60"})
    assert r.returncode == 0, r.stderr
    assert not lock.exists()


def test_recycled_pids_zombies_and_other_hosts(repo: Path, tmp_path: Path) -> None:
    cd = repo / ".git"
    d = cd / locks.OWNERS
    d.mkdir(parents=True)
    key = locks._key("refs/jit/issues/aaaaaaaaaaaa")
    me = locks._start_time(os.getpid())
    # our own pid with another start time: a recycled pid, so the recorded owner is dead
    recycled = locks.Owner(d / "x", key, locks._HOST, os.getpid(), str(int(me) + 1) if me != "0" else "1")
    assert recycled.alive() is (False if me != "0" else True)
    assert locks.Owner(d / "x", key, locks._HOST, os.getpid(), me).alive() is True
    # a killed child its parent has not reaped yet still has a pid: it must count as dead
    z = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        zst = locks._start_time(z.pid)
        os.kill(z.pid, signal.SIGKILL)
        time.sleep(0.2)
        if Path(f"/proc/{z.pid}").exists():
            assert locks.Owner(d / "z", key, locks._HOST, z.pid, zst).alive() is False
    finally:
        z.wait()
    assert locks.Owner(d / "z", key, locks._HOST, z.pid, zst).alive() is False
    # another host's record cannot be checked: its lock is never taken over
    (d / f"{key}@elsewhere@{os.getpid()}@1").write_text(json.dumps({"ref": "refs/jit/issues/aaaaaaaaaaaa"}))
    lock = cd / "refs/jit/issues/aaaaaaaaaaaa.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")
    old = time.time() - 3600
    os.utime(lock, (old, old))
    info = locks.recover(cd, "refs/jit/issues/aaaaaaaaaaaa")
    assert info is not None and info.state == "held" and lock.exists()
    assert "on host elsewhere" in info.message and "cannot be checked from here" in info.message


def test_owner_records_come_and_go_with_each_write(repo: Path) -> None:
    t = Tracker(repo, actor="agent:a")
    for i in range(5):
        t.create_issue(f"n{i}")
    assert not locks.owners(repo / ".git")  # no ref named once its write is over


def test_a_process_keeps_one_owner_record_rewritten_in_place(repo: Path) -> None:
    """One file per process, not one per write (creating and deleting a file around every write
    is what made file creation slow on ext4 without a journal), gone when the process exits."""
    code = textwrap.dedent("""
        import json, os, sys
        from gitjit.app.tracker import Tracker
        from gitjit.store import locks
        t = Tracker(sys.argv[1], actor="agent:a")
        d = os.path.join(t.git.common_dir, locks.OWNERS)
        seen, inside = set(), []
        real = t.git.write_locked
        def spy(ref, make, message):  # look at the record from inside the write
            inside.append((ref, [o.ref for o in locks.owners(t.git.common_dir, ref)], os.getpid()))
            return real(ref, make, message)
        t.git.write_locked = spy
        for i in range(6):
            iid = t.create_issue(f"n{i}")["id"]
            t.update_issue(iid, title=f"m{i}")
            seen |= {(n, os.stat(os.path.join(d, n)).st_ino) for n in os.listdir(d)}
        print(json.dumps({"seen": sorted(seen), "inside": inside, "idle": [o.ref for o in locks.owners(
            t.git.common_dir, idle=True)], "named": [o.ref for o in locks.owners(t.git.common_dir)]}))
    """)
    r = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, check=True)
    out = json.loads(r.stdout)
    assert len(out["seen"]) == 1, out["seen"]  # the same file (same inode) through twelve writes
    name = out["seen"][0][0]
    assert name.startswith("proc@")
    assert len(out["inside"]) == 12 and all(ref in named for ref, named, _ in out["inside"])
    assert out["named"] == [] and out["idle"] == [""]  # between writes it names nothing
    assert not (repo / ".git" / locks.OWNERS / name).exists()  # removed when the process exited


def test_an_owner_record_caught_mid_rewrite_still_protects_the_lock(repo: Path) -> None:
    t = Tracker(repo, actor="agent:a")
    iid = t.create_issue("x")["id"]
    ref = ISSUES + iid
    d = repo / ".git" / locks.OWNERS
    d.mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        start = locks._start_time(sleeper.pid)
        (d / f"proc@{locks._HOST}@{sleeper.pid}@{start}").write_text('{"refs": {"refs/jit/iss')  # torn
        lock = repo / ".git" / (ref + ".lock")
        lock.write_text("")
        old = time.time() - 3600
        os.utime(lock, (old, old))
        info = locks.recover(repo / ".git", ref)
        assert info is not None and info.state == "held" and lock.exists()
        assert not locks.owners(repo / ".git")  # but it names no ref for anyone listing them all
    finally:
        sleeper.kill()
        sleeper.wait()
    info = locks.recover(repo / ".git", ref)  # its process is gone: the lock is stale now
    assert info is not None and info.state == "removed" and not lock.exists()


# ----------------------------------------------------------------------------- the harness

class Checker:
    """Invariants after every kill, incrementally: commits already judged are not parsed again."""

    def __init__(self, repo: Path):
        self.repo = repo
        self.judged: dict[str, tuple[str | None, frozenset[str]]] = {}   # commit -> (actor of its new events, ids)
        self.introduced: dict[str, str] = {}                              # actor -> commit that introduced it
        self.problems: list[str] = []

    def ids(self, g, c: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
        return {e.id: e for e in parse_events(g.read_file(c, DOC), where=c)}

    def walk(self, g, tip: str) -> None:  # type: ignore[no-untyped-def]
        todo = [tip]
        while todo:
            c = todo.pop()
            if c in self.judged:
                continue
            parents = g.parents(c)
            mine = self.ids(g, c)
            base: dict[str, object] = {}
            for p in parents:
                pe = self.ids(g, p)
                missing = set(pe) - set(mine)
                if missing:
                    self.problems.append(f"commit {c[:12]} dropped {len(missing)} event(s) of its parent {p[:12]}")
                base.update(pe)
            new = [e for i, e in mine.items() if i not in base]
            actors = {e.actor for e in new}  # type: ignore[attr-defined]
            if len(parents) <= 1:
                if len(actors) != 1:
                    self.problems.append(f"commit {c[:12]} adds events of {sorted(actors)}: not one operation")
                for a in actors:
                    if not a.startswith("crash:"):
                        continue  # setup and the peer write many operations under one name
                    if a in self.introduced and self.introduced[a] != c:
                        self.problems.append(f"{a}'s events were split over {self.introduced[a][:12]} and {c[:12]}")
                    self.introduced[a] = c
            self.judged[c] = (next(iter(actors)) if len(actors) == 1 else None, frozenset(mine))
            todo.extend(parents)

    def check(self) -> dict[str, list]:  # type: ignore[type-arg]
        fsck = git("fsck", "--no-dangling", "--no-progress", cwd=self.repo, check=False)
        out = [x for x in (fsck.stdout + fsck.stderr).splitlines() if x.strip() and not x.startswith("notice:")]
        assert fsck.returncode == 0 and not out, out
        g = open_repo(self.repo)
        store = EntityStore(g)
        by_actor: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        for prefix, fold in ((ISSUES, fold_issue), (GATES, fold_gate)):
            for key, ld in store.load_all(prefix).items():
                fold(key, ld.events)
                self.walk(g, ld.tip)
                for e in ld.events:
                    by_actor[e.actor].append(e)
        assert not store.warnings, store.warnings  # every ref parses
        assert not self.problems, self.problems
        doc = Doctor(g)
        doc.check_index()  # the index, refreshed, answers exactly as a fold of every ref does
        assert not doc.problems, [p.message for p in doc.problems]
        return by_actor


OPS = ["create", "update", "claim", "dep", "gate", "done", "release"]


def pick_op(t: int, rnd: random.Random, tr: Tracker, sync: bool) -> tuple[str, list[str], str, str]:
    """(kind, argv, actor, expected event type) for trial ``t``; never a no-op, so exit 0 means events."""
    actor = f"crash:{t:04d}"
    b = tr.board(fresh=True)
    ids = sorted(b.issues)
    kinds = OPS + (["sync"] if sync else [])
    kind = rnd.choice(kinds)
    if kind == "create" or not ids:
        return "create", ["issue", "create", "-t", f"crash {t}", "--context", f"trial={t}", "-g", "review"], \
            actor, "issue_created"
    iid = rnd.choice(ids)
    st = b.issues[iid]
    if kind == "update":
        return kind, ["issue", "update", iid, "--context", f"t{t}={t}", "-t", f"upd {t}", "-l", f"trial:t{t}"], \
            actor, "issue_updated"
    if kind == "claim":
        ready = [i for i in ids if b.is_ready(i)] or ids
        return kind, ["issue", "claim", rnd.choice(ready), actor], actor, "issue_claimed"
    if kind == "dep":
        other = rnd.choice(ids)
        if other == iid or other in st.dependencies:
            return "update", ["issue", "update", iid, "--context", f"t{t}={t}"], actor, "issue_updated"
        return kind, ["dep", "add", iid, other], actor, "dependency_added"  # a cycle is refused: exit 4
    if kind == "gate":
        if "review" not in st.gates:
            return kind, ["gate", "add", iid, "review"], actor, "gate_added"
        return kind, ["gate", "pass", iid, "review", "--by", actor], actor, "gate_passed"
    if kind == "done":
        if st.state == "done":
            return "update", ["issue", "update", iid, "--context", f"t{t}={t}"], actor, "issue_updated"
        return kind, ["issue", "update", iid, "--state", "done"], actor, "issue_completed"
    if kind == "release":
        held = [i for i in ids if b.issues[i].assignee and b.issues[i].state == "in_progress"]
        if not held:
            return "claim", ["issue", "claim", rnd.choice(ids), actor], actor, "issue_claimed"
        return kind, ["issue", "release", rnd.choice(held), f"crash test {t}"], actor, "issue_released"
    return "sync", ["sync", "origin"], actor, ""


def harness(tmp_path: Path, kills: int, seed: int) -> dict[str, int]:
    """One clone (with a hub and a peer clone for ``jit sync``) taking ``kills`` SIGKILLs."""
    rnd = random.Random(seed)
    repo = make_repo(tmp_path / "repo")
    hub = make_repo(tmp_path / "hub.git", bare=True)
    other = make_repo(tmp_path / "other")
    setup = Tracker(repo, actor="setup")
    setup.init()
    setup.registry_add("review", title="Review")
    first = [setup.create_issue(f"seed {i}", gates=["review"] if i % 2 else [])["id"] for i in range(30)]
    for a, b in zip(first[1::3], first[2::3]):
        setup.add_dependency(a, [b])
    git("remote", "add", "origin", str(hub), cwd=repo)
    setup.push("origin")
    git("remote", "add", "origin", str(hub), cwd=other)
    peer = Tracker(other, actor="other")
    peer.init()
    peer.pull("origin")
    owners_dir = repo / ".git" / locks.OWNERS
    env = {**os.environ, "JIT_REPO": str(repo), "JIT_STALE_LOCK_SECONDS": "0.5", "JIT_RETRY_SECONDS": "30"}

    checker = Checker(repo)
    acked: dict[str, str] = {}       # actor -> expected type, for every write that returned 0
    failed: set[str] = set()         # actors whose command failed cleanly (must have written nothing)
    peer_events: set[str] = set()    # events the peer pushed before a sync that then succeeded
    stats = defaultdict(int)
    durations: list[float] = [0.6]
    t = 0
    started = time.monotonic()
    while stats["kills"] < kills:
        t += 1
        assert t < kills * 4, f"too few kills landed: {dict(stats)}"
        kind, argv, actor, expect = pick_op(t, rnd, Tracker(repo), sync=True)
        if kind == "sync":
            iid = rnd.choice(sorted(peer.board(fresh=True).issues))
            peer.update_issue(iid, context={f"peer{t}": t})
            peer.push("origin")
            pushed = {e.id for ld in EntityStore(open_repo(other)).load_all(ISSUES).values() for e in ld.events}
        in_write = t % 2 == 0 and kind != "sync"  # half the kills aimed at the write itself
        locks_before = set(locks.find_locks(repo / ".git"))
        p = subprocess.Popen([sys.executable, "-m", "gitjit", *argv], env={**env, "JIT_ACTOR": actor},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        t0 = time.monotonic()
        if in_write:
            deadline = t0 + 4 * max(durations)
            mark = f"@{p.pid}@"
            while p.poll() is None and time.monotonic() < deadline:
                try:
                    if any(mark in x for x in os.listdir(owners_dir)):
                        time.sleep(rnd.uniform(0, 0.003))
                        break
                except FileNotFoundError:
                    pass
        else:
            try:
                p.wait(timeout=rnd.uniform(0.05, 1.5) * sorted(durations)[len(durations) // 2])
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)  # the whole process group: git children die too
        p.wait()
        _, err = p.communicate()
        rc = p.returncode
        if rc == -signal.SIGKILL:
            stats["kills"] += 1
            left = os.listdir(owners_dir) if owners_dir.exists() else []
            stats["kills_inside_write"] += any(f"@{p.pid}@" in x for x in left)  # died holding a record
            stats["locks_left"] += len(set(locks.find_locks(repo / ".git")) - locks_before)
        else:
            durations.append(time.monotonic() - t0)
            if rc == 0:
                stats["acknowledged"] += 1
                if expect:
                    acked[actor] = expect
                if kind == "sync":
                    peer_events |= pushed
            else:
                assert "Traceback" not in err and "error: " in err, err
                stats[f"refused_exit_{rc}"] += 1
                failed.add(actor)
        by_actor = checker.check()
        for a, typ in acked.items():
            assert any(e.type == typ for e in by_actor.get(a, ())), f"acknowledged {a} ({typ}) is missing"
        for a in failed:
            assert not by_actor.get(a), f"{a} failed but wrote {[e.type for e in by_actor[a]]}"
        if kind != "sync" and actor in by_actor and actor not in acked:
            assert any(e.type == expect for e in by_actor[actor]), f"{actor}: partial operation visible"
        if peer_events:
            have = {e.id for evs in by_actor.values() for e in evs}
            assert peer_events <= have, "events pulled by an acknowledged sync went missing"
    # every lock left by a kill is taken over by the next writer of that ref; a lock left by a
    # killed create names a ref that never came to be: only 'jit doctor --fix' tidies it away
    g = open_repo(repo)
    for lock in locks.find_locks(repo / ".git"):
        ref = locks.ref_of_lock(repo / ".git", lock)
        if g.tip(ref) is None:
            stats["locks_of_killed_creates"] += 1
            continue
        r = jit_proc(repo, "issue", "update", ref.rsplit("/", 1)[-1], "--context", "after=1",
                     extra={"JIT_STALE_LOCK_SECONDS": "0.5"})
        assert r.returncode == 0, r.stderr
    time.sleep(0.5)
    fixed = jit_proc(repo, "doctor", "--fix", "--json", extra={"JIT_STALE_LOCK_SECONDS": "0.5"})
    assert fixed.returncode == 0, fixed.stdout
    assert not locks.find_locks(repo / ".git")
    recovered = repo / ".git" / "jit" / "recovered.log"
    stats["locks_recovered"] = len(recovered.read_text().splitlines()) if recovered.exists() else 0
    checker.check()
    doc = jit_proc(repo, "doctor", "--full", "--json")
    assert doc.returncode == 0 and json.loads(doc.stdout)["ok"], doc.stdout
    stats["trials"] = t
    stats["seconds"] = round(time.monotonic() - started)
    return dict(stats)


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_or_loses_acknowledged_writes(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    seed = int(CRASH_SEED or "7")
    workers = 2  # two clones side by side: the kills, not the checks, are what we want many of
    with ThreadPoolExecutor(workers) as ex:
        futs = [ex.submit(harness, tmp_path / f"w{w}", KILLS // workers + (w < KILLS % workers), seed + w)
                for w in range(workers)]
        results = [f.result() for f in futs]
    stats: dict[str, int] = defaultdict(int)
    for r in results:
        for k, v in r.items():
            stats[k] = max(stats[k], v) if k == "seconds" else stats[k] + v
    print(f"\ncrash harness: {dict(stats)}")
    assert stats["kills"] >= KILLS
    assert stats["kills_inside_write"] > KILLS // 10, dict(stats)  # the aimed kills really hit writes
    out = CRASH_STATS
    if out:
        Path(out).write_text(json.dumps(stats, indent=1))


def test_a_pull_takes_over_a_lock_left_by_a_killed_local_writer(tmp_path: Path, monkeypatch) -> None:
    """Reconciling a pulled ref goes through the same recovery as a local write."""
    from synclib import hub_and_clones

    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta, tb = Tracker(a, actor="agent:a"), Tracker(b, actor="agent:b")
    iid = ta.create_issue("shared")["id"]
    ta.push("origin")
    tb.pull("origin")
    ta.update_issue(iid, title="changed on a")
    ta.push("origin")
    hold_lock(b, ISSUES + iid, "die")  # a jit process in b died holding the issue's lock
    monkeypatch.setenv("JIT_STALE_LOCK_SECONDS", "0.3")
    res = Tracker(b).pull("origin")
    assert res["fast_forwarded"] == [ISSUES + iid]
    assert Tracker(b).show(iid)["title"] == "changed on a"
    assert not (b / ".git" / (ISSUES + iid + ".lock")).exists()


def test_a_recoverer_killed_mid_recovery_does_not_block_the_next_one(repo: Path, monkeypatch) -> None:
    t = Tracker(repo, actor="agent:a")
    iid = t.create_issue("twice unlucky")["id"]
    ref = ISSUES + iid
    hold_lock(repo, ref, "die")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the recoverer that died holding the recovery mutex
    d = repo / ".git" / locks.OWNERS
    (d / f"{locks._key(ref)}.recovering").write_text(json.dumps({"pid": gone.pid, "host": locks._HOST,
                                                                  "start": "1"}))
    monkeypatch.setenv("JIT_STALE_LOCK_SECONDS", "0.2")
    monkeypatch.setenv("JIT_RETRY_SECONDS", "5")
    t0 = time.monotonic()
    t.update_issue(iid, title="recovered anyway")
    assert time.monotonic() - t0 < 5
    assert not (d / f"{locks._key(ref)}.recovering").exists()
