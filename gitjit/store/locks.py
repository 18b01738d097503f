"""Stale ref locks: who holds ``<ref>.lock``, and removing it once its owner is gone.

git and libgit2 update a ref by creating ``<ref>.lock`` with O_EXCL, writing the new value
into it and renaming it over the ref. A process killed between the create and the rename
leaves the lock behind, and libgit2 then refuses every later write of that ref at once
(git itself never removes such a lock; it tells the user to). The lock file holds no pid
(libgit2 writes only the new ref value, and an empty file if killed early), so we keep our
own record of who is inside a write:

* Before a jit process touches a ref it names the ref in its **owner record**
  ``$GIT_COMMON_DIR/jit/owners/proc@<host>@<pid>@<start>`` (``start`` = the process start
  time from ``/proc``, which makes a recycled pid recognisable), and takes the name out again
  when the write has finished, whatever the outcome: the ref is named there from before the
  lock is taken until after it is released. The record is one file per process, created at
  its first write, rewritten in place and removed when the process exits: a file created and
  deleted around every write cost a claim more than the rest of its file system work on ext4
  without a journal, which scans past every inode freed in the last minute or more on each
  file creation (docs/performance.md). Records named ``<key>@<host>@<pid>@<start>`` (``key`` =
  a hash of the ref name, one file per write, as older versions made them) are read too.
* A lock is **stale** when no owner record of a *live* process names its ref and the lock
  file is older than ``JIT_STALE_LOCK_SECONDS`` (default 10 s; a jit write holds a ref
  lock for a few milliseconds). The age rule also protects writers that keep no records
  (git itself, other tools). A record from another host cannot be checked, so it counts as
  live: such a lock is never removed automatically.
* Recovery happens under a per-ref recovery mutex (an O_EXCL file next to the records) and
  re-checks age and inode just before unlinking, so two recoverers never remove a lock that
  a third writer took meanwhile. Each removal is appended to ``jit/recovered.log``.

Everything here is best effort: a failure to write a record or the log never fails a write.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..git import files

__all__ = [
    "LockInfo",
    "Owner",
    "find_locks",
    "inspect",
    "on_locked",
    "owners",
    "owning",
    "prune_dead_owners",
    "recover",
    "stale_seconds",
]

OWNERS = "jit/owners"
LOG = "jit/recovered.log"
#: a recovery mutex older than this belonged to a recoverer that died (recovery takes milliseconds)
_MUTEX_STALE = 2.0


def stale_seconds() -> float:
    try:
        return max(0.0, float(os.environ.get("JIT_STALE_LOCK_SECONDS", "10")))
    except ValueError:
        return 10.0


def _key(refname: str) -> str:
    return hashlib.sha1(refname.encode("utf-8", "surrogateescape")).hexdigest()[:20]


_HOST = socket.gethostname().replace("@", "_") or "localhost"


def _start_time(pid: int) -> str:
    """Process start time in clock ticks since boot (Linux), or "0" where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2:].split()[19].decode()
    except (OSError, ValueError, IndexError):
        return "0"


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        return data[data.rindex(b")") + 2:].split()[0] == b"Z"
    except (OSError, ValueError, IndexError):
        return False


_SELF_START = _start_time(os.getpid())


@dataclass(frozen=True)
class Owner:
    """One owner record: a process that is (or was, if it died) inside a write of ``ref``."""

    path: Path
    key: str
    host: str
    pid: int
    start: str
    ref: str = ""
    since: float = 0.0

    def alive(self) -> bool | None:
        """True/False for a process on this host; None when it cannot be checked (another host)."""
        if self.host != _HOST:
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, belongs to another user
        except OSError:
            return None
        if _zombie(self.pid):
            return False  # killed, not yet reaped by its parent: it will never release anything
        if self.start != "0":
            now = _start_time(self.pid)
            if now != "0" and now != self.start:
                return False  # the pid was recycled by an unrelated process
        return True

    def describe(self) -> str:
        where = "" if self.host == _HOST else f" on host {self.host}"
        return f"jit process {self.pid}{where}"

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "host": self.host, "ref": self.ref, "since": self.since, "alive": self.alive()}


def _owners_dir(common_dir: Path | str) -> Path:
    return Path(common_dir) / OWNERS


def owners(common_dir: Path | str, refname: str | None = None, *, idle: bool = False) -> list[Owner]:
    """Owner records naming a ref: all, or those of ``refname``. With ``idle``, also one entry
    (``ref`` empty) for each per-process record that names no ref right now (for pruning)."""
    d = _owners_dir(common_dir)
    want = _key(refname) if refname is not None else None
    out: list[Owner] = []
    try:
        names = os.listdir(d)
    except OSError:
        return out
    for name in names:
        parts = name.split("@")
        if len(parts) != 4 or (want is not None and parts[0] not in (want, _PROC)):
            continue
        try:
            pid = int(parts[2])
        except ValueError:
            continue
        p = d / name
        if parts[0] == _PROC:
            try:
                held = json.loads(p.read_text() or "{}")["refs"]
                refs = {str(r): float(t) for r, t in held.items()}
            except FileNotFoundError:
                continue
            except (OSError, ValueError, AttributeError, KeyError, TypeError):
                # caught mid-rewrite (or damaged): it may name any ref, so it counts for the one asked about
                refs = {refname: 0.0} if refname is not None else {}
            for ref, since in sorted(refs.items()):
                if refname is None or ref == refname:
                    out.append(Owner(p, _key(ref), parts[1], pid, parts[3], ref, since))
            if idle and not refs:
                out.append(Owner(p, _PROC, parts[1], pid, parts[3]))
            continue
        ref, since = refname or "", 0.0
        try:
            meta = json.loads(p.read_text() or "{}")
            ref, since = str(meta.get("ref", ref)), float(meta.get("since", 0.0))
        except (OSError, ValueError, AttributeError):
            pass
        out.append(Owner(p, parts[0], parts[1], pid, parts[3], ref, since))
    return out


_PROC = "proc"


class _Record:
    """This process's owner record in one repository: the refs it is inside a write of."""

    def __init__(self, path: Path):
        self.path = path
        self.pid = os.getpid()
        self.fd: int | None = None
        self.held: dict[str, list[float]] = {}  # ref -> [since, depth]
        self.size = 0
        self.lock = threading.Lock()

    def _write(self) -> None:
        data = json.dumps({"refs": {r: v[0] for r, v in sorted(self.held.items())}}).encode()
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            self.size = 0
        # in place, padded to the longest content so far (JSON allows the trailing blanks): no
        # truncation, and never a new file
        self.size = max(self.size, len(data))
        os.pwrite(self.fd, data.ljust(self.size), 0)

    def enter(self, ref: str) -> None:
        with self.lock:
            if ref in self.held:
                self.held[ref][1] += 1  # nested use: the outer entry already covers it
                return
            self.held[ref] = [time.time(), 1]
            self._write()

    def leave(self, ref: str) -> None:
        with self.lock:
            h = self.held.get(ref)
            if h is None:
                return
            h[1] -= 1
            if h[1] > 0:
                return
            del self.held[ref]
            self._write()

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            try:
                os.close(self.fd)
                os.unlink(self.path)
            except OSError:
                pass
        self.fd = None


_RECORDS: dict[str, _Record] = {}
_RECORDS_LOCK = threading.Lock()


def _record(common_dir: Path | str) -> _Record:
    key = str(common_dir)  # one per repository and process: built once (a Path costs ~25 µs a write)
    with _RECORDS_LOCK:
        rec = _RECORDS.get(key)
        if rec is None or rec.pid != os.getpid():  # first use here, or a forked child's copy
            d = _owners_dir(common_dir)
            rec = _RECORDS[key] = _Record(d / f"{_PROC}@{_HOST}@{os.getpid()}@{_start_time(os.getpid())}")
        return rec


@atexit.register
def _close_records() -> None:
    for rec in list(_RECORDS.values()):
        rec.close()


@contextmanager
def owning(common_dir: Path | str, refname: str) -> Iterator[None]:
    """Name ``refname`` in this process's owner record while the block runs (module docstring)."""
    rec: _Record | None = _record(common_dir)
    assert rec is not None
    try:
        rec.enter(refname)
    except OSError:
        rec = None  # read-only or odd file system: no record, the age rule still protects the lock
    try:
        yield
    finally:
        if rec is not None:
            try:
                rec.leave(refname)
            except OSError:
                pass


@dataclass
class LockInfo:
    """What is known about one lock file. ``state``: held | young | stale | removed | gone."""

    ref: str
    path: Path
    age: float
    state: str
    owners: list[Owner] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, object]:
        return {"ref": self.ref, "path": str(self.path), "age_seconds": round(self.age, 3), "state": self.state,
                "owners": [o.to_json() for o in self.owners], "message": self.message}


def _lock_path(common_dir: Path | str, refname: str) -> Path:
    return Path(files.lock_file(common_dir, refname))


def inspect(common_dir: Path | str, refname: str, *, lock: Path | None = None) -> LockInfo | None:
    """Judge the lock of ``refname`` (or the given lock file). None when there is no lock file."""
    path = lock or _lock_path(common_dir, refname)
    try:
        st = path.stat()
    except OSError:
        return None
    age = max(0.0, time.time() - st.st_mtime)
    recs = [o for o in owners(common_dir, refname) if o.pid != os.getpid() or o.host != _HOST]
    live = [o for o in recs if o.alive() is not False]
    limit = stale_seconds()
    rel = os.path.relpath(path, common_dir)
    if live:
        who = ", ".join(f"{o.describe()} ({'running' if o.alive() else 'cannot be checked from here'})"
                        for o in live)
        return LockInfo(refname, path, age, "held", recs,
                        f"{refname} is being written by {who}; its lock {rel} is {age:.1f}s old and is "
                        "left alone while that process lives")
    if age < limit:
        dead = f" (left by {', '.join(o.describe() for o in recs)}, no longer running)" if recs else ""
        return LockInfo(refname, path, age, "young", recs,
                        f"lock {rel} is {age:.1f}s old{dead}; no running jit process owns it, so it is "
                        f"removed once it is {limit:g}s old (JIT_STALE_LOCK_SECONDS)")
    return LockInfo(refname, path, age, "stale", recs,
                    f"lock {rel} is {age:.1f}s old and no running jit process owns it: stale")


@contextmanager
def _recovery_mutex(common_dir: Path | str, refname: str) -> Iterator[bool]:
    """Exclusive right to recover ``refname``'s lock. The mutex is created whole (written aside, then
    hard-linked into place, which fails if it exists) and names its owner, so a recoverer killed
    while holding it is detected like any other dead owner, or by age: recovery takes milliseconds."""
    d = _owners_dir(common_dir)
    m = d / f"{_key(refname)}.recovering"
    tmp = d / f"{_key(refname)}.recovering.{os.getpid()}.{time.monotonic_ns()}"
    got = False
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"pid": os.getpid(), "host": _HOST, "start": _SELF_START}))
        for _ in range(3):
            try:
                os.link(tmp, m)
                got = True
                break
            except FileExistsError:
                if not _mutex_is_dead(m):
                    break
    except OSError:
        got = False
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    try:
        yield got
    finally:
        if got:
            try:
                os.unlink(m)
            except OSError:
                pass


def _mutex_is_dead(m: Path) -> bool:
    """True (and the mutex removed) when its owner died or it is older than any recovery takes."""
    try:
        st = m.stat()
        meta = json.loads(m.read_text() or "{}")
        pid = int(meta.get("pid", 0))
        owner = Owner(m, "", str(meta.get("host", "")), pid, str(meta.get("start", "0")))
        dead = time.time() - st.st_mtime > _MUTEX_STALE or (pid > 0 and owner.alive() is False)
        if dead and m.stat().st_ino == st.st_ino:  # still the one we judged
            os.unlink(m)
        return dead
    except FileNotFoundError:
        return True  # released meanwhile: try again
    except (OSError, ValueError, AttributeError):
        return False


def recover(common_dir: Path | str, refname: str, *, lock: Path | None = None) -> LockInfo | None:
    """Remove the lock of ``refname`` if it is stale; return what was found (state ``removed``
    when it was removed). Never removes a lock that a live owner record covers."""
    info = inspect(common_dir, refname, lock=lock)
    if info is None or info.state != "stale":
        return info
    with _recovery_mutex(common_dir, refname) as got:
        if not got:
            return info  # another process is recovering this ref right now
        again = inspect(common_dir, refname, lock=info.path)
        if again is None or again.state != "stale":
            return again
        try:
            before = info.path.stat()
            # re-check right before unlinking: only the lock we judged, never a fresh one
            if time.time() - before.st_mtime < stale_seconds():
                return inspect(common_dir, refname, lock=info.path)
            os.unlink(info.path)
        except FileNotFoundError:
            return None
        except OSError as e:
            again.message += f"; could not remove it: {e.strerror}"
            return again
        for o in again.owners:
            if o.alive() is False:
                try:
                    os.unlink(o.path)
                except OSError:
                    pass
        again.state = "removed"
        again.message = f"removed stale lock {os.path.relpath(info.path, common_dir)} " \
                        f"({again.age:.1f}s old, no running owner)"
        _log(common_dir, again)
        return again


def _log(common_dir: Path | str, info: LockInfo) -> None:
    try:
        p = Path(common_dir) / LOG
        p.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.time(), "by_pid": os.getpid(), **info.to_json()})
        with open(p, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError:
        pass


def on_locked(common_dir: Path | str, refname: str) -> str | None:
    """Called by the retry loop each time ``refname`` was found locked: recover a stale lock
    (the next attempt then succeeds) and return a sentence about the holder for the error
    message if the retries run out."""
    info = recover(common_dir, refname)
    if info is None and files.packed_refs_locked(common_dir):
        info = recover(common_dir, files.PACKED_REFS, lock=_lock_path(common_dir, files.PACKED_REFS))
    return info.message if info is not None else None


def find_locks(common_dir: Path | str, prefixes: tuple[str, ...] = ("refs/jit/", "refs/jit-remotes/")) -> list[Path]:
    """Every ``*.lock`` file under the given ref namespaces, plus ``packed-refs.lock``."""
    return [Path(p) for p in files.find_lock_files(common_dir, prefixes)]


def ref_of_lock(common_dir: Path | str, lock: Path) -> str:
    return files.ref_of_lock(common_dir, lock)


def prune_dead_owners(common_dir: Path | str) -> list[Owner]:
    """Delete owner records of processes that died outside the lock window (harmless leftovers)."""
    gone = []
    for o in owners(common_dir, idle=True):
        if o.alive() is not False:
            continue
        if o.ref and _lock_path(common_dir, o.ref).exists():
            continue  # kept: it explains the stale lock until that is recovered
        try:
            os.unlink(o.path)
            gone.append(o)
        except OSError:
            pass
    return gone
