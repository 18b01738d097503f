"""Every read-only question about the tracker, answered over a ``Board``: one definition of each
query (resolving an id, listings, search, the orchestrators' queries, status, the graph views).

Two things stand behind it: the ``Tracker`` (gitjit/app/), whose board is the index kept in step
with the refs or a fold of every ref, and the index reader (gitjit/app/reader.py), whose board is
the index as it stands, read without pygit2 by the commands agents run most. Both answer with
these methods, so their answers cannot drift apart. Pure logic: no I/O here; ``board()`` is the
one thing a subclass provides.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from itertools import islice
from typing import Any

from .board import Board, listing_json, short
from .errors import AmbiguousIdError, NotFoundError, UsageError
from .model import TERMINAL_STATES, parse_priority, parse_state, utc_ts

__all__ = ["CAPTURED_CREATE", "CAPTURED_CREATE_HINT", "Reads"]

#: said when an id is the human output of ``jit issue create`` ("Created issue: <id>") captured
#: whole, e.g. ``ID=$(jit issue create -t x)`` where seed 004 captures the bare id
CAPTURED_CREATE = "that is the output of 'jit issue create' (\"Created issue: <id>\"), not an id"
CAPTURED_CREATE_HINT = "capture the bare id with -q, e.g. ID=$(jit issue create -q -t \"Title\"), or set JIT_QUIET=1"


#: how many levels below its root a tree of ``graph show`` is drawn before it continues as a tree
#: of its own (``Reads.graph_tree``): 32 levels are 128 columns of indentation
TREE_DEPTH = 32


class Reads:
    """The read-only questions; a subclass provides ``board()``."""

    def board(self, *, fresh: bool = False) -> Board:
        raise NotImplementedError

    def resolve(self, prefix: str, board: Board | None = None, *, include_deleted: bool = False) -> str:
        """Full id for a unique prefix (case-insensitive). Lists candidates when ambiguous."""
        b = board or self.board()
        p = (prefix or "").strip().lower()
        if not p:
            raise UsageError("empty issue id")
        pool = b.all if include_deleted else b.issues
        if p in pool:
            return p
        hits = b.prefixed(p, include_deleted=include_deleted)
        if len(hits) == 1:
            return hits[0]
        if not hits:
            if p in b.all or b.prefixed(p, include_deleted=True):
                raise NotFoundError(f"issue {prefix} was deleted", details={"issue_id": prefix},
                                    hint=f"its history stays readable: jit events query --issue {prefix}")
            if p in ("created", "issue:") or p.startswith("created issue:"):
                raise NotFoundError(f"no issue matches {prefix!r}: {CAPTURED_CREATE}", hint=CAPTURED_CREATE_HINT,
                                    details={"issue_id": prefix})
            raise NotFoundError(f"no issue matches {prefix!r}", hint="run 'jit issue list' to see ids",
                                details={"issue_id": prefix})
        cands = [{"id": i, "title": pool[i].title} for i in hits[:20]]
        raise AmbiguousIdError(
            f"id prefix {prefix!r} matches {len(hits)} issues: "
            + ", ".join(f"{c['id']} ({c['title']})" for c in cands),
            hint="type more characters of the id", details={"candidates": cands},
        )

    def list_issues(self, *, state: str | None = None, assignee: str | None = None,
                    priority: str | None = None, labels: Iterable[str] = ()) -> dict[str, Any]:
        b = self.board()
        ids = b.select(state=parse_state(state) if state else None, assignee=assignee,
                       priority=parse_priority(priority) if priority else None, labels=list(labels))
        return listing_json(b, ids)

    def search(self, text: str) -> dict[str, Any]:
        b = self.board()
        return {"query": text, **listing_json(b, b.search(text))}

    def query(self, kind: str, value: str | None = None) -> dict[str, Any]:
        b = self.board()
        if kind == "ready":
            return listing_json(b, b.ready())
        if kind == "blocked":
            return listing_json(b, b.blocked())
        if kind == "all":
            return listing_json(b, b.sorted(b.issues))
        if kind == "assignee":
            # an agent's *current* work (seed 000 counts it as the agent's load); finished issues
            # are listed by `issue list --assignee`
            return listing_json(b, [i for i in b.select(assignee=value)
                                if b.issues[i].state not in TERMINAL_STATES and b.issues[i].state != "archived"])
        if kind == "state":
            return listing_json(b, b.select(state=parse_state(value or "")))
        if kind == "priority":
            return listing_json(b, b.select(priority=parse_priority(value or "")))
        raise UsageError(f"unknown query {kind!r}")

    def status(self) -> dict[str, Any]:
        return self.board().status()

    def ready_page(self, limit: int) -> dict[str, Any]:
        """The first ``limit`` ready issues (the claim order), with the fields an agent picks work by,
        and whether more are ready: ``jit mcp``'s ``ready`` (the index reads only that page)."""
        if limit < 1:
            raise UsageError("limit must be at least 1")
        b = self.board()
        ids = list(islice(b.ready_pages(min(limit + 1, 256)), limit + 1))
        issues = [{"id": it["id"], "title": it["title"], "priority": it["priority"], "labels": it["labels"],
                   "gates": [g["key"] for g in it["gates"]]} for it in b.listing(ids[:limit])]
        return {"issues": issues, "count": len(issues), "more": len(ids) > limit}

    def graph_deps(self, prefix: str, *, transitive: bool = True) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        ids = b.graph.upstream(iid) if transitive else list(b.graph.deps.get(iid, ()))
        return {"issue_id": iid, **listing_json(b, ids)}

    def graph_downstream(self, prefix: str) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        return {"issue_id": iid, **listing_json(b, b.graph.downstream(iid))}

    def graph_roots(self) -> dict[str, Any]:
        b = self.board()
        return listing_json(b, b.sorted(b.graph.roots()))

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
        return self.board().export()

    # ------------------------------------------------------------------ one issue, events

    def show(self, prefix: str) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        return self._annotated(iid, b.listing([iid])[0])

    def _annotated(self, iid: str, out: dict[str, Any]) -> dict[str, Any]:
        """``out`` (an issue's JSON) with the local verdict on each gate's passes (gitjit/app/trust.py)."""
        raise NotImplementedError

    def events(self, *, event_type: str | None = None, issue: str | None = None, since: str | None = None,
               limit: int | None = None) -> list[dict[str, Any]]:
        """Events oldest first; with ``limit``, the newest ``limit`` of those matching."""
        iid = self.resolve(issue, include_deleted=True) if issue else None
        if since is not None:
            try:
                s = datetime.fromisoformat(since)
            except ValueError:
                raise UsageError(f"--since {since!r} is not an ISO 8601 time",
                                 hint="e.g. 2026-11-21T10:00:00") from None
            since = utc_ts(s.isoformat(timespec="microseconds"))  # no offset: UTC
        if limit is not None and limit < 0:
            raise UsageError("--limit must be zero or more", hint="e.g. --limit 20")
        if limit is not None:
            limit = min(limit, 2**62)  # "all of them" either way; SQLite integers stop at 2**63
        return self._events(event_type=event_type, issue_id=iid, since=since, limit=limit)

    def _events(self, *, event_type: str | None, issue_id: str | None, since: str | None,
                limit: int | None) -> list[dict[str, Any]]:
        raise NotImplementedError
