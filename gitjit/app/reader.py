"""The reads agents run most, answered from the index as it stands, without loading pygit2.

``jit query ready --json`` at 100 issues costs ~30 ms of CPU through this path, of which the
interpreter and sqlite3 take ~16; opening the repository through pygit2 alone would add ~70.
``IndexReader`` is a ``Reads`` (gitjit/core/reads.py) like the ``Tracker``: the same methods, the
same code, over an ``IndexBoard`` of the index file. What it cannot answer exactly as the
Tracker would, it refuses with ``Stale`` before anything is printed, and the caller asks the
Tracker instead:

* no index, one from another version of gitjit, or one busy for more than a moment;
* refs that moved since the index was last brought in step (the Tracker folds them in, so the
  next read is fast again);
* a repository layout the light discovery does not know (the Tracker asks libgit2);
* ``show`` of an issue with gates when a local gate policy may apply (only the Tracker can judge
  the signatures: gitjit/app/trust.py).

Every answer comes from one read transaction: the queries of one command see one state of the
index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.board import Board
from ..core.reads import Reads
from ..store.index import NotFresh, end_reading, open_for_reading
from ..store.indexboard import IndexBoard
from ..store.indexer import Indexer

if TYPE_CHECKING:  # pragma: no cover
    from typing import Self

__all__ = ["IndexReader", "Stale", "open_reader"]


class Stale(Exception):
    """The index cannot answer this exactly now: ask the Tracker."""


class IndexReader(Reads):
    """One read-only look at the index (a context manager: ``with open_reader(...) as r``)."""

    def __init__(self, git_dir: str, common: str, workdir: str | None) -> None:
        self.where = (git_dir, common, workdir)
        try:
            self.ix = open_for_reading(common)
        except NotFresh as e:
            raise Stale(str(e)) from e
        self.warnings: list[str] = self.ix.warnings()
        self._board = IndexBoard(Indexer(None, None, index=self.ix))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        end_reading(self.ix)

    # ------------------------------------------------------------------ Reads

    def board(self, *, fresh: bool = False) -> Board:
        return self._board

    def raw_listings(self) -> None:
        """Listings return each issue's stored JSON text as it is (``jsontext.RawList``), for output
        that prints JSON: nothing is parsed and written again (``issue list --json`` at 100,000
        issues)."""
        self._board.raw = True

    def _annotated(self, iid: str, out: dict[str, Any]) -> dict[str, Any]:
        if out.get("gates"):
            from .trust import no_gate_policy  # here: only an issue with gates needs the policy

            if not no_gate_policy(*self.where):
                raise Stale("a local gate policy may apply")
        for g in out.get("gates") or []:
            g["trusted"] = True
            g["note"] = None
        return out

    def _events(self, *, event_type: str | None, issue_id: str | None, since: str | None,
                limit: int | None) -> list[dict[str, Any]]:
        return self.ix.events(event_type=event_type, issue_id=issue_id, since=since, limit=limit)


def open_reader(start: str | None) -> IndexReader | None:
    """A reader of the index of the repository git would use at ``start`` (None: the current
    directory, where ``GIT_DIR`` counts as it does for git; a named path wins over it, as for
    ``open_repo``), or None when the index cannot answer now."""
    from ..core.errors import NotFoundError
    from ..git.discover import discover_light
    from ..store.fetched import fetched_since

    try:
        loc = discover_light(start, repo_env=start is None)
    except NotFoundError:
        return None  # the Tracker says so, in its words
    if loc is None or fetched_since(loc.common_dir):  # a plain git fetch/pull ran: the Tracker merges it first
        return None
    try:
        return IndexReader(loc.git_dir, loc.common_dir, loc.workdir)
    except (Stale, OSError):
        return None
