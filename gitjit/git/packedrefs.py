"""Many refs read, and moved in one compare-and-swap transaction, through ``packed-refs``.

A pull of 10,000 changed issues moves 10,000 local refs and 10,000 tracking refs. Through git
(``git update-ref --stdin``, ``git fetch``) each one becomes a loose file of its own: a lock file,
the ref file renamed over it, a reflog line; and the loose files then have to be packed again
(``git pack-refs``), which rewrites ``packed-refs`` anyway. Measured at 100,000 issues: 7.2 s for
the local refs' ``update-ref`` transaction, and a good part of the fetch's 14.5 s for the tracking
refs, plus 3.9 s of ``pack-refs``. Here the refs move in **one rewrite of** ``packed-refs``:

1. the ref directories are listed: a ref whose lock (``<ref>.lock``) a writer holds now is
   ``RefLocked``, nothing written; a ref that is a loose file gets its own lock taken (created
   exclusively, as git and libgit2 do), since its file has to be removed under it;
2. ``packed-refs.lock`` is taken (waiting up to ``wait`` seconds, as git's
   ``core.packedRefsTimeout``);
3. each ref's current value (its loose file, which wins, else its packed line) is compared
   with the expected one (``ANY``: not compared); any difference is ``CasFailed``, and nothing
   is written;
4. the new ``packed-refs`` (sorted, with ``^`` peel lines for annotated tags, so that git's
   ``fully-peeled`` promise holds) is written to the lock file, fsync'd when asked, and renamed
   into place; then the loose files of the moved refs are removed (a loose file would shadow the
   new packed line);
5. the ref directories are listed again: a ref that now has a lock or a loose file that is not
   ours was raced by a writer (git and libgit2 take a ref's lock before they read it and hold it
   until the new loose file is in place, so a writer that read the old value is seen here, and
   one that comes later reads the new one); those are returned for the caller to look at again;
   the others get their reflog lines, and the locks are released.

Not a lock file per ref: creating one costs ~1 ms on this busy disk (12 s for 10,000 refs), which
is most of what ``git update-ref`` spent on them.

A reader that lists loose files first and ``packed-refs`` after (``read_tips``, as git does) sees
each ref either before or after the move, never missing. Refs kept as reftables (no
``packed-refs``) raise ``Unsupported``: the caller takes git's way.

Standard library only.
"""

from __future__ import annotations

import os
import re
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence

from .files import HEX40, PACKED_REFS, lock_file
from .refs import CasFailed, RefLocked, check_ref_name

__all__ = ["ANY", "ZERO", "Unsupported", "read_tips", "update"]

#: an expected old value that is not compared (a tracking ref takes whatever the remote has)
ANY = "any"
ZERO = "0" * 40
HEADER = b"# pack-refs with: peeled fully-peeled sorted \n"


class Unsupported(Exception):
    """The refs are not kept in files (reftable): use git instead."""


def _reftable(common: str) -> bool:
    return os.path.exists(os.path.join(common, "reftable"))


def read_tips(common: str | os.PathLike[str], prefix: str, *more: str) -> dict[str, str]:
    """``{ref: tip}`` of every direct ref under ``prefix`` (``refs/jit/``) and the ``more``
    prefixes, as git resolves them: the loose files (read first, so that a ref packed meanwhile
    is still seen) over the lines of ``packed-refs`` (read once). A loose file that is not an
    object id (a symbolic ref, a write cut short) is left out, as libgit2's listing leaves it
    out. ``Unsupported`` for reftables."""
    common = os.fspath(common)
    if _reftable(common):
        raise Unsupported("reftable")
    loose: dict[str, str] = {}
    bad: set[str] = set()
    prefixes = (prefix, *more)
    for pre in prefixes:
        _read_loose(common, pre, loose, bad)
    try:
        with open(os.path.join(common, PACKED_REFS), "rb") as f:
            data = f.read()
    except OSError:
        data = b""
    alts = b"|".join(re.escape(p.encode()) for p in prefixes)
    pat = re.compile(rb"^([0-9a-f]{40}) ((?:" + alts + rb")[^\n]*)$", re.MULTILINE)
    out = {m[1].decode("utf-8", "surrogateescape"): m[0].decode("ascii") for m in pat.findall(data)}
    for name in bad:
        out.pop(name, None)  # a loose file shadows its packed line even when it is no id
    out.update(loose)
    return out


def _read_loose(common: str, prefix: str, loose: dict[str, str], bad: set[str]) -> None:
    root = os.path.join(common, prefix.rstrip("/"))
    for d, _subdirs, names in os.walk(root):
        for n in names:
            if n.endswith(".lock"):
                continue
            path = os.path.join(d, n)
            name = os.path.relpath(path, common).replace(os.sep, "/")
            if not name.startswith(prefix):
                continue
            try:
                with open(path, "rb") as fh:
                    tip = fh.read(41)[:40].decode("ascii", "replace")
            except OSError:
                continue
            if HEX40.match(tip):
                loose[name] = tip
            else:
                bad.add(name)


def _parse(data: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    """``(header, {name: record})`` of a ``packed-refs`` file; a record is its line plus any peel line."""
    header = HEADER
    records: dict[bytes, bytes] = {}
    last = b""
    for line in data.split(b"\n"):
        if not line:
            continue
        if line.startswith(b"#"):
            header = line + b"\n"
            if b" sorted" not in header:
                header = header.rstrip(b" \n") + b" sorted \n"
            continue
        if line.startswith(b"^"):
            if last:
                records[last] += line + b"\n"
            continue
        last = line[41:]
        records[last] = line + b"\n"
    return header, records


def _conflict(name: str, names: set[str], ordered: list[str]) -> str | None:
    """A ref that cannot live beside ``name`` in a files backend: one of its parent paths, or
    one under ``name/``."""
    parts = name.split("/")
    for k in range(2, len(parts)):
        parent = "/".join(parts[:k])
        if parent in names:
            return parent
    i = bisect_left(ordered, name + "/")
    if i < len(ordered) and ordered[i].startswith(name + "/"):
        return ordered[i]
    return None


def _entries(common: str, dirs: Iterable[str]) -> set[str]:
    """The names (ref names, and ``<ref>.lock``) of the files in the ref directories ``dirs``."""
    out: set[str] = set()
    for rel in dirs:
        try:
            with os.scandir(os.path.join(common, rel)) as it:
                out.update(f"{rel}/{e.name}" for e in it)
        except (FileNotFoundError, NotADirectoryError):
            continue
    return out


def _take(lock: str) -> None:
    try:
        f = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        raise RefLocked(lock) from None
    os.close(f)


def update(common: str | os.PathLike[str], updates: Sequence[tuple[str, str | None, str | None]], *,
           peeled: Mapping[str, str] | None = None, reflog: tuple[str, str] | None = None,
           log_all: bool = False, fsync: bool = False, wait: float = 1.0) -> set[str]:
    """Move ``(ref, old, new)`` refs in one rewrite of ``packed-refs`` (module docstring): ``old``
    None means the ref must not exist, ``ANY`` that it is not compared; ``new`` None deletes the
    ref. ``peeled`` maps an annotated tag's id to what it peels to. ``reflog`` ``(identity,
    message)``: append a line to each moved ref's reflog when it has one, or to every one with
    ``log_all`` (git's ``core.logAllRefUpdates=always``).

    Returns the refs a writer raced: one that took the ref's lock while the new ``packed-refs``
    went in (its loose file then wins over our packed line), so for those this move may not hold;
    the caller looks at them again, one by one. ``CasFailed`` (a value differs, or a name conflicts
    with another ref), ``RefLocked`` (a writer holds a ref's lock before anything was written, or
    ``packed-refs.lock`` for longer than ``wait``), ``Unsupported`` (reftable): nothing was moved.
    Each name must be a valid ref name (``BadRefName``) and each new value an object id
    (``ValueError``)."""
    common = os.fspath(common)
    if not updates:
        return set()
    if _reftable(common):
        raise Unsupported("reftable")
    seen: set[str] = set()
    for ref, _old, new in updates:
        check_ref_name(ref)
        if new is not None and not HEX40.match(new):
            raise ValueError(f"not an object id: {new!r}")
        if ref in seen:
            raise ValueError(f"{ref} named twice in one transaction")
        seen.add(ref)
    peeled = peeled or {}
    dirs = sorted({ref.rsplit("/", 1)[0] for ref in seen})
    held: list[str] = []
    packed_lock = lock_file(common, PACKED_REFS)
    fd = -1
    try:
        # Creating a lock file per ref costs ~1 ms each on a busy disk (12 s for 10,000 here), so
        # only the refs that are loose files get one (their files must be removed under it); the
        # rest are checked before and after: a writer takes the ref's lock before it reads the
        # ref and keeps it until its loose file is in place, so one that read the old value
        # shows as a lock or a loose file when we look again after the rename.
        before = _entries(common, dirs)
        busy = [ref for ref in seen if ref + ".lock" in before]
        if busy:
            raise RefLocked(busy[0])
        loose = sorted(ref for ref in seen if ref in before)
        for ref in loose:
            _take(lock_file(common, ref))
            held.append(lock_file(common, ref))
        deadline = time.monotonic() + wait
        while True:
            try:
                fd = os.open(packed_lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:
                if time.monotonic() > deadline:
                    raise RefLocked(PACKED_REFS) from None
                time.sleep(0.02)
        try:
            with open(os.path.join(common, PACKED_REFS), "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            data = b""
        header, records = _parse(data)
        loose_had: list[str] = []
        olds: dict[str, str | None] = {}
        for ref, old, _new in updates:
            path = os.path.join(common, ref)
            cur: str | None
            try:
                with open(path, "rb") as fh:
                    raw = fh.read(41)[:40].decode("ascii", "replace")
            except FileNotFoundError:
                rec = records.get(ref.encode("utf-8", "surrogateescape"))
                cur = rec[:40].decode("ascii") if rec is not None else None
            except IsADirectoryError:
                try:
                    os.rmdir(path)  # an empty directory left by removed loose refs: git removes it too
                except OSError:
                    raise CasFailed(ref) from None
                rec = records.get(ref.encode("utf-8", "surrogateescape"))
                cur = rec[:40].decode("ascii") if rec is not None else None
            except NotADirectoryError:
                raise CasFailed(ref) from None
            else:
                if lock_file(common, ref) not in held:
                    raise CasFailed(ref)  # became a loose file just now: a writer got in first
                if not HEX40.match(raw):
                    raise CasFailed(ref)  # a symbolic ref or a broken file: not ours to overwrite
                cur = raw
                loose_had.append(path)
            if old != ANY and cur != old:
                raise CasFailed(ref)
            olds[ref] = cur
        created = [ref for ref, _old, new in updates if new is not None and olds[ref] is None]
        if created:
            names = {k.decode("utf-8", "surrogateescape") for k in records}
            names |= {ref for ref, _o, new in updates if new is not None}
            names -= {ref for ref, _o, new in updates if new is None}
            ordered = sorted(names)
            for ref in created:
                if _conflict(ref, names, ordered) is not None:
                    raise CasFailed(ref)
        for ref, _old, new in updates:
            key = ref.encode("utf-8", "surrogateescape")
            if new is None:
                records.pop(key, None)
                continue
            body = f"{new} {ref}\n"
            if new in peeled:
                body += f"^{peeled[new]}\n"
            records[key] = body.encode("utf-8", "surrogateescape")
        with os.fdopen(fd, "wb") as out:
            fd = -1
            out.write(header)
            out.writelines(records[k] for k in sorted(records))
            if fsync:
                out.flush()
                os.fsync(out.fileno())
        os.rename(packed_lock, os.path.join(common, PACKED_REFS))
        if fsync:
            _fsync_dir(common)
        for path in loose_had:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        after = _entries(common, dirs)
        mine = {lock_file(common, ref) for ref in loose}
        raced = {ref for ref in seen
                 if (ref in after and os.path.join(common, ref) not in loose_had)
                 or (ref + ".lock" in after and os.path.join(common, ref + ".lock") not in mine)}
        if reflog is not None:
            _append_reflogs(common, [(ref, olds[ref], new) for ref, _old, new in updates if ref not in raced],
                            reflog, log_all)
        return raced
    except BaseException:
        if fd >= 0:
            os.close(fd)
            try:
                os.unlink(packed_lock)
            except FileNotFoundError:
                pass
        raise
    finally:
        for lock in held:
            try:
                os.unlink(lock)
            except FileNotFoundError:
                pass


def _fsync_dir(path: str) -> None:
    try:
        d = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(d)
    except OSError:
        pass
    finally:
        os.close(d)


def _append_reflogs(common: str, moves: Iterable[tuple[str, str | None, str | None]], reflog: tuple[str, str],
                    log_all: bool) -> None:
    """git's reflog lines (``<old> <new> <identity> <time> <zone>\\t<message>``), best effort."""
    ident, message = reflog
    now = time.time()
    off = int(time.localtime(now).tm_gmtoff // 60)
    zone = f"{'-' if off < 0 else '+'}{abs(off) // 60:02d}{abs(off) % 60:02d}"
    stamp = f"{ident} {int(now)} {zone}\t{message.splitlines()[0] if message else ''}\n"
    for ref, old, new in moves:
        path = os.path.join(common, "logs", ref)
        if new is None:
            try:
                os.unlink(path)
            except OSError:
                pass
            continue
        line = f"{old or ZERO} {new} {stamp}".encode("utf-8", "surrogateescape")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | (os.O_CREAT if log_all else 0), 0o666)
        except FileNotFoundError:
            if not log_all:
                continue
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            except OSError:
                continue
        except OSError:
            continue
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
