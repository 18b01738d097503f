"""The board: effective states, blocked reasons, the ready queue, filters and status. Pure logic.

An issue whose stored base state is ``open`` is *ready* when nothing blocks it: it is not
parked, every dependency is done or rejected, and every precheck gate has passed. Nobody writes
"ready"; it follows from the other issues, so finishing A never has to race a write to
B's ref. Postcheck gates (the default stage) do not block starting; they block ``done``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .graph import Graph
from .model import PRIORITY_RANK, TERMINAL_STATES, GateDef, IssueState, utc_ts

if TYPE_CHECKING:  # pragma: no cover - a read from the index never holds an Event (gitjit/core/event.py)
    from .event import Event

__all__ = ["Board", "event_json", "event_order", "issue_json", "listing_json", "short"]


def short(iid: str) -> str:
    return iid[:8]


class Board:
    """Every issue and gate definition, and what follows from them: the one interface every
    reader uses. Two implementations stand behind it: this one, over states held in memory (a
    fold of every ref, or a local neighbourhood), and ``gitjit.store.indexboard.IndexBoard``, which
    reads the same answers from the index row by row. Callers never ask which one they hold."""

    #: a view that may lag behind other processes' writes (the index as last folded, for a claim):
    #: "no work" is only said from a board that is not lazy
    lazy = False
    #: whether a claim walk passed over candidates other processes were writing (lazy boards only)
    passed_over = False

    def __init__(self, issues: Mapping[str, IssueState], gates: Mapping[str, GateDef] | None = None):
        self.all = dict(issues)
        self.issues = {k: v for k, v in issues.items() if not v.deleted}
        self.gate_defs = {k: v for k, v in (gates or {}).items() if not v.removed}

    # ------------------------------------------------------------------ derived boards

    def with_issue(self, st: IssueState, *, dependents: bool = True) -> Board:
        """This board with ``st`` in place of its issue (a write checks its result against it).
        Without ``dependents`` it need only answer for ``st``'s issue itself."""
        return Board({**self.all, st.id: st}, self.gate_defs)

    def without(self, iid: str, *, dependents: bool = True) -> Board:
        """This board without issue ``iid`` (as before its creation)."""
        return Board({k: v for k, v in self.all.items() if k != iid}, self.gate_defs)

    def prefixed(self, p: str, *, include_deleted: bool = False) -> list[str]:
        """Sorted ids starting with ``p``."""
        pool = self.all if include_deleted else self.issues
        return sorted(i for i in pool if i.startswith(p))

    @cached_property
    def graph(self) -> Graph:
        return Graph.build(self.all)

    # ------------------------------------------------------------------ per issue

    def gate_stage(self, key: str) -> str:
        g = self.gate_defs.get(key)
        return g.stage if g else "postcheck"

    def blockers(self, iid: str, *, for_done: bool = False, _shallow: bool = False) -> list[dict[str, Any]]:
        """Why ``iid`` cannot start (or, with ``for_done``, cannot be done). ``_shallow`` (for
        effective_state, which needs only whether the list is empty) skips the dependencies' own
        effective states: without it a chain of open issues recursed once per link (quadratic
        work, and a RecursionError past ~1,000 links)."""
        st = self.issues[iid]
        out: list[dict[str, Any]] = []
        if st.parked is not None and not for_done:  # parked work may still be finished by hand
            out.append({"type": "parked", "reason": st.parked.reason, "by": st.parked.by,
                        "since": st.parked.since})
        for d in self.graph.deps.get(iid, ()):
            dep = self.issues[d]
            if dep.state not in TERMINAL_STATES:
                out.append({"type": "dependency", "issue_id": d, "title": dep.title,
                            "state": dep.state if _shallow else self.effective_state(d)})
        for d in self.graph.missing.get(iid, ()):
            out.append({"type": "missing_dependency", "issue_id": d,
                        "detail": "not in this clone (run 'jit pull')"})
        for key, g in st.gates.items():
            if g.status.value == "passed":
                continue
            if for_done or self.gate_stage(key) == "precheck":
                out.append({"type": "gate", "gate_key": key, "status": g.status.value,
                            "stage": self.gate_stage(key)})
        return out

    def effective_state(self, iid: str) -> str:
        st = self.issues[iid]
        if st.state != "open":
            return st.state
        return "open" if self.blockers(iid, _shallow=True) else "ready"

    @cached_property
    def states(self) -> dict[str, str]:
        return {i: self.effective_state(i) for i in self.issues}

    def is_ready(self, iid: str) -> bool:
        return self.states[iid] == "ready" and self.issues[iid].assignee is None

    # ------------------------------------------------------------------ lists

    @staticmethod
    def order_key(st: IssueState) -> tuple[int, str, str]:
        """Priority (critical first), then oldest first, then id (deterministic)."""
        return (PRIORITY_RANK.get(st.priority, 9), st.created_at, st.id)

    def sorted(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=lambda i: self.order_key(self.issues[i]))

    def nodes(self, ids: Iterable[str] | None = None) -> dict[str, tuple[Any, ...]]:
        """What a drawing of the graph shows of each issue (every one when ``ids`` is None):
        ``(order key, title, effective state, priority, assignee)``; KeyError for an unknown id."""
        out: dict[str, tuple[Any, ...]] = {}
        for i in (self.issues if ids is None else ids):
            st = self.issues[i]
            out[i] = (self.order_key(st), st.title, self.states[i], st.priority, st.assignee)
        return out

    def claimable(self) -> Iterable[str]:
        """The ready issues in the order a ``claim_next`` tries them."""
        return self.ready()

    def ready(self) -> list[str]:
        return self.sorted(i for i in self.issues if self.is_ready(i))

    def ready_pages(self, size: int = 32) -> Iterable[str]:
        """``ready()`` in order; the index's board reads it a page at a time."""
        return iter(self.ready())

    def blocked(self) -> list[str]:
        return self.sorted(
            i for i, st in self.issues.items()
            if st.state not in TERMINAL_STATES and st.state != "archived" and self.blockers(i)
        )

    def gated(self, ids: Iterable[str]) -> set[str]:
        """Those of ``ids`` (open issues) held back by gates alone: no unfinished or missing
        dependency, not parked (the web board's "gated" column; the rest of open is "blocked")."""
        return {i for i in ids if self.states.get(i) == "open" and all(b["type"] == "gate" for b in self.blockers(i))}

    def gated_ids(self) -> list[str]:
        """Every gated issue (``gated``), in ready order."""
        return self.sorted(self.gated(i for i, s in self.states.items() if s == "open"))

    def state_counts(self) -> dict[str, int]:
        """How many issues have each effective state."""
        counts = {s: 0 for s in ("open", "ready", "in_progress", "done", "rejected", "archived")}
        for s in self.states.values():
            counts[s] += 1
        return counts

    def state_page(self, state: str, offset: int, limit: int) -> list[str]:
        """Issues ``offset..offset+limit`` of one effective state, in ready order."""
        return self.select(state=state)[offset:offset + limit]

    def select(
        self,
        *,
        state: str | None = None,
        assignee: str | None = None,
        priority: str | None = None,
        labels: Iterable[str] = (),
    ) -> list[str]:
        pats = list(labels)
        out = []
        for i, st in self.issues.items():
            if state is not None and self.states[i] != state:
                continue
            if assignee is not None and st.assignee != assignee:
                continue
            if priority is not None and st.priority != priority:
                continue
            if pats and not all(any(fnmatch.fnmatchcase(lab, p) for lab in st.labels) for p in pats):
                continue
            out.append(i)
        return self.sorted(out)

    def search(self, text: str) -> list[str]:
        t = text.lower()
        return self.sorted(
            i for i, st in self.issues.items()
            if t in st.title.lower() or t in st.description.lower() or i.startswith(t)
            or any(t in lab.lower() for lab in st.labels)
        )

    # ------------------------------------------------------------------ status

    def status(self, *, recent: int = 5) -> dict[str, Any]:
        counts = {s: 0 for s in ("open", "ready", "in_progress", "done", "rejected", "archived")}
        for s in self.states.values():
            counts[s] += 1
        done = sorted((st for st in self.issues.values() if st.state == "done"),
                      key=lambda st: (st.completed_at or "", st.id), reverse=True)
        holders: dict[str, list[dict[str, str]]] = {}
        for i in self.sorted(self.issues):
            st = self.issues[i]
            if st.assignee and st.state not in TERMINAL_STATES:
                holders.setdefault(st.assignee, []).append(
                    {"id": i, "title": st.title, "state": self.states[i], "since": st.claimed_at or ""})
        parked = []
        for i in self.sorted(i for i, st in self.issues.items() if st.parked is not None):
            p = self.issues[i].parked
            if p is not None:
                parked.append({"id": i, "title": self.issues[i].title, "reason": p.reason, "by": p.by,
                               "since": p.since})
        conflicts = [
            {"issue_id": st.id, **c.to_json()}
            for st in self.all.values() for c in st.conflicts  # deleted too: edit-vs-delete losers
        ]
        conflicts += [
            {"issue_id": b.src, "type": "cycle", "event_id": "", "detail":
             f"edge {b.src} -> {b.dst} ignored: it closed the cycle {' -> '.join(b.cycle)}"}
            for b in self.graph.broken
        ]
        return {
            **counts,
            "blocked": len(self.blocked()),
            "total": len(self.issues),
            "recent_completions": [
                {"id": st.id, "title": st.title, "completed_at": st.completed_at} for st in done[:recent]
            ],
            "assignments": holders,
            "parked": parked,
            "conflicts": conflicts,
        }

    def listing(self, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The JSON of each issue (``issue_json``), in the order given."""
        return [issue_json(self, i) for i in ids]

    def export(self) -> dict[str, Any]:
        """``graph export``: every node in ready order and every effective edge."""
        ids = self.sorted(self.issues)
        nodes = [{"id": i, "short_id": short(i), "title": self.issues[i].title, "state": self.states[i],
                  "priority": self.issues[i].priority, "labels": self.issues[i].labels} for i in ids]
        edges = [{"from": i, "to": d} for i in ids for d in self.graph.deps.get(i, ())]
        return {"nodes": nodes, "edges": edges}


def issue_json(board: Board, iid: str, *, gate_titles: bool = True) -> dict[str, Any]:
    """The issue as every command prints it (docs/json.md). Stable keys."""
    st = board.issues.get(iid) or board.all[iid]
    gates = []
    for key, g in st.gates.items():
        d = board.gate_defs.get(key)
        gates.append({
            "key": key, "status": g.status.value, "by": g.by, "updated_at": g.updated_at, "reason": g.reason,
            "title": d.title if d else key, "mode": d.mode if d else "manual",
            "stage": d.stage if d else "postcheck", "defined": d is not None,
        })
    state = board.states.get(iid, st.state) if not st.deleted else "deleted"
    out: dict[str, Any] = {
        "id": st.id,
        "short_id": short(st.id),
        "title": st.title,
        "description": st.description,
        "state": state,
        "priority": st.priority,
        "assignee": st.assignee,
        # an edge to a deleted issue no longer counts anywhere, so it is not shown either
        "dependencies": [d for d in st.dependencies if not (d in board.all and board.all[d].deleted)],
        "gates": gates,
        "context": st.context,
        "labels": st.labels,
        "created_at": st.created_at,
        "updated_at": st.updated_at,
        "created_by": st.created_by,
        "claimed_at": st.claimed_at,
        "completed_at": st.completed_at,
        "commits": list(st.commits),
        "conflicts": [c.to_json() for c in st.conflicts],
    }
    # always present (empty when finished) so consumers see one stable key set
    out["blocked_reasons"] = board.blockers(iid) if not st.deleted and st.state not in TERMINAL_STATES else []
    return out


def listing_json(b: Board, ids: Iterable[str]) -> dict[str, Any]:
    """The ``{"issues": [...], "count": n}`` shape of every listing (docs/json.md)."""
    issues = b.listing(ids)
    return {"issues": issues, "count": len(issues)}


def event_order(e: Event) -> tuple[str, int, str]:
    """The order of events across issues: (timestamp, clock, id), the timestamp in ``utc_ts``'s
    form, so an old event (no offset) and a new one compare by their instants."""
    return (utc_ts(e.timestamp), e.clock, e.id)


#: the event fields holding a time (docs/storage-format.md)
_TIME_FIELDS = ("timestamp", "expires_at", "retry_after")


def event_json(e: Event) -> dict[str, Any]:
    """An event as every command prints it (docs/json.md)."""
    d = e.to_json()
    d.pop("v", None)
    # every timestamp shown with its offset (``utc_ts``); the stored line keeps what was written
    for k in _TIME_FIELDS:
        if isinstance(d.get(k), str):
            d[k] = utc_ts(d[k])
    d.setdefault("issue_id", None)  # stable shape: gate-definition events carry issue_id null
    # objects inside the payload (``changes``, ``context``) in key order, as they are stored: the
    # writer's own copy of an event it just made has them in the order the caller gave them
    for k, v in d.items():
        if isinstance(v, (dict, list)):
            d[k] = _keys_sorted(v)
    return d


def _keys_sorted(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _keys_sorted(v[k]) for k in sorted(v)}
    if isinstance(v, list):
        return [_keys_sorted(x) for x in v]
    return v
