"""What the ``Tracker`` mixins (gitjit/api_gates.py, gitjit/api_views.py) use of ``Tracker``,
declared for the type checker only: at run time ``self`` is the Tracker (gitjit/api.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..git import GitRepo
    from ..core.model import Event, IssueState
    from ..core.board import Board
    from ..store import EntityStore

Spec = dict[str, Any]


class TrackerPart:
    """The base of the Tracker mixins: no state and no behaviour of its own."""

    if TYPE_CHECKING:
        git: GitRepo
        store: EntityStore
        _board: Board | None

        def actor(self, by: str | None = None) -> str: ...
        def _author(self, actor: str) -> tuple[str, str]: ...
        def _ensure_init(self) -> None: ...
        def board(self, *, fresh: bool = False) -> Board: ...
        def resolve(self, prefix: str, board: Board | None = None, *, include_deleted: bool = False) -> str: ...
        def _event(self, type_: str, *, issue_id: str | None, clock: int, actor: str, **payload: Any) -> Event: ...
        def _write_issue(self, iid: str, fn: Callable[[IssueState, Board], list[Spec]], *, by: str | None,
                         what: str, create: Spec | None = None, remote: str | None = None,
                         board: Board | None = None, wait: bool = True) -> IssueState: ...
