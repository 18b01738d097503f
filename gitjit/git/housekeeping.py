"""Object housekeeping: jit packs the loose objects its writes leave, as git does after a commit.

Every jit write adds loose objects (a blob, a tree and a commit: ~12 KB of 4 KB blocks on disk)
and libgit2, unlike git, never packs them. A repository where only jit writes (a hub clone an
agent pool shares, a tracker-only repository) would otherwise grow loose objects without end:
100,000 issues with a few events each is over a million files and gigabytes on disk instead of
~650 bytes an issue packed, and every object lookup and fsck pays for it.

So after a write (and after a pull) jit makes the same cheap estimate git's ``gc --auto`` makes
(``builtin/gc.c: too_many_loose_objects``: the entries of ``objects/17`` times 256 against
``gc.auto``, 6,700 by default; or more packs than ``gc.autoPackLimit``, 50; ``gc.auto 0`` turns
it off) and, when it says so, starts in its own session, without waiting for it::

    git repack --geometric=2 -d -q -l --window=0

(at the lowest CPU priority, ``nice -n 19``: it competes with no writer) which packs every loose
object into a new pack and rolls the smallest packs together so that
each pack holds at least twice the objects of the next smaller one (a few packs, log-many),
without a delta search for the new objects (``REPACK``). It
walks no history: its cost follows the objects it packs, not the size of the repository.
``git gc --auto`` did the same job by walking every ref and reflog for reachability (``repack
-d``), packing every ref (which makes every jit process parse ``packed-refs`` again) and
expiring every reflog: 3.4 s of CPU at 100,000 issues each time, against 1.7 s, and it left
unreachable loose objects (a lost race's commit) loose, so that once there were 6,700 of them it
was due, and ran, every minute. Unreachable objects now go into packs too; the user's own ``git
gc`` (which git still runs after their commits) drops them once they expire. A repository with
promisor packs (a partial clone), or a git without ``--geometric`` (before 2.33), gets ``git gc
--auto`` as before.

It is safe beside running jit writers: ``repack -d`` deletes only loose objects it has packed
and packs it has rolled into the new one, so an object written a moment ago survives (loose, or
in the new pack), and libgit2 looks in the new packs when a loose object it expected has gone
(``git_odb_refresh``). ``git fetch`` run by jit passes ``--no-auto-maintenance``
(gitjit/store/sync.py): left to itself it runs the foreground part of git's housekeeping inside
the pull (measured: +4.7 s on a 3,000-issue pull), where the user waits for it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import ExternalError
from . import run

if TYPE_CHECKING:
    from .repo import GitRepo

__all__ = [
    "GC_SPACING",
    "NICE",
    "gc_due",
    "housekeeping_script",
    "loose_estimate",
    "loose_refs",
    "maybe_gc",
    "pack_loose_tracking",
    "pack_refs",
]

#: seconds between two ``git gc --auto`` started by this repository's jit processes
GC_SPACING = 60.0
#: after finding nothing due, a process looks again only this much later (or when the repository's
#: config changes): under contention every write lands in ``objects/17``'s neighbourhood, so the
#: estimate's directory is never settled and each write listed it and ``objects/pack`` again,
#: 4% of a contended claim's CPU at 100,000 issues. Loose objects grow by at most a few thousand
#: in a second, against a threshold of 6,700: housekeeping starts at most this much later.
GC_RECHECK = 1.0
_not_due: dict[str, tuple[float, int]] = {}
_HEX = frozenset("0123456789abcdef")
_config_cache: dict[str, tuple[int, int, int]] = {}
_loose_cache: dict[str, tuple[tuple[int, int], int]] = {}
_SETTLED_NS = 50_000_000  # a directory mtime this old cannot share a clock tick with a later change


def _config_int(raw: str | None, default: int) -> int:
    """git's integer syntax (``git config --type=int``): digits with an optional k/m/g suffix."""
    if raw is None:
        return default
    s = raw.strip().lower()
    mult = 1
    if s[-1:] in ("k", "m", "g"):
        mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[s[-1]]
        s = s[:-1]
    try:
        return int(s) * mult
    except ValueError:
        return default  # git itself refuses a bad value; jit just keeps git's default


def _config_mtime(common: str) -> int:
    try:
        return os.stat(os.path.join(common, "config")).st_mtime_ns
    except OSError:
        return -1


def _limits(git: GitRepo) -> tuple[int, int]:
    """``(gc.auto, gc.autoPackLimit)`` for this repository; read again when its config file changes."""
    common = str(git.common_dir)
    mtime = _config_mtime(common)
    hit = _config_cache.get(common)
    if hit is not None and hit[0] == mtime:
        return hit[1], hit[2]
    auto = _config_int(git.config_get("gc.auto"), 6700)
    packs = _config_int(git.config_get("gc.autoPackLimit"), 50)
    _config_cache[common] = (mtime, auto, packs)
    return auto, packs


def loose_estimate(common: str | os.PathLike[str]) -> int:
    """git's estimate of the loose objects: those in ``objects/17``, times 256.

    Every write asks, and only one object in 256 lands in ``objects/17``: the count is kept for
    as long as the directory's mtime and inode stay the same (an entry added or removed changes
    them), once that mtime is old enough that a later change cannot share its clock tick."""
    path = os.path.join(common, "objects", "17")
    try:
        st = os.stat(path)
    except OSError:
        return 0
    key = (st.st_mtime_ns, st.st_ino)
    hit = _loose_cache.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        names = os.listdir(path)
    except OSError:
        return 0
    n = 256 * sum(1 for n in names if len(n) == 38 and _HEX.issuperset(n))
    if time.time_ns() - st.st_mtime_ns > _SETTLED_NS:
        _loose_cache[path] = (key, n)
    return n


def gc_due(git: GitRepo) -> bool:
    """Would ``git gc --auto`` do something here? (One ``listdir`` of ``objects/17``, and of
    ``objects/pack`` only when a pack limit is set; the configuration is cached.)"""
    auto, pack_limit = _limits(git)
    if auto <= 0:
        return False  # gc.auto 0: the user turned automatic housekeeping off
    common = Path(git.common_dir)
    if loose_estimate(common) // 256 > -(-auto // 256):
        return True
    if pack_limit > 0:
        try:
            names = os.listdir(common / "objects" / "pack")
        except OSError:
            return False
        keep = {n[:-5] for n in names if n.endswith(".keep")}
        return sum(1 for n in names if n.endswith(".pack") and n[:-5] not in keep) > pack_limit
    return False


def maybe_gc(git: GitRepo) -> bool:
    """Start the housekeeping (module docstring) in the background when it is due, at most once a
    minute for the repository (a marker under ``.git/jit/``), not while the last one still runs
    (``jit/housekeeping.pid``, an hour at most), nor while a ``git gc`` runs (its ``gc.pid``) or
    git refuses to run one because the last failed (its ``gc.log``, which ``jit doctor`` shows).
    Never waits and never fails the caller. True if one was started. Once nothing is due, this
    process looks again only after ``GC_RECHECK`` seconds, or at once if the config changed."""
    try:
        key = str(git.common_dir)
        cfg, now_m = _config_mtime(key), time.monotonic()
        quiet = _not_due.get(key)
        if quiet is not None and quiet[0] > now_m and quiet[1] == cfg:
            return False
        if not gc_due(git):
            _not_due[key] = (now_m + GC_RECHECK, cfg)
            return False
        _not_due.pop(key, None)
        common = Path(git.common_dir)
        now = time.time()
        for busy, age in (("gc.pid", 12 * 3600), ("gc.log", 24 * 3600), ("jit/housekeeping.pid", 3600)):
            try:
                if now - os.stat(common / busy).st_mtime < age:
                    return False
            except OSError:
                pass
        marker = common / "jit" / "gc-started"
        try:
            if now - os.stat(marker).st_mtime < GC_SPACING:
                return False
        except OSError:
            pass
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        # the repository named outright (gitjit/git/run.py): not the one a hook's environment
        # names, and not refused as an implicit bare repository under safe.bareRepository=explicit
        env = run.git_env({"GIT_DIR": str(common)})
        # through `sh -c '... &'`: sh exits at once and git is nobody's child here (no zombie, no
        # wait); its own session, so a signal to this process group does not stop it half-way
        subprocess.run(["sh", "-c", housekeeping_script(common) + " </dev/null >/dev/null 2>&1 &"], cwd=common,
                       env=env,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       start_new_session=True, timeout=10, check=False)
        return True
    except (OSError, subprocess.SubprocessError):
        return False


GC_AUTO = "git gc --auto --quiet"
#: housekeeping runs at the lowest CPU priority: it can always wait, the writers it runs beside
#: cannot. At normal priority a repack (its delta search uses every core) took a quarter of the
#: CPU from 8 claiming processes at 100,000 issues while it ran (perf, docs/performance.md).
NICE = "nice -n 19 "
#: ``--window=0``: no delta search for the new objects. jit's blobs all have one path
#: (``events.jsonl``), so git pairs them by size, i.e. with other issues' logs, and the search
#: found little: packing 7,012 loose objects of the 100,000-issue benchmark repository took
#: 0.79-0.83 s of user CPU without it against 1.30-1.63 s with it (sys ~0.9 s either way), for a
#: pack 157 KB (0.2%) larger, ~67 bytes a claim. Objects already stored as deltas keep them when
#: packs are rolled together, and ``git gc`` (the user's, or the size measurement's) still
#: searches for deltas.
REPACK = "git repack --geometric=2 -d -q -l --no-write-bitmap-index --window=0"


def housekeeping_script(common: str | os.PathLike[str]) -> str:
    """The shell command ``maybe_gc`` runs in the repository's git dir: the geometric repack
    (falling back to ``git gc --auto`` if git refuses it), or ``git gc --auto`` alone in a
    partial clone, whose promisor packs git's own gc knows how to keep apart."""
    try:
        promisor = any(n.endswith(".promisor") for n in os.listdir(os.path.join(common, "objects", "pack")))
    except OSError:
        promisor = False
    if promisor:
        return f"( {NICE}{GC_AUTO} )"
    pid = "jit/housekeeping.pid"
    return f"( echo $$ > {pid}; {NICE}{REPACK} || {NICE}{GC_AUTO}; rm -f {pid} )"


#: loose refs under a remote's tracking prefix that make a pull pack the refs
LOOSE_TRACKING_MAX = 256


def loose_refs(common: str | os.PathLike[str], prefix: str, *, stop: int | None = None) -> int:
    """How many loose ref files there are under ``prefix`` (``refs/jit-remotes/origin/``), counting
    no further than ``stop``."""
    n = 0
    for _dir, _subdirs, files in os.walk(os.path.join(common, prefix)):
        n += sum(1 for f in files if not f.endswith(".lock"))
        if stop is not None and n >= stop:
            break
    return n


def pack_loose_tracking(git: GitRepo, prefix: str, *, limit: int | None = None) -> bool:
    """``git pack-refs --all --prune`` once ``limit`` loose refs sit under ``prefix``; True if it ran.

    ``git fetch`` writes every tracking ref it creates or moves as a loose file, and nothing of
    jit's packs them (its index packs ``refs/jit/*`` as they pile up, gitjit/indexed.py): after
    the first pull of a 100,000-issue hub every later sync listed 100,000 loose files in each of
    its five ref listings and in the fetch itself (a sync that brought nothing: 16-23 s loose,
    8.8-9.5 s packed). The caller runs this after its own ref listings, never beside them: a
    listing made while the refs are being packed may miss a ref that moved into packed-refs.
    git locks each ref it prunes and keeps one that changed meanwhile; a held
    ``packed-refs.lock`` only makes this attempt fail, and the next pull tries again."""
    limit = LOOSE_TRACKING_MAX if limit is None else limit
    if loose_refs(git.common_dir, prefix, stop=limit) < limit:
        return False
    return pack_refs(git.common_dir)


def pack_refs(common: str | os.PathLike[str]) -> bool:
    """``git pack-refs --all --prune`` in the repository whose common dir is ``common``; True if
    it did. In its own session: if this process is killed meanwhile, git still finishes and
    removes ``packed-refs.lock`` instead of leaving it to block every later pack. A held lock,
    a missing git or a timeout (10 minutes) just make this attempt fail."""
    try:
        r = run.run(["pack-refs", "--all", "--prune"], git_dir=common, text=False, timeout=600,
                    start_new_session=True)
    except ExternalError:
        return False
    return r.returncode == 0
