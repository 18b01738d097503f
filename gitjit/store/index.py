"""The index: a disposable SQLite copy of what ``refs/jit/*`` say, kept in step with the refs.

It lives at ``<git common dir>/jit/index.sqlite3`` and holds, per issue ref, the tip it was read
from, the folded state, the effective state, the edges, the events and the issue's JSON exactly
as ``jit issue show --json`` prints it. It is never the source of truth: every command first
checks that the index still matches the refs and re-reads only what changed; deleting the file
costs a rebuild and nothing else.

**Freshness, cheaply.** git and libgit2 write a ref by creating ``<ref>.lock`` and renaming it
into place, and rewrite ``packed-refs`` the same way, so a ref cannot change without the
modification time of its directory (or of ``packed-refs``) changing. The index keeps the
``stat`` of ``packed-refs`` and of every directory under ``refs/jit/issues`` and
``refs/jit/gates``: if they are all unchanged, nothing changed (a handful of ``stat`` calls).
If any differs, the loose refs are listed (few: they are packed once they pile up) and, only if
``packed-refs`` itself changed, it is parsed again; the tips found are compared with the
index's. A signature taken within ``RACY_NS`` of a change is never trusted on its own (two
writes inside one tick of the file system clock can leave the same mtime): the next check
lists the refs again, as git does for its racily clean index entries.

This module is the half that needs only the standard library: the index reader
(``gitjit.app.reader``) uses it without importing pygit2 or pydantic. Writing folded data into the
index is ``gitjit.store.indexer``'s job (it needs the fold).
"""

from __future__ import annotations

import bisect
import json
import os
import re
import sqlite3
import time
import zlib
from datetime import UTC

from ..core.refs import GATES, ISSUES

# the ref files themselves (loose refs, packed-refs, their stats) are read by the git layer
from ..git.files import PACKED_REFS, read_packed, read_packed_lines, scan_loose, stat_of
from ..git.files import READS as _READS
from ..git.files import packed_crc as _packed_crc

# the index reader imports this module: no typing, dataclasses or random at run time (~10 ms)
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

__all__ = [
    "GATES",
    "INDEX_FILE",
    "INDEX_VERSION",
    "ISSUES",
    "PRIORITY_RANK",
    "WRITE_MARK",
    "Delta",
    "Index",
    "code_stamp",
    "pack",
    "read_packed",
    "scan_loose",
    "unpack",
]

INDEX_VERSION = "13"
INDEX_FILE = os.path.join("jit", "index.sqlite3")
#: present while a process holds the index's write lock for a long write (a rebuild, a fold of
#: thousands of refs: ``Index.long_write``), its mtime renewed every ``HEARTBEAT_S``: processes
#: waiting for the lock keep waiting while it is fresh
WRITE_MARK = os.path.join("jit", "index-long-write")
HEARTBEAT_S = 1.0
#: a mark not renewed for this long belongs to a writer that died or was stopped
HEARTBEAT_STALE_S = 10.0
#: a stat signature whose newest mtime is this close to the moment it was taken is "racy"
RACY_NS = 20_000_000
#: file systems with whole-second timestamps need a whole tick (and one more for safety)
COARSE_RACY_NS = 2_000_000_000
PRIORITY_RANK = {"critical": 0, "high": 1, "normal": 2, "low": 3}
_TERMINAL = ("done", "rejected")
_BASE_DIRS = ("refs", "refs/jit", "refs/jit/issues", "refs/jit/gates")
_CHUNK = 900
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);
-- ``rno``: the ref's number, the key of its events and event documents (a few bytes, where its
-- name took ~30 in every event row and index entry). Kept while the ref exists (updated in place).
-- ``tip`` here and in ``issues``: ``tip_key``, the object id's bytes
CREATE TABLE IF NOT EXISTS refs(rno INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, tip NOT NULL,
    kind TEXT NOT NULL, key TEXT NOT NULL, warning TEXT);
CREATE TABLE IF NOT EXISTS loose(ref TEXT PRIMARY KEY, tip TEXT NOT NULL, ino INTEGER, mtime INTEGER, size INTEGER);
-- refs folded in from their loose file outside a scan (a process's own write, a claim's moved
-- neighbours) since packed-refs was last compared in full: no snapshot may list them as loose
-- (``at``: when, in ns; a snapshot listed after that holds them as the index does)
CREATE TABLE IF NOT EXISTS noted(ref TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS noted_at ON noted(at);
-- an issue's ref is ``refs/jit/issues/<id>``: not stored again here. ``created_at``,
-- ``completed_at``, ``claimed_at``: ``ts_key`` integers (text in an index with ``meta.ts_text``)
CREATE TABLE IF NOT EXISTS issues(
    id TEXT PRIMARY KEY, tip NOT NULL, deleted INTEGER NOT NULL, base TEXT NOT NULL,
    eff TEXT, blocked INTEGER NOT NULL DEFAULT 0, prank INTEGER NOT NULL, created_at NOT NULL,
    priority TEXT NOT NULL, assignee TEXT, completed_at, claimed_at, title TEXT NOT NULL,
    labels TEXT NOT NULL, conflicts TEXT, parked TEXT) WITHOUT ROWID;
-- the wide part apart, so that scans of the narrow issues table stay cheap: each issue's JSON
-- (as ``issue show --json`` prints it, ``dlen`` bytes of UTF-8; NULL for a deleted issue, which
-- has none) followed by its folded state, compressed as one stream (``Index.pack_body``): the
-- state repeats the JSON's title, description, labels and context, which are then stored once.
-- A listing decompresses only the JSON's ``dlen`` bytes; ``issue search`` scans the states
CREATE TABLE IF NOT EXISTS docs(id TEXT PRIMARY KEY, dlen INTEGER, body BLOB NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS issues_order ON issues(deleted, prank, created_at);
-- the columns a query tests are in its index (``deleted`` here, ``blocked``, ``eff``, ``assignee``
-- below): a row of a WITHOUT ROWID table is found by its id, a seek per row, so the queries that
-- read many rows are answered from the index alone (``status``'s blocked count at 100,000
-- issues: 44 ms with a seek per row, 0.5 ms without)
CREATE INDEX IF NOT EXISTS issues_eff ON issues(eff, deleted, prank, created_at);
CREATE INDEX IF NOT EXISTS issues_assignee ON issues(assignee) WHERE assignee IS NOT NULL;
-- partial indexes for status and the blocked query: each reads only the rows it reports
CREATE INDEX IF NOT EXISTS issues_blocked ON issues(prank, created_at, id, blocked, deleted) WHERE blocked=1 AND deleted=0;
CREATE INDEX IF NOT EXISTS issues_done ON issues(completed_at) WHERE base='done' AND deleted=0;
CREATE INDEX IF NOT EXISTS issues_holders ON issues(prank, created_at)
    WHERE assignee IS NOT NULL AND deleted=0 AND base NOT IN ('done', 'rejected');
CREATE INDEX IF NOT EXISTS issues_conflicts ON issues(id) WHERE conflicts IS NOT NULL;
-- ``parked``: the issue's Parked record as JSON (reason, by, since), NULL unless parked
CREATE INDEX IF NOT EXISTS issues_parked ON issues(prank, created_at) WHERE parked IS NOT NULL AND deleted=0;
-- ``tip`` (the ref's tip the row was folded from, as in ``refs``) in the key: ``ready_tips``
-- (racing claimers walk it on every ``claim_next``) reads the index alone, with no seek into the
-- refs table for each row (256 rows at 100,000 issues: 0.99 ms with a join, 0.21 ms without)
CREATE INDEX IF NOT EXISTS issues_ready ON issues(prank, created_at, id, tip, eff, assignee, deleted)
    WHERE eff='ready' AND assignee IS NULL AND deleted=0;
-- ``key``: the ``timestamp|event-id`` of the event that added the edge, as ``edge_key`` stores it
CREATE TABLE IF NOT EXISTS edges(src TEXT NOT NULL, pos INTEGER NOT NULL, dst TEXT NOT NULL, key NOT NULL,
    PRIMARY KEY(src, pos)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_dst ON edges(dst);
CREATE TABLE IF NOT EXISTS gates_on(issue TEXT NOT NULL, gate TEXT NOT NULL, PRIMARY KEY(issue, gate)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gates_on_gate ON gates_on(gate);
CREATE TABLE IF NOT EXISTS gatedefs(key TEXT PRIMARY KEY, state TEXT NOT NULL);
-- one row per event, for the order and the filters of ``jit events``, keyed by that order:
-- ``ts`` its time as ``ts_key`` stores it, its clock, ``rno`` its ref, ``seq`` its place in the
-- ref's log, ``type`` the number of its type (``evtypes``), ``iss`` its issue_id only where that is
-- not the issue of its own ref (NULL: the ref's issue; '': none, as a gate definition's). The
-- event's id, which breaks ties, is read from its document. A ref's own rows are found from its
-- events' documents (``evblobs``), which give each row's key: no second index of every event
CREATE TABLE IF NOT EXISTS events(ts NOT NULL, clock INTEGER NOT NULL, rno INTEGER NOT NULL, seq INTEGER NOT NULL,
    type INTEGER NOT NULL, iss TEXT, PRIMARY KEY(ts, clock, rno, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evtypes(code INTEGER PRIMARY KEY, type TEXT NOT NULL UNIQUE);
-- a ref's events as printed (``event_json``), compressed against its issue's state (``pack``)
CREATE TABLE IF NOT EXISTS evblobs(rno INTEGER PRIMARY KEY, events BLOB NOT NULL);
-- ``events query --issue``: the issue's own ref's documents, and here the few events elsewhere
CREATE INDEX IF NOT EXISTS events_iss ON events(iss) WHERE iss IS NOT NULL;
CREATE INDEX IF NOT EXISTS refs_kind ON refs(kind) WHERE kind<>'issue';
"""


SCHEMA_STATEMENTS = [stmt.strip() for stmt in re.sub(r"(?m)^--.*$", "", SCHEMA).split(";") if stmt.strip()]
SCHEMA_NAMES = {m.group(1) for m in re.finditer(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA)}


def _inode(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _busy(e: sqlite3.OperationalError) -> bool:
    return "locked" in str(e) or "busy" in str(e)


def corrupt(e: BaseException) -> bool:
    """SQLite found the file damaged or not a database at all (SQLITE_CORRUPT, SQLITE_NOTADB): the
    one case where an index is deleted and made anew. A busy, locked or changed file is not."""
    name = getattr(e, "sqlite_errorname", None)
    if name is not None:
        return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
    return type(e) is sqlite3.DatabaseError  # Python < 3.11: what SQLite's two codes map to


#: the preset dictionary of every compressed document (zlib's ``zdict``): the keys and the
#: common values of the shapes stored (an issue's state, its JSON, its events), so that even a
#: short document compresses well. Changing it changes the stored bytes: bump ``INDEX_VERSION``.
ZDICT = (
    b'{"id": "", "type": "issue_created", "issue_id": "", "clock": 1, "timestamp": "", "actor": "agent:", '
    b'"title": "", "description": "", "priority": "normal", "labels": [], "context": {}, "gates": [], '
    b'"gate_key": "", "by": "human:", "mode": "manual", "stage": "postcheck", "from": "open", "to": "done"}, '
    b'{"id": "", "type": "issue_state_changed", "issue_id": "", "clock": 2, "timestamp": "", "actor": "agent:", '
    b'"type": "issue_claimed", "type": "issue_completed", "type": "gate_passed", "type": "dependency_added", '
    b'"type": "issue_updated", "changes": {}, "depends_on": "", "lease_expires_at": null, '
    b'{"id":"","title":"","description":"","priority":"normal","state":"open","assignee":null,'
    b'"dependencies":[],"gates":{},"context":{},"labels":[],"created_at":"","updated_at":"",'
    b'"created_by":"agent:","claimed_at":null,"lease_expires_at":null,"failures":0,"retry_after":null,'
    b'"parked":null,"completed_at":null,"deleted":false,"conflicts":[],"commits":[],"clock":1,'
    b'"event_count":1,"dep_events":{}}'
    b'{\n  "id": "",\n  "short_id": "",\n  "title": "",\n  "description": "",\n  "state": "ready",\n'
    b'  "priority": "normal",\n  "assignee": null,\n  "dependencies": [],\n  "gates": [\n    {\n'
    b'      "key": "review",\n      "status": "passed",\n      "by": "human:",\n      "updated_at": "",\n'
    b'      "reason": null,\n      "title": "",\n      "mode": "manual",\n      "stage": "postcheck",\n'
    b'      "defined": true\n    }\n  ],\n  "context": {},\n  "labels": [\n    "type:task"\n  ],\n'
    b'  "created_at": "",\n  "updated_at": "",\n  "created_by": "agent:",\n  "claimed_at": null,\n'
    b'  "completed_at": null,\n  "commits": [],\n  "conflicts": [],\n  "blocked_reasons": []\n}'
)


#: from how many documents asked ``Index.docs`` may read the table in one pass (when they are a
#: third of it or more) instead of one lookup per id
DOCS_PASS_FROM = 1000


#: the documents sampled into the dictionary of every issue's state or JSON (``Index.sample``), at most
SAMPLE_CHARS = 8000


def pack(text: str, base: str | None = None) -> bytes:
    """Stored JSON is zlib-compressed against ``ZDICT`` and, if given, ``base`` (a text stored
    beside it: the issue's state for its JSON and its events, which repeat most of it; for a
    state, a sample of the repository's states). A 16 KB window: documents are small, and a
    compressor that big is set up in a third of the time of a 32 KB one. The stream names its
    dictionary (zlib's DICTID): unpacking with another ``base`` fails, it never misreads."""
    z = zlib.compressobj(6, zlib.DEFLATED, 14, 8, zlib.Z_DEFAULT_STRATEGY,
                         ZDICT + base.encode("utf-8") if base else ZDICT)
    return z.compress(text.encode("utf-8")) + z.flush()


_DICT_IDS: dict[int, tuple[bytes, bytes]] = {}


def _dict_id(zdict: bytes) -> bytes:
    """The 4 bytes that name a dictionary at the start of each body (its Adler-32, as zlib's
    DICTID), computed once per dictionary object."""
    got = _DICT_IDS.get(id(zdict))
    if got is None or got[0] is not zdict:
        if len(_DICT_IDS) > 8:  # samples read again after other processes' rebuilds
            _DICT_IDS.clear()
        got = _DICT_IDS[id(zdict)] = (zdict, zlib.adler32(zdict).to_bytes(4, "big"))
    return got[1]


def body_pack(zdict: bytes, doc: str | None, state: str) -> tuple[int | None, bytes]:
    """``Index.pack_body``'s row against the dictionary ``zdict``: ``(dlen, body)``. The body is
    the dictionary's Adler-32 (4 bytes) and a raw deflate stream of the JSON's bytes then the
    state's. Raw: a zlib stream that names a preset dictionary makes the reader set it up again
    for every document (Python's zlib does, on zlib's Z_NEED_DICT: an Adler-32 of the whole 17
    KB dictionary and a copy of it each time, ~40% of a listing's inflating); here a listing sets
    it once and copies the decompressor, and a body whose first bytes name another dictionary is
    not inflated at all (it never misreads). A 16 KB window: documents are small, and a
    compressor that big is set up in a third of the time of a 32 KB one."""
    d = b"" if doc is None else doc.encode("utf-8")
    z = zlib.compressobj(6, zlib.DEFLATED, -14, 8, zlib.Z_DEFAULT_STRATEGY, zdict)
    return (None if doc is None else len(d)), _dict_id(zdict) + z.compress(d + state.encode("utf-8")) + z.flush()


def unpack(blob: bytes, base: str | None = None) -> str:
    """The text ``pack(text, base)`` stored (the same ``base``)."""
    z = zlib.decompressobj(14, ZDICT + base.encode("utf-8") if base else ZDICT)
    return (z.decompress(blob) + z.flush()).decode("utf-8")


_EPOCH: Any = None


def ts_key(ts: str) -> int | str:
    """A timestamp in ``utc_ts``'s canonical form (``2026-01-01T11:20:11.000000+00:00``, 32
    characters) as microseconds since 1970: 8 bytes that sort as the text does (and before any
    text). Anything else is kept as it is (``Index.events`` then sorts in Python)."""
    global _EPOCH
    if len(ts) == 32 and ts.endswith("+00:00"):
        from datetime import datetime, timedelta

        if _EPOCH is None:
            _EPOCH = (datetime(1970, 1, 1, tzinfo=UTC), timedelta(microseconds=1))
        try:
            n: int = (datetime.fromisoformat(ts) - _EPOCH[0]) // _EPOCH[1]
        except (ValueError, OverflowError):
            return ts
        if ts_text(n) == ts:
            return n
    return ts


#: ``ts_text``'s dates by day since 1970
_DAYS: dict[int, str] = {}
_DAY_US = 86_400_000_000


def ts_text(key: int | str) -> str:
    """The text ``ts_key`` stored as ``key`` (``datetime.isoformat`` of that instant in UTC, its
    date remembered by day: ~1 µs where building a datetime took ~6, and ``status`` shows the
    claim time of every held issue)."""
    if isinstance(key, str):
        return key
    day, rem = divmod(key, _DAY_US)
    date = _DAYS.get(day)
    if date is None:
        from datetime import datetime, timedelta

        if len(_DAYS) > 4096:
            _DAYS.clear()
        date = _DAYS[day] = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).date().isoformat()
    sec, us = divmod(rem, 1_000_000)
    mins, sec = divmod(sec, 60)
    return f"{date}T{mins // 60:02d}:{mins % 60:02d}:{sec:02d}.{us:06d}+00:00"


def edge_key(key: str) -> str | bytes:
    """A dependency's ``timestamp|event-id`` key as ``edges`` stores it: 24 bytes (``ts_key`` and
    the id's 16) for the usual form, the text itself otherwise; ``edge_text`` gives it back."""
    if len(key) == 65 and key[32] == "|":
        n = ts_key(key[:32])
        if isinstance(n, int):
            try:
                b = bytes.fromhex(key[33:])
            except ValueError:
                return key
            if b.hex() == key[33:]:
                return n.to_bytes(8, "big", signed=True) + b
    return key


def tip_key(tip: str) -> str | bytes:
    """A ref's tip as ``refs`` and ``issues`` store it: the object id's bytes (20, where its hex
    takes 40), or the text itself if it is not an object id in lowercase hex; ``tip_text`` gives
    it back."""
    if len(tip) in (40, 64):
        try:
            b = bytes.fromhex(tip)
        except ValueError:
            return tip
        if b.hex() == tip:
            return b
    return tip


def tip_text(stored: str | bytes) -> str:
    return stored.hex() if isinstance(stored, bytes) else stored


#: ``tip_text`` in SQL
TIP_SQL = "(CASE WHEN typeof(tip)='blob' THEN lower(hex(tip)) ELSE tip END)"


def edge_text(stored: str | bytes) -> str:
    if isinstance(stored, str):
        return stored
    return f"{ts_text(int.from_bytes(stored[:8], 'big', signed=True))}|{stored[8:].hex()}"


def search_quick(t: str) -> bool:
    """Can the lowercased text ``t`` be looked for in a state's JSON text, lowercased (``search_hit``)?
    Not if JSON writes one of its characters escaped (a quote, a backslash, a control character:
    the JSON text does not hold it as the field does), nor with a sigma (its lowercase depends on
    the letters beside it, which differ in the JSON text). Every other character lowercases alone."""
    return not any(ch in '"\\\u03c3\u03c2' or ch < " " for ch in t)


def search_hit(t: str, state: bytes, quick: bool) -> bool:
    """Does the stored JSON of an issue (its state's or its ``issue show`` JSON, UTF-8: both
    written with ``ensure_ascii=False``) have the lowercased text ``t`` in its title, its
    description or one of its labels, lowercased (``Board.search``'s test)? With ``quick``
    (``search_quick``), a JSON whose lowercased text does not hold ``t`` at all is passed over
    unparsed: a field that holds ``t`` is in that text as it is. ASCII is lowercased as bytes
    (where ``str.lower`` gives the same), anything else as text."""
    if quick and (t.encode("utf-8") not in state.lower() if state.isascii() else t not in state.decode("utf-8").lower()):
        return False
    st = json.loads(state)
    return t in st["title"].lower() or t in st["description"].lower() or any(t in lab.lower() for lab in st["labels"])


def code_stamp() -> str:
    """Version plus size and CRC of the code whose output the index stores: every module of the
    core (the fold, the effective states, every JSON shape) and the index's own modules. A changed
    fold or JSON shape (a new release, or an edit in a development checkout) makes the index
    rebuild. Whole folders, so that no module is named here (a new or renamed one counts too).

    By content, not mtime: two copies of the same code (a checkout and its installed copy, as when
    the tests import the checkout and spawn the installed console script) share one index."""
    import zlib

    from .. import __version__

    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parts = [INDEX_VERSION, __version__]
    for folder, prefix in (("core", ""), ("store", "index")):
        try:
            names = sorted(n for n in os.listdir(os.path.join(pkg, folder)) if n.endswith(".py") and n.startswith(prefix))
        except OSError:
            names = []
        for name in names:
            rel = f"{folder}/{name}"
            try:
                with open(os.path.join(pkg, folder, name), "rb") as f:
                    data = f.read()
                parts.append(f"{rel}:{len(data)}:{zlib.crc32(data):08x}")
            except OSError:
                parts.append(f"{rel}:-")
    return "|".join(parts)


class Delta:
    """What changed between the index and the refs, and the snapshot to record once applied."""

    def __init__(self, loose: dict[str, list[Any]] | None = None) -> None:
        self.changed: dict[str, str] = {}   # ref -> new tip
        self.removed: set[str] = set()
        self.sig: dict[str, Any] = {}
        self.loose: dict[str, list[Any]] = loose or {}  # ref -> [tip, ino, mtime_ns, size]
        self.packed: dict[str, Any] = {}
        self.full = False
        self.needs_full = False  # packed-refs changed and was not parsed (check(allow_full=False))
        self.read_loose = 0  # loose ref files the scan had to open

    @property
    def empty(self) -> bool:
        return not self.changed and not self.removed


def _racy(stamps: Iterable[Any], taken_ns: int) -> bool:
    ms = [s for s in stamps if s is not None]
    if not ms:
        return False
    margin = COARSE_RACY_NS if all(m % 1_000_000_000 == 0 for m in ms) else RACY_NS
    return max(ms) >= taken_ns - margin


# ---------------------------------------------------------------------------------- the database

class Index:
    """One repository's index file. ``open`` never creates it unless asked (the index reader only
    reads an index the full path made)."""

    def __init__(self, common_dir: str | os.PathLike[str], *, on_wait: Callable[[str], None] | None = None):
        self.common = os.fspath(common_dir)
        #: called (once per wait) with a sentence naming the process this one waits for, when it
        #: waits for another's long write (a front door prints it, the dispatcher logs it)
        self.on_wait = on_wait
        self.path = os.path.join(self.common, INDEX_FILE)
        self.db: sqlite3.Connection | None = None
        self.timeout_ms = 60_000
        #: what this process last found the index in step with: ``{"sig", "loose", "packed"}``.
        #: A long-lived process (an agent's library session) trusts its own last listing of the
        #: loose refs instead of rewriting the shared snapshot after every change it sees: under
        #: contention the shared one is always racy, and rewriting it took the write lock per read.
        self.own: dict[str, Any] | None = None
        self.ino: tuple[int, int] | None = None  # the file this connection opened (``replaced``)
        #: the samples stored states and JSON are compressed against (``sample``), as read
        self._samples: dict[str, str] = {}
        #: the dictionaries made of them (``_zdict``), by whether the body holds a JSON
        self._zdicts: dict[bool, bytes] = {}

    # ------------------------------------------------------------------ stored documents

    def sample(self, kind: str = "zsample") -> str:
        """What a rebuild sampled (``set_sample``) of the issues' states (``zsample``) or of their
        JSON (``zdocs``): the base each state or JSON is compressed against, so that what issues
        share (words, labels, names, the layout) is stored once."""
        got = self._samples.get(kind)
        if got is None:
            got = self._samples[kind] = self.meta(kind) or ""
        return got

    def set_sample(self, texts: Iterable[str], kind: str = "zsample") -> None:
        """Choose the sample from ``texts`` (a rebuild's documents, spread over the repository):
        only on an empty index, before any document is stored against it."""
        out: list[str] = []
        size = 0
        for t in texts:
            if size + len(t) > SAMPLE_CHARS:
                continue
            out.append(t)
            size += len(t)
        self._samples[kind] = "".join(out)
        self._zdicts = {}
        self.set_meta(kind, self._samples[kind])

    def forget_samples(self) -> None:
        """Read the samples again (another process may have rebuilt the index)."""
        self._samples = {}
        self._zdicts = {}

    def _zdict(self, with_doc: bool) -> bytes:
        """The dictionary of a stored body (``pack_body``): ``ZDICT``, the sample of the JSON (only
        for a body that holds one) and the sample of the states, nearest the text."""
        got = self._zdicts.get(with_doc)
        if got is None:
            got = self._zdicts[with_doc] = \
                ZDICT + ((self.sample("zdocs") if with_doc else "") + self.sample()).encode("utf-8")
        return got

    def pack_body(self, doc: str | None, state: str) -> tuple[int | None, bytes]:
        """An issue's ``docs`` row: ``(dlen, body)``, its JSON (None: a deleted issue's, which has
        none) and its state in one stream, the JSON first; ``dlen`` is the JSON's length in bytes
        (None without one). Against ``ZDICT`` and the samples of the JSON and the states: a JSON
        and its state share their title, description, labels and context, stored once (about a
        quarter less than two streams). ``body_pack`` makes the bytes."""
        return body_pack(self._zdict(doc is not None), doc, state)

    def _unbody(self, dlen: int | None, body: bytes, whole: bool) -> bytes:
        zdict = self._zdict(dlen is not None)
        if body[:4] != _dict_id(zdict):
            raise zlib.error("a body compressed against other samples")
        z = zlib.decompressobj(-14, zdict)
        if whole or dlen is None:
            return z.decompress(memoryview(body)[4:]) + z.flush()
        # only the JSON: inflating stops once it is out (a length of 0 would mean "no limit")
        return z.decompress(memoryview(body)[4:], dlen) if dlen else b""

    def _retry(self, fn: Callable[[], Any]) -> Any:
        """``fn``; a sample remembered from before another process rebuilt the index does not
        match a body's dictionary (its first 4 bytes name it): read the samples again and retry."""
        try:
            return fn()
        except zlib.error:
            self.forget_samples()
            return fn()

    def body_raw(self, dlen: int | None, body: bytes) -> bytes:
        """A ``docs`` row's stream: its JSON's ``dlen`` bytes (if any), then its state's."""
        return self._retry(lambda: self._unbody(dlen, body, True))  # type: ignore[no-any-return]

    def body_state(self, dlen: int | None, body: bytes) -> str:
        """The folded state's JSON text stored in a ``docs`` row."""
        return self.body_raw(dlen, body)[dlen or 0:].decode("utf-8")

    def body_doc(self, dlen: int | None, body: bytes) -> str | None:
        """The ``issue show --json`` text stored in a ``docs`` row (None: a deleted issue)."""
        if dlen is None:
            return None
        return self._retry(lambda: self._unbody(dlen, body, False).decode("utf-8"))

    # ------------------------------------------------------------------ lifecycle

    def open(self, *, create: bool = False, timeout: float = 60.0) -> bool:
        if self.db is not None:
            return True
        if not create and not os.path.exists(self.path):
            return False
        if create:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.timeout_ms = int(timeout * 1000)
        db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            # disposable data: no fsync; WAL so that readers never wait for a refreshing writer
            db.execute("PRAGMA synchronous=OFF")
            db.execute("PRAGMA temp_store=MEMORY")
            db.execute("PRAGMA journal_size_limit=67108864")  # the WAL shrinks back after a big rebuild
            if create:
                self.db = db
                self._create()
            self.ino = _inode(self.path)
        except sqlite3.DatabaseError:
            self.db = None
            db.close()
            raise
        self.db = db
        return True

    def _create(self) -> None:
        """WAL mode and the tables, made safely by several processes opening a new file at once.

        Each step polls for the lock (``begin``): in a new file's rollback-journal mode, a
        connection that read the schema and then wants to write it gets SQLITE_BUSY at once,
        without SQLite's busy handler (it would deadlock with the other one), and that error is
        no sign of a damaged file."""
        c = self.c
        if c.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self._retry_busy(lambda: c.execute("PRAGMA journal_mode=WAL").fetchone())
        if self._schema_complete():
            return
        self.begin()
        try:
            if not self._schema_complete():
                try:
                    for stmt in SCHEMA_STATEMENTS:
                        c.execute(stmt)
                except sqlite3.OperationalError as e:
                    if _busy(e):
                        raise
                    self.reset()  # tables of another version (a column this code indexes is missing)
            self.commit()
        except BaseException:
            self.rollback()
            raise

    def _schema_complete(self) -> bool:
        names = {r[0] for r in self.c.execute("SELECT name FROM sqlite_master")}
        return SCHEMA_NAMES <= names

    def reset(self) -> None:
        """Drop every table and index and create them again as this code defines them, inside
        the write transaction the caller holds: a rebuild in place, whatever an older version
        left in the file. The file itself is never replaced while other processes may use it."""
        c = self.c
        self.forget_samples()
        for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                 "AND name NOT LIKE 'sqlite_%'").fetchall():
            c.execute(f'DROP TABLE IF EXISTS "{name}"')
        for stmt in SCHEMA_STATEMENTS:
            c.execute(stmt)

    def _retry_busy(self, fn: Callable[[], Any], wait: float | None = None) -> Any:
        """``fn`` until the index is not busy, for ``wait`` seconds (None: the index's timeout,
        extended for as long as another process is seen in a long write: ``long_write_running``)."""
        deadline = time.monotonic() + (self.timeout_ms / 1000 if wait is None else wait)
        pause = 0.0005
        told = False
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _busy(e):
                    raise
                if time.monotonic() >= deadline:
                    # a rebuild holds the lock for as long as folding every ref takes (about a
                    # minute at 100,000 issues): giving up would make this process fold every
                    # ref itself (``Indexer.give_up``), slower still and with far more memory
                    if wait is None and self.long_write_running():
                        if not told:
                            told = True
                            if self.on_wait is not None:
                                self.on_wait(self._long_write_notice())
                        deadline = time.monotonic() + HEARTBEAT_S
                    else:
                        raise
            import random  # not at import time (see above): only when the lock is contended

            time.sleep(random.uniform(pause / 2, pause))
            pause = min(pause * 1.5, 0.01)

    def long_write_running(self) -> bool:
        """Another process is in a long write right now (``long_write``): its mark is there and was
        renewed within ``HEARTBEAT_STALE_S`` (by a live, running process: a killed or stopped one
        stops renewing it)."""
        try:
            age = time.time() - os.stat(os.path.join(self.common, WRITE_MARK)).st_mtime
        except OSError:
            return False
        return age < HEARTBEAT_STALE_S

    def long_write_info(self) -> dict[str, Any] | None:
        """The long write running now (``long_write_running``): ``{"pid", "seconds"}`` (since it
        started; either None if its mark cannot be read), or None."""
        if not self.long_write_running():
            return None
        try:
            with open(os.path.join(self.common, WRITE_MARK), encoding="ascii") as f:
                pid, started = f.read().split()[:2]
            return {"pid": int(pid), "seconds": max(0, int(time.time()) - int(started))}
        except (OSError, ValueError):
            return {"pid": None, "seconds": None}

    def _long_write_notice(self) -> str:
        info = self.long_write_info() or {}
        if info.get("pid") is not None:
            who = f"process {info['pid']}, started {info['seconds']} s ago"
        else:
            who = "another process"
        return (f"waiting for a long write to the index to finish ({who}): a rebuild, after an upgrade "
                "of gitjit or a deleted index, or a fold of many changed refs")

    def long_write(self) -> Any:
        """A context manager for the holder of the write lock around a long write: writes the mark
        (this process's id and start time) and renews its mtime from a thread every
        ``HEARTBEAT_S``, so that waiting processes wait for the write instead of timing out;
        removes it at the end, before the commit (only the lock's holder ever touches the mark).
        Unwritable (a read-only repository): no mark, and nothing else changes."""
        from contextlib import contextmanager

        @contextmanager
        def mark() -> Iterator[None]:
            import threading

            path = os.path.join(self.common, WRITE_MARK)
            tmp = f"{path}.{os.getpid()}"
            try:  # whole or not at all: a reader never sees it half written
                with open(tmp, "w", encoding="ascii") as f:
                    f.write(f"{os.getpid()} {int(time.time())}\n")
                os.replace(tmp, path)
            except OSError:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                yield
                return
            stop = threading.Event()

            def beat() -> None:
                while not stop.wait(HEARTBEAT_S):
                    try:
                        os.utime(path)
                    except OSError:
                        return

            t = threading.Thread(target=beat, name="jit-index-long-write", daemon=True)
            t.start()
            try:
                yield
            finally:
                stop.set()
                t.join()
                try:
                    os.unlink(path)
                except OSError:
                    pass

        return mark()

    def replaced(self) -> bool:
        """The file at the index's path is no longer the one this connection opened (someone
        deleted the index, or another process replaced a damaged one): reopen, never write on."""
        return self.db is not None and _inode(self.path) != self.ino

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None

    def destroy(self) -> None:
        """Delete the file (a corrupt or outdated index): the next refresh rebuilds it."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(self.path + suffix)
            except OSError:
                pass

    @property
    def c(self) -> sqlite3.Connection:
        assert self.db is not None, "index not open"
        return self.db

    def meta(self, key: str) -> str | None:
        row = self.c.execute("SELECT v FROM meta WHERE k=?", (key,)).fetchone()
        return row[0] if row else None

    def meta_json(self, key: str) -> Any:
        v = self.meta(key)
        return json.loads(v) if v else None

    def set_meta(self, key: str, value: Any) -> None:
        v = value if isinstance(value, str) or value is None else json.dumps(value)
        # in place: a REPLACE gives the row a new rowid (another page written on every write)
        self.c.execute("INSERT INTO meta(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v", (key, v))

    def usable(self, stamp: str) -> bool:
        """Built by this code (same schema and stamp) and complete."""
        try:
            got = dict(self.c.execute("SELECT k, v FROM meta WHERE k IN ('version', 'stamp', 'complete')"))
        except sqlite3.DatabaseError:
            return False
        return got.get("version") == INDEX_VERSION and got.get("stamp") == stamp and got.get("complete") == "1"

    def begin(self, wait: float | None = None) -> bool:
        """Take the write lock, polling every millisecond or two (SQLite's own busy handler sleeps up
        to 100 ms between tries, which several refreshing processes turn into long stalls), for up
        to ``wait`` seconds (the index's timeout, 60 s, by default). ``wait=0``: one try; False if
        another connection holds the lock."""
        c = self.c
        c.execute("PRAGMA busy_timeout=0")
        try:
            self._retry_busy(lambda: c.execute("BEGIN IMMEDIATE"), wait)
            return True
        except sqlite3.OperationalError as e:
            if wait == 0 and _busy(e):
                return False
            raise
        finally:
            c.execute(f"PRAGMA busy_timeout={self.timeout_ms}")

    def data_version(self) -> int:
        """Changes whenever another connection commits (SQLite's ``PRAGMA data_version``)."""
        return int(self.c.execute("PRAGMA data_version").fetchone()[0])

    def commit(self) -> None:
        self.c.execute("COMMIT")

    def rollback(self) -> None:
        try:
            self.c.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass

    # ------------------------------------------------------------------ freshness

    def check(self, *, allow_full: bool = True) -> Delta | None:
        """None when the stored signature still holds (nothing changed); otherwise the refs that
        changed since the index was last brought in step (possibly none). ``allow_full=False``:
        when ``packed-refs`` changed, return at once with ``needs_full`` set instead of parsing it
        (the caller takes the write lock first, so that one process does it, not all).

        The signature compared is the newer of the shared one (recorded in the index) and this
        process's own (``own``, set by ``remember`` after a check that found the index in step)."""
        taken = time.time_ns()
        sig = self.meta_json("sig")
        own = self.own
        if own is not None and int(own["sig"].get("taken", 0)) > int((sig or {}).get("taken", 0)) \
                and (own["packed"] or {}).get("stat") == (self.meta_json("packed") or {}).get("stat"):
            sig = own["sig"]
        else:
            own = None  # the shared one is newer, or saw a newer packed-refs (parsed by whoever packed)
        if sig and not sig.get("racy") and all(stat_of(self.common, rel) == st for rel, st in sig["stats"].items()):
            return None
        return self.scan(taken, allow_full=allow_full, own=own)

    def remember(self, d: Delta | None) -> None:
        """This process found the index in step with the refs as ``d`` saw them (an empty delta,
        or one it has just applied): its next check starts from there."""
        if d is not None and d.sig and not d.needs_full:
            self.own = {"sig": d.sig, "loose": d.loose, "packed": d.packed}

    def scan(self, taken: int | None = None, *, allow_full: bool = True,
             own: dict[str, Any] | None = None) -> Delta:
        """List the loose refs (and parse ``packed-refs`` only if it changed) and diff with the index.

        Order matters: the directory stats are taken first (a change after them shows up next time),
        and loose refs are listed *before* ``packed-refs`` is read: ``git pack-refs`` writes the new
        packed file before deleting the loose files, so a ref is always seen in one or the other."""
        taken = time.time_ns() if taken is None else taken
        old_sig = own["sig"] if own else (self.meta_json("sig") or {})
        rels = set(_BASE_DIRS) | set(old_sig.get("stats", {})) - {PACKED_REFS}
        stats = {rel: stat_of(self.common, rel) for rel in sorted(rels)}
        stats[PACKED_REFS] = stat_of(self.common, PACKED_REFS)
        if own:
            old_loose = own["loose"]
        else:
            old_loose = {r: [t, i, m, z]
                         for r, t, i, m, z in self.c.execute("SELECT ref, tip, ino, mtime, size FROM loose")}
        margin = COARSE_RACY_NS if old_sig.get("coarse") else RACY_NS
        reads = _READS[0]
        full, dirs = scan_loose(self.common, old_loose, int(old_sig.get("taken", 0)) - margin)
        loose = {r: v[0] for r, v in full.items()}
        for rel in dirs:  # directories met for the first time: record them for the next stat check
            if rel not in stats:
                stats[rel] = stat_of(self.common, rel)
        stats = {k: v for k, v in stats.items() if v != [None] or k in _BASE_DIRS or k == PACKED_REFS}
        d = Delta(loose=full)
        # files read because the recorded snapshot did not vouch for them: recording the new one
        # spares the next check that work (a writer folds its own refs in, so nothing else changes)
        d.read_loose = _READS[0] - reads
        stamps = [v[0] for v in stats.values()] + [v[2] for v in full.values()]
        d.sig = {"stats": stats, "racy": _racy(stamps, taken), "taken": taken,
                 "coarse": bool(stamps) and all(m % 1_000_000_000 == 0 for m in stamps if m is not None)}
        old_loose = {r: v[0] for r, v in old_loose.items()}
        old_packed = own["packed"] if own else self.meta_json("packed")
        cur_packed = stats[PACKED_REFS]
        if old_packed and old_packed.get("racy") and old_packed.get("stat") == cur_packed \
                and old_packed.get("crc") is not None and _packed_crc(self.common) == [cur_packed, old_packed["crc"]]:
            # recorded within a clock tick of its last rewrite: its stat alone proves nothing, but
            # the same bytes do (a checksum costs a few ms; parsing and comparing 100,000 lines, 60)
            old_packed = {**old_packed, "racy": _racy([cur_packed[0]], taken)}
        # a ref folded in from its loose file after the snapshot was taken (``note``) is in the
        # index but not in ``old_loose``: if it is gone now, only the full comparison finds out
        noted = {r for (r,) in self.c.execute("SELECT ref FROM noted WHERE at >= ?",
                                               (int(old_sig.get("taken", 0)) - margin,))}
        if (old_packed and old_packed.get("stat") == cur_packed and not old_packed.get("racy")
                and not ((old_loose.keys() | noted) - loose.keys())):
            # packed-refs is as it was: only loose refs can differ, and every one that was loose still is
            d.packed = old_packed
            # a noted ref's tip in the index need not be the snapshot's: it may be back at it now
            suspects = [r for r, t in loose.items() if old_loose.get(r) != t or r in noted]
            if suspects:
                have = self.tips(suspects)
                d.changed = {r: loose[r] for r in suspects if have.get(r) != loose[r]}
            return d
        if not allow_full:
            d.needs_full = True
            return d
        lines, pstat, crc = read_packed_lines(self.common, with_crc=True)
        d.packed = {"stat": pstat, "racy": _racy([pstat[0]], taken), "crc": crc}
        d.full = True
        # usually (after a pack) nothing changed: compare sets of "<tip> <ref>" lines, in C
        cur = set(lines)
        for r, t in loose.items():  # a loose ref overrides its packed line (found by bisection)
            i = bisect.bisect_left(lines, r, key=lambda x: x[41:])
            if i < len(lines) and lines[i][41:] == r:
                cur.discard(lines[i])
            cur.add(f"{t} {r}")
        have_lines = {x for (x,) in self.c.execute(f"SELECT {TIP_SQL} || ' ' || ref FROM refs")}
        if cur == have_lines:
            return d
        current = {**{x[41:]: x[:40] for x in lines}, **loose}
        have = {r: tip_text(t) for r, t in self.c.execute("SELECT ref, tip FROM refs")}
        d.changed = {r: t for r, t in current.items() if have.get(r) != t}
        d.removed = set(have) - set(current)
        return d

    def entity_tips(self) -> dict[str, str]:
        """The tip of every issue and gate ref as last folded (unreadable ones included)."""
        return {r: tip_text(t) for r, t in self.c.execute("SELECT ref, tip FROM refs")}

    def tips(self, refs: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for chunk in _chunks(list(refs)):
            q = f"SELECT ref, tip FROM refs WHERE ref IN ({','.join('?' * len(chunk))})"
            out.update((r, tip_text(t)) for r, t in self.c.execute(q, chunk))
        return out

    def record_snapshot(self, d: Delta) -> None:
        """Remember the signature and loose refs the index now matches (inside a write transaction)."""
        self.set_meta("sig", d.sig)
        self.set_meta("packed", d.packed)
        self.c.execute("DELETE FROM loose")
        self.c.executemany("INSERT INTO loose(ref, tip, ino, mtime, size) VALUES(?, ?, ?, ?, ?)",
                           [(r, *v) for r, v in sorted(d.loose.items())])
        if d.full:  # every ref was compared with packed-refs and the loose files just now
            self.c.execute("DELETE FROM noted")
        elif d.sig:
            # every later check starts from this snapshot or a newer one (``check``), and this
            # listing came after these notes: it holds their refs as the index does
            margin = COARSE_RACY_NS if d.sig.get("coarse") else RACY_NS
            self.c.execute("DELETE FROM noted WHERE at < ?", (int(d.sig.get("taken", 0)) - margin,))

    def note(self, refs: Iterable[str]) -> None:
        """``refs`` were folded in from their loose files outside a scan (inside a write
        transaction): until the next full comparison, a scan that no longer finds one of them loose
        compares everything (it was deleted, or packed) instead of trusting the snapshot, and one
        still loose is compared with the index's tip. Only notes made after the snapshot a check
        starts from count: a listing taken after a note holds that ref as the index does."""
        at = time.time_ns()
        self.c.executemany("INSERT OR REPLACE INTO noted(ref, at) VALUES(?, ?)", [(r, at) for r in refs])

    # ------------------------------------------------------------------ reads used by both paths

    def warnings(self) -> list[str]:
        rows = self.c.execute("SELECT ref, warning FROM refs INDEXED BY refs_kind WHERE kind<>'issue' AND kind='bad'").fetchall()
        return [w for _, w in sorted(rows) if w is not None]

    def count(self) -> int:
        return int(self.c.execute("SELECT count(*) FROM issues WHERE deleted=0").fetchone()[0])

    def resolve(self, prefix: str, *, include_deleted: bool = False) -> list[str]:
        """Ids starting with ``prefix`` (sorted); exact match first if there is one."""
        p = prefix.lower()
        cond = "" if include_deleted else " AND deleted=0"
        row = self.c.execute(f"SELECT id FROM issues WHERE id=?{cond}", (p,)).fetchone()
        if row:
            return [row[0]]
        # ids are lowercase hex: every id with this prefix sorts in [p, p + U+10FFFF)
        return [i for (i,) in self.c.execute(
            f"SELECT id FROM issues WHERE id>=? AND id<?{cond} ORDER BY id", (p, p + "\U0010ffff"))]

    def exists(self, iid: str, *, include_deleted: bool) -> bool:
        cond = "" if include_deleted else " AND deleted=0"
        return self.c.execute(f"SELECT 1 FROM issues WHERE id=?{cond}", (iid,)).fetchone() is not None

    def docs(self, ids: list[str]) -> list[str]:
        """The stored ``issue show --json`` text of each id, in the order given."""
        # (the rows are counted in the narrow issues table, one row per document: ~1 ms at 100,000;
        # docs' max(rowid) drifts up with every INSERT OR REPLACE)
        if len(ids) >= DOCS_PASS_FROM and len(ids) * 3 >= self.c.execute("SELECT count(*) FROM issues").fetchone()[0]:
            # most of the table (``issue list`` of everything): one pass in table order reads the
            # pages once; a lookup per id cost four times as much (0.43 s against 0.10 at 100,000)
            blobs = {i: (n, b) for i, n, b in self.c.execute("SELECT id, dlen, body FROM docs")}
            return self._retry(lambda: self._unpack_all(map(blobs.__getitem__, ids)))
        got: dict[str, str] = {}
        for chunk in _chunks(ids):
            q = f"SELECT id, dlen, body FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            got.update((i, self.body_doc(n, b) or "") for i, n, b in self.c.execute(q, chunk))
        return [got[i] for i in ids]

    def _unpack_all(self, rows: Iterable[tuple[int | None, bytes]]) -> list[str]:
        """``body_doc`` of many: one dictionary, copied per document (``Decompress.copy`` is cheaper
        than setting a dictionary up again)."""
        zdict = self._zdict(True)
        zid = _dict_id(zdict)
        proto = zlib.decompressobj(-14, zdict)
        out = []
        for n, blob in rows:
            if blob[:4] != zid:
                raise zlib.error("a body compressed against other samples")
            out.append(proto.copy().decompress(memoryview(blob)[4:], n).decode("utf-8") if n else "")
        return out

    def ordered(self, where: str = "", params: tuple[Any, ...] = ()) -> list[str]:
        """Ids of non-deleted issues matching ``where``, in ready order: priority, age, id."""
        q = "SELECT id FROM issues WHERE deleted=0" + (f" AND {where}" if where else "") \
            + " ORDER BY prank, created_at, id"
        return [i for (i,) in self.c.execute(q, params)]

    def ready_ids(self, limit: int = -1, offset: int = 0) -> list[str]:
        return [i for (i,) in self.c.execute(
            "SELECT id FROM issues INDEXED BY issues_ready WHERE eff='ready' AND assignee IS NULL AND deleted=0 "
            "ORDER BY prank, created_at, id LIMIT ? OFFSET ?", (limit, offset))]

    def ready_tips(self, limit: int = -1, offset: int = 0) -> list[tuple[str, str]]:
        """``ready_ids`` with the tip each issue was read from."""
        return [(i, tip_text(t)) for i, t in self.c.execute(
            "SELECT id, tip FROM issues INDEXED BY issues_ready WHERE eff='ready' AND assignee IS NULL AND deleted=0 "
            "ORDER BY prank, created_at, id LIMIT ? OFFSET ?", (limit, offset))]

    def blocked_ids(self) -> list[str]:
        return [i for (i,) in self.c.execute(
            "SELECT id FROM issues INDEXED BY issues_blocked WHERE blocked=1 AND deleted=0 "
            "ORDER BY prank, created_at, id")]

    def select_ids(self, state: str | None = None, assignee: str | None = None, priority: str | None = None,
                   labels: Iterable[str] = ()) -> list[str]:
        """Ids of non-deleted issues in ready order with this effective state, assignee and priority
        (None: any), whose labels match every one of ``labels`` (``fnmatch`` patterns, ``ns:*``):
        ``jit issue list``."""
        conds, params = [], []
        for col, v in (("eff", state), ("assignee", assignee), ("priority", priority)):
            if v is not None:
                conds.append(col + "=?")
                params.append(v)
        ids = self.ordered(" AND ".join(conds), tuple(params))
        pats = list(labels)
        if not pats:
            return ids
        from fnmatch import fnmatchcase

        labs = self.rows(ids, "labels")
        return [i for i in ids if all(any(fnmatchcase(lab, p) for lab in json.loads(labs[i][0])) for p in pats)]

    def search_ids(self, text: str) -> list[str]:
        """Ids of non-deleted issues in ready order whose title, description or a label contains
        ``text`` or whose id starts with it, case-insensitively (``jit issue search``; the same
        test as ``Board.search``). One scan of the stored JSON (the part of each stream before
        the state): each is inflated and the text looked for in it, lowercased, and only a JSON
        that contains it is parsed and its fields tested (``search_hit``; at 100,000 issues ~0.4
        s for a text found in few; a table of the lowercased fields answered in ~50 ms but took a
        fifth of the index). A text that JSON writes escaped (a quote, a backslash, a control
        character) or whose lowercasing depends on its neighbours (sigma) cannot be looked for in
        the JSON text: then every JSON is parsed."""
        return self._retry(lambda: self._search(text))

    def _search(self, text: str) -> list[str]:
        t = text.lower()
        quick = search_quick(t)
        zdict = self._zdict(True)
        zid = _dict_id(zdict)
        proto = zlib.decompressobj(-14, zdict)
        hits = []
        for iid, n, body in self.c.execute(
                "SELECT d.id, d.dlen, d.body FROM docs d CROSS JOIN issues i ON i.id=d.id WHERE i.deleted=0"):
            if iid.startswith(t):
                hits.append(iid)
                continue
            # the issue's JSON holds its title, description and labels as its state does, and is
            # half the stream: only it is inflated
            if n is None or body[:4] != zid:
                doc = self.body_raw(n, body)[n or 0:] if n is None else self.body_raw(n, body)[:n]
            else:
                doc = proto.copy().decompress(memoryview(body)[4:], n)
            if search_hit(t, doc, quick):
                hits.append(iid)
        keys = self.rows(hits, "prank, created_at")
        return sorted(hits, key=lambda i: (keys[i][0], keys[i][1], i))

    def query_ids(self, kind: str, value: str | None = None) -> list[str] | None:
        """The ids ``jit query KIND`` lists; None for a kind (or value) this layer does not answer."""
        if kind == "ready":
            return self.ready_ids()
        if kind == "blocked":
            return self.blocked_ids()
        if kind == "all":
            return self.ordered()
        if kind == "assignee" and value is not None:  # the agent's current work, not its finished issues
            return self.ordered("assignee=? AND base NOT IN ('done', 'rejected', 'archived')", (value,))
        if kind == "state" and value is not None:
            return self.ordered("eff=?", (value,))
        if kind == "priority" and value is not None:
            return self.ordered("priority=?", (value,))
        return None

    def status(self, recent: int = 5) -> dict[str, Any]:
        """``jit status`` from the stored columns (same shape and order as ``Board.status``)."""
        c = self.c
        counts = {s: 0 for s in ("open", "ready", "in_progress", "done", "rejected", "archived")}
        total = 0
        # a deleted issue's eff is NULL, every other one's is set. (An index of ``eff`` alone
        # counted ~1 ms faster at 100,000 issues, and took 2.3 MB.)
        for eff, n in c.execute("SELECT eff, count(*) FROM issues INDEXED BY issues_eff WHERE eff IS NOT NULL "
                                "GROUP BY eff"):
            counts[eff] = counts.get(eff, 0) + n
            total += n
        blocked = c.execute("SELECT count(*) FROM issues INDEXED BY issues_blocked WHERE blocked=1 AND deleted=0"
                            ).fetchone()[0]
        # a done issue always has completed_at, so "completed_at DESC" (NULLs last) orders like
        # Board.status's (completed_at or "", id) descending, and can use the partial index
        done = [{"id": i, "title": t, "completed_at": None if ca is None else ts_text(ca)} for i, t, ca in c.execute(
            "SELECT id, title, completed_at FROM issues INDEXED BY issues_done WHERE base='done' AND deleted=0 "
            "ORDER BY completed_at DESC, id DESC LIMIT ?", (recent,))]
        holders: dict[str, list[dict[str, str]]] = {}
        for i, t, eff, since, who in c.execute(
                "SELECT id, title, eff, claimed_at, assignee FROM issues INDEXED BY issues_holders "
                "WHERE assignee IS NOT NULL AND deleted=0 "
                "AND base NOT IN ('done', 'rejected') ORDER BY prank, created_at, id"):
            if who:
                holders.setdefault(who, []).append({"id": i, "title": t, "state": eff,
                                                    "since": "" if since is None else ts_text(since)})
        parked = [{"id": i, "title": t, **json.loads(pj)} for i, t, pj in c.execute(
            "SELECT id, title, parked FROM issues INDEXED BY issues_parked WHERE parked IS NOT NULL AND deleted=0 "
            "ORDER BY prank, created_at, id")]
        conflicts: list[dict[str, Any]] = []
        # deleted issues too: an edit that raced the delete is reported there (docs/merge.md)
        for i, cj in c.execute("SELECT id, conflicts FROM issues WHERE conflicts IS NOT NULL ORDER BY id"):
            conflicts += [{"issue_id": i, **x} for x in json.loads(cj)]
        conflicts += self.meta_json("broken_conflicts") or []
        return {**counts, "blocked": blocked, "total": total, "recent_completions": done,
                "assignments": holders, "parked": parked, "conflicts": conflicts}

    def events(self, *, event_type: str | None = None, issue_id: str | None = None, since: str | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Events as ``jit events`` prints them, oldest first; with ``limit`` the newest ``limit`` of
        those matching. The order is ``Tracker.all_events``': (timestamp, clock, id)."""
        if limit == 0:
            return []
        c = self.c
        conds, params = [], []
        if event_type:
            row = c.execute("SELECT code FROM evtypes WHERE type=?", (event_type,)).fetchone()
            if row is None:
                return []
            conds.append("type=?")
            params.append(row[0])
        # timestamps not in the canonical form are stored as text, which sorts apart from the
        # rest: with any of them (never written by gitjit), every row is sorted in Python
        exact = c.execute("SELECT 1 FROM events WHERE ts >= '' LIMIT 1").fetchone() is None
        since_key = ts_key(since) if since else None
        if since and not isinstance(since_key, int):
            exact = False
        if since and exact:
            conds.append("ts>=?")
            params.append(since_key)
        cols = "SELECT ts, clock, rno, seq FROM events"
        docs: dict[int, list[dict[str, Any]]] = {}
        names: dict[int, str] = {}
        if issue_id:
            # the rare events elsewhere naming the issue, and its own ref's (``iss`` NULL): read
            # from their documents, which give each one's row
            rows = c.execute(f"{cols} WHERE {' AND '.join(['iss=?', *conds])}", [issue_id, *params]).fetchall()
            own = c.execute("SELECT rno FROM refs WHERE ref=?", (ISSUES + issue_id,)).fetchone()
            if own:
                rno = own[0]
                names[rno], docs[rno] = self.ref_events([rno]).get(rno, (ISSUES + issue_id, []))
                for seq, d in enumerate(docs[rno]):
                    if d.get("issue_id") != issue_id or (event_type and d.get("type") != event_type):
                        continue
                    ts = ts_key(d["timestamp"])
                    if since and exact and not (isinstance(ts, int) and ts >= since_key):  # type: ignore[operator]
                        continue
                    rows.append((ts, d["clock"], rno, seq))
        else:
            where = (" WHERE " + " AND ".join(conds)) if conds else ""
            if limit is None or not exact:
                rows = c.execute(f"{cols}{where}", params).fetchall()
            else:
                rows = c.execute(f"{cols}{where} ORDER BY ts DESC, clock DESC LIMIT ?", [*params, limit]).fetchall()
                if len(rows) == limit:
                    # ties on (time, clock) end on the event's id and the ref's name: every event
                    # at the oldest (time, clock) taken is sorted with the rest
                    ts, clock = rows[-1][0], rows[-1][1]
                    rows += c.execute(f"{cols} WHERE {' AND '.join(['ts=? AND clock=?', *conds])}",
                                      [ts, clock, *params]).fetchall()
        for rno, (ref, evs) in self.ref_events({r[2] for r in rows} - docs.keys()).items():
            names[rno], docs[rno] = ref, evs
        if exact:
            keyed = sorted({(ts, clock, docs[rno][seq]["id"], names[rno], seq, rno) for ts, clock, rno, seq in rows})
        else:
            keyed = sorted({(ts_text(ts), clock, docs[rno][seq]["id"], names[rno], seq, rno)
                            for ts, clock, rno, seq in rows})
            if since:
                keyed = [k for k in keyed if k[0] >= since]
        if limit is not None:
            keyed = keyed[-limit:]
        return [docs[k[5]][k[4]] for k in keyed]

    def ref_events(self, rnos: Iterable[int]) -> dict[int, tuple[str, list[dict[str, Any]]]]:
        """The name and the events (as ``jit events`` prints them, in the log's order) of each ref
        numbered in ``rnos``. An issue ref's events are compressed against its issue's state."""
        out: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        for chunk in _chunks(sorted(set(rnos))):
            q = ("SELECT r.rno, r.ref, b.events, d.dlen, d.body FROM refs r LEFT JOIN evblobs b ON b.rno=r.rno "
                 f"LEFT JOIN docs d ON r.kind='issue' AND d.id=r.key WHERE r.rno IN ({','.join('?' * len(chunk))})")
            for rno, ref, blob, dlen, body in self.c.execute(q, chunk):
                state = self.body_state(dlen, body) if body is not None else None
                out[rno] = (ref, [] if blob is None else json.loads(unpack(blob, state)))
        return out

    def stats(self) -> dict[str, Any]:
        c = self.c
        kinds = dict(c.execute("SELECT kind, count(*) FROM refs GROUP BY kind").fetchall())
        size = sum(os.path.getsize(self.path + s) for s in ("", "-wal") if os.path.exists(self.path + s))
        return {
            "path": self.path, "bytes": size,
            "issues": c.execute("SELECT count(*) FROM issues").fetchone()[0],
            "deleted": c.execute("SELECT count(*) FROM issues WHERE deleted=1").fetchone()[0],
            "gates": kinds.get("gate", 0), "bad_refs": kinds.get("bad", 0),
            "events": c.execute("SELECT count(*) FROM events").fetchone()[0],
            "edges": c.execute("SELECT count(*) FROM edges").fetchone()[0],
            "loose_refs": c.execute("SELECT count(*) FROM loose").fetchone()[0],
            "broken_edges": len(self.meta_json("broken") or []),
            "last_refresh": self.meta_json("last_refresh"),
            "built_at": self.meta("built_at"),
        }

    # ------------------------------------------------------------------ graph reads (full path helpers)

    def deps(self, ids: Iterable[str]) -> dict[str, list[tuple[str, str | bytes]]]:
        """Raw dependency edges ``src -> [(dst, key)]`` in the issue's own order (keys as stored: ``edge_text`` gives the text)."""
        out: dict[str, list[tuple[str, str | bytes]]] = {}
        for chunk in _chunks(list(ids)):
            q = f"SELECT src, dst, key FROM edges WHERE src IN ({','.join('?' * len(chunk))}) ORDER BY src, pos"
            for s, d, k in self.c.execute(q, chunk):
                out.setdefault(s, []).append((d, k))
        return out

    def dependents(self, ids: Iterable[str]) -> dict[str, list[str]]:
        """Raw reverse edges ``dst -> [src]`` (sources in id order)."""
        out: dict[str, list[str]] = {}
        for chunk in _chunks(list(ids)):
            q = f"SELECT dst, src FROM edges WHERE dst IN ({','.join('?' * len(chunk))}) ORDER BY dst, src"
            for d, s in self.c.execute(q, chunk):
                lst = out.setdefault(d, [])
                if not lst or lst[-1] != s:
                    lst.append(s)
        return out

    def rows(self, ids: Iterable[str], cols: str) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(list(ids)):
            q = f"SELECT id, {cols} FROM issues WHERE id IN ({','.join('?' * len(chunk))})"
            for row in self.c.execute(q, chunk):
                out[row[0]] = row[1:]
        return out

    def iter_rows(self, cols: str, where: str = "", params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        q = f"SELECT id, {cols} FROM issues" + (f" WHERE {where}" if where else "") + " ORDER BY id"
        return iter(self.c.execute(q, params))


def _chunks(items: list[Any], n: int = _CHUNK) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# ---------------------------------------------------------------------------------- reading only

class NotFresh(Exception):
    """The index cannot answer exactly now: missing, from another version, busy, or the refs moved
    since it was last brought in step. The caller folds the refs (the Tracker) instead."""


def open_for_reading(common: str) -> Index:
    """The index of the repository whose common directory is ``common``, checked to be in step with
    the refs, inside one read transaction (every query sees one state of it); ``end_reading`` ends
    it. Raises ``NotFresh`` when it cannot be used so. Needs neither pygit2 nor the fold."""
    ix = Index(common)
    try:
        if not ix.open(timeout=0.2):
            raise NotFresh("no index, or busy")
        if not ix.usable(code_stamp()):
            raise NotFresh("an index of another version")
        seen = ix.data_version()
        delta = ix.check()
        if delta is not None:
            if not delta.empty:
                raise NotFresh("the refs moved")
            _record_unchanged(ix, delta, seen)
        # a writer that commits meanwhile has brought the index in step with refs at least as new
        ix.c.execute("BEGIN")
        return ix
    except sqlite3.Error as e:
        end_reading(ix)
        raise NotFresh(f"{type(e).__name__}: {e}") from e
    except BaseException:
        end_reading(ix)
        raise


def end_reading(ix: Index) -> None:
    if ix.db is not None:
        try:
            ix.rollback()
        except sqlite3.Error:
            pass
        ix.close()


def _record_unchanged(ix: Index, delta: Delta, seen: int) -> None:
    """Nothing changed but the stat signature: remember the new one if it can be trusted later
    (best effort: never wait for a writer, which will record one itself)."""
    if delta.sig.get("racy"):
        return
    try:
        if not ix.begin(wait=0):
            return
    except sqlite3.Error:
        return
    try:
        d2 = ix.check() if ix.data_version() != seen else delta
        if d2 is not None:
            if not d2.empty:
                ix.rollback()
                raise NotFresh("the refs moved")
            ix.record_snapshot(d2)
        ix.commit()
    except sqlite3.Error:
        ix.rollback()
