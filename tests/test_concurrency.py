"""Every write is an atomic compare-and-swap of one ref, under real multi-process contention.

Each test starts real ``python`` processes (a small worker script written to tmp_path that
drives ``gitjit.app.tracker.Tracker``, or ``python -m gitjit`` itself) against one real repository,
lines them up on a file barrier so they are all loaded before the race starts, then checks
the outcome against the git objects: who won what, that no acknowledged write was lost, that
every issue's commit chain is linear with each commit's ``events.jsonl`` a strict superset of
its parent's, that a held ``<ref>.lock`` yields BusyError (exit 9) without touching the
store, and that ``git fsck --strict`` and ``git status`` stay clean.

Lost CAS attempts leave unreferenced commits behind (exactly as git's own losers do until
``git gc``), so fsck is run with ``--no-dangling``: errors and warnings still fail the test.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pygit2
import pytest
from conftest import git, make_repo, ref_snapshot, run_jit

from gitjit.git import CasFailed, GitRepo, RefLocked
from gitjit.git.housekeeping import REPACK
from gitjit.git.repo import _is_lock_error

NPROC = 8
#: a hand-made lock in these tests plays a live holder: never old enough to count as stale
HELD = {"JIT_STALE_LOCK_SECONDS": "600"}

WORKER = r'''
import json, os, random, sys, time

from gitjit.app.tracker import Tracker
from gitjit.core.errors import AlreadyClaimedError, AlreadyExistsError, GitjitError, NoWorkError


def barrier(bdir, name, me, n, timeout=60.0):
    """Wait until n workers have reached barrier `name` (one marker file each)."""
    open(os.path.join(bdir, f"{name}.{me}"), "w").close()
    end = time.monotonic() + timeout
    while sum(1 for f in os.listdir(bdir) if f.startswith(name + ".")) < n:
        if time.monotonic() > end:
            raise SystemExit(f"barrier {name} timed out")
        time.sleep(0.001)


def main():
    spec = json.loads(sys.argv[1])
    mode, me, n, bdir = spec["mode"], spec["me"], spec["n"], spec["barrier"]
    t = Tracker(spec["repo"], actor=me)
    out = {"me": me}
    if mode == "claim-next":
        barrier(bdir, "start", me, n)
        won, t0 = [], time.monotonic()
        while True:
            try:
                won.append(t.claim_next(me)["id"])
            except NoWorkError:
                break
        out.update(won=won, seconds=time.monotonic() - t0)
    elif mode == "claim-same":
        results = []
        for i, iid in enumerate(spec["ids"]):
            barrier(bdir, f"round{i}", me, n)  # all NPROC claim this one issue at once
            try:
                t.claim(iid, me)
                results.append([iid, "won", me])
            except AlreadyClaimedError as e:
                results.append([iid, "already", e.details.get("assignee")])
        out.update(results=results)
    elif mode == "create-ref":
        # the raw store primitive: everyone tries to create the same refs with its own commit
        from gitjit.git import CasFailed, RefLocked
        g = t.git
        mine = g.write_commit({"who": me.encode()}, [], f"by {me}", author=(me, "w@example.invalid"))
        barrier(bdir, "start", me, n)
        won = []
        for name in spec["names"]:
            while True:
                try:
                    g.create_ref(name, mine, "create")
                    won.append(name)
                    break
                except CasFailed:
                    break
                except RefLocked:
                    time.sleep(random.uniform(0, 0.002))  # spinning would starve the holder on 2 cores
        out.update(commit=mine, won=won)
    elif mode == "registry-add":
        results = []
        for i, key in enumerate(spec["keys"]):
            barrier(bdir, f"round{i}", me, n)
            try:
                t.registry_add(key, title=f"{key} by {me}")
                results.append([key, "won"])
            except AlreadyExistsError:
                results.append([key, "exists"])
        out.update(results=results)
    elif mode == "edit":
        iid, kind, k = spec["issue"], spec["kind"], spec["count"]
        barrier(bdir, "start", me, n)
        acked = []
        for j in range(k):
            if kind == "title":
                v = f"title {j} from {me}"
                st = t.update_issue(iid, title=v)
                assert st["title"] == v
            elif kind == "description":
                v = f"description {j} from {me}"
                t.update_issue(iid, description=v)
            elif kind == "label":
                v = f"{spec['tag']}:{j}"
                assert v in t.update_issue(iid, labels_add=[v])["labels"]
            elif kind == "context":
                v = f"{spec['tag']}_{j}"
                assert t.update_issue(iid, context={v: j})["context"][v] == j
            elif kind == "gate":
                v = f"g{j}"
                t.gate_set(iid, v, True, by=me)
            acked.append(v)  # the call returned: the write is acknowledged
        out.update(acked=acked)
    elif mode == "create-edit":
        barrier(bdir, "start", me, n)
        acked = {}
        for j in range(spec["count"]):
            iid = t.create_issue(f"{me} {j}", labels=[f"w:{me[6:]}"])["id"]
            acked[iid] = t.update_issue(iid, title=f"{me} {j} edited")["title"]
        out.update(acked=acked)
    elif mode == "open-race":
        # every round, all workers open a new index file at once (the leader deleted it before)
        from gitjit.store.index import INDEX_FILE
        path = os.path.join(t.git.common_dir, INDEX_FILE)
        rounds = []
        for k in range(spec["rounds"]):
            barrier(bdir, f"open{k}", me, n)
            tk = Tracker(spec["repo"], actor=me)
            ready = [i["id"] for i in tk.query("ready")["issues"]]
            ix = tk.index.indexer()
            rounds.append({"warnings": tk.store.warnings, "ready": ready,
                           "ino": list(ix.ix.ino) if ix.ix.ino else None, "disabled": ix.disabled})
            ix.ix.close()
            barrier(bdir, f"closed{k}", me, n)
            if me.endswith(":0"):
                for s in ("", "-wal", "-shm"):
                    try:
                        os.unlink(path + s)
                    except FileNotFoundError:
                        pass
            barrier(bdir, f"deleted{k}", me, n)
        out.update(rounds=rounds)
    elif mode == "locked-write":
        # wrap (not replace) the real locked write so the parent learns when we first hit the lock
        from gitjit.git import GitRepo, RefLocked
        real, hits = GitRepo.write_locked, []

        def swap(self, *a, **kw):
            try:
                return real(self, *a, **kw)
            except RefLocked:
                if not hits:
                    open(spec["marker"], "w").close()
                hits.append(time.monotonic())
                raise

        GitRepo.write_locked = swap
        st = t.update_issue(spec["issue"], title=spec["title"])
        out.update(title=st["title"], locked_attempts=len(hits))
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


main()
'''


# ---------------------------------------------------------------------- helpers

def _setup_repo(repo: Path) -> str:
    """A work tree with one committed file, so 'work tree untouched' can really be checked."""
    (repo / "README.md").write_text("hello\n")
    git("add", "README.md", cwd=repo)
    git("commit", "-q", "-m", "init", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def _assert_git_clean(repo: Path, head: str) -> None:
    fsck = git("fsck", "--strict", "--no-dangling", "--no-progress", cwd=repo, check=False)
    assert fsck.returncode == 0 and not (fsck.stdout + fsck.stderr).strip(), fsck.stdout + fsck.stderr
    assert git("status", "--porcelain", "--untracked-files=all", cwd=repo).stdout == ""
    assert git("rev-parse", "HEAD", cwd=repo).stdout.strip() == head
    assert git("symbolic-ref", "HEAD", cwd=repo).stdout.strip() == "refs/heads/main"
    assert git("ls-files", cwd=repo).stdout.split() == ["README.md"]
    stray = [p for p in (repo / ".git").rglob("*.lock")]
    assert not stray, f"lock files left behind: {stray}"


def _run_workers(tmp_path: Path, specs: list[dict], *, env: dict[str, str] | None = None,
                 timeout: float = 120) -> list[dict]:
    """Start one worker process per spec (all at once), wait for all, return their JSON reports."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    bdir = tmp_path / f"barrier-{time.monotonic_ns()}"
    bdir.mkdir()
    e = {**os.environ, **(env or {})}
    procs = [subprocess.Popen([sys.executable, str(script),
                               json.dumps({**s, "n": len(specs), "barrier": str(bdir)})],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
             for s in specs]
    outs = []
    try:
        for p in procs:
            so, se = p.communicate(timeout=timeout)
            assert p.returncode == 0, f"worker failed ({p.returncode}):\n{se}"
            outs.append(json.loads(so))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    return outs


def _fresh(repo: Path):  # type: ignore[no-untyped-def]
    """A new Tracker: a long-lived one caches its board and would not see other processes' writes."""
    from gitjit.app.tracker import Tracker

    return Tracker(repo, actor="agent:checker")


def _issue_ref(iid: str) -> str:
    return f"refs/jit/issues/{iid}"


def _assert_linear_superset_chain(repo: Path, iid: str) -> int:
    """The issue's history is one line of commits, each adding events to its parent's full log.
    Returns the number of commits."""
    lines = git("rev-list", "--parents", _issue_ref(iid), cwd=repo).stdout.split("\n")
    chain = [ln.split() for ln in lines if ln]
    assert all(len(c) <= 2 for c in chain), "a merge commit on a local-only issue ref"
    assert [len(c) for c in chain].count(1) == 1, "more than one root commit"
    r = pygit2.Repository(str(repo))

    def log(cid: str) -> list[str]:
        data = r[r[cid].tree["events.jsonl"].id].data.decode()
        return [ln for ln in data.split("\n") if ln]

    for c in chain:
        child = log(c[0])
        ids = [json.loads(ln)["id"] for ln in child]
        assert len(ids) == len(set(ids)), f"duplicate event ids in {c[0]}"
        if len(c) == 2:
            parent = log(c[1])
            assert set(parent) < set(child), f"{c[0]} drops or adds nothing to its parent's events"
    return len(chain)


# ---------------------------------------------------------------------- 0. the pygit2 facts relied on
# pygit2 1.21.0 / libgit2 1.9.7. If an upgrade changes one of these, the store's CAS may break:
# these fast tests say which fact moved.

def _commits(r: pygit2.Repository, n: int) -> list[pygit2.Oid]:
    sig = pygit2.Signature("t", "t@example.invalid", 0, 0)
    tree = r.TreeBuilder().write()
    return [r.create_commit(None, sig, sig, f"c{i}", tree, []) for i in range(n)]


def test_pygit2_reference_set_target_is_cas_and_lock_errors_are_immediate(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "r")
    r = pygit2.Repository(str(path))
    c1, c2, c3 = _commits(r, 3)
    name = "refs/jit/issues/aaaaaaaaaaaa"
    r.create_reference(name, c1)

    # set_target through a Reference read before the ref moved fails under the lock: GIT_EMODIFIED
    stale = r.references.get(name)
    r.references.get(name).set_target(c2)
    with pytest.raises(pygit2.GitError, match="old reference value does not match"):
        stale.set_target(c3)
    assert r.references.get(name).target == c2

    # create_reference(force=False) on an existing ref: AlreadyExistsError, a ValueError (pygit2 1.21 also
    # makes it a GitError, 1.19.0, the floor, does not: every catch site in gitjit/git/ names ValueError)
    with pytest.raises(pygit2.AlreadyExistsError):
        r.create_reference(name, c3, force=False)
    assert issubclass(pygit2.AlreadyExistsError, ValueError)

    # a ref deleted after it was read: NotFoundError, which is a KeyError, not "does not match"
    gone = r.references.get(name)
    r.references.get(name).delete()
    with pytest.raises(KeyError):
        gone.set_target(c3)
    r.create_reference(name, c2)

    # a held lock fails at once: OSError from the Reference API, GitError from a transaction
    lock = path / ".git" / (name + ".lock")
    lock.write_text("x")
    t0 = time.monotonic()
    with pytest.raises(OSError, match="failed to lock file") as e1:
        r.references.get(name).set_target(c3)
    with pytest.raises(pygit2.GitError, match="failed to lock file") as e2:
        with r.transaction() as tx:
            tx.lock_ref(name)
    assert time.monotonic() - t0 < 1.0  # no lock wait in libgit2, unlike git's 100 ms
    assert _is_lock_error(e1.value) and _is_lock_error(e2.value)
    assert lock.read_text() == "x" and r.references.get(name).target == c2


def test_gitrepo_classifies_every_failure(tmp_path: Path) -> None:
    path = make_repo(tmp_path / "r")
    g = GitRepo(str(path / ".git"))
    c1, c2, c3 = (str(c) for c in _commits(g.repo, 3))
    name = "refs/jit/issues/bbbbbbbbbbbb"

    g.create_ref(name, c1, "create")
    with pytest.raises(CasFailed):
        g.create_ref(name, c2, "create again")  # create-only
    with pytest.raises(CasFailed):
        g.swap_ref(name, c2, c3, "stale")  # expected value is not the tip
    g.swap_ref(name, c1, c2, "ok")
    assert g.tip(name) == c2

    lock = path / ".git" / (name + ".lock")
    lock.write_text("")
    with pytest.raises(RefLocked):
        g.swap_ref(name, c2, c3, "locked")
    new = "refs/jit/issues/cccccccccccc"
    (path / ".git" / (new + ".lock")).write_text("")
    with pytest.raises(RefLocked):
        g.create_ref(new, c1, "locked create")  # the transaction path raises GitError, not OSError
    assert g.tip(name) == c2 and g.tip(new) is None
    lock.unlink()
    (path / ".git" / (new + ".lock")).unlink()

    # both forms libgit2 uses for a held lock, and only those
    assert _is_lock_error(OSError("failed to create locked file '/r/.git/refs/x.lock': File exists"))
    assert not _is_lock_error(OSError("failed to create locked file '/r/.git/refs/x.lock': Permission denied"))
    assert not _is_lock_error(pygit2.GitError("old reference value does not match"))

    # an unknown error is judged by the ref itself: landed, lost, locked, or a real error
    odd = pygit2.GitError("some wording a later libgit2 might use")
    g._classify(odd, name, c1, c2)  # the ref holds our target: the write landed, no exception
    with pytest.raises(CasFailed):
        g._classify(odd, name, c1, c3)  # moved elsewhere: lost the race
    lock.write_text("")
    with pytest.raises(RefLocked):
        g._classify(odd, name, c2, c3)
    lock.unlink()
    with pytest.raises(pygit2.GitError, match="some wording"):
        g._classify(odd, name, c2, c3)  # unchanged and unlocked: a real failure, not retried


# ---------------------------------------------------------------------- 1. claims

@pytest.mark.slow
def test_claim_next_stress_every_issue_claimed_exactly_once(repo: Path, tracker, tmp_path: Path) -> None:
    head = _setup_repo(repo)
    n_issues = 300
    prios = ["low", "normal", "high", "critical"]
    ids = {tracker.create_issue(f"task {i}", priority=prios[i % 4])["id"] for i in range(n_issues)}
    assert len(ids) == n_issues

    t0 = time.monotonic()
    outs = _run_workers(tmp_path, [{"mode": "claim-next", "repo": str(repo), "me": f"agent:w{i}"}
                                   for i in range(NPROC)])
    wall = time.monotonic() - t0
    won = {o["me"]: o["won"] for o in outs}

    told = collections.Counter(i for ws in won.values() for i in ws)
    assert set(told) == ids, "some issue was never claimed (or a foreign id was reported)"
    assert all(c == 1 for c in told.values()), [i for i, c in told.items() if c > 1]
    winner = {i: me for me, ws in won.items() for i in ws}

    from gitjit.app.tracker import Tracker

    fresh = Tracker(repo, actor="checker")
    board = fresh.board(fresh=True)
    for iid in ids:
        st = board.issues[iid]
        assert st.assignee == winner[iid] and st.state == "in_progress", (iid, st.assignee, winner[iid])
        evs = fresh.store.load("refs/jit/issues/", iid).events
        claims = [e for e in evs if e.type == "issue_claimed"]
        assert len(claims) == 1 and claims[0].assignee == winner[iid]
    assert fresh.query("ready")["count"] == 0

    busiest = max(o["seconds"] for o in outs)
    print(f"\nclaim-next stress: {n_issues} claims by {NPROC} processes in {busiest:.2f}s "
          f"({n_issues / busiest:.0f} claims/s; {wall:.2f}s wall incl. start-up); "
          f"per worker: {sorted(len(w) for w in won.values())}")
    _assert_git_clean(repo, head)


@pytest.mark.slow
def test_racing_claims_of_one_issue_have_exactly_one_winner(repo: Path, tracker, tmp_path: Path) -> None:
    head = _setup_repo(repo)
    ids = [tracker.create_issue(f"contended {i}")["id"] for i in range(12)]
    outs = _run_workers(tmp_path, [{"mode": "claim-same", "repo": str(repo), "me": f"agent:w{i}", "ids": ids}
                                   for i in range(NPROC)])
    by_issue: dict[str, list[list]] = collections.defaultdict(list)
    for o in outs:
        for iid, result, who in o["results"]:
            by_issue[iid].append([o["me"], result, who])
    board = _fresh(repo).board()
    for iid in ids:
        rows = by_issue[iid]
        winners = [me for me, res, _ in rows if res == "won"]
        assert len(rows) == NPROC and len(winners) == 1, rows
        # every loser was told who holds it, and that is the one winner
        assert all(who == winners[0] for me, res, who in rows if res == "already"), rows
        assert board.issues[iid].assignee == winners[0]
        assert _assert_linear_superset_chain(repo, iid) == 2  # create + the one claim

    # the same race through the real CLI: exactly one exit 0, every other process exit 7
    iid = tracker.create_issue("contended via the CLI")["id"]
    env = {**os.environ, "JIT_REPO": str(repo)}
    procs = [subprocess.Popen([sys.executable, "-m", "gitjit", "--json", "issue", "claim", iid, f"agent:c{i}"],
                              cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(NPROC)]
    res = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(rc for rc, _, _ in res)
    assert codes == [0] + [7] * (NPROC - 1), res
    win = json.loads(next(out for rc, out, _ in res if rc == 0))
    assert win["assignee"].startswith("agent:c") and win["state"] == "in_progress"
    for rc, out, _ in res:
        if rc == 7:
            err = json.loads(out)["error"]
            assert err["code"] == "ALREADY_CLAIMED" and err["details"]["assignee"] == win["assignee"]
            assert f"already claimed by {win['assignee']}" in err["message"]
    assert _fresh(repo).show(iid)["assignee"] == win["assignee"]
    _assert_git_clean(repo, head)


@pytest.mark.slow
def test_racing_ref_creation_is_create_only(repo: Path, tracker, tmp_path: Path) -> None:
    """Regression test for a libgit2 1.9 race: create_reference(force=False) checks existence
    before it takes the lock, so racing creators could all 'succeed', the last one silently
    overwriting the others (several hundred double wins in 1,500 names with 8 processes).
    GitRepo.create_ref must let exactly one creator win each name, and the ref must hold that
    winner's commit. The API-level consequence is checked too: defining one gate key from
    several processes at once gives exactly one success."""
    head = _setup_repo(repo)
    names = [f"refs/jit/gates/race-{k}" for k in range(400)]
    outs = _run_workers(tmp_path, [{"mode": "create-ref", "repo": str(repo), "me": f"agent:w{i}", "names": names}
                                   for i in range(NPROC)])
    wins = collections.defaultdict(list)
    for o in outs:
        for name in o["won"]:
            wins[name].append(o["commit"])
    tips = ref_snapshot(repo)
    doubles = {n: len(c) for n, c in wins.items() if len(c) != 1}
    assert set(wins) == set(names) and not doubles, f"{len(doubles)} names created by several writers"
    assert all(tips[n] == wins[n][0] for n in names)
    for n in names:  # remove the raw test refs (they are not valid gate logs) before the API part
        git("update-ref", "-d", n, cwd=repo)

    keys = [f"gate-{k}" for k in range(6)]
    outs = _run_workers(tmp_path, [{"mode": "registry-add", "repo": str(repo), "me": f"agent:w{i}", "keys": keys}
                                   for i in range(NPROC)])
    for key in keys:
        res = [r for o in outs for k, r in o["results"] if k == key]
        assert sorted(res) == ["exists"] * (NPROC - 1) + ["won"], (key, res)
        log = git("rev-list", f"refs/jit/gates/{key}", cwd=repo).stdout.split()
        assert len(log) == 1
    _assert_git_clean(repo, head)


# ---------------------------------------------------------------------- 2. concurrent field edits

@pytest.mark.slow
def test_concurrent_edits_of_one_issue_lose_nothing(repo: Path, tracker, tmp_path: Path) -> None:
    head = _setup_repo(repo)
    k = 15
    iid = tracker.create_issue("shared", gates=[f"g{j}" for j in range(k)])["id"]
    kinds = [("title", None), ("description", None), ("label", "la"), ("label", "lb"),
             ("context", "ca"), ("context", "cb"), ("gate", None)]
    specs = [{"mode": "edit", "repo": str(repo), "me": f"agent:e{i}", "issue": iid, "kind": kind, "tag": tag,
              "count": k} for i, (kind, tag) in enumerate(kinds)]
    outs = _run_workers(tmp_path, specs)
    acked = {(s["kind"], s["tag"]): o["acked"] for s, o in zip(specs, outs)}
    assert all(len(v) == k for v in acked.values())

    from gitjit.app.tracker import Tracker

    final = Tracker(repo, actor="checker").show(iid)
    # single-writer fields end at that writer's last acknowledged value
    assert final["title"] == acked[("title", None)][-1]
    assert final["description"] == acked[("description", None)][-1]
    # set-like fields hold every acknowledged write
    for tag in ("la", "lb"):
        assert set(acked[("label", tag)]) <= set(final["labels"])
    for tag in ("ca", "cb"):
        for j, key in enumerate(acked[("context", tag)]):
            assert final["context"][key] == j
    gates = final["gates"]
    gate_status = {g["key"]: g for g in gates} if isinstance(gates, list) else gates
    for j, key in enumerate(acked[("gate", None)]):
        assert gate_status[key]["status"] == "passed", gate_status[key]

    # the history: one linear chain, one commit per acknowledged write, nothing dropped on the way
    writes = sum(len(v) for v in acked.values())
    assert _assert_linear_superset_chain(repo, iid) == 1 + writes
    evs = Tracker(repo).events(issue=iid)
    titles = [e["changes"]["title"] for e in evs if e["type"] == "issue_updated" and "title" in e["changes"]]
    assert titles == acked[("title", None)]  # every title write, in the order it was acknowledged
    assert sum(e["type"] == "gate_passed" for e in evs) == k
    lost = git("fsck", "--unreachable", "--no-reflogs", "--no-progress", cwd=repo).stdout.count("unreachable commit")
    print(f"\nconcurrent edits: {writes} acknowledged writes from {len(specs)} processes, "
          f"{lost} commits written by attempts that lost the CAS and retried")
    _assert_git_clean(repo, head)


def test_writers_beside_a_running_git_gc_lose_nothing(repo: Path, tracker, tmp_path: Path) -> None:
    """jit starts a geometric ``git repack`` after writes (gitjit/git/housekeeping.py) and users
    run ``git gc``: that repack, ``git gc`` (pack-refs, repack -d, prune of old unreachable
    objects) and prune run over and over while 4 processes
    create and edit issues loses no acknowledged write and leaves a clean repository. (Before
    ``GitRepo.check_written``, 3 runs in 10 lost an object: libgit2 reported a commit written
    that prune's removal of an empty fan-out directory had kept off the disk.)"""
    import threading

    head = _setup_repo(repo)
    stop, runs, failures = threading.Event(), [], []

    def gc_loop() -> None:
        # a whole gc now and then, jit's own geometric repack as often, and gc's prune step (the
        # one that races object writes: it removes the fan-out directories it finds empty) in between
        k = 0
        while not stop.is_set():
            cmd = (["gc", "--quiet"] if k % 6 == 0 else
                   REPACK.split()[1:] if k % 6 == 3 else ["prune", "--expire=2.weeks.ago"])
            r = subprocess.run(["git", *cmd], cwd=repo, capture_output=True, text=True)
            (runs if r.returncode == 0 else failures).append(f"git {' '.join(cmd)}: {r.stderr}")
            k += 1

    th = threading.Thread(target=gc_loop)
    th.start()
    try:
        outs = _run_workers(tmp_path, [{"mode": "create-edit", "repo": str(repo), "me": f"agent:g{i}", "count": 30}
                                       for i in range(4)])
    finally:
        stop.set()
        th.join()
    assert sum(r.startswith("git gc") for r in runs) >= 2, "git gc did not run beside the writers"
    assert sum(r.startswith("git repack") for r in runs) >= 2, "no repack ran beside the writers"
    from gitjit.app.tracker import Tracker

    t = Tracker(repo, actor="checker")
    acked = {iid: title for o in outs for iid, title in o["acked"].items()}
    assert len(acked) == 120
    for iid, title in acked.items():
        assert t.show(iid)["title"] == title
    assert git("count-objects", "-v", cwd=repo).stdout.count("in-pack: 0") == 0
    _assert_git_clean(repo, head)
    assert not failures, failures[:3]


# ---------------------------------------------------------------------- 3. a held lock

@pytest.mark.slow
def test_processes_opening_a_new_index_at_once_all_use_it(repo: Path, tracker, tmp_path: Path) -> None:
    """Eight processes that find no index all create and open it at the same moment. In a new
    file's rollback-journal mode a connection that read the schema and then writes it gets
    'database is locked' at once (SQLite skips its busy handler to avoid a deadlock); that is no
    damage. (Before, a process took it for a damaged file and deleted the index under the
    others, which then failed with 'no such table' and 'disk I/O error': CI, 1 run in ~6.)"""
    ids = [tracker.create_issue(f"t{i}")["id"] for i in range(4)]
    tracker.add_dependency(ids[0], [ids[1]])
    tracker.index.indexer().ix.close()
    from gitjit.store.index import INDEX_FILE
    for s in ("", "-wal", "-shm"):
        (repo / ".git" / (INDEX_FILE + s)).unlink(missing_ok=True)
    rounds = 12
    outs = _run_workers(tmp_path, [{"mode": "open-race", "repo": str(repo), "me": f"agent:{i}", "rounds": rounds}
                                   for i in range(NPROC)])
    want = sorted(ids[1:])
    for k in range(rounds):
        seen = [o["rounds"][k] for o in outs]
        assert all(not r["warnings"] and not r["disabled"] for r in seen), seen
        assert all(sorted(r["ready"]) == want for r in seen), seen
        assert len({tuple(r["ino"]) for r in seen}) == 1, seen  # one file, the one they all use


def test_held_lock_gives_busy_and_changes_nothing_then_write_succeeds_when_released(
        repo: Path, tracker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lock here stands for a live writer that takes long, so stale-lock recovery
    (gitjit/store/locks.py, which only removes locks older than JIT_STALE_LOCK_SECONDS with no
    live owner) is kept out of the way."""
    head = _setup_repo(repo)
    iid = tracker.create_issue("locked one")["id"]
    lock = repo / ".git" / "refs" / "jit" / "issues" / f"{iid}.lock"
    before = ref_snapshot(repo)
    lock.write_text("held by hand\n")

    # (a) the CLI gives up after its budget with exit 9, and the store is untouched
    t0 = time.monotonic()
    r = run_jit("--json", "issue", "update", iid, "--title", "never", cwd=repo,
                env={"JIT_REPO": str(repo), "JIT_RETRY_SECONDS": "0.5", **HELD})
    took = time.monotonic() - t0
    assert r.returncode == 9, (r.returncode, r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "BUSY" and "locked" in err["message"], err
    assert 0.5 <= took < 30
    assert ref_snapshot(repo) == before
    assert lock.read_text() == "held by hand\n", "the writer must never touch someone else's lock"
    assert _fresh(repo).show(iid)["title"] == "locked one"

    # (b) a writer with a long budget keeps retrying; releasing the lock mid-retry lets it land
    marker = tmp_path / "hit-lock"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    spec = {"mode": "locked-write", "repo": str(repo), "me": "agent:patient", "issue": iid,
            "title": "after the lock", "marker": str(marker), "n": 1, "barrier": str(tmp_path)}
    p = subprocess.Popen([sys.executable, str(script), json.dumps(spec)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env={**os.environ, "JIT_RETRY_SECONDS": "30", **HELD})
    try:
        end = time.monotonic() + 30
        while not marker.exists():
            assert p.poll() is None and time.monotonic() < end, p.communicate()
            time.sleep(0.01)
        time.sleep(0.3)  # let it fail a few more times against the held lock
        assert p.poll() is None, "the writer gave up (or wrote) while the lock was still held"
        assert ref_snapshot(repo) == before
        lock.unlink()
        out, errout = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, errout
    rep = json.loads(out)
    assert rep["title"] == "after the lock" and rep["locked_attempts"] >= 2
    assert _fresh(repo).show(iid)["title"] == "after the lock"
    assert _assert_linear_superset_chain(repo, iid) == 2

    # (c) creating a ref goes through a locking transaction; its lock is honoured the same way
    from gitjit.core.errors import BusyError

    glock = repo / ".git" / "refs" / "jit" / "gates" / "held.lock"
    glock.parent.mkdir(parents=True, exist_ok=True)
    glock.write_text("")
    before = ref_snapshot(repo)
    monkeypatch.setenv("JIT_RETRY_SECONDS", "0.2")
    monkeypatch.setenv(*next(iter(HELD.items())))
    with pytest.raises(BusyError):
        tracker.registry_add("held", title="Held")
    monkeypatch.delenv("JIT_RETRY_SECONDS")
    assert ref_snapshot(repo) == before
    glock.unlink()
    assert tracker.registry_add("held", title="Held")["key"] == "held"
    _assert_git_clean(repo, head)
