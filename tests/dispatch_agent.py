"""A small real agent for the dispatcher tests (run as a process by jit-dispatch).

It records what it did as one JSON line per event in ``--record`` (appended under flock, so
concurrent agents never interleave), then does what its options say:

  --sleep S         work for S seconds first
  --exit N          exit N without finishing the issue
  --forever         work until killed
  --fixed-file F    finish if F exists, else exit 3 (a broken agent that someone fixes)
  --once-file-dir D forever the first time it sees an issue (a marker in D), finish the next time
  --ignore-sigterm  ignore SIGTERM (as a careless agent does)
  --spawn-child     start a child process that ignores SIGTERM too and lives until killed
  --beat            record a "beat" (with its pid) every 0.1 s while working forever

Finishing marks the issue done through the library, as JIT_ACTOR, in JIT_REPO.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
import time


def record(path: str | None, **data: object) -> None:
    if not path:
        return
    line = json.dumps({"t": time.time(), "pid": os.getpid(), "agent": os.environ.get("JIT_AGENT"),
                       "issue": os.environ.get("JIT_ISSUE_ID"), "dispatcher": os.environ.get("JIT_DISPATCHER"),
                       **data}) + "\n"
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)
        f.flush()


def finish() -> None:
    from gitjit.app.tracker import Tracker

    t = Tracker(os.environ["JIT_REPO"], actor=os.environ["JIT_ACTOR"])
    t.update_issue(os.environ["JIT_ISSUE_ID"], state="done")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--record")
    p.add_argument("--sleep", type=float, default=0.0)
    p.add_argument("--exit", type=int, default=None)
    p.add_argument("--forever", action="store_true")
    p.add_argument("--fixed-file")
    p.add_argument("--once-file-dir")
    p.add_argument("--ignore-sigterm", action="store_true")
    p.add_argument("--spawn-child", action="store_true")
    p.add_argument("--beat", action="store_true")
    p.add_argument("--wait-file")  # after starting, hold the issue until this file exists (at most 120 s)
    p.add_argument("--child-of")  # internal: run as the child --spawn-child starts
    a = p.parse_args()
    if a.ignore_sigterm or a.child_of:
        import signal

        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if a.child_of:
        while True:  # the child: beats until killed
            record(a.record, event="beat", role="child")
            time.sleep(0.1)
    with open(os.environ["JIT_ISSUE_FILE"]) as f:
        issue = json.load(f)
    assert issue["id"] == os.environ["JIT_ISSUE_ID"]
    record(a.record, event="start", title=issue["title"], attempt=os.environ.get("JIT_ATTEMPT"),
           tags=issue.get("context", {}).get("tags"))
    if a.sleep:
        time.sleep(a.sleep)
    if a.wait_file:
        deadline = time.monotonic() + 120
        while not os.path.exists(a.wait_file) and time.monotonic() < deadline:
            time.sleep(0.05)
    forever = a.forever
    if a.once_file_dir:
        marker = os.path.join(a.once_file_dir, os.environ["JIT_ISSUE_ID"])
        forever = not os.path.exists(marker)
        open(marker, "a").close()
    if a.spawn_child:
        import subprocess

        child = subprocess.Popen([sys.executable, __file__, "--child-of", str(os.getpid())]
                                 + (["--record", a.record] if a.record else []))
        record(a.record, event="child", child=child.pid)
    if forever:
        while True:
            if a.beat:
                record(a.record, event="beat", role="agent")
            time.sleep(0.1)
    if a.exit is not None:
        record(a.record, event="exit", code=a.exit)
        return a.exit
    if a.fixed_file and not os.path.exists(a.fixed_file):
        record(a.record, event="exit", code=3)
        return 3
    finish()
    record(a.record, event="end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
