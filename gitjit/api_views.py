"""Read-only views over the whole tracker: the dependency graph and the event log. Methods of
``Tracker`` (gitjit/api.py), kept in their own module to keep each one readable."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, cast

from .api_base import TrackerPart
from .errors import UsageError
from .fold import conflict_events
from .model import Event
from .query import Board, issue_json, short
from .store import GATES, ISSUES

if TYPE_CHECKING:
    from .api import Tracker

#: how many levels below its root a tree of ``graph show`` is drawn before it continues as a tree
#: of its own (``ViewOps.graph_tree``): 32 levels are 128 columns of indentation
TREE_DEPTH = 32


class ViewOps(TrackerPart):
    """``Tracker``'s graph and event methods (a mixin: ``self`` is the Tracker)."""


    def graph_deps(self, prefix: str, *, transitive: bool = True) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        ids = b.graph.upstream(iid) if transitive else list(b.graph.deps.get(iid, ()))
        return {"issue_id": iid, **_listing(b, ids)}

    def graph_downstream(self, prefix: str) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        return {"issue_id": iid, **_listing(b, b.graph.downstream(iid))}

    def graph_roots(self) -> dict[str, Any]:
        b = self.board()
        return _listing(b, b.sorted(b.graph.roots()))

    def graph_tree(self, prefix: str | None = None, *, max_depth: int = TREE_DEPTH) -> dict[str, Any]:
        """Nested dependency trees: one rooted at ``prefix``, or one per issue nothing depends on.

        No tree is drawn deeper than ``max_depth`` levels below its root: an issue there whose
        dependencies are not drawn yet is marked ``"continued": true`` (no children), and its
        subtree follows as a tree of its own whose root is marked ``"continuation": true``. A
        dependency chain of 100,000 issues would otherwise be as deep as the chain is long:
        indented output quadratic in its length (hundreds of GB of JSON), and JSON that no
        parser with a recursion limit reads back."""
        if max_depth < 1:
            raise UsageError("max_depth must be at least 1")
        b = self.board()
        deps: dict[str, list[str]]
        if prefix:
            tops = [self.resolve(prefix, b)]
            # the edges under the top (an index-backed board reads one row per issue), then what
            # is shown of those issues at once
            deps = {}
            todo = list(tops)
            while todo:
                i = todo.pop()
                if i not in deps:
                    deps[i] = list(b.graph.deps.get(i, ()))
                    todo.extend(deps[i])
            info = b.nodes(deps)
        else:
            # every issue is drawn: its edges and what is shown of it are read at once (issue by
            # issue, 100,000 issues took 20 s)
            deps = dict(b.graph.deps.items())
            tops = [i for i, r in b.graph.rdeps.items() if not r]
            info = b.nodes()

        def ordered(ids: Iterable[str]) -> list[str]:
            return sorted(ids, key=lambda i: info[i][0])

        # each issue's subtree is drawn once; where it shows up again (another issue depends on it
        # too, or a cycle) it is marked "repeated" without children. Expanding it under every
        # parent made the output grow with the number of paths: 1.1 GB of JSON at 10,000 issues.
        shown: set[str] = set()

        def node(i: str, *, continuation: bool = False) -> dict[str, Any]:
            _, title, state, priority, assignee = info[i]
            n: dict[str, Any] = {"id": i, "short_id": short(i), "title": title, "state": state,
                                 "priority": priority, "assignee": assignee, "children": []}
            if continuation:
                n["continuation"] = True  # its place in a tree above is marked "continued"
            elif i in shown:
                n["repeated"] = True
            else:
                shown.add(i)
            return n

        def tree(top: str, cut: list[str], *, continuation: bool = False) -> dict[str, Any]:
            root = node(top, continuation=continuation)
            # depth-first without recursion: a chain of dependencies may be longer than Python's stack
            stack = [(root, 0, iter(() if root.get("repeated") else ordered(deps.get(top, ()))))]
            while stack:
                parent, depth, kids = stack[-1]
                d = next(kids, None)
                if d is None:
                    stack.pop()
                    continue
                child = node(d)
                parent["children"].append(child)
                if child.get("repeated"):
                    continue
                below = ordered(deps.get(d, ()))
                if below and depth + 1 >= max_depth:
                    child["continued"] = True
                    cut.append(d)
                else:
                    stack.append((child, depth + 1, iter(below)))
            return root

        trees: list[dict[str, Any]] = []
        for t in ordered(tops):
            cut: list[str] = []
            trees.append(tree(t, cut))
            # each continuation right after the tree it continues, before the next top (pre-order)
            todo = cut[::-1]
            while todo:
                more: list[str] = []
                trees.append(tree(todo.pop(), more, continuation=True))
                todo.extend(more[::-1])
        return {"trees": trees, "broken_edges": [
            {"from": e.src, "to": e.dst, "cycle": list(e.cycle)} for e in b.graph.broken]}

    def graph_export(self) -> dict[str, Any]:
        b = self.board()
        if hasattr(b, "export"):
            return b.export()  # type: ignore[no-any-return]
        nodes = [{"id": i, "short_id": short(i), "title": b.issues[i].title, "state": b.states[i],
                  "priority": b.issues[i].priority, "labels": b.issues[i].labels} for i in b.sorted(b.issues)]
        edges = [{"from": i, "to": d} for i in b.sorted(b.issues) for d in b.graph.deps.get(i, ())]
        return {"nodes": nodes, "edges": edges}

    # ------------------------------------------------------------------ events

    def all_events(self) -> list[Event]:
        evs: list[Event] = []
        for prefix in (ISSUES, GATES):
            for ld in self.store.load_all(prefix).values():
                evs.extend(ld.events)
                if prefix == ISSUES:  # a loser's claim etc. as claim_conflict events (docs/merge.md)
                    evs.extend(conflict_events(ld.key, ld.events))
        evs.sort(key=lambda e: (e.timestamp, e.clock, e.id))
        return evs

    def events(self, *, event_type: str | None = None, issue: str | None = None, since: str | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Events oldest first; with ``limit``, the newest ``limit`` of those matching."""
        iid = self.resolve(issue, include_deleted=True) if issue else None
        if since is not None:
            from datetime import datetime

            try:
                s = datetime.fromisoformat(since.replace("Z", "+00:00"))
            except ValueError:
                raise UsageError(f"--since {since!r} is not an ISO 8601 time",
                                 hint="e.g. 2026-11-21T10:00:00") from None
            if s.tzinfo is not None:
                from datetime import timezone

                s = s.astimezone(timezone.utc).replace(tzinfo=None)
            since = s.isoformat(timespec="microseconds")
        if limit is not None and limit < 0:
            raise UsageError("--limit must be zero or more", hint="e.g. --limit 20")
        if limit is not None:
            limit = min(limit, 2**62)  # "all of them" either way; SQLite integers stop at 2**63
        from .indexed import indexed_events

        got = indexed_events(cast("Tracker", self), event_type=event_type, issue_id=iid, since=since, limit=limit)
        if got is not None:
            return got
        out = []
        for e in self.all_events():
            if event_type and e.type != event_type:
                continue
            if iid and e.issue_id != iid:
                continue
            if since and e.timestamp < since:
                continue
            out.append(e)
        if limit is not None:
            out = out[-limit:] if limit else []
        return [event_json(e) for e in out]


def event_json(e: Event) -> dict[str, Any]:
    d = e.to_json()
    d.pop("v", None)
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


def _listing(b: Board, ids: Iterable[str]) -> dict[str, Any]:
    # an IndexBoard returns the stored JSON of each issue (the same dict issue_json builds)
    issues = b.listing(ids) if hasattr(b, "listing") else [issue_json(b, i) for i in ids]
    return {"issues": issues, "count": len(issues)}
