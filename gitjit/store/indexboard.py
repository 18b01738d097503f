"""``IndexBoard``: a ``Board`` read from the index row by row (kept in step by gitjit/store/indexer.py).

Everything ``Board`` offers works on it: what is not overridden here reads through lazy
mappings (issues, effective states, the dependency graph) that fetch one row per key, or every
row at once when iterated. The list queries (ready, blocked, select, search, status, export)
are SQL over the stored columns, and listings return the stored JSON of each issue.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ..core.board import Board, short
from ..core.graph import Graph
from ..core.jsontext import RawList, loads_many
from ..core.model import IssueState
from ..git.files import loose_tip, ref_locked
from .index import ISSUES, ts_text

if TYPE_CHECKING:  # pragma: no cover
    from ..core.graph import BrokenEdge
    from ..core.model import GateDef
    from .index import Index


class Indexer(Protocol):
    """What an ``IndexBoard`` uses of the indexer that keeps the index in step
    (``gitjit.store.indexer.Indexer``)."""

    ix: Index
    moved_seen: dict[str, str]

    def gatedefs(self) -> dict[str, GateDef]: ...
    def broken(self) -> list[BrokenEdge]: ...
    def moved(self, refs: Iterable[str]) -> set[str]: ...
    def states(self, ids: Iterable[str], cache: dict[str, IssueState] | None = None) -> dict[str, IssueState]: ...
    def closure(self, ids: Iterable[str], overrides: Mapping[str, IssueState | None] | None = None,
                *, levels: int = 2) -> set[str]: ...
    def local_board(self, states: Mapping[str, IssueState]) -> Board: ...

__all__ = ["IndexBoard", "Issues", "StaleView"]


class StaleView(Exception):
    """A claim's board was about to use refs that moved since the index saw them (see
    ``ReadModel.claim_board``): the caller folds them in (``ReadModel.fold_moved``) and tries again."""

    def __init__(self, iid: str, refs: Iterable[str] = ()):
        super().__init__(iid)
        self.refs = sorted(refs)


#: how many moved candidates ``IndexBoard.claimable`` remembers before it starts again
MOVED_SEEN_MAX = 4096


class IndexBoard(Board):
    """A Board read from the index row by row. Everything ``Board`` offers works (anything not
    overridden here reads through the lazy mappings); the list queries are SQL.

    ``Board.__init__`` is deliberately not called: it would copy every issue."""

    def __init__(self, indexer: Indexer):
        self.indexer = indexer
        self.ix = indexer.ix
        self.gen: str | None = None
        #: ``claim_board``'s view: the index as last folded, whose refs are checked as a claim
        #: uses them (``moved``); other processes' writes may not be in it yet
        self.lazy = False
        self._checked: set[str] = set()
        self.passed_over = False
        #: listings give each issue's stored JSON text unparsed (a ``RawList``): for JSON output only
        self.raw = False
        self._gates_all = indexer.gatedefs()
        self.gate_defs = {k: v for k, v in self._gates_all.items() if not v.removed}
        self._cache: dict[str, IssueState] = {}
        # lazy read-only mappings over the index stand in for the Board's dicts
        self.all = Issues(self, deleted=True)  # type: ignore[assignment]
        self.issues = Issues(self, deleted=False)  # type: ignore[assignment]
        self.states = _States(self)  # type: ignore[assignment]
        self.graph = Graph(deps=_Deps(self), rdeps=_Rdeps(self), missing=_Missing(self),  # type: ignore[arg-type]
                           broken=indexer.broken())

    def _state(self, iid: str) -> IssueState | None:
        st = self._cache.get(iid)
        if st is None:
            row = self.ix.c.execute("SELECT dlen, body FROM docs WHERE id=?", (iid,)).fetchone()
            if row is None:
                return None
            st = self._cache[iid] = IssueState.from_json(json.loads(self.ix.body_state(*row)))
        return st

    # ------------------------------------------------------------------ per issue

    def effective_state(self, iid: str) -> str:
        row = self.ix.c.execute("SELECT eff FROM issues WHERE id=? AND deleted=0", (iid,)).fetchone()
        if row is None:
            raise KeyError(iid)
        return str(row[0])

    def is_ready(self, iid: str) -> bool:
        row = self.ix.c.execute("SELECT eff, assignee FROM issues WHERE id=? AND deleted=0", (iid,)).fetchone()
        if row is None:
            raise KeyError(iid)
        return row[0] == "ready" and row[1] is None

    def with_issue(self, st: IssueState, *, dependents: bool = True) -> Board:
        return self.local(st.id, st, dependents=dependents)

    def without(self, iid: str, *, dependents: bool = True) -> Board:
        return self.local(iid, None, dependents=dependents)

    def prefixed(self, p: str, *, include_deleted: bool = False) -> list[str]:
        return (self.all if include_deleted else self.issues).prefixed(p)  # type: ignore[attr-defined,no-any-return]

    def local(self, iid: str, st: IssueState | None, *, dependents: bool = True) -> Board:
        """A real Board over everything ``iid``'s state (and, with ``dependents``, its dependents'
        states) depend on, with ``st`` in place of the stored state (None: without the issue).

        Without ``dependents`` the board answers only for ``iid`` itself (its blockers and effective
        state): what a write's checks need. The dependents' effective states follow ``iid``'s only
        through whether it is finished, deleted, and what it depends on (``Tracker._derived_notices``)."""
        # a write asks for the same local board up to three times (its checks, and the before and
        # after of its derived notices): the same state object is the same board, and another state
        # with the same dependencies and gates has the same neighbourhood (only ``iid``'s row differs)
        memo = self.__dict__.setdefault("_locals", {})
        key = (iid, dependents)
        hit = memo.get(key)
        if hit is not None and hit[0] is st:
            return hit[1]
        shape = (tuple(st.dependencies), tuple(st.gates)) if st is not None else None
        if hit is not None and hit[2] == shape:
            states = dict(hit[3])
        else:
            deps_of = [s for v in self.ix.dependents([iid]).values() for s in v] if dependents else []
            over: dict[str, IssueState | None] = {iid: st}
            ids = self.indexer.closure([iid], over)
            if deps_of:
                ids |= self.indexer.closure(deps_of, over, levels=1)
            ids.discard(iid)
            cache = self._cache  # stored states do not change while this board lives (its generation)
            self.indexer.states(list(ids), cache)
            states = {k: cache[k] for k in ids if k in cache}
            if self.lazy:
                self._check_fresh(ids | set(deps_of), [*states.values(), *([st] if st is not None else [])], iid)
        around = dict(states)
        if st is not None:
            states[iid] = st
        b = self.indexer.local_board(states)
        memo[key] = (st, b, shape, around)
        return b

    def _check_fresh(self, ids: set[str], states: list[IssueState], iid: str) -> None:
        """``claim_board``'s check of one claim's neighbourhood: the refs of ``ids`` and of the
        gate definitions their states name still point where the index read them, or
        ``StaleView``. Each ref is checked once per ``claim_board`` call."""
        from .index import GATES

        refs = {ISSUES + i for i in ids} | {GATES + g for s in states for g in s.gates}
        todo = refs - self._checked
        moved = self.indexer.moved(todo) if todo else set()
        if moved:
            raise StaleView(iid, moved)
        self._checked |= todo

    def moved(self, ids: Iterable[str]) -> set[str]:
        """Which of these issues' refs moved since the index saw them."""
        return {r[len(ISSUES):] for r in self.indexer.moved(ISSUES + i for i in ids)}

    # ------------------------------------------------------------------ lists

    def sorted(self, ids: Iterable[str]) -> list[str]:
        if ids is self.issues:
            return self.ix.ordered()
        ids = list(ids)
        rows = self.ix.rows(ids, "prank, created_at, deleted")
        for i in ids:
            if i not in rows or rows[i][2]:
                raise KeyError(i)
        return sorted(ids, key=lambda i: (rows[i][0], rows[i][1], i))

    def nodes(self, ids: Iterable[str] | None = None) -> dict[str, tuple[Any, ...]]:
        cols = "prank, created_at, title, eff, priority, assignee, deleted"
        rows = {r[0]: r[1:] for r in self.ix.iter_rows(cols, "deleted=0")} if ids is None \
            else self.ix.rows(ids, cols)
        out: dict[str, tuple[Any, ...]] = {}
        for i in (rows if ids is None else ids):
            r = rows.get(i)
            if r is None or r[6]:
                raise KeyError(i)
            out[i] = ((r[0], ts_text(r[1]), i), r[2], r[3], r[4], r[5])
        return out

    def ready(self) -> list[str]:
        return self.ix.ready_ids()

    def ready_pages(self, size: int = 32) -> Iterator[str]:
        """``ready()`` a page at a time (``claim_next`` rarely needs more than the first few)."""
        offset = 0
        while True:
            page = self.ix.ready_ids(size, offset)
            yield from page
            if len(page) < size:
                return
            offset += size

    def claimable(self, size: int = 32) -> Iterator[str]:
        """The ready list in order (a page at a time), passing over the issues other processes are
        writing right now: those whose ref is locked, or moved since the index read it (a loose
        ref file with another tip: most likely just claimed). Sets ``passed_over`` when it passes
        over anything, or when the board is ``claim_board``'s: then an empty result does not
        prove that nothing is ready."""
        from .locks import stale_seconds  # here: a read that never claims need not load socket and threading

        stale = stale_seconds()

        # a lazy board may not hold the issues that became ready since the index was last brought
        # in step: finding nothing on it never proves that nothing is ready
        self.passed_over = self.lazy
        # Under racing claimers the head of the ready list is mostly other processes' claims that
        # their writers have not folded in yet (note_write does not wait for the index's lock):
        # each ``claim_next`` read every one of their ref files again, ~165 a claim with 8 racers
        # at 100,000 issues, and re-ran the page query from offset 0. This process remembers the
        # ones it found moved away from the tip the index holds, and passes over them without a
        # read while the index still holds that tip; only on a lazy board, whose "nothing found"
        # is always followed by a fully fresh look that reads every candidate (a ref set back to
        # the index's tip is then seen). Pages double, so a long walk costs few queries.
        moved = self.indexer.moved_seen
        if len(moved) > MOVED_SEEN_MAX:
            moved.clear()
        memo = self.lazy
        offset = 0
        while True:
            page = self.ix.ready_tips(size, offset)
            for iid, tip in page:
                if memo and moved.get(iid) == tip:
                    continue
                now = loose_tip(self.ix.common, ISSUES + iid)
                if now is not None and now != tip:
                    moved[iid] = tip
                    self.passed_over = True
                    continue
                if ref_locked(self.ix.common, ISSUES + iid, stale_after=stale):
                    self.passed_over = True
                    continue
                yield iid
            if len(page) < size:
                return
            offset += size
            size = min(size * 2, 1024)

    def blocked(self) -> list[str]:
        return self.ix.blocked_ids()

    def linked_unfinished(self) -> list[str]:
        """Issues with a linked commit (a ``commit_linked`` event) whose stored state is not final,
        in id order: what the hooks' sweep of ``Closes:`` commits looks at, instead of every issue."""
        return [i for (i,) in self.ix.c.execute(
            "SELECT i.id FROM issues i JOIN refs r ON r.ref='refs/jit/issues/' || i.id "
            "WHERE i.deleted=0 AND i.base NOT IN ('done', 'rejected', 'archived') "
            "AND r.rno IN (SELECT e.rno FROM events e "
            "WHERE e.type=(SELECT code FROM evtypes WHERE type='commit_linked')) ORDER BY i.id")]

    def gated(self, ids: Iterable[str]) -> set[str]:
        return set(self.gated_ids()).intersection(ids)

    def gated_ids(self) -> list[str]:
        """``Board.gated_ids`` in one query over the open issues with a precheck gate (only such a
        gate holds back an issue that nothing else holds back): not parked, no dependency that is
        unfinished or missing. None at all without a precheck gate in the registry."""
        keys = sorted(k for k, g in self.gate_defs.items() if g.stage == "precheck")
        if not keys:
            return []
        return [i for (i,) in self.ix.c.execute(
            "SELECT s.id FROM issues s WHERE s.id IN (SELECT g.issue FROM gates_on g WHERE g.gate IN "
            f"({','.join('?' * len(keys))})) AND s.eff='open' AND s.deleted=0 AND s.parked IS NULL "
            "AND NOT EXISTS (SELECT 1 FROM edges e LEFT JOIN issues d ON d.id=e.dst WHERE e.src=s.id "
            "AND (d.id IS NULL OR (d.deleted=0 AND d.base NOT IN ('done', 'rejected')))) "
            "ORDER BY s.prank, s.created_at, s.id", keys)]

    def state_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("open", "ready", "in_progress", "done", "rejected", "archived")}
        for eff, n in self.ix.c.execute("SELECT eff, count(*) FROM issues WHERE deleted=0 GROUP BY eff"):
            counts[eff] = counts.get(eff, 0) + n
        return counts

    def state_page(self, state: str, offset: int, limit: int) -> list[str]:
        return [i for (i,) in self.ix.c.execute(
            "SELECT id FROM issues INDEXED BY issues_eff WHERE eff=? AND deleted=0 "
            "ORDER BY prank, created_at, id LIMIT ? OFFSET ?", (state, limit, offset))]

    def select(self, *, state: str | None = None, assignee: str | None = None, priority: str | None = None,
               labels: Iterable[str] = ()) -> list[str]:
        return self.ix.select_ids(state, assignee, priority, labels)

    def search(self, text: str) -> list[str]:
        return self.ix.search_ids(text)

    def status(self, *, recent: int = 5) -> dict[str, Any]:
        return self.ix.status(recent)

    def listing(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        docs = self.ix.docs(list(ids))
        if self.raw:
            return RawList(docs)
        return loads_many(docs)

    def export(self) -> dict[str, Any]:
        """``graph export``: every node in ready order and every effective edge."""
        ids: list[str] = []
        nodes = []
        for iid, title, eff, prio, labels in self.ix.c.execute(
                "SELECT id, title, eff, priority, labels FROM issues WHERE deleted=0 "
                "ORDER BY prank, created_at, id"):
            ids.append(iid)
            nodes.append({"id": iid, "short_id": short(iid), "title": title, "state": eff, "priority": prio,
                          "labels": json.loads(labels)})
        deps = self.graph.deps.all()  # type: ignore[attr-defined]
        edges = [{"from": i, "to": d} for i in ids for d in deps.get(i, ())]
        return {"nodes": nodes, "edges": edges}


class Issues(Mapping[str, IssueState]):
    def __init__(self, board: IndexBoard, *, deleted: bool):
        self.b = board
        self.deleted = deleted
        self._where = "" if deleted else " WHERE deleted=0"

    def __getitem__(self, iid: str) -> IssueState:
        st = self.b._state(iid) if isinstance(iid, str) else None
        if st is None or (st.deleted and not self.deleted):
            raise KeyError(iid)
        return st

    def __contains__(self, iid: object) -> bool:
        return isinstance(iid, str) and self.b.ix.exists(iid, include_deleted=self.deleted)

    def __iter__(self) -> Iterator[str]:
        return iter([i for (i,) in self.b.ix.c.execute(f"SELECT id FROM issues{self._where} ORDER BY id")])

    def __len__(self) -> int:
        return int(self.b.ix.c.execute(f"SELECT count(*) FROM issues{self._where}").fetchone()[0])

    def _load_all(self) -> dict[str, IssueState]:
        cache = self.b._cache
        for iid, n, s in self.b.ix.c.execute(
                f"SELECT d.id, d.dlen, d.body FROM docs d JOIN issues i ON i.id=d.id{self._where.replace('deleted', 'i.deleted')}"):
            if iid not in cache:
                cache[iid] = IssueState.from_json(json.loads(self.b.ix.body_state(n, s)))
        return {i: cache[i] for i in self}

    def values(self) -> Any:
        return self._load_all().values()

    def items(self) -> Any:
        return self._load_all().items()

    def prefixed(self, p: str) -> list[str]:
        cond = "" if self.deleted else " AND deleted=0"
        return [i for (i,) in self.b.ix.c.execute(
            f"SELECT id FROM issues WHERE id>=? AND id<?{cond} ORDER BY id", (p, p + "\U0010ffff"))]


class _States(Mapping[str, str]):
    def __init__(self, board: IndexBoard):
        self.b = board

    def __getitem__(self, iid: str) -> str:
        return self.b.effective_state(iid)

    def __contains__(self, iid: object) -> bool:
        return isinstance(iid, str) and self.b.ix.exists(iid, include_deleted=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.b.issues)

    def __len__(self) -> int:
        return len(self.b.issues)

    def items(self) -> Any:
        return dict(self.b.ix.c.execute("SELECT id, eff FROM issues WHERE deleted=0 ORDER BY id").fetchall()).items()

    def values(self) -> Any:
        return [v for _, v in self.items()]


class _EdgeMap(Mapping[str, list[str]]):
    """Graph.deps / rdeps / missing, one SQL query per key, or all at once when iterated."""

    SQL_ONE = ""
    SQL_ALL = ""

    def __init__(self, board: IndexBoard):
        self.b = board
        self._all: dict[str, list[str]] | None = None
        self._cut = {(x.src, x.dst) for x in board.indexer.broken()}

    def _ok(self, src: str, dst: str) -> bool:
        return (src, dst) not in self._cut

    def __getitem__(self, iid: str) -> list[str]:
        if self._all is not None:
            return self._all[iid]
        if not self.b.ix.exists(iid, include_deleted=False):
            raise KeyError(iid)
        return self._one(iid)

    def _one(self, iid: str) -> list[str]:
        raise NotImplementedError

    def all(self) -> dict[str, list[str]]:
        if self._all is None:
            self._all = self._load()
        return self._all

    def _load(self) -> dict[str, list[str]]:
        raise NotImplementedError

    def _ids(self) -> tuple[set[str], set[str]]:
        """(ids of issues not deleted, ids of every issue); joined in Python, which beats SQLite's
        nested loops over the whole edge table."""
        live: set[str] = set()
        every: set[str] = set()
        for i, dl in self.b.ix.c.execute("SELECT id, deleted FROM issues"):
            every.add(i)
            if not dl:
                live.add(i)
        return live, every

    def _edges(self) -> list[tuple[str, str]]:
        return self.b.ix.c.execute("SELECT src, dst FROM edges ORDER BY src, pos").fetchall()

    def __iter__(self) -> Iterator[str]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self.all())

    def items(self) -> Any:
        return self.all().items()

    def values(self) -> Any:
        return self.all().values()


class _Deps(_EdgeMap):
    def _one(self, iid: str) -> list[str]:
        return [d for (d,) in self.b.ix.c.execute(
            "SELECT e.dst FROM edges e JOIN issues d ON d.id=e.dst WHERE e.src=? AND d.deleted=0 ORDER BY e.pos",
            (iid,)) if self._ok(iid, d)]

    def _load(self) -> dict[str, list[str]]:
        live, _ = self._ids()
        out: dict[str, list[str]] = {i: [] for i in sorted(live)}
        for s, d in self._edges():
            if s in live and d in live and self._ok(s, d):
                out[s].append(d)
        return out


class _Rdeps(_EdgeMap):
    def _one(self, iid: str) -> list[str]:
        return [s for (s,) in self.b.ix.c.execute(
            "SELECT e.src FROM edges e JOIN issues s ON s.id=e.src WHERE e.dst=? AND s.deleted=0 ORDER BY e.src",
            (iid,)) if self._ok(s, iid)]

    def _load(self) -> dict[str, list[str]]:
        live, _ = self._ids()
        out: dict[str, list[str]] = {i: [] for i in sorted(live)}
        for s, d in self._edges():
            if s in live and d in live and self._ok(s, d):
                out[d].append(s)
        return out


class _Missing(_EdgeMap):
    def __getitem__(self, iid: str) -> list[str]:
        got = self.all().get(iid) if self._all is not None else self._one(iid)
        if not got:
            raise KeyError(iid)
        return got

    def _one(self, iid: str) -> list[str]:
        return [d for (d,) in self.b.ix.c.execute(
            "SELECT e.dst FROM edges e JOIN issues s ON s.id=e.src LEFT JOIN issues d ON d.id=e.dst "
            "WHERE e.src=? AND s.deleted=0 AND d.id IS NULL ORDER BY e.pos", (iid,))]

    def _load(self) -> dict[str, list[str]]:
        live, every = self._ids()
        out: dict[str, list[str]] = {}
        for s, d in self._edges():
            if s in live and d not in every:
                out.setdefault(s, []).append(d)
        return out
