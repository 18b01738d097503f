"""The tracker on top of the index: keep it in step with the refs, and answer from it.

``gitjit.store.index`` stores and checks; this module folds what changed into it and offers
``IndexBoard``, a ``Board`` whose issues, states and graph are read from the index on demand,
so that a command on a 100,000-issue repository touches the rows it needs instead of folding
every ref:

* ``Indexer.refresh()`` runs at the start of every command (``Tracker.board()``): a stat check,
  and if something changed, the changed refs are folded (``EntityStore.events_at``, cached per
  commit) and written, and the effective state and JSON of every issue that can see the change
  are recomputed: the changed issues, their direct dependents (whose readiness depends on them)
  and the dependents of those (whose JSON shows their dependencies' states).
* Those recomputations, and every write, use a *local* board: the real ``Board`` over the issue,
  two levels of its dependencies and its direct dependents with theirs. That is exactly what the
  effective state and the blocked reasons of those issues depend on, so the answers are the
  ones a board of all issues would give, at a cost that does not grow with the repository.
* Dependency cycles can only appear by merging two clones' edges. ``Graph.build`` breaks them
  deterministically over the whole graph; the index keeps that set of broken edges and
  recomputes it over all edges (cheap columns, no fold) only when an added edge closes a cycle,
  or when some edges are already broken and the graph changes.

The index is never the source of truth: anything that goes wrong with it (missing, corrupt,
from another version, locked) costs a rebuild or a fallback to folding every ref.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from ..core import jsontext
from ..core.board import Board, event_json, issue_json
from ..core.errors import ValidationError
from ..core.graph import BrokenEdge, Graph
from ..core.model import TERMINAL_STATES, GateDef, IssueState, compact_json, now_ts, utc_ts
from ..git.files import HEX40 as _HEX40
from ..git.files import PACKED_REFS, loose_tip, packed_refs_locked, stat_of
from .index import (
    COARSE_RACY_NS,
    GATES,
    INDEX_VERSION,
    ISSUES,
    PRIORITY_RANK,
    RACY_NS,
    Delta,
    Index,
    code_stamp,
    corrupt,
    edge_key,
    edge_text,
    pack,
    tip_key,
    ts_key,
    ts_text,
)
from .indexboard import IndexBoard, StaleView

if TYPE_CHECKING:  # the reads of the hot path import this module: not one module more for them
    from ..core.progress import Progress

__all__ = ["PACK_THRESHOLD", "IndexBoard", "Indexer", "ReadModel", "StaleView", "pack_threshold"]

#: loose refs under refs/jit/ beyond which a refresh packs them (``git pack-refs --all``)
PACK_THRESHOLD = 200
#: ... and at most this many: the threshold grows with ``packed-refs`` (one loose ref per this many
#: bytes of it), because every pack makes each process re-read a bigger file (docs/index.md)
PACK_MAX = 400
PACK_BYTES_PER_LOOSE = 10_000
#: an empty delta whose scan had to open this many loose ref files is recorded in the shared
#: snapshot even when racy (a lock is never waited for): the next process's check reads fewer
SNAPSHOT_READS = 32
#: a claim works around at most this many refs that moved and are not folded in yet (``claim_board``)
UNNOTED_MAX = 64
#: above this share of all issues, a refresh recomputes everything instead of local boards
_FULL_SHARE = 0.5
#: a fold of this many refs marks itself as a long write (``Index.long_write``): waiters wait for it
LONG_WRITE_REFS = 1000
#: a fold of more refs than this does not leave their parsed logs in the store's cache
KEEP_PARSED = 256
#: a rebuild writes issues' rows and events this many refs at a time (its peak memory)
WRITE_CHUNK = 5000
#: seconds after giving up on the index (``Indexer.give_up``) before a process tries it again
INDEX_RETRY_S = 60.0
_STAMP: str | None = None


def pack_threshold(delta: Delta) -> int:
    """How many loose refs justify ``git pack-refs``. Each check stats every loose ref (a few µs
    each, in every process), and each pack makes every process parse or checksum the new
    ``packed-refs`` (and libgit2 reload it): the larger that file, the rarer packs should be.
    ``PACK_THRESHOLD`` (200) up to about 30,000 refs, then one per 10 KB of ``packed-refs`` (about
    150 refs), at most ``PACK_MAX`` (400, reached at about 60,000). Measured with 8 claimers at
    100,000 issues: 200 packs too often, 700 makes every check list too many loose refs."""
    st = (delta.sig.get("stats") or {}).get(PACKED_REFS) or [None]
    size = st[2] if len(st) > 2 and st[2] else 0
    return max(PACK_THRESHOLD, min(PACK_MAX, size // PACK_BYTES_PER_LOOSE))


def _stamp() -> str:
    global _STAMP
    if _STAMP is None:
        _STAMP = code_stamp()
    return _STAMP


def _dump(obj: Any) -> str:
    return jsontext.dumps(obj)


# ---------------------------------------------------------------------------------- entry points

class ReadModel:
    """The index as one repository's reader and writer sees it (``Tracker.index``): the
    ``Indexer`` opened on first use, and what this process wrote and has not folded in yet.

    Every method answers None (or False) when the index is switched off (``enabled``) or cannot be
    used here; the caller then folds the refs itself. It takes the git layer and the entity store,
    never the application above it."""

    def __init__(self, git: Any, store: Any, *, enabled: bool = True,
                 on_wait: Callable[[str], None] | None = None) -> None:
        self.git = git
        self.store = store
        self.enabled = enabled
        #: told when this process waits for another's long write to the index (``Index.on_wait``)
        self.on_wait = on_wait
        self._indexer: Indexer | None = None
        #: ``(ref, tip)`` of the write this process made last and folded in (``written_json``)
        self.written: tuple[str, str] | None = None
        #: this process's writes not folded in yet (the index's lock was busy)
        self.unnoted: dict[str, str] = {}
        #: a long-lived process that calls ``settle`` between requests (``jit mcp``): see
        #: ``Indexer.defer_record``
        self.defer_record = False

    def indexer(self) -> Indexer | None:
        """The indexer, or None when the index is switched off or cannot be used here."""
        if not self.enabled:
            return None
        ix = self._indexer
        if ix is None:
            ix = self._indexer = Indexer(self.git, self.store, on_wait=self.on_wait)
            ix.defer_record = self.defer_record
        if ix.disabled and time.monotonic() >= ix.retry_at:
            # a long-lived process (the dispatcher, an agent's session) tries the index again later:
            # what made it give up (a lock held for long, a full disk) usually passes, and folding
            # every ref on each call costs ~40 s and ~1 GB at 100,000 issues
            ix.disabled = False
        return None if ix.disabled else ix

    def refreshed(self) -> tuple[Indexer, str | None] | None:
        """The indexer brought in step with the refs, and the index's generation (any process that
        changes the index bumps it); None when the index is not in use."""
        ix = self.indexer()
        if ix is None:
            return None
        try:
            ix.refresh()
            return ix, ix.ix.meta("gen")
        except (sqlite3.Error, OSError) as e:
            ix.give_up(e)
            return None

    def settle_due(self) -> int | None:
        """When (``time.time_ns``) ``settle`` has work worth doing, or None (see ``Indexer.settle_due``)."""
        ix = self._indexer
        if ix is None or ix.disabled or ix.ix.db is None:
            return None
        return ix.settle_due()

    def settle(self) -> None:
        """Between requests: bring the index in step and record its snapshot (``Indexer.settle``)."""
        ix = self._indexer
        if ix is None or ix.disabled or ix.ix.db is None:
            return
        try:
            ix.settle()
        except (sqlite3.Error, OSError) as e:
            ix.give_up(e)

    def board(self, *, fresh: bool = False) -> IndexBoard | None:
        got = self.refreshed()
        if got is None:
            return None
        ix, gen = got
        # a board (and its cache of folded states) is reused only while nobody changed anything
        if ix.board is None or fresh or ix.board.gen != gen:
            ix._gatedefs = None
            ix.board = IndexBoard(ix)
            ix.board.gen = gen
        ix.board.lazy = False
        return ix.board

    def claim_board(self) -> IndexBoard | None:
        """The board a local claim works from: the index as last folded, checked only where the claim
        looks, and never waiting for anyone.

        A claim reads its own issue under the ref's lock, so what it needs from the index is the rest:
        ids, the ready order and the states of the issues around its own. Other processes' writes
        (typically claims landed a moment before their writers fold them in with ``note_write``) are
        not looked for up front: listing every loose ref, and folding what moved under the index's
        write lock, cost more than the claim itself when several processes claim at once. Instead
        ``IndexBoard.local`` checks the refs of the claim's own neighbourhood (its dependencies, their
        dependencies, its dependents, the gate definitions they name) against the tips the index read,
        and raises ``StaleView`` if any moved (the caller then refreshes fully); ``claim_next`` passes
        over candidates whose ref moved or is locked; and ``NoWorkError`` is only ever raised from a
        fully fresh board (a lazy board always counts as having passed something over)."""
        ix = self.indexer()
        if ix is None:
            return None
        try:
            ix._reopen_if_replaced()
            if ix.ix.db is None:
                ix._open()
            gen = ix.ix.meta("gen")
            if ix.board is None or ix.board.gen != gen:
                if not ix.ix.usable(_stamp()):
                    return self.board()
                ix._gatedefs = None
                ix.board = IndexBoard(ix)
                ix.board.gen = gen
        except (sqlite3.Error, OSError) as e:
            ix.give_up(e)
            return None
        ix.board.lazy = True
        ix.board._checked = set()
        return ix.board

    def events(self, **kw: Any) -> list[dict[str, Any]] | None:
        ix = self.indexer()
        if ix is None:
            return None
        try:
            ix.refresh()
            return ix.ix.events(**kw)
        except (sqlite3.Error, OSError) as e:
            ix.give_up(e)
            return None

    def gatedefs(self) -> dict[str, GateDef] | None:
        """Every gate definition (removed ones too) from the index brought in step with the refs; None
        when the index is not in use. ``jit registry list`` without it lists every ref (0.4 s at 100,000
        issues with their tracking refs) to find the few gate refs."""
        b = self.board()
        return None if b is None else dict(b._gates_all)

    def tips(self, *, since: str | None = None) -> tuple[str | None, dict[str, str] | None] | None:
        """``(generation, tips)``: every issue and gate ref's tip from the index, brought in step
        first; ``tips`` is None when the index's generation is still ``since`` (nothing changed: a
        stat of the ref folders, not a listing of every ref). None when the index is not in use.
        The generation is read before the tips, so it never claims tips newer than it saw."""
        got = self.refreshed()
        if got is None:
            return None
        ix, gen = got
        if since is not None and gen == since:
            return gen, None
        try:
            return gen, ix.ix.entity_tips()
        except (sqlite3.Error, OSError) as e:
            ix.give_up(e)
            return None

    def note_write(self, ref: str, tip: str) -> bool:
        """Fold this process's own write of ``ref`` (now at ``tip``) into the index at once, with the
        events it already holds, so that the next command of any process does not have to find and
        read it, and the writer can answer from the index without a refresh (``written_json``).

        Only the issue's rows (and those of the issues whose state or JSON shows it) change; the
        freshness signature does not, so the next check still lists the loose refs and finds
        everything anyone else changed. It is applied only while the ref still points at ``tip``
        (read from the ref file under the index's write lock): an older write must never overwrite
        a newer one that another process has already recorded.

        Best effort, and never waited for: if another process holds the index's write lock, the
        write is remembered and folded in by this process's next ``note_write`` that gets the lock
        (or by anyone's next refresh, which finds the moved ref). Waiting here made every writer
        queue behind the one that held the lock, and on a busy machine that one is often not even
        running; the caller then answers from its own fold (``Tracker._shown``)."""
        self.written = None
        ix = self.indexer()
        if ix is None or ix.ix.db is None:
            return False
        unnoted = self.unnoted
        if len(unnoted) >= UNNOTED_MAX:
            unnoted.clear()  # long without the lock: leave the older ones to the next refresh
        unnoted[ref] = tip

        def delta() -> Delta:
            have = ix.ix.tips(list(unnoted))
            d = Delta()
            d.changed = {r: t for r, t in unnoted.items() if have.get(r) != t and loose_tip(ix.ix.common, r) == t}
            return d

        ok = _fold_under_lock(ix, delta, wait=0)
        if ok is None:
            unnoted.clear()  # the index is unusable in this process
        if not ok:
            return False
        unnoted.clear()
        self.written = (ref, tip)
        return True

    def fold_moved(self, refs: Iterable[str]) -> bool:
        """Fold the refs a claim found moved (``StaleView.refs``) into the index, as they are now: a
        refresh of a claim's neighbourhood instead of every ref. Their tips are read under the index's
        write lock, so nothing older than what another writer has recorded is ever recorded over it
        (as in ``note_write``); the freshness signature is left alone, so the next full check still
        finds everything else. False if the index was busy for long or is unusable."""
        ix = self.indexer()
        if ix is None or ix.ix.db is None:
            return False
        refs = sorted(set(refs))

        def delta() -> Delta:
            have = ix.ix.tips(refs)
            d = Delta()
            for r in refs:
                now = ix.current_tip(r)
                if now is None:
                    if r in have:
                        d.removed.add(r)
                elif have.get(r) != now:
                    d.changed[r] = now
            return d

        return bool(_fold_under_lock(ix, delta, wait=2.0))

    def written_json(self, iid: str) -> dict[str, Any] | None:
        """The stored JSON of ``iid`` if the index holds the write this process just made to it."""
        w = self.written
        ix = self.indexer()
        if ix is None or ix.ix.db is None or w is None or w[0] != ISSUES + iid:
            return None
        try:
            if ix.ix.tips([w[0]]).get(w[0]) != w[1]:
                return None
            docs = ix.ix.docs([iid])
        except (sqlite3.Error, KeyError):
            return None
        return json.loads(docs[0]) if docs else None


def _fold_under_lock(ix: Indexer, delta: Callable[[], Delta], *, wait: float) -> bool | None:
    """Take the index's write lock (for up to ``wait`` seconds), work out ``delta`` under it and
    apply it, leaving the freshness signature alone. True when done, False when the lock was
    busy, None when the index turned out unusable (this process then folds the refs instead)."""
    try:
        if not ix.ix.begin(wait=wait):
            return False
        try:
            d = delta()
            if d.changed or d.removed:
                ix._apply(d)
                ix.ix.note(d.changed)  # read from loose files, outside any snapshot (``Index.scan``)
            ix.ix.commit()
        except BaseException:
            ix.ix.rollback()
            raise
    except sqlite3.OperationalError:
        return False  # locked by another process meanwhile, or for longer than ``wait``
    except sqlite3.DatabaseError as e:
        ix.give_up(e)
        return None
    return True


# ---------------------------------------------------------------------------------- the indexer

class Indexer:
    def __init__(self, git: Any, store: Any, *, on_wait: Callable[[str], None] | None = None,
                 index: Index | None = None):
        """``index``: an index opened by the caller, read only (the index reader, gitjit/app/reader.py):
        such an indexer never brings it in step, so it needs neither ``git`` nor ``store``."""
        self.git = git
        self.store = store
        self.ix = index if index is not None else Index(git.common_dir, on_wait=on_wait)
        #: candidates ``IndexBoard.claimable`` found moved, by ref, with the tip they moved from
        self.moved_seen: dict[str, str] = {}
        self.board: IndexBoard | None = None
        self.disabled = False
        self.retry_at = 0.0  # after ``give_up``: when ``indexer_for`` tries the index again
        self._packing = False
        self._pack_again_at = 0.0
        self.last: dict[str, Any] = {}
        self._gatedefs: dict[str, GateDef] | None = None
        #: ``broken()`` as read for the current board's generation (each local board asks for it)
        self._broken: tuple[str | None, list[BrokenEdge]] | None = None
        self._applying = False
        #: during ``_apply``: each changed ref's number, and each folded issue's state text
        self._rno: dict[str, int] = {}
        self._stext: dict[str, str] = {}
        self._types: dict[str, int] = {}
        #: set by a long-lived process that calls ``settle`` between requests (``jit mcp``): a
        #: refresh that finds nothing changed then only remembers the listing (``Index.own``),
        #: without taking the index's write lock to record it as the shared snapshot in the middle
        #: of a request (~0.8 ms at 100 issues); ``settle`` records it when the process is idle
        self.defer_record = False
        #: a refresh found the refs as the index holds them and left recording that to ``settle``
        self.unrecorded = False

    def give_up(self, e: BaseException) -> None:
        """The index cannot be used in this process (read-only repository, locked for too long,
        corrupt beyond repair): fold the refs instead. Correct, only slower. Tried again after
        ``INDEX_RETRY_S`` (``indexer_for``)."""
        self.disabled = True
        self.retry_at = time.monotonic() + INDEX_RETRY_S
        self.board = None
        self.store.warn(f"index unavailable ({type(e).__name__}: {e}); reading every ref instead")
        if self.ix.db is not None:
            try:
                self.ix.rollback()
            except sqlite3.Error:
                pass

    # ------------------------------------------------------------------ refresh

    def _open(self) -> None:
        try:
            self.ix.open(create=True)
            self.ix.c.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.DatabaseError as e:
            if not corrupt(e):
                raise  # busy, locked, unwritable: this process folds the refs (``give_up``)
            # damaged, or not a database at all: it is only a cache
            self.ix.destroy()
            self.ix.open(create=True)

    def _reopen_if_replaced(self) -> None:
        """Someone deleted the index file (it is disposable) or another process replaced a damaged
        one: a connection to the old file would answer from it and write into nothing."""
        if self.ix.replaced():
            self.ix.close()
            self.ix.own = None
            self.board = None
            self._gatedefs = None

    def refresh(self) -> bool:
        """Bring the index in step with the refs. True if anything changed since the last call."""
        self._reopen_if_replaced()
        if self.ix.db is None:
            self._open()
        ix = self.ix
        try:
            if not ix.usable(_stamp()):
                self.rebuild(force=False)
                self._warn()
                return True
            seen = ix.data_version()
            delta = ix.check(allow_full=False)
        except sqlite3.DatabaseError as e:
            if not corrupt(e):
                raise
            ix.destroy()
            self._open()
            self.rebuild()
            self._warn()
            return True
        changed = False
        if delta is not None and (delta.needs_full or not delta.empty or (
                not self.defer_record and (not delta.sig.get("racy") or delta.read_loose >= SNAPSHOT_READS))):
            # an empty delta only updates the shared signature: worth it when the new one can be
            # trusted later (not racy) or saves many reads, and never worth waiting for another
            # writer's lock (this process remembers its own listing anyway, ``Index.own``). A
            # changed packed-refs is parsed under the lock: one process does it, the others then
            # find it recorded and take the cheap path.
            if ix.begin(wait=None if (delta.needs_full or not delta.empty) else 0):
                try:
                    if delta.needs_full or ix.data_version() != seen:  # look again, under the lock
                        delta = ix.check()
                    if delta is not None:
                        if not delta.empty:
                            self._apply(delta)
                            changed = True
                        ix.record_snapshot(delta)
                    ix.commit()
                except BaseException:
                    ix.rollback()
                    ix.own = None
                    raise
                ix.remember(delta)
            elif delta.empty and not delta.needs_full:
                ix.remember(delta)
        elif delta is not None:
            ix.remember(delta)
            self.unrecorded = self.unrecorded or self.defer_record
        if (delta is not None and len(delta.loose) >= pack_threshold(delta) and not self._packing
                and self._may_pack() and self.pack_refs()):
            # record the new packed-refs now, once its mtime is no longer racy, so that no
            # process (this one included) has to parse it again
            self._packing = True
            try:
                time.sleep(RACY_NS / 1e9 + 0.005)
                changed = self.refresh() or changed
            finally:
                self._packing = False
        self._warn()
        if changed:
            self._gatedefs = None
        return changed

    def settle_due(self) -> int | None:
        """When (``time.time_ns``) ``settle`` has work worth doing: once the ref folders' stats
        differ from the signature this process last trusted (``Index.own``, else the shared one:
        a write since, this process's own included), or that signature is racy, a clock tick after
        the newest stamp (a listing then is trusted by one stat per folder until something moves);
        now, when a refresh left a snapshot unrecorded (``defer_record``). None: nothing to do."""
        ix = self.ix
        own = ix.own
        sig = own["sig"] if own is not None else (ix.meta_json("sig") or {})
        stats = sig.get("stats") or {}
        now = {rel: stat_of(ix.common, rel) for rel in stats}
        if now != stats or sig.get("racy"):
            stamps = [v[0] for v in now.values() if v and v[0] is not None]
            if sig.get("racy") and own is not None:
                stamps += [v[2] for v in own["loose"].values() if v[2] is not None]
            margin = COARSE_RACY_NS if sig.get("coarse") else RACY_NS
            return max(stamps, default=0) + margin + 1_000_000
        return time.time_ns() if self.unrecorded else None

    def settle(self) -> bool:
        """What a long-lived process does between requests (``jit mcp``): list the refs afresh, from
        the shared snapshot rather than this process's own listing, and record the listing as the
        shared snapshot when it is no longer racy, as a refresh without ``defer_record`` does. The
        next check (this process's or any other's) is then one stat per folder, until something
        moves. Correct whenever it runs: it is the refresh a fresh process would make. True if
        anything changed (another process's write, folded in now)."""
        self.unrecorded = False
        defer, self.defer_record = self.defer_record, False
        self.ix.own = None
        try:
            return self.refresh()
        finally:
            self.defer_record = defer

    def _warn(self) -> None:
        """The refs the index skipped (unreadable documents), as the store's warnings."""
        for w in self.ix.warnings():
            self.store.warn(w)

    def moved(self, refs: Iterable[str]) -> set[str]:
        """The refs among ``refs`` whose tip is not the one the index holds, each read the way git
        resolves it: its loose file, else (no loose file, or not a plain tip) through libgit2,
        which looks in ``packed-refs``. A ref the index does not know and that does not exist has
        not moved."""
        refs = list(refs)
        have = self.ix.tips(refs)
        return {r for r in refs if self.current_tip(r) != have.get(r)}

    def current_tip(self, ref: str) -> str | None:
        """``ref``'s tip now: its loose file, else (none, or not a plain tip) through libgit2."""
        now = loose_tip(self.ix.common, ref)
        if now is None or not _HEX40.fullmatch(now):
            now = self.git.tip(ref)
        return now

    def rebuild(self, *, force: bool = True, progress: Progress | None = None) -> dict[str, Any]:
        """Empty the index and read every ref again (``jit index rebuild``). Without ``force``, only
        if it is still needed once the write lock is held (another process may have just done it).
        ``progress`` is told of each ref read (gitjit/core/progress.py)."""
        try:
            return self._rebuild(force, progress)
        except sqlite3.DatabaseError as e:
            if not corrupt(e):
                raise
            self.ix.destroy()  # damaged pages found on the way: it is only a cache
            self._open()
            return self._rebuild(True, progress)

    def _rebuild(self, force: bool, progress: Progress | None = None) -> dict[str, Any]:
        t0 = time.perf_counter()
        ix = self.ix
        if ix.db is None:
            self._open()
        ix.begin()
        try:
            if not force and ix.usable(_stamp()):
                ix.commit()
                return {"rebuilt": False}
            ix.reset()  # in place, as this code's schema: the file may be open in other processes
            delta = ix.scan()
            self._apply(delta, rebuild=True, progress=progress)
            ix.record_snapshot(delta)
            ix.set_meta("version", INDEX_VERSION)
            ix.set_meta("stamp", _stamp())
            ix.set_meta("complete", "1")
            ix.set_meta("built_at", now_ts())  # ('jit index status' shows it): UTC with its offset
            ix.commit()
        except BaseException:
            ix.rollback()
            raise
        try:
            ix.c.execute("ANALYZE")  # statistics for the query planner (a fraction of a second at 100k)
            # a rebuild in place leaves the old rows' pages free and the new ones part filled: a
            # copy packs them (best effort: not while another process reads, ~1 s at 100,000 issues)
            ix.c.execute("PRAGMA busy_timeout=0")
            try:
                ix.c.execute("VACUUM")
            except sqlite3.OperationalError:
                pass
            finally:
                ix.c.execute(f"PRAGMA busy_timeout={ix.timeout_ms}")
            ix.c.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # a rebuild leaves a WAL as big as the index
        except sqlite3.Error:
            pass
        self.board = None
        self._gatedefs = None
        return {"rebuilt": True, "refs": len(delta.changed), "seconds": round(time.perf_counter() - t0, 3)}

    def _may_pack(self) -> bool:
        """Not while another process packs (its ``packed-refs.lock`` is there) or soon after a
        failed attempt: every contender starting its own ``git pack-refs`` only queues them."""
        if time.monotonic() < self._pack_again_at:
            return False
        if packed_refs_locked(self.ix.common):
            self._pack_again_at = time.monotonic() + 1.0
            return False
        return True

    def pack_refs(self) -> bool:
        """``git pack-refs --all --prune``: loose refs piled up. git locks each ref it prunes and
        keeps any that changed meanwhile, so concurrent writers are safe; a held
        ``packed-refs.lock`` just makes this attempt fail, and a later refresh tries again."""
        if time.monotonic() < self._pack_again_at:
            return False
        from ..git import housekeeping  # here: only a write that packs refs starts git (a read never does)

        if not housekeeping.pack_refs(self.ix.common):
            self._pack_again_at = time.monotonic() + 30  # a held lock: not on every command
            return False
        return True

    # ------------------------------------------------------------------ applying a delta

    def _apply(self, d: Delta, *, rebuild: bool = False, progress: Progress | None = None) -> None:
        # ``broken()`` reads the table while this runs, and afresh after (committed or rolled back)
        self._broken, self._applying = None, True
        try:
            if rebuild or len(d.changed) + len(d.removed) >= LONG_WRITE_REFS:
                # seconds to a minute under the write lock: the others wait for it (``Index.long_write``)
                with self.ix.long_write():
                    self._apply_delta(d, rebuild, progress)
            else:
                self._apply_delta(d, rebuild, progress)
        finally:
            self._broken, self._applying = None, False
            self._stext, self._rno, self._types = {}, {}, {}

    def _apply_delta(self, d: Delta, rebuild: bool, progress: Progress | None = None) -> None:
        t0 = time.perf_counter()
        ix, c = self.ix, self.ix.c
        new_issues: dict[str, IssueState] = {}
        gone: set[str] = set()
        gate_changed: set[str] = set()
        ref_rows: list[tuple[str, str, str, str, str | None]] = []
        ev_rows: list[tuple[Any, ...]] = []
        blobs: list[tuple[int, bytes]] = []
        for ref in sorted(d.removed):
            row = c.execute("SELECT rno FROM refs WHERE ref=?", (ref,)).fetchone()
            if row is not None:
                self._drop_events(row[0], ref)
                c.execute("DELETE FROM evblobs WHERE rno=?", row)
            c.execute("DELETE FROM refs WHERE ref=?", (ref,))
            if ref.startswith(ISSUES):
                gone.add(ref[len(ISSUES):])
            else:
                gate_changed.add(ref[len(GATES):])
                c.execute("DELETE FROM gatedefs WHERE key=?", (ref[len(GATES):],))
        changed = sorted(d.changed.items())
        ix.forget_samples()  # as this transaction sees them: another process may have rebuilt the index
        # every changed ref has its number (``rno``) before its events are written: a new one a
        # row of its own, completed by ``_write_refs``
        c.executemany("INSERT INTO refs(ref, tip, kind, key) VALUES(?, ?, 'new', '') ON CONFLICT(ref) DO NOTHING",
                      [(r, tip_key(t)) for r, t in changed])
        if rebuild:
            self._rno = dict(c.execute("SELECT ref, rno FROM refs").fetchall())
        else:
            self._rno = {}
            for chunk in _chunks([r for r, _ in changed]):
                q = f"SELECT ref, rno FROM refs WHERE ref IN ({','.join('?' * len(chunk))})"
                self._rno.update(c.execute(q, chunk).fetchall())
        #: each folded issue's state as stored (the base its JSON and events are compressed against)
        self._stext = {}
        # the store caches what it parses for this process's next write; a bulk fold's logs are
        # not kept (100,000 of them were ~750,000 objects for every later garbage collection)
        keep = len(changed) <= KEEP_PARSED
        with closing(self.store.events_many(changed, keep=keep)) as read:  # a bulk read's git process ends with it
            stream: Iterator[Any] = read
            if progress is not None:
                from ..core.progress import counted

                stream = counted(read, progress, "reading refs", len(changed))
            self._fold_changed(changed, stream, rebuild, new_issues, gone, gate_changed, ref_rows, ev_rows, blobs)
        self._write_refs(ref_rows, rebuild)
        self._write_events(ev_rows, blobs)
        if gate_changed:
            self._gatedefs = None  # the recomputation below must see the new definitions

        # what the graph looked like before, for the cycle and dependents bookkeeping
        touched = set(new_issues) | gone
        old = {} if rebuild else ix.rows(touched, "deleted, title, eff")
        old_deps = {} if rebuild else {s: [x for x, _ in v] for s, v in ix.deps(touched).items()}
        for iid in gone:
            self._delete_issue(iid)
        if rebuild:
            # the sample every state is compressed against: states spread over the repository
            texts = [self._stext[k] for k in sorted(self._stext)]
            ix.set_sample(texts[k] for k in range(0, len(texts), max(1, len(texts) // 16)))
        self._write_issues(new_issues, rebuild, {r[3]: r[1] for r in ref_rows if r[2] == "issue"})

        touched_n = len(new_issues) + len(gone)
        # counting every issue costs a scan: only worth it when the change is large
        if rebuild or (touched_n > 1000 and touched_n > _FULL_SHARE * max(ix.count(), 1)):
            self._global_broken(force=True)
            self._recompute(None, extra=new_issues)
        else:
            affected = set(new_issues)
            if gate_changed:
                for chunk in _chunks(sorted(gate_changed)):
                    q = f"SELECT issue FROM gates_on WHERE gate IN ({','.join('?' * len(chunk))})"
                    affected |= {i for (i,) in c.execute(q, chunk)}
            affected |= self._cycles(new_issues, gone, old, old_deps)
            affected -= gone
            eff_before = ix.rows(affected - set(new_issues), "eff")
            self._recompute(affected, extra=new_issues)
            # A dependent shows of each dependency only its title and effective state (in
            # ``blocked_reasons``), and its own effective state follows only whether the
            # dependency is finished. So the dependents are recomputed for the changed issues
            # whose title, effective state or existence changed, and for the issues recomputed
            # above whose effective state moved; not for every write: a new priority for an
            # issue with 5,000 dependents re-rendered all 5,000.
            now = ix.rows(touched - gone, "deleted, title, eff")
            shown = {i for i in touched if i in gone or old.get(i) != now.get(i)}
            shown |= {i for i, row in ix.rows(eff_before, "eff").items() if eff_before.get(i) != row}
            near = {s for v in ix.dependents(shown).values() for s in v} - affected - gone if shown else set()
            # and one level further, the issues that show those: needed only where a dependent's
            # effective state changed (a dependency finished or reopened)
            eff_near = ix.rows(near, "eff")
            self._recompute(near, extra=new_issues)
            moved = [i for i, row in ix.rows(eff_near, "eff").items() if eff_near.get(i) != row]
            further = {s for v in ix.dependents(moved).values() for s in v} - affected - near - gone \
                if moved else set()
            if further:
                self._recompute(further, extra=new_issues)
        ix.set_meta("gen", os.urandom(8).hex())
        self.last = {"changed_refs": len(d.changed), "removed_refs": len(d.removed), "full_scan": d.full,
                     "seconds": round(time.perf_counter() - t0, 4), "at": time.time()}
        ix.set_meta("last_refresh", self.last)

    def _write_events(self, ev_rows: list[tuple[Any, ...]], blobs: list[tuple[int, bytes]]) -> None:
        """Write (and empty) the event rows and the refs' event blobs ``_events_rows`` collected."""
        c = self.ix.c
        c.executemany("INSERT OR REPLACE INTO events(rno, seq, ts, clock, type, iss) VALUES(?,?,?,?,?,?)",
                      ev_rows)
        # in place (an upsert keeps the row where it is; a REPLACE moves it and its index entries)
        c.executemany("INSERT INTO evblobs(rno, events) VALUES(?, ?) ON CONFLICT(rno) DO UPDATE SET events=excluded.events",
                      blobs)
        ev_rows.clear()
        blobs.clear()

    def _fold_changed(self, changed: list[tuple[str, str]], read: Iterator[Any], rebuild: bool,
                      new_issues: dict[str, IssueState], gone: set[str], gate_changed: set[str],
                      ref_rows: list[tuple[str, str, str, str, str | None]], ev_rows: list[tuple[Any, ...]],
                      blobs: list[tuple[int, bytes]]) -> None:
        """Fold each changed ref's events (``read``: ``EntityStore.events_many`` of ``changed``)
        into the rows ``_apply`` writes."""
        # here: the fold (and its events, dataclasses) is for bringing the index in step, never for a read
        from ..core.fold import fold_gate, fold_issue

        c = self.ix.c
        for (ref, tip), evs in zip(changed, read):
            if rebuild and len(blobs) >= WRITE_CHUNK:
                self._write_events(ev_rows, blobs)  # a rebuild holds a slice of them at a time
            issue = ref.startswith(ISSUES)
            key = ref[len(ISSUES if issue else GATES):]
            if isinstance(evs, ValidationError):
                e = evs
                if not rebuild:
                    self._drop_events(self._rno[ref], ref)
                ref_rows.append((ref, tip, "bad", key, f"skipping {ref}: {e.message}"))
                c.execute("DELETE FROM evblobs WHERE rno=?", (self._rno[ref],))
                if issue:
                    gone.add(key)
                else:
                    gate_changed.add(key)
                    c.execute("DELETE FROM gatedefs WHERE key=?", (key,))
                continue
            ref_rows.append((ref, tip, "issue" if issue else "gate", key, None))
            if issue:
                st = new_issues[key] = fold_issue(key, evs)
                stext = self._stext[key] = compact_json(st.to_json())
                gone.discard(key)
                # the conflicts the fold resolved show in the event log as synthesized events
                self._events_rows(ref, list(evs) + (_conflict_events(key, evs) if st.conflicts else []),
                                  ev_rows, blobs, rebuild, key, stext)
            else:
                self._events_rows(ref, evs, ev_rows, blobs, rebuild, None, None)
                g = fold_gate(key, evs)
                gate_changed.add(key)
                c.execute("INSERT OR REPLACE INTO gatedefs(key, state) VALUES(?, ?)", (key, compact_json(g.to_json())))

    def _events_rows(self, ref: str, evs: Iterable[Any], rows: list[tuple[Any, ...]], blobs: list[tuple[int, bytes]],
                     rebuild: bool, issue: str | None, state: str | None) -> None:
        """One ordering row per event, and the ref's events as printed (``event_json``), compressed
        together: one zlib stream per ref compresses far better, and faster, than one per event.

        Only the rows that differ from the stored ones are written: a write appends events, so
        usually just the new ones. Rewriting them all touched one page of ``events`` per event
        (their timestamps are spread over the whole table), and each page written is a page in
        the WAL and, later, in the checkpoint. The stored rows are known from the ref's stored
        documents (``_stored_rows``), which give each row's key."""

        out = []
        new: list[tuple[Any, ...]] = []
        rno = self._rno[ref]
        for n, e in enumerate(evs):
            # ``utc_ts``: rows of old events (no offset) and new ones sort by their instants;
            # ``iss`` (Index.events): NULL for the ref's own issue, '' for none
            iss = None if issue is not None and e.issue_id == issue else ("" if e.issue_id is None else e.issue_id)
            new.append((rno, n, ts_key(utc_ts(e.timestamp)), e.clock, self._type_code(e.type), iss))
            out.append(event_json(e))
        blobs.append((rno, pack(json.dumps(out, ensure_ascii=False), state)))
        if rebuild:
            rows += new
            return
        have = self._stored_rows(rno, ref)
        if have is None:
            self._drop_events(rno, ref)
            rows += new
            return
        same = 0
        for a, b in zip(have, new):
            if a != b:
                break
            same += 1
        self._delete_rows(have[same:])
        rows += new[same:]

    def _stored_rows(self, rno: int, ref: str) -> list[tuple[Any, ...]] | None:
        """The event rows stored for the ref numbered ``rno`` (as ``_events_rows`` makes them), from
        its stored events' documents; None if those cannot be read."""
        issue = ref[len(ISSUES):] if ref.startswith(ISSUES) else None
        try:
            got = self.ix.ref_events([rno]).get(rno)
            if got is None:
                return []
            out = []
            for n, d in enumerate(got[1]):
                i = d.get("issue_id")
                iss = None if issue is not None and i == issue else ("" if i is None else i)
                out.append((rno, n, ts_key(d["timestamp"]), d["clock"], self._type_code(d["type"]), iss))
            return out
        except (zlib.error, ValueError, KeyError, TypeError, AttributeError):
            return None

    def _delete_rows(self, rows: list[tuple[Any, ...]]) -> None:
        self.ix.c.executemany("DELETE FROM events WHERE ts=? AND clock=? AND rno=? AND seq=?",
                              [(r[2], r[3], r[0], r[1]) for r in rows])

    def _drop_events(self, rno: int, ref: str) -> None:
        """Delete every event row of the ref numbered ``rno``: by their keys, read from its
        stored documents; failing that, by a scan of every row."""
        rows = self._stored_rows(rno, ref)
        if rows is None:
            self.ix.c.execute("DELETE FROM events WHERE rno=?", (rno,))
        else:
            self._delete_rows(rows)

    def _type_code(self, t: str) -> int:
        """The number ``events.type`` holds for the event type ``t`` (``evtypes``; a new one is added)."""
        codes = self._types
        if not codes:
            codes.update(self.ix.c.execute("SELECT type, code FROM evtypes"))
        code = codes.get(t)
        if code is None:
            code = codes[t] = int(self.ix.c.execute("INSERT INTO evtypes(type) VALUES(?)", (t,)).lastrowid or 0)
        return code

    def _write_refs(self, ref_rows: list[tuple[str, str, str, str, str | None]], rebuild: bool) -> None:
        """Record each ref's tip: in place where the ref keeps its kind (only ``tip`` and
        ``warning`` change: no index entry moves), a new row otherwise."""
        c = self.ix.c
        old: dict[str, tuple[Any, ...]] = {}
        if not rebuild:
            for chunk in _chunks([r[0] for r in ref_rows]):
                q = f"SELECT ref, kind, key FROM refs WHERE ref IN ({','.join('?' * len(chunk))})"
                old.update((r, (k, key)) for r, k, key in c.execute(q, chunk))
        same = [(tip_key(tip), warn, ref) for ref, tip, kind, key, warn in ref_rows if old.get(ref) == (kind, key)]
        other = [(ref, tip_key(tip), kind, key, warn) for ref, tip, kind, key, warn in ref_rows
                 if old.get(ref) != (kind, key)]
        c.executemany("UPDATE refs SET tip=?, warning=? WHERE ref=?", same)
        # an upsert: the ref keeps its number (``rno``), which its events rows carry
        c.executemany("INSERT INTO refs(ref, tip, kind, key, warning) VALUES(?, ?, ?, ?, ?) ON CONFLICT(ref) "
                      "DO UPDATE SET tip=excluded.tip, kind=excluded.kind, key=excluded.key, warning=excluded.warning",
                      other)

    def _delete_issue(self, iid: str) -> None:
        c = self.ix.c
        c.execute("DELETE FROM issues WHERE id=?", (iid,))
        c.execute("DELETE FROM docs WHERE id=?", (iid,))
        c.execute("DELETE FROM edges WHERE src=?", (iid,))
        c.execute("DELETE FROM gates_on WHERE issue=?", (iid,))

    def _write_issues(self, states: Mapping[str, IssueState], rebuild: bool, tips: Mapping[str, str]) -> None:
        """Write the issues' rows, edges and gates. Unless ``rebuild`` (the tables start empty),
        rows that exist are updated in place and only in
        the columns that changed: SQLite rewrites every index entry of a replaced row (it gets a
        new rowid) but only the indexes of the columns an UPDATE sets, and a claim changes three
        of the fourteen. ``eff``, ``blocked`` and ``doc`` are left to ``_recompute`` (NULL for a
        deleted issue, which it skips). ``tips``: the tip each state was folded from (its row in
        ``refs``), kept beside the state for ``ready_tips``."""
        if rebuild and len(states) > WRITE_CHUNK:  # a rebuild: in slices, to bound the rows held at once
            items = list(states.items())
            for k in range(0, len(items), WRITE_CHUNK):
                self._write_issues(dict(items[k:k + WRITE_CHUNK]), True, tips)
            return
        c = self.ix.c
        rows: dict[str, tuple[Any, ...]] = {}
        bodies: list[tuple[Any, ...]] = []
        edges: dict[str, list[tuple[str, str | bytes]]] = {}
        gates: dict[str, set[str]] = {}
        times = self._times(states)
        for iid, st in states.items():
            created, completed, claimed = times[iid]
            row: tuple[Any, ...] = (
                tip_key(tips[iid]), int(st.deleted), st.state, PRIORITY_RANK.get(st.priority, 9), created,
                st.priority, st.assignee, completed, claimed, st.title,
                json.dumps(st.labels, ensure_ascii=False),
                json.dumps([x.to_json() for x in st.conflicts], ensure_ascii=False)
                if st.conflicts else None,
                json.dumps(st.parked.to_json(), ensure_ascii=False) if st.parked else None,
            )
            rows[iid] = row + (None, 0) if st.deleted else row
            stext = self._stext.get(iid)
            # the state alone for now: ``_recompute`` adds the JSON of every issue not deleted
            bodies.append((iid, *self.ix.pack_body(None, compact_json(st.to_json()) if stext is None else stext)))
            edges[iid] = [(dep, edge_key(st.dep_events.get(dep, ""))) for dep in st.dependencies]
            gates[iid] = set(st.gates)
        ids = list(states)
        old_rows: dict[str, tuple[Any, ...]] = {}
        old_gates: dict[str, set[str]] = {}
        old_edges: dict[str, list[tuple[str, str | bytes]]] = {}
        if not rebuild:
            old_rows = self.ix.rows(ids, ", ".join(_ISSUE_COLS))
            old_edges = self.ix.deps(ids)
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                for iid, g in c.execute(f"SELECT issue, gate FROM gates_on WHERE issue IN ({marks})", chunk):
                    old_gates.setdefault(iid, set()).add(g)
        new_rows, new_edges, new_gates = [], [], []
        updates: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for iid in ids:
            if iid not in old_rows:
                new_rows.append((iid, *rows[iid][:13]))
            else:
                _changed(iid, _ISSUE_COLS, rows[iid], old_rows[iid], updates)
            if edges[iid] != old_edges.get(iid, []):
                if iid in old_edges:
                    c.execute("DELETE FROM edges WHERE src=?", (iid,))
                new_edges += [(iid, n, dep, key) for n, (dep, key) in enumerate(edges[iid])]
            if gates[iid] != old_gates.get(iid, set()):
                if iid in old_gates:
                    c.execute("DELETE FROM gates_on WHERE issue=?", (iid,))
                new_gates += [(iid, g) for g in sorted(gates[iid])]
        c.executemany(
            "INSERT OR REPLACE INTO issues(id, tip, deleted, base, prank, created_at, priority, assignee, "
            "completed_at, claimed_at, title, labels, conflicts, parked, eff, blocked) "
            "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,0)", new_rows)
        for cols, params in updates.items():
            c.executemany(f"UPDATE issues SET {', '.join(n + '=?' for n in cols)} WHERE id=?", params)
        # in place (an upsert keeps the row where it is)
        c.executemany("INSERT INTO docs(id, dlen, body) VALUES(?,?,?) "
                      "ON CONFLICT(id) DO UPDATE SET dlen=excluded.dlen, body=excluded.body", bodies)
        c.executemany("INSERT OR REPLACE INTO edges(src, pos, dst, key) VALUES(?,?,?,?)", new_edges)
        c.executemany("INSERT OR IGNORE INTO gates_on(issue, gate) VALUES(?,?)", new_gates)

    def _times(self, states: Mapping[str, IssueState]) -> dict[str, tuple[Any, Any, Any]]:
        """Each issue's ``created_at``, ``completed_at`` and ``claimed_at`` as the issue rows store
        them: as ``ts_key`` integers (8 bytes where the text takes 32, in the row and in every
        index ordered by age), which sort as the texts do. A timestamp in any other form is kept
        as text, and integers and texts do not sort together as texts do: from the first one
        written on (``meta.ts_text``), every row keeps its times as text, exact again (until the
        next rebuild from nothing)."""
        textual = self.ix.meta("ts_text") == "1"
        out: dict[str, tuple[Any, Any, Any]] = {}
        for iid, st in states.items():
            raw = (st.created_at, st.completed_at, st.claimed_at)
            out[iid] = raw if textual else tuple(None if t is None else ts_key(t) for t in raw)  # type: ignore[assignment]
            if not textual and any(isinstance(t, str) for t in out[iid]):
                textual = True
                self.ix.set_meta("ts_text", "1")
                c = self.ix.c
                c.create_function("jit_ts_text", 1, lambda k: None if k is None else ts_text(k), deterministic=True)
                c.execute("UPDATE issues SET created_at=jit_ts_text(created_at), completed_at=jit_ts_text(completed_at), "
                          "claimed_at=jit_ts_text(claimed_at)")
                return {i: (s.created_at, s.completed_at, s.claimed_at) for i, s in states.items()}
        return out

    # ------------------------------------------------------------------ cycles

    def broken(self) -> list[BrokenEdge]:
        gen = self.board.gen if self.board is not None and not self._applying else None
        if gen is not None and self._broken is not None and self._broken[0] == gen:
            return list(self._broken[1])
        out = [BrokenEdge(s, d, tuple(cyc)) for s, d, cyc in self.ix.meta_json("broken") or []]
        if gen is not None:
            self._broken = (gen, out)
        return list(out)

    def _cycles(self, new: Mapping[str, IssueState], gone: set[str], old: Mapping[str, tuple[Any, ...]],
                old_deps: Mapping[str, list[str]]) -> set[str]:
        """Recompute the broken edges if this change can alter them; return the issues whose
        effective edges changed because of it."""
        had_broken = bool(self.ix.meta_json("broken"))
        structural = bool(gone) or any(
            iid not in old or bool(old[iid][0]) != st.deleted or old_deps.get(iid, []) != list(st.dependencies)
            for iid, st in new.items())
        if not structural:
            return set()
        if had_broken:
            return self._global_broken()
        # an edge can close a cycle only if it is new: check each gained edge for a way back
        present = self.ix.rows(
            {d for st in new.values() for d in st.dependencies} | set(new), "deleted")
        gained: list[tuple[str, str]] = []
        for iid, st in new.items():
            if st.deleted:
                continue
            before = set(old_deps.get(iid, [])) if iid in old and not old[iid][0] else set()
            gained += [(iid, dst) for dst in st.dependencies if dst not in before
                       and dst in present and not present[dst][0]]
        newly = [i for i, st in new.items() if not st.deleted and (i not in old or old[i][0])]
        if newly:
            for dst, srcs in self.ix.dependents(newly).items():
                gained += [(s, dst) for s in srcs if (s, dst) not in gained]
        for src, dst in gained:
            if self._reaches(dst, src):
                return self._global_broken()
        return set()

    def _reaches(self, start: str, goal: str, cap: int = 50_000) -> bool:
        """Is there a path start -> ... -> goal along effective edges?"""
        seen = {start}
        frontier = [start]
        c = self.ix.c
        while frontier:
            nxt: list[str] = []
            for chunk in _chunks(frontier):
                q = ("SELECT e.dst FROM edges e JOIN issues s ON s.id=e.src JOIN issues d ON d.id=e.dst "
                     f"WHERE e.src IN ({','.join('?' * len(chunk))}) AND s.deleted=0 AND d.deleted=0")
                for (dst,) in c.execute(q, chunk):
                    if dst == goal:
                        return True
                    if dst not in seen:
                        seen.add(dst)
                        nxt.append(dst)
            if len(seen) > cap:
                return True  # too far to look: let the global computation decide
            frontier = nxt
        return False

    def _global_broken(self, *, force: bool = False) -> set[str]:
        """Run ``Graph.build`` over every edge (ids, flags and edge keys only: no fold) and store
        the edges it breaks. Returns the sources of edges whose broken status changed."""
        c = self.ix.c
        ns: dict[str, SimpleNamespace] = {
            i: SimpleNamespace(deleted=bool(dl), dependencies=[], dep_events={})
            for i, dl in c.execute("SELECT id, deleted FROM issues")}
        for s, d, k in c.execute("SELECT src, dst, key FROM edges ORDER BY src, pos"):
            n = ns.get(s)
            if n is not None:
                n.dependencies.append(d)
                n.dep_events[d] = edge_text(k)
        g = Graph.build(ns)  # type: ignore[arg-type]
        before = {(s, d) for s, d, _ in self.ix.meta_json("broken") or []}
        after = {(b.src, b.dst) for b in g.broken}
        self.ix.set_meta("broken", [[b.src, b.dst, list(b.cycle)] for b in g.broken])
        empty = Board({}, {})
        empty.graph = Graph(broken=list(g.broken))  # type: ignore[misc]
        self.ix.set_meta("broken_conflicts", empty.status()["conflicts"])
        return {s for s, _ in before ^ after}

    # ------------------------------------------------------------------ effective states and JSON

    def gatedefs(self) -> dict[str, GateDef]:
        if self._gatedefs is None:
            self._gatedefs = {k: GateDef.from_json(json.loads(s)) for k, s in
                              self.ix.c.execute("SELECT key, state FROM gatedefs ORDER BY key")}
        return self._gatedefs

    def states(self, ids: Iterable[str], cache: dict[str, IssueState] | None = None) -> dict[str, IssueState]:
        cache = {} if cache is None else cache
        want = [i for i in ids if i not in cache]
        for chunk in _chunks(want):
            q = f"SELECT id, dlen, body FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
            for iid, n, b in self.ix.c.execute(q, chunk):
                cache[iid] = IssueState.from_json(json.loads(self.ix.body_state(n, b)))
        return cache

    def closure(self, ids: Iterable[str], overrides: Mapping[str, IssueState | None] | None = None,
                levels: int = 2) -> set[str]:
        """``ids`` plus ``levels`` levels of their dependencies (raw edges; overrides' own edges win)."""
        overrides = overrides or {}
        out = set(ids)
        frontier = set(out)
        for _ in range(levels):
            nxt: set[str] = set()
            stored = self.ix.deps(f for f in frontier if f not in overrides)
            for f in frontier:
                if f in overrides:
                    st = overrides[f]
                    nxt |= set(st.dependencies) if st is not None else set()
                else:
                    nxt |= {d for d, _ in stored.get(f, [])}
            frontier = nxt - out
            out |= nxt
        return out

    def local_board(self, states: Mapping[str, IssueState]) -> Board:
        """A real Board over ``states`` whose graph leaves out the globally broken edges (a subset
        of an acyclic graph is acyclic, so it breaks nothing on its own)."""
        ordered = {k: states[k] for k in sorted(states)}
        b = Board(ordered, self.gatedefs())
        broken = self.broken()
        if broken:
            cut = {(x.src, x.dst) for x in broken}
            ns = {i: SimpleNamespace(deleted=st.deleted, dep_events=st.dep_events,
                                     dependencies=[d for d in st.dependencies if (i, d) not in cut])
                  for i, st in ordered.items()}
            g = Graph.build(ns)  # type: ignore[arg-type]
            g.broken = broken
            b.graph = g  # type: ignore[misc]
        return b

    def _recompute(self, ids: set[str] | None, extra: Mapping[str, IssueState]) -> None:
        """Effective state, blocked flag and JSON of ``ids`` (None: every issue)."""
        c = self.ix.c
        cache: dict[str, IssueState] = dict(extra)
        if ids is None:
            allids = [i for (i,) in c.execute("SELECT id FROM issues")]
            board = self.local_board(self.states(allids, cache))
            todo = [i for i in allids if not cache[i].deleted]
        else:
            todo = sorted(ids)
            if not todo:
                return
            need = self.closure(todo)
            board = self.local_board(self.states(need, cache))
            todo = [i for i in todo if i in board.issues]
        # a partial recomputation writes only what changed (see ``_write_issues``): most of a
        # claim's dependents keep their effective state, some even their JSON
        old_eff = {} if ids is None else self.ix.rows(todo, "eff, blocked")
        old_doc: dict[str, tuple[int | None, bytes]] = {}
        if ids is not None:
            for chunk in _chunks(todo):
                q = f"SELECT id, dlen, body FROM docs WHERE id IN ({','.join('?' * len(chunk))})"
                old_doc.update((i, (n, b)) for i, n, b in c.execute(q, chunk))
        elif todo:
            # a rebuild: the sample every JSON is compressed against, spread over the repository
            self.ix.set_sample((_dump(issue_json(board, todo[k])) for k in range(0, len(todo), max(1, len(todo) // 16))),
                               "zdocs")
        rows, docs = [], []
        for iid in todo:
            st = board.issues[iid]
            blocked = st.state not in TERMINAL_STATES and st.state != "archived" and bool(board.blockers(iid))
            row = (board.states[iid], int(blocked))
            if old_eff.get(iid) != row:
                rows.append((*row, iid))
            doc = _dump(issue_json(board, iid))
            stext = self._stext.get(iid)
            old = old_doc.get(iid)
            if old is not None:
                # the state and JSON stored: unchanged, nothing to write (most of a claim's dependents)
                raw = self.ix.body_raw(*old)
                n = old[0] or 0
                old_state = raw[n:].decode("utf-8")
                if old[0] is not None and raw[:n] == doc.encode("utf-8") and stext in (None, old_state):
                    continue
                if stext is None:
                    stext = old_state
            if stext is None:
                stext = compact_json(st.to_json())
            docs.append((*self.ix.pack_body(doc, stext), iid))
        c.executemany("UPDATE issues SET eff=?, blocked=? WHERE id=?", rows)
        c.executemany("UPDATE docs SET dlen=?, body=? WHERE id=?", docs)


_ISSUE_COLS = ("tip", "deleted", "base", "prank", "created_at", "priority", "assignee", "completed_at",
               "claimed_at", "title", "labels", "conflicts", "parked", "eff", "blocked")


def _changed(iid: str, names: tuple[str, ...], new: tuple[Any, ...], old: tuple[Any, ...],
             out: dict[tuple[str, ...], list[tuple[Any, ...]]]) -> None:
    """Add ``iid``'s changed columns (``new`` against ``old``, both in ``names`` order, ``new``
    possibly shorter) to ``out``: the parameters of one ``UPDATE ... SET <those columns>``."""
    cols = tuple(n for n, a, b in zip(names, new, old) if a != b)
    if cols:
        out.setdefault(cols, []).append((*(new[names.index(n)] for n in cols), iid))


def _conflict_events(key: str, evs: Iterable[Any]) -> list[Any]:
    try:
        from ..core.fold import conflict_events
    except ImportError:  # pragma: no cover - older fold without synthesized conflict events
        return []
    return list(conflict_events(key, evs))


def _chunks(items: list[Any], n: int = 900) -> Iterator[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
