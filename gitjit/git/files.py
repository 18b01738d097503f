"""Refs read and written as the files git keeps them in, without pygit2: what the fastest paths
need (a claim's look at its neighbours, the index's freshness check, the hooks' look at the
tracking refs) and the bulk import's one write of ``packed-refs``. The only module outside
``gitjit/git/`` that knows these files is none (tests/test_layering.py checks it).

The layout (gitrepository-layout(5), git's refs/files-backend.c): a loose ref is the file
``<common dir>/<ref name>`` holding 40 hex digits and a newline, written as ``<ref>.lock`` then
renamed over the ref (never rewritten in place: a new inode, a new mtime); ``packed-refs`` holds
``<id> <ref>`` lines sorted by name (``^<id>`` peel lines after tags), rewritten the same way
under ``packed-refs.lock``; a loose ref shadows its packed line. Refs kept in a ``reftable``
directory (git 2.45+) are not files: callers fall back to listing them through git.

Only the standard library at run time: the light read path imports this module.
"""

from __future__ import annotations

import os
import re
import time
import zlib

# no typing at run time (the light read path counts its imports)
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "ENTITY_DIRS",
    "PACKED_REFS",
    "add_packed_refs",
    "find_lock_files",
    "lock_file",
    "loose_tip",
    "packed_crc",
    "packed_refs_locked",
    "read_packed",
    "read_packed_lines",
    "ref_locked",
    "ref_of_lock",
    "refs_signature",
    "scan_loose",
    "stat_of",
]

PACKED_REFS = "packed-refs"
#: the ref directories of jit's entities (issues, gates): what the index follows
ENTITY_DIRS = ("refs/jit/issues", "refs/jit/gates")
_PACKED_RE = re.compile(rb"^([0-9a-f]{40}) (refs/jit/(?:issues|gates)/[^\n]+)$", re.MULTILINE)
_PACKED_LINE_RE = re.compile(rb"^[0-9a-f]{40} refs/jit/(?:issues|gates)/[^\n]+$", re.MULTILINE)
HEX40 = re.compile(r"^[0-9a-f]{40}$")
#: loose ref files ``scan_loose`` had to open (not trusted by their stat), summed over the process
READS = [0]


def loose_tip(common: str | os.PathLike[str], ref: str) -> str | None:
    """The tip in the loose ref file, or None (a write always leaves one; packing it meanwhile
    removes it)."""
    try:
        with open(os.path.join(common, ref), "rb") as f:
            data = f.read(41)
    except OSError:
        return None
    return data[:40].decode("ascii", "replace")


def lock_file(common: str | os.PathLike[str], ref: str) -> str:
    """The lock file git and libgit2 create to write ``ref`` (``packed-refs`` too)."""
    return os.path.join(common, ref + ".lock")


def ref_locked(common: str | os.PathLike[str], ref: str, *, stale_after: float) -> bool:
    """Someone is writing ``ref`` right now: git's and libgit2's ``<ref>.lock`` is there, and
    younger than ``stale_after`` seconds (an older one is a stale lock the write path recovers)."""
    try:
        age = time.time() - os.stat(lock_file(common, ref)).st_mtime
    except OSError:
        return False
    return age < stale_after


def packed_refs_locked(common: str | os.PathLike[str]) -> bool:
    """Someone is rewriting ``packed-refs`` (``git pack-refs``, an import) right now."""
    return os.path.exists(lock_file(common, PACKED_REFS))


def stat_of(common: str | os.PathLike[str], rel: str) -> list[Any]:
    """``[mtime_ns, inode, size]`` of ``<common>/<rel>`` (a ref directory, ``packed-refs``), or
    ``[None]`` when it is not there: the index's signature of the refs."""
    try:
        s = os.stat(os.path.join(common, rel))
    except OSError:
        return [None]
    return [s.st_mtime_ns, s.st_ino, s.st_size]


def scan_loose(common: str, known: dict[str, list[Any]] | None = None,
               trusted_before: int = 0) -> tuple[dict[str, list[Any]], list[str]]:
    """Every loose ref under ``ENTITY_DIRS`` ``{ref: [tip, ino, mtime_ns, size]}``, and the
    directories seen.

    Pure file system work (no libgit2): a loose ref is a file holding 40 hex digits and a newline.
    A file whose inode, mtime and size equal what ``known`` recorded, with an mtime older than
    ``trusted_before`` (so not racy), still holds the tip recorded: git and libgit2 never rewrite a
    ref file in place, they rename a new one over it, which changes the inode and the mtime.
    Anything else is read. ``*.lock`` files are writes in progress and symbolic refs are not jit
    data; both are skipped."""
    known = known or {}
    reads = READS
    loose: dict[str, list[Any]] = {}
    dirs: list[str] = []
    for base in ENTITY_DIRS:
        stack = [base]
        while stack:
            rel = stack.pop()
            try:
                it = os.scandir(os.path.join(common, rel))
            except OSError:
                continue
            dirs.append(rel)
            prefix = rel + "/"
            with it:
                # the hot loop of every freshness check that lists the refs (a few µs a loose ref):
                # no allocation for a file its stat vouches for
                for ent in it:
                    name = ent.name
                    if ent.is_dir(follow_symlinks=False):
                        stack.append(prefix + name)
                        continue
                    if name.endswith(".lock"):
                        continue
                    ref = prefix + name
                    try:
                        st = ent.stat(follow_symlinks=False)
                    except OSError:
                        continue  # deleted meanwhile
                    k = known.get(ref)
                    if k is not None and k[2] == st.st_mtime_ns and k[1] == st.st_ino and k[3] == st.st_size \
                            and st.st_mtime_ns < trusted_before:
                        loose[ref] = k
                        continue
                    reads[0] += 1
                    try:
                        with open(ent.path, "rb") as f:
                            st = os.fstat(f.fileno())
                            data = f.read(128)
                    except OSError:
                        continue
                    tip = data[:40].decode("ascii", "replace")
                    if len(data) >= 40 and HEX40.match(tip):
                        loose[ref] = [tip, st.st_ino, st.st_mtime_ns, st.st_size]
    return loose, sorted(dirs)


def read_packed_lines(common: str, *, with_crc: bool = False) -> Any:
    """The ``"<tip> <ref>"`` lines of the entity refs in ``packed-refs``, in file order (sorted by
    ref name), and the stat of the very file read (and, ``with_crc``, its CRC-32)."""
    path = os.path.join(common, PACKED_REFS)
    try:
        with open(path, "rb") as f:
            s = os.fstat(f.fileno())
            data = f.read()
    except OSError:
        return ([], [None], None) if with_crc else ([], [None])
    lines = b"\n".join(_PACKED_LINE_RE.findall(data)).decode("utf-8", "surrogateescape").split("\n")
    out = [x for x in lines if x], [s.st_mtime_ns, s.st_ino, s.st_size]
    return (*out, zlib.crc32(data)) if with_crc else out


def packed_crc(common: str) -> list[Any]:
    """``[stat, crc32]`` of ``packed-refs`` as one read saw it."""
    try:
        with open(os.path.join(common, PACKED_REFS), "rb") as f:
            s = os.fstat(f.fileno())
            return [[s.st_mtime_ns, s.st_ino, s.st_size], zlib.crc32(f.read())]
    except OSError:
        return [[None], None]


def read_packed(common: str) -> tuple[dict[str, str], list[Any]]:
    """The entity refs in ``packed-refs`` and the stat of the very file read (fstat of the open
    fd, so the stat describes the content even if the file is replaced meanwhile)."""
    path = os.path.join(common, PACKED_REFS)
    try:
        with open(path, "rb") as f:
            s = os.fstat(f.fileno())
            data = f.read()
    except OSError:
        return {}, [None]
    out = {m[2].decode("utf-8", "surrogateescape"): m[1].decode("ascii") for m in _PACKED_RE.finditer(data)}
    return out, [s.st_mtime_ns, s.st_ino, s.st_size]


def add_packed_refs(common: str | os.PathLike[str], refs: Mapping[str, str], *, wait: float = 10.0) -> None:
    """Add ``refs`` (all new) to ``packed-refs`` in one atomic rename, the way ``git pack-refs``
    writes it: take ``packed-refs.lock`` (O_EXCL, as git and libgit2 do), check under it that no
    ref of ours exists loose or packed, write the merged sorted file, rename it into place.
    ``BusyError`` when the lock stays taken for ``wait`` seconds, ``ExternalError`` (nothing
    written) when one of the refs exists."""
    from ..core.errors import BusyError, ExternalError

    lock = lock_file(common, PACKED_REFS)
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise BusyError("packed-refs is locked by another git process", hint="retry the import") from None
            time.sleep(0.05)
    try:
        path = os.path.join(common, PACKED_REFS)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            data = b""
        header = b"# pack-refs with: peeled fully-peeled sorted \n"
        records: list[tuple[bytes, bytes]] = []
        for line in data.split(b"\n"):
            if not line:
                continue
            if line.startswith(b"#"):
                header = line + b"\n"
                if b" sorted" not in header:
                    header = header.rstrip(b" \n") + b" sorted \n"
                continue
            if line.startswith(b"^") and records:
                name, body = records[-1]
                records[-1] = (name, body + line + b"\n")
                continue
            records.append((line[41:], line + b"\n"))
        names = {n for n, _ in records}
        clash = [r for r in refs if r.encode() in names or os.path.exists(os.path.join(common, r))]
        if clash:
            raise ExternalError(f"{len(clash)} ref(s) already exist, e.g. {clash[0]}; no ref was created")
        records += [(r.encode(), f"{o} {r}\n".encode()) for r, o in refs.items()]
        records.sort(key=lambda x: x[0])
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(header)
            f.writelines(body for _, body in records)
        os.rename(lock, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(lock)
        except FileNotFoundError:
            pass
        raise


def find_lock_files(common: str | os.PathLike[str], prefixes: tuple[str, ...]) -> list[str]:
    """Every ``*.lock`` file under the given ref namespaces, plus ``packed-refs.lock``."""
    out: list[str] = []
    for pre in prefixes:
        root = os.path.join(common, pre)
        if not os.path.isdir(root):
            continue
        for dirpath, _dirs, files in os.walk(root):
            out += [os.path.join(dirpath, f) for f in files if f.endswith(".lock")]
    if packed_refs_locked(common):
        out.append(lock_file(common, PACKED_REFS))
    return sorted(out)


def ref_of_lock(common: str | os.PathLike[str], lock: str | os.PathLike[str]) -> str:
    """The ref (or ``packed-refs``) a lock file locks."""
    rel = os.path.relpath(lock, common).replace(os.sep, "/")
    return rel[: -len(".lock")]


def refs_signature(common: str | os.PathLike[str], prefix: str, *, settled_ns: int = 2_000_000_000) -> str | None:
    """A signature of the refs under ``prefix`` from ``stat`` alone: ``packed-refs`` and every
    loose file under it. A ref cannot move without one of them changing (a new file renamed into
    place, or ``packed-refs`` rewritten), except within one clock tick of the stat: a signature
    with a file younger than ``settled_ns`` is not trusted (None). None too when the refs are
    kept in reftables, which are not files to stat: list the refs instead."""
    import hashlib

    if os.path.exists(os.path.join(common, "reftable")):
        return None
    now = time.time_ns()
    paths = [os.path.join(common, PACKED_REFS)]
    for d, _subdirs, names in os.walk(os.path.normpath(os.path.join(common, prefix))):
        paths += [os.path.join(d, n) for n in names]
    parts = []
    for f in paths:
        try:
            st = os.stat(f)
        except OSError:
            parts.append(f"{f} -")
            continue
        if now - st.st_mtime_ns < settled_ns:
            return None
        parts.append(f"{f} {st.st_ino} {st.st_size} {st.st_mtime_ns}")
    return hashlib.sha1("\n".join(sorted(parts)).encode()).hexdigest()


def tips_under(common: str | os.PathLike[str], prefix: str) -> dict[str, str]:
    """``{ref: tip}`` of every ref under ``prefix`` as git keeps them (``packed-refs``, and the loose
    files, which win): pure file reads, no libgit2 and no listing of the other refs. A symbolic or
    unreadable loose file is left out."""
    common = os.fspath(common)
    out: dict[str, str] = {}
    try:
        with open(os.path.join(common, PACKED_REFS), "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    pre = prefix.encode()
    for line in data.split(b"\n"):
        if len(line) > 41 and line[41:].startswith(pre) and line[40:41] == b" ":
            out[line[41:].decode("utf-8", "surrogateescape")] = line[:40].decode("ascii", "replace")
    root = os.path.join(common, prefix.rstrip("/"))
    for d, _subdirs, names in os.walk(root):
        for n in names:
            if n.endswith(".lock"):
                continue
            path = os.path.join(d, n)
            try:
                with open(path, "rb") as fh:
                    tip = fh.read(41)[:40].decode("ascii", "replace")
            except OSError:
                continue
            if HEX40.match(tip):
                out[os.path.relpath(path, common).replace(os.sep, "/")] = tip
    return out
