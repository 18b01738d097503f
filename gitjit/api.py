"""The library every front end calls: the CLI, the dispatcher, the hooks and the tests.

``Tracker`` opens the repository once and offers one method per use case. Methods take
keyword-only options, raise ``gitjit.errors.GitjitError`` subclasses, return plain JSON-ready
values (the shapes in docs/json.md), print nothing and never read the environment.

Every write goes through ``_write_issue``: read the issue's tip, check the request against
its fresh state, build the events, CAS the ref, and on a lost race do it all again.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import (
    AlreadyClaimedError, AlreadyExistsError, AmbiguousIdError, BlockedError, CycleError, ExternalError,
    GitjitError, NoWorkError, NotFoundError, UsageError,
)
from .fold import conflict_events, fold_gate, fold_issue
from .graph import find_path
from .model import (
    TERMINAL_STATES, Event, GateDef, IssueState, check_actor, check_context_key, check_context_value,
    check_description, check_gate_key, check_label, check_title, new_event_id, new_issue_id, now_ts,
    parse_priority, parse_state, LIMITS,
)
from .indexed import board_with, board_without, prefixed
from .query import Board, issue_json, short
from .git import RefLocked
from .store import GATES, ISSUES, EntityStore, Loaded

__all__ = ["Tracker", "parse_filter"]

Spec = dict[str, Any]


class _IdTaken(Exception):
    """A freshly drawn issue id is already in use (2^-48 odds): draw another."""


class Tracker:
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

        note_write(self, loaded.ref, loaded.tip)
        after = fold_issue(iid, loaded.events)
        self.__dict__["_written_state"] = (iid, after)
        return after

    def _derived_notices(self, board: Board, iid: str, before: IssueState | None, after: IssueState,
                         evs: list[Event]) -> list[Spec]:
        stated = {e.issue_id for e in evs if e.type == "issue_state_changed"}
        # local boards (gitjit/indexed.py): the issue, what it depends on and its dependents
        b0 = board_with(board, before) if before is not None else board_without(board, iid)
        b1 = board_with(board, after)
        watch = [iid] + [d for d, st in b1.all.items() if iid in st.dependencies]
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
        title = check_title(title)
        description = check_description(description or "")
        priority = parse_priority(priority)
        gate_list = list(dict.fromkeys(check_gate_key(g) for g in gates))
        label_list = list(dict.fromkeys(check_label(lab) for lab in labels))
        ctx = _check_context(context or {})
        if len(gate_list) > LIMITS["gates"] or len(label_list) > LIMITS["labels"]:
            raise UsageError("too many gates or labels on one issue")
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
        from .indexed import StaleView

        def specs(st: IssueState, b: Board) -> list[Spec]:
            return [{**s, "expires_at": lease_expires_at} if lease_expires_at else s
                    for s in _claim_specs(b, st, assignee)]

        if hub is not None:
            iid = self._hub_resolve(prefix, hub)
            self._write_issue(iid, specs, by=by or assignee, what="claim", remote=hub)
            return self._shown(iid)
        # one look at the refs for the whole call; refs other processes moved meanwhile are worked
        # around (``claim_board``) unless this claim depends on them: then one full refresh
        b = board if board is not None else self._claim_board()
        try:
            iid = self.resolve(prefix, b)
        except NotFoundError:
            if not getattr(b, "pending", None):
                raise
            b = self.board()
            iid = self.resolve(prefix, b)
        try:
            self._write_issue(iid, specs, by=by or assignee, what="claim", wait=wait, board=b)
        except StaleView:
            if board is not None:
                raise  # claim_next's own board: it refreshes and looks again
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
        from .indexed import StaleView

        assignee = check_actor(assignee)
        pred = parse_filter(filter) if filter else (lambda st: True)
        hub = self.hub(remote)
        if hub is not None:
            self.pull(hub)
        b = self.board(fresh=True) if hub is not None else self._claim_board()
        looks = 0
        while True:
            for iid in (b.claimable() if hasattr(b, "claimable") else b.ready()):
                if not pred(b.issues[iid]):
                    continue
                try:
                    # locally, a candidate whose ref another writer holds right now is skipped at once
                    # (that writer is most likely claiming it): contenders spread over the ready list
                    # instead of queueing for its first entry
                    return self._claim(iid, assignee, by=by, lease_expires_at=None, hub=hub, wait=hub is not None,
                                       board=b)
                except (AlreadyClaimedError, BlockedError, NotFoundError, RefLocked):
                    continue  # another agent took it (or it changed) meanwhile: next candidate
                except StaleView:
                    break  # its neighbourhood is being written: look again from a fresh board
            else:
                # passed over something (pending, moved or locked): look again from a fully fresh
                # board, a bounded number of times; a candidate still being written by then is
                # another claimer's, so there is no work for this one now
                if not getattr(b, "passed_over", False) or looks >= CLAIM_LOOKS:
                    break
            looks += 1
            b = self.board(fresh=True)
        raise NoWorkError(
            "no ready issue to claim" + (f" matching {filter!r}" if filter else ""),
            hint="run 'jit query ready' or 'jit query blocked' to see what is waiting",
        )

    def release(self, prefix: str, reason: str, *, by: str | None = None, holder: str | None = None,
                lapsed_before: str | None = None, remote: str | None = None) -> dict[str, Any]:
        """Give a claimed issue back. ``holder``: only if that assignee still holds it; ``lapsed_before``:
        only if its lease ran out before that time (checked against the fresh state on every retry)."""
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
            if lapsed_before is not None and not (st.lease_expires_at and st.lease_expires_at < lapsed_before):
                raise BlockedError(f"issue {iid}'s lease runs until {st.lease_expires_at}",
                                   details={"issue_id": iid, "lease_expires_at": st.lease_expires_at})
            return [{"type": "issue_released", "assignee": st.assignee, "reason": reason}]

        self._write_issue(iid, fn, by=by, what="release", remote=hub)
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

    # ------------------------------------------------------------------ gates on issues

    def gate_add(self, prefix: str, keys: Iterable[str], *, by: str | None = None) -> dict[str, Any]:
        ks = [check_gate_key(k) for k in keys]
        iid = self.resolve(prefix)
        b = self.board()
        for k in ks:
            if k not in b.gate_defs:
                self.store.warn(f"gate '{k}' is not in the registry; it is treated as a manual postcheck gate")
        out: dict[str, Any] = {"issue_id": iid, "added": [], "already_exist": []}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            out["added"], out["already_exist"] = [], []
            specs = []
            for k in dict.fromkeys(ks):
                if k in st.gates:
                    out["already_exist"].append(k)
                else:
                    out["added"].append(k)
                    specs.append({"type": "gate_added", "gate_key": k})
            if len(st.gates) + len(specs) > LIMITS["gates"]:
                raise UsageError(f"an issue holds at most {LIMITS['gates']} gates")
            return specs

        self._write_issue(iid, fn, by=by, what="gate-add")
        return out

    def gate_remove(self, prefix: str, key: str, *, by: str | None = None) -> dict[str, Any]:
        iid = self.resolve(prefix)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if key not in st.gates:
                raise NotFoundError(f"issue {iid} does not require gate '{key}'")
            return [{"type": "gate_removed", "gate_key": key}]

        self._write_issue(iid, fn, by=by, what="gate-remove")
        return {"issue_id": iid, "removed": key}

    def gate_set(self, prefix: str, key: str, passed: bool, *, by: str | None = None,
                 reason: str | None = None) -> dict[str, Any]:
        check_gate_key(key)
        iid = self.resolve(prefix)
        who = self.actor(by)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            if key not in st.gates:
                # not found (exit 3), like gate remove: the gate is absent from the issue
                raise NotFoundError(
                    f"issue {iid} does not require gate '{key}'",
                    hint=f"add it first: jit gate add {short(iid)} {key}",
                    details={"issue_id": iid, "gate_key": key, "required": list(st.gates)},
                )
            if passed:
                from .trust import GatePolicy

                pol = GatePolicy(self.git)
                if pol.allowed(key, who):
                    raise BlockedError(f"{who} may not pass gate '{key}' under the local policy ({pol.rule(key)})",
                                       hint="ask someone the policy allows, or change the policy",
                                       details={"issue_id": iid, "gate_key": key, "by": who})
                if pol.signed(key) and self.store.signer is None:
                    raise BlockedError(f"gate '{key}' takes signed passes only (jit-gate.{key}.signed), and this "
                                       "clone has no signing key", hint="git config jit.signingKey ~/.ssh/id_ed25519",
                                       details={"issue_id": iid, "gate_key": key})
            spec: Spec = {"type": "gate_passed" if passed else "gate_failed", "gate_key": key, "by": who}
            if reason:
                spec["reason"] = check_description(reason)
            return [spec]

        self._write_issue(iid, fn, by=by, what="gate-pass" if passed else "gate-fail")
        return {"issue_id": iid, "gate_key": key, "status": "passed" if passed else "failed", "by": who,
                "state": self.board().states.get(iid)}

    def gate_run(self, prefix: str, key: str, *, by: str | None = None, timeout: float = 600) -> dict[str, Any]:
        """Run the gate's checker command (local configuration only) and record pass or fail."""
        iid = self.resolve(prefix)
        cmd, source = self.gate_command(key)
        if not cmd:
            raise NotFoundError(
                f"gate '{key}' has no checker command in this clone's configuration",
                hint=f"set one with: jit registry add {key} --title ... --auto --command CMD "
                     "(or [gates.{key}] command in jit.toml); commands are never taken from synced data",
            )
        cwd = str(self.git.workdir or self.git.common_dir)
        env = {**_os_environ(), "JIT_ISSUE_ID": iid, "JIT_GATE_KEY": key}
        try:
            proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env, capture_output=True, text=True,
                                  timeout=timeout)
        except subprocess.TimeoutExpired:
            self.gate_set(iid, key, False, by=by, reason=f"checker timed out after {timeout:g}s")
            raise ExternalError(f"gate '{key}' checker timed out after {timeout:g}s") from None
        ok = proc.returncode == 0
        res = self.gate_set(iid, key, ok, by=by or f"checker:{key}",
                            reason=None if ok else f"exit {proc.returncode}")
        res.update({"exit_code": proc.returncode, "command": cmd, "command_source": source,
                    "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-4000:]})
        if not ok:
            raise BlockedError(f"gate '{key}' failed: checker exited {proc.returncode}", details=res,
                               hint="fix what the checker reports (its output is in details), then run it again")
        return res

    # ------------------------------------------------------------------ gate registry

    def _gate_defs(self) -> dict[str, GateDef]:
        return {k: fold_gate(k, ld.events) for k, ld in self.store.load_all(GATES).items()}

    def registry_add(self, key: str, *, title: str, description: str = "", mode: str = "manual",
                     stage: str = "postcheck", command: str | None = None, by: str | None = None) -> dict[str, Any]:
        key = check_gate_key(key)
        title = check_title(title)
        description = check_description(description or "")
        if mode not in ("auto", "manual"):
            raise UsageError(f"unknown gate mode {mode!r}", hint="use --auto or --manual")
        if stage not in ("precheck", "postcheck"):
            raise UsageError(f"unknown gate stage {stage!r}", hint="use precheck or postcheck")
        if command is not None and ("\n" in command or not command.strip()):
            raise UsageError("--command must be one non-empty line")
        self._ensure_init()
        actor = self.actor(by)

        def build(cur: Loaded | None) -> list[Event]:
            g = fold_gate(key, cur.events) if cur else None
            if g is not None and not g.removed:
                raise AlreadyExistsError(f"gate '{key}' is already defined",
                                         hint=f"see it with 'jit registry show {key}'")
            clock = (g.clock if g else 0) + 1
            return [self._event("gate_defined", issue_id=None, clock=clock, actor=actor, gate_key=key,
                                title=title, description=description, mode=mode, stage=stage)]

        self.store.append(GATES, key, build, message=f"define gate {key}", author=self._author(actor),
                          what="registry-add")
        if command is not None:
            self.git.config_set(f"jit-gate.{key}.command", command)
        self._board = None
        return self.registry_show(key)

    def registry_remove(self, key: str, *, by: str | None = None) -> dict[str, Any]:
        actor = self.actor(by)

        def build(cur: Loaded | None) -> list[Event]:
            g = fold_gate(key, cur.events) if cur else None
            if g is None or g.removed:
                raise NotFoundError(f"gate '{key}' is not defined", hint="see 'jit registry list'")
            return [self._event("gate_definition_removed", issue_id=None, clock=g.clock + 1, actor=actor,
                                gate_key=key)]

        self.store.append(GATES, key, build, message=f"remove gate {key}", author=self._author(actor),
                          what="registry-remove")
        self.git.config_unset(f"jit-gate.{key}.command")
        self._board = None
        return {"gate_key": key, "removed": True}

    def registry_list(self) -> dict[str, Any]:
        gates = [self._gate_json(g) for k, g in sorted(self._gate_defs().items()) if not g.removed]
        return {"gates": gates, "count": len(gates)}

    def registry_show(self, key: str) -> dict[str, Any]:
        g = self._gate_defs().get(key)
        if g is None or g.removed:
            raise NotFoundError(f"gate '{key}' is not defined", hint="see 'jit registry list'")
        return self._gate_json(g)

    def _gate_json(self, g: GateDef) -> dict[str, Any]:
        cmd, src = self.gate_command(g.key)
        return {"key": g.key, "title": g.title, "description": g.description, "mode": g.mode,
                "auto": g.mode == "auto", "stage": g.stage, "command": cmd, "command_source": src,
                "created_at": g.created_at, "updated_at": g.updated_at}

    def gate_command(self, key: str) -> tuple[str | None, str | None]:
        """The checker command for ``key`` from *local* configuration only: git config first, then a
        committed ``jit.toml`` in the work tree. Synced refs never carry commands."""
        cmd = self.git.config_get(f"jit-gate.{key}.command")
        if cmd:
            return cmd, "git-config"
        if self.git.workdir is not None:
            p = self.git.workdir / "jit.toml"
            if p.is_file():
                import tomllib

                try:
                    data = tomllib.loads(p.read_text())
                except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
                    self.store.warn(f"{p} is not valid TOML; ignored")
                    return None, None
                c = (data.get("gates", {}).get(key) or {}).get("command")
                if isinstance(c, str) and c.strip():
                    return c, "jit.toml"
        return None, None

    # ------------------------------------------------------------------ graph

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

    def graph_tree(self, prefix: str | None = None) -> dict[str, Any]:
        """Nested dependency trees: one rooted at ``prefix``, or one per issue nothing depends on."""
        b = self.board()
        if prefix:
            tops = [self.resolve(prefix, b)]
        else:
            tops = b.sorted(i for i in b.issues if not b.graph.rdeps.get(i))

        def node(i: str, seen: frozenset[str]) -> dict[str, Any]:
            st = b.issues[i]
            n: dict[str, Any] = {"id": i, "short_id": short(i), "title": st.title, "state": b.states[i],
                                 "priority": st.priority, "assignee": st.assignee, "children": []}
            if i in seen:
                n["repeated"] = True
                return n
            for d in b.sorted(b.graph.deps.get(i, ())):
                n["children"].append(node(d, seen | {i}))
            return n

        return {"trees": [node(t, frozenset()) for t in tops], "broken_edges": [
            {"from": e.src, "to": e.dst, "cycle": list(e.cycle)} for e in b.graph.broken]}

    def graph_export(self) -> dict[str, Any]:
        b = self.board()
        if hasattr(b, "export"):
            return b.export()  # type: ignore[no-any-return]
        nodes = [{"id": i, "short_id": short(i), "title": b.issues[i].title, "state": b.states[i],
                  "priority": b.issues[i].priority, "labels": b.issues[i].labels} for i in b.sorted(b.issues)]
        edges = [{"from": i, "to": d} for i in b.sorted(b.issues) for d in b.graph.deps.get(i, ())]
        return {"nodes": nodes, "edges": edges}

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

        got = indexed_events(self, event_type=event_type, issue_id=iid, since=since, limit=limit)
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


# ---------------------------------------------------------------------- helpers

def event_json(e: Event) -> dict[str, Any]:
    d = e.to_json()
    d.pop("v", None)
    d.setdefault("issue_id", None)  # stable shape: gate-definition events carry issue_id null
    return d


def _listing(b: Board, ids: Iterable[str]) -> dict[str, Any]:
    # an IndexBoard returns the stored JSON of each issue (the same dict issue_json builds)
    issues = b.listing(ids) if hasattr(b, "listing") else [issue_json(b, i) for i in ids]
    return {"issues": issues, "count": len(issues)}


def _check_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    if len(ctx) > LIMITS["context_keys"]:
        raise UsageError(f"at most {LIMITS['context_keys']} context keys")
    return {check_context_key(k): check_context_value(k, v) for k, v in ctx.items()}


#: fresh looks ``claim_next`` takes after passing over candidates other processes are writing
CLAIM_LOOKS = 3


def _os_environ() -> dict[str, str]:
    import os

    return dict(os.environ)


def _claim_specs(b: Board, st: IssueState, assignee: str) -> list[Spec]:
    iid = st.id
    if st.assignee is not None and st.assignee != assignee:
        raise AlreadyClaimedError(
            f"issue {iid} is already claimed by {st.assignee}",
            hint="pick another issue: jit issue claim-next AGENT",
            details={"issue_id": iid, "assignee": st.assignee},
        )
    if st.state == "in_progress" and st.assignee == assignee:
        return []  # already ours: claiming again is a no-op
    if st.state in TERMINAL_STATES or st.state == "archived":
        raise BlockedError(f"issue {iid} is {st.state}; only open work can be claimed",
                           hint=f"reopen it first: jit issue update {short(iid)} --state open",
                           details={"issue_id": iid, "state": st.state})
    live = board_with(b, st)
    blockers = live.blockers(iid)
    if blockers:
        raise BlockedError(
            f"issue {iid} is blocked: " + _describe(blockers),
            hint="see 'jit query blocked'", details={"issue_id": iid, "blockers": blockers},
        )
    return [{"type": "issue_claimed", "assignee": assignee, "nonce": new_event_id()}]


def _describe(blockers: list[dict[str, Any]]) -> str:
    parts = []
    for r in blockers:
        if r["type"] == "dependency":
            parts.append(f"depends on {short(r['issue_id'])} ({r['title']}, {r['state']})")
        elif r["type"] == "gate":
            parts.append(f"gate '{r['gate_key']}' is {r['status']}")
        else:
            parts.append(f"dependency {r['issue_id']} is not in this clone")
    return "; ".join(parts)


def _transition(b: Board, st: IssueState, target: str) -> list[Spec]:
    live = board_with(b, st)
    cur = live.states[st.id]
    if cur == target or (target == "open" and cur in ("open", "ready")):
        return []
    iid = st.id
    specs: list[Spec] = []
    if target in ("ready", "in_progress", "done"):
        blockers = [r for r in live.blockers(iid, for_done=(target == "done"))
                    if target == "done" or r["type"] != "gate" or r.get("stage") == "precheck"]
        if blockers:
            missing = [r["gate_key"] for r in blockers if r["type"] == "gate"]
            msg = f"cannot move {iid} to {target}: " + _describe(blockers)
            hint = (f"pass the gates first: jit gate pass {short(iid)} {missing[0]}" if missing
                    else "finish the dependencies first (see 'jit graph deps')")
            raise BlockedError(msg, hint=hint, details={"issue_id": iid, "requested_state": target,
                                                        "actual_state": cur, "blockers": blockers,
                                                        "missing_gates": missing})
    if target in ("ready", "open") and st.state == "in_progress" and st.assignee:
        specs.append({"type": "issue_released", "assignee": st.assignee, "reason": f"state set to {target}"})
    new_eff = target
    if target == "open":
        new_eff = "open" if live.blockers(iid) else "ready"
    specs.append({"type": "issue_state_changed", "from": cur, "to": new_eff})
    if target == "done":
        specs.append({"type": "issue_completed"})
    return specs


def parse_filter(text: str) -> Callable[[IssueState], bool]:
    """``claim-next --filter``: space- or AND-separated ``field:value|value`` terms, all of which must
    hold. Fields: priority, label (glob, e.g. ``label:team:*``), tag (context.tags), assignee."""
    import fnmatch

    terms = [t for t in text.replace(" AND ", " ").split() if t]
    if not terms:
        raise UsageError("empty --filter")
    preds: list[Callable[[IssueState], bool]] = []
    for term in terms:
        field, sep, value = term.partition(":")
        alts = [v for v in value.split("|") if v]
        if not sep or not alts:
            raise UsageError(f"filter term {term!r} is not field:value",
                             hint='e.g. --filter "priority:high|critical"')
        field = field.lower()
        if field == "priority":
            ps = {parse_priority(a) for a in alts}
            preds.append(lambda st, ps=ps: st.priority in ps)
        elif field == "label":
            preds.append(lambda st, alts=alts: any(fnmatch.fnmatchcase(lab, a) for lab in st.labels for a in alts))
        elif field == "tag":
            preds.append(lambda st, alts=alts: bool(set(_tags(st)) & set(alts)))
        else:
            raise UsageError(f"unknown filter field {field!r}", hint="use priority, label or tag")
    return lambda st: all(p(st) for p in preds)


def _tags(st: IssueState) -> list[str]:
    t = st.context.get("tags")
    if isinstance(t, str):
        return [x.strip() for x in t.split(",") if x.strip()]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    return []
