"""The kernel of the ``Tracker``: the repository, the entity store and the index it holds, who
acts, how an issue is read (``board``, ``resolve``, ``show``) and how every write is made
(``_write_issue``). The use cases are mixins over it, one module per idea (issues, claims, gates,
views, sharing), put together in ``gitjit.app.tracker``; each mixin imports this module only.

Every write goes through ``_write_issue``: read the issue's tip, check the request against
its fresh state, build the events, CAS the ref, and on a lost race do it all again.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.board import Board, issue_json
from ..core.errors import NotFoundError
from ..core.event import Event
from ..core.fold import fold_gate, fold_issue
from ..core.model import TERMINAL_STATES, IssueState, check_actor, new_event_id, now_ts, signature_of
from ..core.reads import Reads
from ..core.refs import GATES, ISSUES
from ..store.entities import EntityStore, Loaded
from ..store.indexer import ReadModel

__all__ = ["IdTaken", "Spec", "TrackerBase"]

Spec = dict[str, Any]


class IdTaken(Exception):
    """A freshly drawn issue id is already in use (2^-48 odds): draw another."""


class TrackerBase(Reads):
    """One repository's tracker. ``actor`` is who writes (``--by`` / ``JIT_ACTOR`` / git identity)."""

    if TYPE_CHECKING:  # made by a mixin, used by the kernel and other mixins
        def pull(self, remote: str = "origin", *, fetch: bool = True,
                 progress: Callable[[str, int, int | None], None] | None = None) -> dict[str, Any]: ...
        def events(self, *, event_type: str | None = None, issue: str | None = None, since: str | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]: ...
        def query(self, kind: str, value: str | None = None) -> dict[str, Any]: ...
        def registry_add(self, key: str, *, title: str, description: str = "", mode: str = "manual",
                         stage: str = "postcheck", command: str | None = None,
                         by: str | None = None) -> dict[str, Any]: ...

    def __init__(self, repo: str | Path | None = None, *, actor: str | None = None,
                 on_wait: Callable[[str], None] | None = None):
        """``on_wait`` is told, in a sentence, when this tracker waits for another process's long
        write to the index (a rebuild at 100,000 issues takes about a minute)."""
        from ..git import open_repo

        self.git = open_repo(repo)
        self.store = EntityStore(self.git)
        from .trust import signer_for  # gate passes are signed when jit.signingKey is set

        self.store.signer = signer_for(self.git)
        self._actor = actor
        self._board: Board | None = None
        #: the index, a read model of the refs (gitjit/store/indexer.py); ``use_index = False`` folds every ref
        self.index = ReadModel(self.git, self.store, on_wait=on_wait)
        #: ``(id, state, board)`` of this process's last write (``_shown`` answers from it)
        self._written_state: tuple[str, IssueState, Board | None] | None = None

    @property
    def warnings(self) -> list[str]:
        return self.store.warnings

    # ------------------------------------------------------------------ a long-lived process

    def serve(self) -> None:
        """This tracker serves requests in a long-lived process that calls ``idle`` between them
        (``jit mcp``): a request that finds the refs as the index holds them leaves recording that
        to ``idle`` instead of taking the index's write lock for it."""
        self.index.defer_record = True
        ix = self.index.indexer()
        if ix is not None:
            ix.defer_record = True

    def idle_due(self) -> int | None:
        """When (``time.time_ns``) ``idle`` has work worth doing, or None: after a write, once the
        refs' signature is a clock tick old (a listing taken earlier is racy, and every check
        until then lists the refs again)."""
        return self.index.settle_due()

    def idle(self) -> None:
        """Between requests: list the refs and record the index's snapshot, so that the next
        request's check is one stat per folder. Safe at any time (a refresh, nothing more)."""
        self.index.settle()

    def actor(self, by: str | None = None) -> str:
        if by:
            return check_actor(by)
        if self._actor:
            return check_actor(self._actor)
        name, email = self.git.identity()
        if name and email:
            return f"{name} <{email}>"
        return name or email or "unknown"

    def _author(self, actor: str) -> tuple[str, str]:
        _, email = self.git.identity()
        return signature_of(actor, email)

    def is_initialized(self) -> bool:
        return self.git.config_get("jit.version") is not None

    def init(self) -> dict[str, Any]:
        """Prepare the repository; safe to run again. Returns what was (re)configured."""
        from .mergedriver import register

        changed: list[str] = []
        if self.git.config_get("jit.version") != "1":
            self.git.config_set("jit.version", "1")
            changed.append("jit.version")
        # custom refs get no reflog unless asked; the reflog is the local audit and recovery trail
        if self.git.config_get("core.logAllRefUpdates") != "always":
            self.git.config_set("core.logAllRefUpdates", "always")
            changed.append("core.logAllRefUpdates=always")
        changed += register(self.git)
        return {"initialized": True, "repository": str(self.git.common_dir), "changed": changed}

    def _ensure_init(self) -> None:
        if not self.is_initialized():
            self.init()

    def board(self, *, fresh: bool = False) -> Board:
        ib = self.index.board(fresh=fresh)  # None: the index is off or unusable here, fold every ref
        if ib is not None:
            return ib
        if self._board is None or fresh:
            issues = {k: fold_issue(k, ld.events) for k, ld in self.store.load_all(ISSUES).items()}
            gates = {k: fold_gate(k, ld.events) for k, ld in self.store.load_all(GATES).items()}
            self._board = Board(issues, gates)
        return self._board

    def _shown(self, iid: str) -> dict[str, Any]:
        """``show(iid)`` right after this process wrote ``iid``: the JSON the write stored in the index
        (``note_write``), without checking every ref again; a full ``show`` when it is not there."""
        out = self.index.written_json(iid)
        if out is not None:
            return self._annotated(iid, out)
        w = self._written_state
        if w is not None and w[0] == iid and w[2] is not None:
            # the index was busy: the issue as this write left it, around it the board the write
            # was checked against (a claim's own neighbourhood was fresh: ``IndexBoard.local``).
            # Its JSON needs only what it depends on, not its dependents: the neighbourhood the
            # write's derived notices loaded already (``IndexBoard.local`` keeps it), not a new one
            b = w[2].with_issue(w[1], dependents=False)
            return self._annotated(iid, b.listing([iid])[0])
        try:
            return self.show(iid)
        except NotFoundError:
            # deleted by another process right after this write: the write stands, and its
            # result is the issue as this write left it
            w = self._written_state
            if w is None or w[0] != iid:
                raise
            return self._annotated(iid, issue_json(self.board().with_issue(w[1]), iid))

    def _annotated(self, iid: str, out: dict[str, Any]) -> dict[str, Any]:
        from .trust import GatePolicy  # who may pass which gate: local policy (docs/reliability.md)

        pol = GatePolicy(self.git, self.store)
        if any(pol.signed(g["key"]) for g in out.get("gates") or []):
            ld = self.store.load(ISSUES, iid)
            return pol.annotate(out, ref=ld.ref, tip=ld.tip, events=ld.events) if ld else pol.annotate(out)
        return pol.annotate(out)

    def _event(self, type_: str, *, issue_id: str | None, clock: int, actor: str, **payload: Any) -> Event:
        return Event.build(id=new_event_id(), type=type_, issue_id=issue_id, clock=clock, timestamp=now_ts(),
                           actor=actor, **payload)

    def _write_issue(
        self,
        iid: str,
        fn: Callable[[IssueState, Board], list[Spec]],
        *,
        by: str | None,
        what: str,
        create: Spec | None = None,
        remote: str | None = None,
        board: Board | None = None,
        wait: bool = True,
    ) -> IssueState:
        """Apply ``fn`` to the fresh state of ``iid`` and CAS the result onto its ref
        (with ``remote``: onto the hub first, then locally; see ``Syncer.append_via_remote``).

        ``fn`` returns event specs (``{"type": ..., **payload}``; ``issue_id`` defaults to ``iid``)
        or raises to refuse. After it, the effective states of the issue and its direct dependents
        are compared before/after, and each change not already stated is recorded as a *derived*
        ``issue_state_changed`` notice (for watchers; the fold ignores it)."""
        self._ensure_init()
        actor = self.actor(by)
        board = board if board is not None else self.board()
        build = self._builder(iid, fn, actor=actor, create=create, board=board)
        # with a hub, ``wait=False``: a push the hub refuses raises AlreadyClaimedError at once
        kw: dict[str, Any] = {"retry": wait} if remote is not None else {"wait": wait}
        loaded = (self.store.append if remote is None else self._hub_append(remote))(
            ISSUES, iid, build, message=f"{what} {iid}\n\nby {actor}", author=self._author(actor), what=what, **kw,
        )
        return self._written(iid, loaded, board)

    def _write_issues_via_hub(self, hub: str, items: list[tuple[str, Callable[[IssueState, Board], list[Spec]],
                                                           str | None]],
                              *, what: str, board: Board) -> dict[str, dict[str, Any] | Exception]:
        """Several ``_write_issue`` calls (``(iid, fn, by)``) decided by ``hub`` in ONE push
        (``Syncer.append_many_via_remote``): each issue's change is accepted or refused on its own.
        The caller has just fetched the issues. Returns each issue as shown, or what refused it."""
        self._ensure_init()
        todo = []
        for iid, fn, by in items:
            actor = self.actor(by)
            todo.append((ISSUES, iid, self._builder(iid, fn, actor=actor, create=None, board=board),
                         f"{what} {iid}\n\nby {actor}", self._author(actor)))
        got = self._syncer().append_many_via_remote(hub, todo, what=what)
        out: dict[str, dict[str, Any] | Exception] = {}
        for iid, r in got.items():
            if isinstance(r, Loaded):
                self._written(iid, r, board)
                out[iid] = self._shown(iid)
            else:
                out[iid] = r
        return out

    def _written(self, iid: str, loaded: Loaded, board: Board) -> IssueState:
        self._board = None
        noted = self.index.note_write(loaded.ref, loaded.tip)  # the writer folds its own change in
        after = fold_issue(iid, loaded.events)
        # not noted (the index busy): ``_shown`` answers from the board this write was checked against
        self._written_state = (iid, after, None if noted else board)
        return after

    def _builder(self, iid: str, fn: Callable[[IssueState, Board], list[Spec]], *, actor: str,
                 create: Spec | None, board: Board) -> Callable[[Loaded | None], list[Event]]:
        def build(cur: Loaded | None) -> list[Event]:
            if create is None and cur is None:
                raise NotFoundError(f"issue {iid} not found")
            if create is not None and cur is not None:
                raise IdTaken(iid)  # id collision with an existing issue: the caller picks a new id
            st = fold_issue(iid, cur.events) if cur else IssueState(id=iid)
            if cur is not None and st.deleted:
                raise NotFoundError(f"issue {iid} was deleted")
            specs = [create] if create is not None else []
            specs += fn(st, board)
            if not specs:
                return []
            clock = st.clock
            evs: list[Event] = []
            for spec in specs:
                clock += 1
                spec = dict(spec)
                t = spec.pop("type")
                evs.append(self._event(t, issue_id=spec.pop("issue_id", iid), clock=clock, actor=actor, **spec))
            own = list(cur.events) if cur else []
            after = fold_issue(iid, own + evs)
            for n in self._derived_notices(board, iid, st if cur else None, after, evs):
                clock += 1
                evs.append(self._event("issue_state_changed", clock=clock, actor=actor, derived=True, **n))
            return evs

        return build

    def _derived_notices(self, board: Board, iid: str, before: IssueState | None, after: IssueState,
                         evs: list[Event]) -> list[Spec]:
        stated = {e.issue_id for e in evs if e.type == "issue_state_changed"}
        # a dependent's effective state sees this issue only through whether it is finished
        # (``Board.blockers``), whether it is there at all, and the edges it adds: when none of that
        # changed (a claim, an edit, an assignment), only this issue's own state can have moved
        near = (before is not None and before.deleted == after.deleted
                and (before.state in TERMINAL_STATES) == (after.state in TERMINAL_STATES)
                and before.dependencies == after.dependencies)
        # local boards (gitjit/indexed.py): the issue, what it depends on and (unless ``near``) its dependents
        b0 = (board.with_issue(before, dependents=not near) if before is not None
              else board.without(iid))
        b1 = board.with_issue(after, dependents=not near)
        watch = [iid] if near else [iid] + [d for d, st in b1.all.items() if iid in st.dependencies]
        out: list[Spec] = []
        for d in watch:
            if d in stated:
                continue
            s0 = b0.states.get(d) if d in b0.issues else None
            s1 = b1.states.get(d) if d in b1.issues else None
            if s1 is not None and s0 != s1:
                out.append({"issue_id": d, "from": s0 or "open", "to": s1})
        return out

    def _syncer(self) -> Any:
        from ..store.sync import Syncer

        return Syncer(self.git, self.store)

    def hub(self, remote: str | None = None) -> str | None:
        """The remote that decides claims: ``remote`` if given, else ``jit config set hub``, else None."""
        return remote or self.git.config_get("jit.hub") or None

    def _hub_resolve(self, prefix: str, hub: str | None) -> str:
        """Resolve an id; with a hub, first bring that issue (and what it depends on) from the hub."""
        if hub is None:
            return self.resolve(prefix)
        try:
            iid = self.resolve(prefix)
        except NotFoundError:
            self.pull(hub)  # created elsewhere and not pulled yet
            iid = self.resolve(prefix)
        self._syncer().refresh_issue(hub, iid)
        self._board = None
        return iid

    def _hub_append(self, hub: str) -> Callable[..., Loaded]:
        return lambda *a, **kw: self._syncer().append_via_remote(hub, *a, **kw)
