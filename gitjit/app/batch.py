"""Many new issues published at once: ``Tracker.batch()``.

A planning agent or a migration script that creates hundreds of issues one ``create_issue`` call
at a time pays, for each, an fsync'd commit, a ref transaction and an index update (~6-9 ms at
100,000 issues). Inside a batch the same calls only check their arguments and stage the issue;
leaving the ``with`` block writes every staged issue through the bulk path of ``jit import``
(``gitjit.app.exchange.import_items``: one pack from ``git fast-import``, every ref in one
transaction), so the whole set appears at once or not at all. See docs/design.md ("Batches").

::

    with tracker.batch() as b:
        epic = b.create_issue("Authentication", priority="high", gates=["review"])
        model = b.create_issue("User model")
        b.add_dependency(epic["id"], [model["id"]])
    # here both issues exist, with the dependency; b.result says what was written

Ids are assigned at the call, so later calls (and the caller) can name them. Arguments are
checked at the call, with the same errors as the unbatched methods; dependencies may name issues
of the batch (by id) or existing issues (by id or unique prefix). An exception inside the block
discards the batch: nothing is written.

A batch only creates issues. Changing an existing issue (a claim, an update, a dependency *from*
an existing issue) needs a compare-and-swap of that issue's ref, so it stays a call of its own on
the tracker."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from ..core.errors import CycleError, NotFoundError, UsageError
from ..core.graph import find_path
from ..core.model import (
    LIMITS,
    new_issue_id,
)

if TYPE_CHECKING:
    from .base import TrackerBase as Tracker
    from .exchange import Item


class Batch:
    """Issues staged by ``Tracker.batch()``; written by ``commit`` (the ``with`` block's end)."""

    def __init__(self, tracker: Tracker, *, by: str | None = None):
        self.tracker = tracker
        self.by = by
        self.actor = tracker.actor(by)
        self._items: dict[str, Item] = {}  # in call order
        self._deps: dict[str, list[str]] = {}  # staged id -> ids it depends on (staged or existing)
        self._board: Any = None
        self.result: dict[str, Any] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, iid: object) -> bool:
        return iid in self._items

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()

    def _open(self) -> None:
        if self._closed:
            raise UsageError("this batch was already committed or discarded", hint="start a new tracker.batch()")

    def _board_now(self) -> Any:
        if self._board is None:
            self._board = self.tracker.board()
        return self._board

    def _target(self, ref: str) -> str:
        """A dependency target: an issue of this batch (full id) or an existing issue (id or prefix)."""
        if ref in self._items:
            return ref
        if not isinstance(ref, str) or not ref.strip():
            raise UsageError(f"invalid dependency {ref!r}", hint="name an issue id or unique prefix")
        try:
            return self.tracker.resolve(ref, self._board_now())
        except NotFoundError:
            raise NotFoundError(f"issue {ref} not found (neither in this batch nor in the repository)",
                                hint="issues created in this batch are named by their full id") from None

    # ------------------------------------------------------------------ staging

    def create_issue(
        self,
        title: str,
        *,
        description: str = "",
        priority: str = "normal",
        gates: Iterable[str] = (),
        context: Mapping[str, Any] | None = None,
        labels: Iterable[str] = (),
        depends_on: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Stage a new issue (same checks as ``Tracker.create_issue``); returns its id and fields,
        with ``"staged": True`` until the batch is committed."""
        from ..core.rules import check_new_issue
        from .exchange import Item

        self._open()
        title, description, priority, gate_list, label_list, ctx = check_new_issue(
            title, description, priority, gates, labels, context)
        if isinstance(depends_on, str):
            raise UsageError("depends_on takes a list of issue ids", hint=f"depends_on=[{depends_on!r}]")
        deps = list(dict.fromkeys(self._target(d) for d in depends_on))
        if len(deps) > LIMITS["dependencies"]:
            raise UsageError(f"an issue holds at most {LIMITS['dependencies']} dependencies")
        while True:  # 48 random bits: a clash with the batch is all but impossible, but cheap to rule out
            iid = new_issue_id()
            if iid not in self._items:
                break
        it = Item(line=len(self._items) + 1, key=iid, id=iid, title=title, description=description,
                  priority=priority, labels=label_list, context=ctx,
                  gates={g: {"status": "pending", "by": None, "updated_at": None} for g in gate_list},
                  depends_on=deps)
        self._items[iid] = it
        self._deps[iid] = deps
        return self._json(it)

    def add_dependency(self, from_id: str, to: Iterable[str]) -> dict[str, Any]:
        """Make the staged issue ``from_id`` depend on ``to`` (staged ids, or existing issues)."""
        self._open()
        if from_id not in self._items:
            raise UsageError(f"issue {from_id} is not one this batch creates",
                             hint="a batch changes only its own new issues; call tracker.add_dependency "
                                  "for an existing one")
        if isinstance(to, str):
            raise UsageError("add_dependency takes a list of issue ids to depend on", hint=f"[{to!r}]")
        tos = [self._target(t) for t in to]
        if not tos:
            raise UsageError("name at least one dependency", hint="batch.add_dependency(FROM, [TO, ...])")
        cur = self._deps[from_id]
        added: list[str] = []
        for t in dict.fromkeys(tos):
            if t == from_id:
                raise CycleError(f"issue {from_id} cannot depend on itself", details={"from": from_id, "to": t,
                                                                                       "cycle": [from_id, from_id]})
            if t in cur:
                continue
            # only staged issues can depend on staged ones, so a cycle stays inside the batch
            path = find_path(self._deps, t, from_id) if t in self._items else None
            if path is not None:
                raise CycleError("dependency would create a cycle: " + " -> ".join([from_id, *path]),
                                 details={"from": from_id, "to": t, "cycle": [from_id, *path]})
            added.append(t)
        if len(cur) + len(added) > LIMITS["dependencies"]:
            raise UsageError(f"an issue holds at most {LIMITS['dependencies']} dependencies")
        cur.extend(added)
        self._items[from_id].depends_on = list(cur)
        return {"from_id": from_id, "added": added, "already_exist": [t for t in tos if t not in added]}

    @staticmethod
    def _json(it: Item) -> dict[str, Any]:
        return {"id": it.id, "title": it.title, "description": it.description, "priority": it.priority,
                "state": "open", "labels": list(it.labels), "context": dict(it.context), "gates": list(it.gates),
                "dependencies": list(it.depends_on), "staged": True}

    def issues(self) -> list[dict[str, Any]]:
        """The staged issues, in the order they were created."""
        return [self._json(it) for it in self._items.values()]

    # ------------------------------------------------------------------ ending

    def commit(self) -> dict[str, Any]:
        """Write every staged issue at once (checked again against the repository as it is now:
        ids, dependency targets, cycles), or raise and write nothing. Returns what was written."""
        from .exchange import import_items

        self._open()
        if not self._items:
            self._closed = True
            self.result = {"count": 0, "ids": []}
            return self.result
        # a failure (a clash with an issue created meanwhile, packed-refs locked too long) leaves
        # the batch open and unwritten: fix the cause and commit again, or discard
        res = import_items(self.tracker, list(self._items.values()), where="tracker.batch()", by=self.by)
        self._closed = True
        self.result = {"count": res["count"], "ids": list(self._items), "gates_defined": res["gates_defined"],
                       "seconds": res["seconds"]}
        return self.result

    def discard(self) -> None:
        """Forget every staged issue; nothing was written."""
        self._closed = True
        self._items.clear()
        self._deps.clear()
