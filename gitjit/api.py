"""The library every front end calls: the CLI, the dispatcher, the hooks and the tests.

``Tracker`` opens the repository once and offers one method per use case. Methods take
keyword-only options, raise ``gitjit.errors.GitjitError`` subclasses, return plain JSON-ready
values (the shapes in docs/json.md), print nothing and never read the environment.

Every write goes through ``_write_issue``: read the issue's tip, check the request against
its fresh state, build the events, CAS the ref, and on a lost race do it all again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    AlreadyClaimedError, AmbiguousIdError, BlockedError, CycleError, ExternalError, NoWorkError,
    NotFoundError, UsageError,
)
from .fold import fold_gate, fold_issue
from .graph import find_path
from .model import (
    TERMINAL_STATES, Event, IssueState, check_actor, check_context_key, check_context_value,
    check_description, check_gate_key, check_label, check_title, new_event_id, new_issue_id, now_ts,
    parse_priority, parse_state, utc_ts, LIMITS,
)
from .indexed import board_with, board_without, prefixed
from .query import Board, issue_json, short
from .git import RefLocked
from .store import GATES, ISSUES, EntityStore, Loaded
from .api_gates import GateOps
from .api_views import ViewOps, _listing, event_json  # noqa: F401 (event_json: re-exported)
from .rules import (  # noqa: F401
    Backoff, _claim_specs, _describe, _failed_run_specs, _tags, _transition, parse_filter,
)

if TYPE_CHECKING:
    from .batch import Batch

__all__ = ["Tracker", "parse_filter", "event_json"]

Spec = dict[str, Any]


class _IdTaken(Exception):
    """A freshly drawn issue id is already in use (2^-48 odds): draw another."""


class Tracker(GateOps, ViewOps):
    """One repository's tracker. ``actor`` is who writes (``--by`` / ``JIT_ACTOR`` / git identity)."""

    def __init__(self, repo: str | Path | None = None, *, actor: str | None = None):
        from .git import open_repo

        self.git = open_repo(repo)
        self.store = EntityStore(self.git)
        from .trust import signer_for  # gate passes are signed when jit.signingKey is set

        self.store.signer = signer_for(self.git)
        self._actor = actor
        self._board: Board | None = None

    # ------------------------------------------------------------------ identity & setup

    @property
    def warnings(self) -> list[str]:
        return self.store.warnings

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
        name = actor.split(" <")[0] or "jit"
        return (name, email or "jit@localhost")

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

    # ------------------------------------------------------------------ reading

    def board(self, *, fresh: bool = False) -> Board:
        from .indexed import indexed_board  # the index (gitjit/indexed.py); None: fold every ref

        ib = indexed_board(self, fresh=fresh)
        if ib is not None:
            return ib
        if self._board is None or fresh:
            issues = {k: fold_issue(k, ld.events) for k, ld in self.store.load_all(ISSUES).items()}
            gates = {k: fold_gate(k, ld.events) for k, ld in self.store.load_all(GATES).items()}
            self._board = Board(issues, gates)
        return self._board

    def resolve(self, prefix: str, board: Board | None = None, *, include_deleted: bool = False) -> str:
        """Full id for a unique prefix (case-insensitive). Lists candidates when ambiguous."""
        b = board or self.board()
        p = (prefix or "").strip().lower()
        if not p:
            raise UsageError("empty issue id")
        pool = b.all if include_deleted else b.issues
        if p in pool:
            return p
        hits = prefixed(pool, p)
        if len(hits) == 1:
            return hits[0]
        if not hits:
            if p in b.all or prefixed(b.all, p):
                raise NotFoundError(f"issue {prefix} was deleted", details={"issue_id": prefix},
                                    hint=f"its history stays readable: jit events query --issue {prefix}")
            raise NotFoundError(f"no issue matches {prefix!r}", hint="run 'jit issue list' to see ids",
                                details={"issue_id": prefix})
        cands = [{"id": i, "title": pool[i].title} for i in hits[:20]]
        raise AmbiguousIdError(
            f"id prefix {prefix!r} matches {len(hits)} issues: "
            + ", ".join(f"{c['id']} ({c['title']})" for c in cands),
            hint="type more characters of the id", details={"candidates": cands},
        )

    def show(self, prefix: str) -> dict[str, Any]:
        b = self.board()
        iid = self.resolve(prefix, b)
        return self._annotated(iid, b.listing([iid])[0] if hasattr(b, "listing") else issue_json(b, iid))

    def _shown(self, iid: str) -> dict[str, Any]:
        """``show(iid)`` right after this process wrote ``iid``: the JSON the write stored in the index
        (``note_write``), without checking every ref again; a full ``show`` when it is not there."""
        from .indexed import written_json

        out = written_json(self, iid)
        if out is not None:
            return self._annotated(iid, out)
        w = self.__dict__.get("_written_state")
        if w is not None and w[0] == iid and w[2] is not None:
            # the index was busy: the issue as this write left it, around it the board the write
            # was checked against (a claim's own neighbourhood was fresh: ``IndexBoard.local``).
            # Its JSON needs only what it depends on, not its dependents: the neighbourhood the
            # write's derived notices loaded already (``IndexBoard.local`` keeps it), not a new one
            from .indexed import board_with

            b = board_with(w[2], w[1], dependents=False)
            return self._annotated(iid, b.listing([iid])[0] if hasattr(b, "listing") else issue_json(b, iid))
        try:
            return self.show(iid)
        except NotFoundError:
            # deleted by another process right after this write: the write stands, and its
            # result is the issue as this write left it
            w = self.__dict__.get("_written_state")
            if w is None or w[0] != iid:
                raise
            from .indexed import board_with

            return self._annotated(iid, issue_json(board_with(self.board(), w[1]), iid))

    def _annotated(self, iid: str, out: dict[str, Any]) -> dict[str, Any]:
        from .trust import GatePolicy  # who may pass which gate: local policy (docs/reliability.md)

        pol = GatePolicy(self.git, self.store)
        if any(pol.signed(g["key"]) for g in out.get("gates") or []):
            ld = self.store.load(ISSUES, iid)
            return pol.annotate(out, ref=ld.ref, tip=ld.tip, events=ld.events) if ld else pol.annotate(out)
        return pol.annotate(out)

    def list_issues(self, *, state: str | None = None, assignee: str | None = None,
                    priority: str | None = None, labels: Iterable[str] = ()) -> dict[str, Any]:
        b = self.board()
        ids = b.select(state=parse_state(state) if state else None, assignee=assignee,
                       priority=parse_priority(priority) if priority else None, labels=list(labels))
        return _listing(b, ids)

    def search(self, text: str) -> dict[str, Any]:
        b = self.board()
        return {"query": text, **_listing(b, b.search(text))}

    def query(self, kind: str, value: str | None = None) -> dict[str, Any]:
        b = self.board()
        if kind == "ready":
            return _listing(b, b.ready())
        if kind == "blocked":
            return _listing(b, b.blocked())
        if kind == "all":
            return _listing(b, b.sorted(b.issues))
        if kind == "assignee":
            # an agent's *current* work (seed 000 counts it as the agent's load); finished issues
            # are listed by `issue list --assignee`
            return _listing(b, [i for i in b.select(assignee=value)
                                if b.issues[i].state not in TERMINAL_STATES and b.issues[i].state != "archived"])
        if kind == "state":
            return _listing(b, b.select(state=parse_state(value or "")))
        if kind == "priority":
            return _listing(b, b.select(priority=parse_priority(value or "")))
        raise UsageError(f"unknown query {kind!r}")

    def status(self) -> dict[str, Any]:
        return self.board().status()

    # ------------------------------------------------------------------ writing (core)

    def _event(self, type_: str, *, issue_id: str | None, clock: int, actor: str, **payload: Any) -> Event:
        return Event(id=new_event_id(), type=type_, issue_id=issue_id, clock=clock, timestamp=now_ts(),
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

        def build(cur: Loaded | None) -> list[Event]:
            if create is None and cur is None:
                raise NotFoundError(f"issue {iid} not found")
            if create is not None and cur is not None:
                raise _IdTaken(iid)  # id collision with an existing issue: the caller picks a new id
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

        kw: dict[str, Any] = {} if remote is not None else {"wait": wait}
        loaded = (self.store.append if remote is None else self._hub_append(remote))(
            ISSUES, iid, build, message=f"{what} {iid}\n\nby {actor}", author=self._author(actor), what=what, **kw,
        )
        self._board = None
        from .indexed import note_write  # the writer folds its own change into the index (gitjit/indexed.py)

        noted = note_write(self, loaded.ref, loaded.tip)
        after = fold_issue(iid, loaded.events)
        # not noted (the index busy): ``_shown`` answers from the board this write was checked against
        self.__dict__["_written_state"] = (iid, after, None if noted else board)
        return after

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
        b0 = (board_with(board, before, dependents=not near) if before is not None
              else board_without(board, iid))
        b1 = board_with(board, after, dependents=not near)
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

    # ------------------------------------------------------------------ issues

    def create_issue(
        self,
        title: str,
        *,
        description: str = "",
        priority: str = "normal",
        gates: Iterable[str] = (),
        context: Mapping[str, Any] | None = None,
        labels: Iterable[str] = (),
        by: str | None = None,
    ) -> dict[str, Any]:
        title, description, priority, gate_list, label_list, ctx = check_new_issue(
            title, description, priority, gates, labels, context)
        b = self.board()
        for g in gate_list:
            if g not in b.gate_defs:
                self.store.warn(f"gate '{g}' is not in the registry; it is treated as a manual postcheck gate "
                                f"(define it with 'jit registry add {g} --title ...')")
        for _ in range(5):
            iid = new_issue_id()
            spec = {"type": "issue_created", "title": title, "description": description, "priority": priority,
                    "labels": label_list, "context": ctx, "gates": gate_list}
            try:
                self._write_issue(iid, lambda st, b: [], by=by, what="create", create=spec, board=b)
            except _IdTaken:
                continue
            return self._shown(iid)
        raise ExternalError("could not find a free issue id after 5 tries")  # pragma: no cover

    def batch(self, *, by: str | None = None) -> Batch:
        """Stage many new issues and publish them at once (``with tracker.batch() as b:
        b.create_issue(...)``): each call only checks and stages, the end of the block writes them
        all through the bulk path of ``jit import``, or nothing if the block raises. See gitjit/batch.py."""
        from .batch import Batch

        self._ensure_init()
        return Batch(self, by=by)

    def update_issue(
        self,
        prefix: str,
        *,
        title: str | None = None,
        description: str | None = None,
        priority: str | None = None,
        state: str | None = None,
        context: Mapping[str, Any] | None = None,
        context_unset: Iterable[str] = (),
        labels_add: Iterable[str] = (),
        labels_remove: Iterable[str] = (),
        by: str | None = None,
    ) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = check_title(title)
        if description is not None:
            changes["description"] = check_description(description)
        if priority is not None:
            changes["priority"] = parse_priority(priority)
        if context:
            changes["context_set"] = _check_context(context)
        unset = [check_context_key(k) for k in context_unset]
        if unset:
            changes["context_unset"] = unset
        add = [check_label(lab) for lab in labels_add]
        rem = [check_label(lab) for lab in labels_remove]
        target = parse_state(state) if state is not None else None
        board = self.board()
        iid = self.resolve(prefix, board)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            specs: list[Spec] = []
            ch = {k: v for k, v in changes.items() if st.model_dump().get(k, object()) != v}
            la = [x for x in add if x not in st.labels]
            lr = [x for x in rem if x in st.labels]
            if la:
                ch["labels_add"] = la
            if lr:
                ch["labels_remove"] = lr
            if "context_set" in ch:
                ch["context_set"] = {k: v for k, v in ch["context_set"].items() if st.context.get(k, object()) != v}
                if not ch["context_set"]:
                    del ch["context_set"]
            if "context_unset" in ch:
                ch["context_unset"] = [k for k in ch["context_unset"] if k in st.context]
                if not ch["context_unset"]:
                    del ch["context_unset"]
            if len(set(st.labels) | set(la)) > LIMITS["labels"]:
                raise UsageError(f"an issue holds at most {LIMITS['labels']} labels")
            if ch:
                specs.append({"type": "issue_updated", "changes": ch, "fields": sorted(
                    {"labels" if k.startswith("labels") else "context" if k.startswith("context") else k
                     for k in ch})})
            if target is not None:
                if target == "done":  # a pass the local policy rejects does not count (gitjit/trust.py)
                    from .trust import GatePolicy

                    pol = GatePolicy(self.git, self.store)
                    ld = self.store.load(ISSUES, iid) if any(pol.signed(k) for k in st.gates) else None
                    bad = pol.untrusted(st, ref=ld.ref, tip=ld.tip, events=ld.events) if ld else pol.untrusted(st)
                    if bad:
                        raise BlockedError(f"cannot move {iid} to done: " + "; ".join(
                            f"gate '{k}' {n}" for k, n in sorted(bad.items())),
                            hint=f"have an allowed passer run: jit gate pass {short(iid)} {sorted(bad)[0]}",
                            details={"issue_id": iid, "untrusted_gates": bad})
                specs += _transition(b, st, target)
            return specs

        self._write_issue(iid, fn, by=by, what="update", board=board)
        return self._shown(iid)

    def delete_issue(self, prefix: str, *, by: str | None = None) -> dict[str, Any]:
        iid = self.resolve(prefix)
        self._write_issue(iid, lambda st, b: [{"type": "issue_deleted"}], by=by, what="delete")
        return {"id": iid, "deleted": True}

    def assign(self, prefix: str, assignee: str, *, by: str | None = None) -> dict[str, Any]:
        assignee = check_actor(assignee)
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.assignee == assignee:
                return []
            return [{"type": "issue_assigned", "assignee": assignee}]

        self._write_issue(iid, fn, by=by, what="assign")
        return self._shown(iid)

    def unassign(self, prefix: str, *, by: str | None = None) -> dict[str, Any]:
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.assignee is None:
                return []
            specs: list[Spec] = [{"type": "issue_unassigned", "assignee": st.assignee}]
            if st.state == "in_progress":
                specs = [{"type": "issue_released", "assignee": st.assignee, "reason": "unassigned"}]
            return specs

        self._write_issue(iid, fn, by=by, what="unassign")
        return self._shown(iid)

    # ------------------------------------------------------------------ claims

    def claim(self, prefix: str, assignee: str, *, by: str | None = None,
              lease_expires_at: str | None = None, remote: str | None = None) -> dict[str, Any]:
        """Atomically take a ready issue: exactly one of several concurrent claimers wins.
        ``lease_expires_at`` (dispatchers): the claim carries a lease that lapses unless renewed."""
        return self._claim(prefix, check_actor(assignee), by=by, lease_expires_at=lease_expires_at,
                           hub=self.hub(remote))

    def _claim(self, prefix: str, assignee: str, *, by: str | None, lease_expires_at: str | None,
               hub: str | None, wait: bool = True, board: Board | None = None) -> dict[str, Any]:
        from .indexed import StaleView, fold_moved

        def specs(st: IssueState, b: Board) -> list[Spec]:
            return [{**s, "expires_at": lease_expires_at} if lease_expires_at else s
                    for s in _claim_specs(b, st, assignee)]

        if hub is not None:
            iid = self._hub_resolve(prefix, hub)
            self._write_issue(iid, specs, by=by or assignee, what="claim", remote=hub)
            return self._shown(iid)
        # the index as last folded, checked only where this claim looks (``claim_board``): refs
        # other processes moved meanwhile are folded in when the claim depends on them
        b = board if board is not None else self._claim_board()
        try:
            iid = self.resolve(prefix, b)
        except NotFoundError:
            if not getattr(b, "lazy", False):
                raise
            b = self.board()
            iid = self.resolve(prefix, b)
        for _ in range(CLAIM_FOLDS):
            try:
                self._write_issue(iid, specs, by=by or assignee, what="claim", wait=wait, board=b)
                return self._shown(iid)
            except StaleView as e:
                if not fold_moved(self, e.refs):
                    break
                b = self._claim_board()
        # its neighbourhood keeps moving, or the index is busy: from a fully fresh board
        self._write_issue(iid, specs, by=by or assignee, what="claim", wait=wait, board=self.board())
        return self._shown(iid)

    def _claim_board(self) -> Board:
        from .indexed import claim_board

        b = claim_board(self)
        return b if b is not None else self.board()

    def claim_next(self, assignee: str, *, filter: str | None = None, by: str | None = None,
                   remote: str | None = None) -> dict[str, Any]:
        """Claim the first ready issue (priority, then oldest) that this agent can win.
        With a hub (``remote`` or ``jit config set hub``): pull first, and each claim is decided there.

        Locally, the ready list comes from the index as last folded, minus the issues other
        processes are writing right now (``claim_board``): those are passed over, not waited for,
        and "no work" is only ever said after a full refresh."""
        assignee = check_actor(assignee)
        pred = parse_filter(filter) if filter else (lambda st: True)
        hub = self.hub(remote)
        if hub is not None:
            self.pull(hub)
        b = self.board(fresh=True) if hub is not None else self._claim_board()
        looks = 0
        while True:
            spread = _Spread()
            for iid in spread.order(b.claimable() if hasattr(b, "claimable") else b.ready(),
                                    lambda i: pred(b.issues[i])):
                try:
                    # locally, a candidate whose ref another writer holds right now is skipped at once
                    # (that writer is most likely claiming it): contenders spread over the ready list
                    # instead of queueing for its first entry
                    return self._claim(iid, assignee, by=by, lease_expires_at=None, hub=hub, wait=hub is not None,
                                       board=b)
                except (AlreadyClaimedError, RefLocked):
                    spread.lost()  # another agent took it (or is taking it) meanwhile: next candidate
                except (BlockedError, NotFoundError):
                    continue  # it changed meanwhile
            else:
                # passed over something (moved or locked), or worked from the index as last folded
                # (a lazy board): look again from a fully fresh board, a bounded number of times; a
                # candidate still being written by then is another claimer's, so there is no work
                # for this one now
                if not getattr(b, "passed_over", False) or looks >= CLAIM_LOOKS:
                    break
            looks += 1
            b = self.board(fresh=True)
        raise NoWorkError(
            "no ready issue to claim" + (f" matching {filter!r}" if filter else ""),
            hint="run 'jit query ready' or 'jit query blocked' to see what is waiting",
        )

    def release(self, prefix: str, reason: str, *, by: str | None = None, holder: str | None = None,
                lapsed_before: str | None = None, remote: str | None = None,
                failed: Backoff | None = None) -> dict[str, Any]:
        """Give a claimed issue back. ``holder``: only if that assignee still holds it; ``lapsed_before``:
        only if its lease ran out before that time (checked against the fresh state on every retry).
        ``failed`` (dispatchers): the holder's run failed it; the release carries ``retry_after`` as
        that backoff says, and parks the issue after too many failed runs in a row."""
        if not reason or len(reason) > LIMITS["reason"]:
            raise UsageError("give a reason (at most 2000 characters)", hint="e.g. jit issue release ID timeout")
        reason = check_description(reason)
        hub = self.hub(remote)
        iid = self._hub_resolve(prefix, hub)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.assignee is None:
                raise BlockedError(f"issue {iid} is not claimed; nothing to release",
                                   hint="see who holds what: jit status",
                                   details={"issue_id": iid, "state": b.states.get(iid)})
            if st.state in TERMINAL_STATES or st.state == "archived":
                raise BlockedError(f"issue {iid} is {st.state}; nothing to release", details={"issue_id": iid},
                                   hint="only work in progress can be released")
            if holder is not None and st.assignee != holder:
                raise AlreadyClaimedError(f"issue {iid} is held by {st.assignee}, not {holder}",
                                          details={"issue_id": iid, "assignee": st.assignee})
            # both in utc_ts's form (the fold's is): comparing the strings compares the instants
            lapsed = bool(st.lease_expires_at) and (st.lease_expires_at or "") < utc_ts(lapsed_before or "")
            if lapsed_before is not None and not lapsed:
                raise BlockedError(f"issue {iid}'s lease runs until {st.lease_expires_at}",
                                   details={"issue_id": iid, "lease_expires_at": st.lease_expires_at})
            if failed is not None:
                return _failed_run_specs(st, reason, failed, now_ts())
            return [{"type": "issue_released", "assignee": st.assignee, "reason": reason}]

        self._write_issue(iid, fn, by=by, what="release", remote=hub)
        return self._shown(iid)

    def park(self, prefix: str, reason: str, *, by: str | None = None) -> dict[str, Any]:
        """Keep an issue from being started (it shows as blocked, with the reason) until someone
        un-parks it. Dispatchers park an issue their agents failed too often (``release(failed=…)``)."""
        if not reason or len(reason) > LIMITS["reason"]:
            raise UsageError("give a reason (at most 2000 characters)",
                             hint='e.g. jit issue park ID "needs a design decision first"')
        reason = check_description(reason)
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.state in TERMINAL_STATES or st.state == "archived":
                raise BlockedError(f"issue {iid} is {st.state}; only unfinished work can be parked",
                                   details={"issue_id": iid, "state": st.state},
                                   hint=f"reopen it first: jit issue update {short(iid)} --state open")
            if st.state == "in_progress":
                raise BlockedError(f"issue {iid} is in progress ({st.assignee}); release it first",
                                   details={"issue_id": iid, "assignee": st.assignee},
                                   hint=f"jit issue release {short(iid)} REASON, then park it")
            if st.parked is not None and st.parked.reason == reason:
                return []
            return [{"type": "issue_parked", "reason": reason}]

        self._write_issue(iid, fn, by=by, what="park")
        return self._shown(iid)

    def unpark(self, prefix: str, *, reason: str | None = None, by: str | None = None) -> dict[str, Any]:
        """Let a parked issue be started again, and forget its failed runs (no backoff is left):
        dispatchers try it again at once. A no-op for an issue that is neither parked nor backed off."""
        if reason is not None:
            if len(reason) > LIMITS["reason"]:
                raise UsageError("the reason is over 2000 characters", hint="shorten it")
            reason = check_description(reason)
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.parked is None and not st.failures and st.retry_after is None:
                return []
            return [{"type": "issue_unparked", **({"reason": reason} if reason else {})}]

        self._write_issue(iid, fn, by=by, what="unpark")
        return self._shown(iid)

    def renew_lease(self, prefix: str, assignee: str, expires_at: str, *, by: str | None = None) -> dict[str, Any]:
        """Extend ``assignee``'s lease on an issue it holds (a ``lease_renewed`` event); AlreadyClaimedError
        if it no longer holds it (released for timeout, say): its agent should stop."""
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if st.assignee != assignee or st.state != "in_progress":
                raise AlreadyClaimedError(f"{assignee} no longer holds issue {iid}",
                                          details={"issue_id": iid, "assignee": st.assignee, "state": st.state})
            return [{"type": "lease_renewed", "assignee": assignee, "expires_at": expires_at}]

        self._write_issue(iid, fn, by=by or assignee, what="renew-lease")
        return {"issue_id": iid, "assignee": assignee, "lease_expires_at": expires_at}

    # ------------------------------------------------------------------ dependencies

    def add_dependency(self, from_prefix: str, to_prefixes: Iterable[str], *,
                       by: str | None = None) -> dict[str, Any]:
        b = self.board()
        src = self.resolve(from_prefix, b)
        tos = [self.resolve(t, b) for t in to_prefixes]
        if not tos:
            raise UsageError("name at least one dependency", hint="jit dep add FROM TO [TO...]")
        for t in tos:
            if t == src:
                raise CycleError(f"issue {src} cannot depend on itself", hint="check the order: jit dep add FROM TO",
                                 details={"from": src, "to": t, "cycle": [src, src]})
            path = find_path(b.graph.deps, t, src)
            if path is not None:
                cyc = [src] + path
                raise CycleError(
                    "dependency would create a cycle: " + " -> ".join(short(x) for x in cyc),
                    hint=f"{short(t)} already depends on {short(src)}",
                    details={"from": src, "to": t, "cycle": cyc},
                )
        result: dict[str, Any] = {"from_id": src, "added": [], "already_exist": []}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            result["added"], result["already_exist"] = [], []
            specs = []
            for t in dict.fromkeys(tos):
                if t in st.dependencies:
                    result["already_exist"].append(t)
                else:
                    result["added"].append(t)
                    specs.append({"type": "dependency_added", "dependency": t})
            if len(st.dependencies) + len(specs) > LIMITS["dependencies"]:
                raise UsageError(f"an issue holds at most {LIMITS['dependencies']} dependencies")
            return specs

        self._write_issue(src, fn, by=by, what="dep-add")
        result["state"] = self.board().states.get(src)
        return result

    def remove_dependency(self, from_prefix: str, to_prefixes: Iterable[str], *,
                          by: str | None = None) -> dict[str, Any]:
        b = self.board()
        src = self.resolve(from_prefix, b)
        tos = [self.resolve(t, b, include_deleted=True) for t in to_prefixes]
        result: dict[str, Any] = {"from_id": src, "removed": [], "not_found": []}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            result["removed"], result["not_found"] = [], []
            specs = []
            for t in dict.fromkeys(tos):
                if t in st.dependencies:
                    result["removed"].append(t)
                    specs.append({"type": "dependency_removed", "dependency": t})
                else:
                    result["not_found"].append(t)
            return specs

        self._write_issue(src, fn, by=by, what="dep-rm")
        result["state"] = self.board().states.get(src)
        return result

    # ------------------------------------------------------------------ commits (docs/hooks.md)

    def link_commit(self, prefix: str, commit: str, *, ref: str | None = None, closes: bool = False,
                    by: str | None = None) -> dict[str, Any]:
        """Record that code commit ``commit`` serves the issue (``commit_linked``; ``closes`` marks a
        ``Closes:`` trailer). Linking a commit the issue already lists is a no-op."""
        commit = (commit or "").lower()
        if len(commit) not in (40, 64) or any(c not in "0123456789abcdef" for c in commit):
            raise UsageError(f"{commit!r} is not a full commit id")
        iid = self.resolve(prefix)
        spec: Spec = {"type": "commit_linked", "commit": commit, **({"ref": ref} if ref else {}),
                      **({"closes": True} if closes else {})}
        st = self._write_issue(iid, lambda st, b: [] if commit in st.commits else [spec], by=by, what="link")
        return {"issue_id": iid, "commit": commit, "commits": list(st.commits)}

    # ------------------------------------------------------------------ sharing (docs/sharing.md)

    def _syncer(self) -> Any:
        from .store.sync import Syncer

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

    def pull(self, remote: str = "origin", *, fetch: bool = True) -> dict[str, Any]:
        """Fetch ``remote``'s jit refs and reconcile them into ours (``fetch=False``: reconcile what a
        plain ``git fetch`` already brought). Invalid remote refs are skipped with a warning."""
        self._ensure_init()
        res = self._syncer().pull(remote, fetch=fetch).to_json()
        self._board = None
        return res

    def push(self, remote: str = "origin") -> dict[str, Any]:
        """Push every jit ref that ``remote`` does not have yet (leased; retried after a merge)."""
        self._ensure_init()
        res: dict[str, Any] = self._syncer().push(remote)
        self._board = None
        return res

    def sync(self, remote: str = "origin") -> dict[str, Any]:
        """Pull, then push."""
        pulled = self.pull(remote)
        return {"remote": remote, "pull": pulled, "push": self.push(remote)}

# ---------------------------------------------------------------------- helpers

def check_new_issue(title: str, description: str, priority: str, gates: Iterable[str], labels: Iterable[str],
                    context: Mapping[str, Any] | None) -> tuple[str, str, str, list[str], list[str], dict[str, Any]]:
    """A new issue's fields, checked and normalised (``create_issue``, ``Batch.create_issue``)."""
    title = check_title(title)  # in this order: the first bad field is the one reported
    description = check_description(description or "")
    priority = parse_priority(priority)
    gate_list = list(dict.fromkeys(check_gate_key(g) for g in gates))
    label_list = list(dict.fromkeys(check_label(lab) for lab in labels))
    ctx = _check_context(context or {})
    if len(gate_list) > LIMITS["gates"] or len(label_list) > LIMITS["labels"]:
        raise UsageError("too many gates or labels on one issue")
    return title, description, priority, gate_list, label_list, ctx


def _check_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    if len(ctx) > LIMITS["context_keys"]:
        raise UsageError(f"at most {LIMITS['context_keys']} context keys")
    return {check_context_key(k): check_context_value(k, v) for k, v in ctx.items()}


#: fresh looks ``claim_next`` takes after passing over candidates other processes are writing
CLAIM_LOOKS = 3
#: the most candidates a ``claim_next`` that lost races passes over before its next try (``_Spread``)
SPREAD_MAX = 4


class _Spread:
    """How a ``claim_next`` goes on after losing a race for a candidate (another agent locked or
    took it first). Every loser used to try the next candidate, all of them at once, and most
    lost again: 8 racing processes made ~1.8 attempts a claim, and a lost attempt costs a lock
    file, an owner record and an exception. After its n-th loss in one walk, a claimer passes
    over 0 to min(n, SPREAD_MAX) candidates at random, so the losers spread out. The ones passed
    over are not given up: they are tried, in order, after the rest of the list. A claimer that
    has not lost a race (a lone agent, the usual case) takes the first candidate it can win, as
    before: only among contending agents, whose order is decided by timing anyway, may one take
    a candidate a few places further down."""

    def __init__(self, rng: Any = None) -> None:
        self.rng = rng if rng is not None else _spread_rng()
        self.skip = 0
        self.losses = 0
        self.held: list[str] = []

    def lost(self) -> None:
        self.losses += 1
        self.skip = self.rng.randrange(min(self.losses, SPREAD_MAX) + 1)

    def order(self, ids: Iterable[str], want: Callable[[str], bool]) -> Iterable[str]:
        for iid in ids:
            if not want(iid):
                continue
            if self.skip:
                self.skip -= 1
                self.held.append(iid)
                continue
            yield iid
        self.skip = 0
        yield from self.held


def _spread_rng() -> Any:
    """A generator of this process's own (a forked child seeds its own, or racers would skip alike)."""
    import os
    import random

    global _RNG
    if _RNG is None or _RNG[0] != os.getpid():
        _RNG = (os.getpid(), random.Random(os.urandom(16)))
    return _RNG[1]


_RNG: Any = None
#: how many times a local claim folds in the neighbours that moved under it before it refreshes fully
CLAIM_FOLDS = 3
