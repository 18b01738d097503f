"""The floor under contended claims: ``python bench/floor_claims.py [PER_PROCESS] [PROCS] [--no-fsync]``.

PROCS processes (8) each take PER_PROCESS (150) refs of their own and do only the git work of a
gitjit claim on each, with pygit2: lock the ref, read its event log, write a blob, a tree and a
commit, move the ref (with its reflog, as ``jit init`` configures) and unlock, with libgit2's
fsync on as gitjit turns it on by default (``--no-fsync``: off, as ``jit.fsync false``). No
index, no rules, no fold. Prints claims per second and CPU per claim, the
ceiling that the git part alone leaves on this machine (docs/performance.md, "Claims in
contention"). It builds its own repository in a temporary directory (``TMPDIR`` chooses
the file system).
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import tempfile
import time
from typing import Any

import pygit2

DOC = "events.jsonl"
LINE = b'{"type":"issue_created","title":"a task","clock":1}\n'


def _setup(path: str, n: int) -> list[str]:
    repo = pygit2.init_repository(path, bare=True)
    repo.config["core.logAllRefUpdates"] = "always"
    sig = pygit2.Signature("bench", "bench@example.invalid")
    names = []
    for k in range(n):
        tb = repo.TreeBuilder()
        tb.insert(DOC, repo.create_blob(LINE * 3), pygit2.enums.FileMode.BLOB)
        name = f"refs/jit/issues/{k:012x}"
        repo.create_commit(name, sig, sig, "create", tb.write(), [])
        names.append(name)
    return names


def _worker(path: str, refs: list[str], out: Any, barrier: Any, fsync: bool) -> None:
    pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, fsync)
    repo = pygit2.Repository(path)
    sig = pygit2.Signature("bench", "bench@example.invalid")
    barrier.wait()
    c0, t0 = time.process_time(), time.time()
    for name in refs:
        with repo.transaction() as tx:
            tx.lock_ref(name)
            tip = repo.references[name].target
            blob = repo[tip].tree[DOC]  # type: ignore[attr-defined]
            assert isinstance(blob, pygit2.Blob)
            data = blob.data
            tb = repo.TreeBuilder()
            tb.insert(DOC, repo.create_blob(data + b'{"type":"issue_claimed","assignee":"agent:x"}\n'),
                      pygit2.enums.FileMode.BLOB)
            commit = repo.create_commit(None, sig, sig, "claim", tb.write(), [tip])
            tx.set_target(name, commit, message="claim")
    out.put((t0, time.time(), time.process_time() - c0))


def main(argv: list[str]) -> int:
    fsync = "--no-fsync" not in argv
    argv = [a for a in argv if a != "--no-fsync"]
    per = int(argv[1]) if len(argv) > 1 else 150
    procs = int(argv[2]) if len(argv) > 2 else 8
    with tempfile.TemporaryDirectory(prefix="jit-floor-") as d:
        refs = _setup(d, per * procs)
        out: Any = mp.Queue()
        barrier = mp.Barrier(procs)
        ps = [mp.Process(target=_worker, args=(d, refs[k::procs], out, barrier, fsync)) for k in range(procs)]
        for p in ps:
            p.start()
        rows = [out.get() for _ in ps]
        for p in ps:
            p.join()
    n = per * procs
    span = max(r[1] for r in rows) - min(r[0] for r in rows)
    cpu = sum(r[2] for r in rows)
    print(f"{procs} processes, {n} claims (git work only, fsync {'on' if fsync else 'off'}) in {span:.2f} s: "
          f"{n / span:.0f}/s, "
          f"{cpu * 1000 / n:.2f} ms of CPU a claim")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
