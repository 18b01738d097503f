"""Claims: take a ready issue (exactly one of several racing claimers wins), the next one an agent
can win, release it, renew a dispatcher's lease. Locally a claim is a compare-and-swap of the
issue's ref under its lock; with a hub, the hub decides (gitjit/store/sync.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from ..core.board import Board, short
from ..core.errors import (
    AlreadyClaimedError,
    BlockedError,
    BusyError,
    GitjitError,
    NotFoundError,
    NoWorkError,
    UsageError,
    ValidationError,
)
from ..core.fold import fold_issue
from ..core.model import LIMITS, TERMINAL_STATES, IssueState, check_actor, check_description, now_ts, utc_ts
from ..core.refs import ISSUES
from ..core.rules import Backoff, _claim_specs, _failed_run_specs, parse_filter
from ..git import RefLocked
from ..store.entities import Loaded
from ..store.indexboard import StaleView
from .base import Spec, TrackerBase

__all__ = ["CLAIM_FOLDS", "CLAIM_LOOKS", "HUB_LOOKS", "HUB_POOL_MIN", "HUB_SPREAD", "HUB_WINDOW", "SPREAD_MAX", "ClaimOps", "hub_pick"]


class ClaimOps(TrackerBase):
    def claim(self, prefix: str, assignee: str, *, by: str | None = None,
              lease_expires_at: str | None = None, remote: str | None = None) -> dict[str, Any]:
        """Atomically take a ready issue: exactly one of several concurrent claimers wins.
        ``lease_expires_at`` (dispatchers): the claim carries a lease that lapses unless renewed."""
        return self._claim(prefix, check_actor(assignee), by=by, lease_expires_at=lease_expires_at,
                           hub=self.hub(remote))

    def _claim(self, prefix: str, assignee: str, *, by: str | None, lease_expires_at: str | None,
               hub: str | None, wait: bool = True, board: Board | None = None,
               fetched: bool = False) -> dict[str, Any]:

        def specs(st: IssueState, b: Board) -> list[Spec]:
            return [{**s, "expires_at": lease_expires_at} if lease_expires_at else s
                    for s in _claim_specs(b, st, assignee)]

        if hub is not None:
            # ``fetched``: claim_next has just fetched the issue and what it depends on
            iid = prefix if fetched else self._hub_resolve(prefix, hub)
            self._write_issue(iid, specs, by=by or assignee, what="claim", remote=hub,
                              board=board if fetched else None, wait=wait)
            return self._shown(iid)
        # the index as last folded, checked only where this claim looks (``claim_board``): refs
        # other processes moved meanwhile are folded in when the claim depends on them
        b = board if board is not None else self._claim_board()
        try:
            iid = self.resolve(prefix, b)
        except NotFoundError:
            if not b.lazy:
                raise
            b = self.board()
            iid = self.resolve(prefix, b)
        for _ in range(CLAIM_FOLDS):
            try:
                self._write_issue(iid, specs, by=by or assignee, what="claim", wait=wait, board=b)
                return self._shown(iid)
            except StaleView as e:
                if not self.index.fold_moved(e.refs):
                    break
                b = self._claim_board()
        # its neighbourhood keeps moving, or the index is busy: from a fully fresh board
        self._write_issue(iid, specs, by=by or assignee, what="claim", wait=wait, board=self.board())
        return self._shown(iid)

    def claim_many(self, claims: list[tuple[str, str]], *, lease_expires_at: str | None = None,
                   by: str | None = None, remote: str | None = None) -> dict[str, dict[str, Any] | GitjitError]:
        """Claim several issues (``(id, assignee)`` pairs), each won or lost on its own; returns each
        id's issue as shown, or the error that refused it (AlreadyClaimedError: another agent won).
        With a hub: ONE fetch of them all and what they depend on, ONE push carrying every claim
        (``Syncer.append_many_via_remote``): a dispatcher's claims of one round cost one push
        (docs/dispatch.md, "What a fleet costs a forge")."""
        out: dict[str, dict[str, Any] | GitjitError] = {}
        hub = self.hub(remote)
        if hub is None:
            for iid, assignee in claims:
                try:
                    out[iid] = self.claim(iid, assignee, by=by, lease_expires_at=lease_expires_at)
                except GitjitError as e:
                    out[iid] = e
            return out
        todo: list[tuple[str, str]] = []
        for prefix, assignee in claims:
            try:
                todo.append((self.resolve(prefix), check_actor(assignee)))
            except GitjitError as e:
                out[prefix] = e
        ids = [i for i, _ in todo]
        b = self.board(fresh=True)
        deps = sorted({d for i in ids if i in b.issues for d in b.issues[i].dependencies} - set(ids))
        self._syncer().refresh(hub, [ISSUES + i for i in ids] + [ISSUES + d for d in deps])
        self._board = None
        b = self.board(fresh=True)

        def specs_for(assignee: str) -> Callable[[IssueState, Board], list[Spec]]:
            def specs(st: IssueState, bb: Board) -> list[Spec]:
                return [{**s, "expires_at": lease_expires_at} if lease_expires_at else s
                        for s in _claim_specs(bb, st, assignee)]
            return specs

        items: list[tuple[str, Callable[[IssueState, Board], list[Spec]], str | None]] = [
            (iid, specs_for(a), by or a) for iid, a in todo]
        for iid, r in self._write_issues_via_hub(hub, items, what="claim", board=b).items():
            out[iid] = _wrap(r) if isinstance(r, Exception) and not isinstance(r, GitjitError) else r
        return out

    def _claim_board(self) -> Board:
        b = self.index.claim_board()
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
            return self._hub_claim_next(assignee, pred, filter=filter, by=by, hub=hub)
        b = self._claim_board()
        looks = 0
        while True:
            spread = _Spread()

            def wanted(i: str, b: Board = b) -> bool:  # this look's board
                return bool(pred(b.issues[i]))

            for iid in spread.order(b.claimable(), wanted):
                try:
                    # locally, a candidate whose ref another writer holds right now is skipped at once
                    # (that writer is most likely claiming it): contenders spread over the ready list
                    # instead of queueing for its first entry
                    return self._claim(iid, assignee, by=by, lease_expires_at=None, hub=None, wait=False, board=b)
                except (AlreadyClaimedError, RefLocked):
                    spread.lost()  # another agent took it (or is taking it) meanwhile: next candidate
                except (BlockedError, NotFoundError):
                    continue  # it changed meanwhile
            # passed over something (moved or locked), or worked from the index as last folded
            # (a lazy board): look again from a fully fresh board, a bounded number of times; a
            # candidate still being written by then is another claimer's, so there is no work
            # for this one now
            if not b.passed_over or looks >= CLAIM_LOOKS:
                break
            looks += 1
            b = self.board(fresh=True)
        raise NoWorkError(
            "no ready issue to claim" + (f" matching {filter!r}" if filter else ""),
            hint="run 'jit query ready' or 'jit query blocked' to see what is waiting",
        )

    def _hub_claim_next(self, assignee: str, pred: Callable[[IssueState], bool], *, filter: str | None,
                        by: str | None, hub: str) -> dict[str, Any]:
        """``claim_next`` decided by a hub: one fetch of just the refs it needs, one push.

        The local board says which issues were ready when this clone last heard from the hub. The
        first ``HUB_WINDOW`` of them (and what they depend on) are fetched in ONE ``git fetch`` whose
        refspecs name just those refs (protocol v2 then advertises only them) into the tracking refs;
        readiness is decided on the hub's tips (``_hub_view``), the claim is built on the issue's
        hub tip and pushed with a lease on it (``Syncer.push_on_tip``) BEFORE the window is merged
        locally (``Syncer.settle``, after the push, won or lost). Racing agents would all push for
        the window's first issue; instead each pushes for the one it ranks first by a hash of its
        name and the issue's (``hub_pick``), so lost races (a push refused, a fetch and a try at
        another issue) are rare. A full pull happens only when the local board shows nothing ready,
        or when the whole window turned out taken (this clone's view was stale): a pull that finds
        nothing moved costs one ``git ls-remote`` of the jit refs (``Syncer.pull``). "No work" is
        said only after a pull."""
        syncer = self._syncer()
        pulled = False
        gone: set[str] = set()  # taken, blocked or gone on the hub since the board was read
        lost = 0
        beaten: set[str] = set()  # lost a push for these since the last fetch
        b = self.board(fresh=True)
        for _ in range(HUB_LOOKS):
            window: list[str] = []
            for iid in b.claimable():
                if iid not in gone and pred(b.issues[iid]):
                    window.append(iid)
                    if len(window) >= HUB_WINDOW:
                        break
            if not window:
                if pulled:
                    break
                self.pull(hub)
                pulled = True
                b = self.board(fresh=True)
                continue
            deps = {d for i in window for d in b.issues[i].dependencies} - set(window)
            # the issues lost to other agents come along (not as candidates): their winners' claims
            # reach this clone's board, so its next command does not count them as ready
            refs = [ISSUES + i for i in [*window, *sorted(deps), *sorted(beaten - deps)]]
            beaten.clear()
            kept = syncer.fetch_only(hub, refs)
            won: Any = None
            fresh: list[str] = []
            view: Board = b
            try:
                # readiness as the hub has it, from the tips just fetched: nothing local moves
                # before the push (the window is merged after it, ``settle``), so the gap between
                # this fetch and the push is one fold and one commit
                view, bases = self._hub_view(syncer, hub, b, window + sorted(deps))
                fresh = [i for i in window if i in bases and view.is_ready(i) and pred(view.issues[i])]
                gone.update(i for i in window if i not in fresh)
                new = {d for i in fresh for d in view.issues[i].dependencies} - deps - set(window)
                if new:  # edges added on the hub meanwhile: their targets decide readiness too
                    more = [ISSUES + d for d in sorted(new)]
                    # ``kept`` stays the first fetch's answer: ``settle`` reconciles both fetches' refs
                    syncer.fetch_only(hub, more)
                    refs += more
                    view, bases = self._hub_view(syncer, hub, b, window + sorted(deps | new))
                    fresh = [i for i in fresh if i in bases and view.is_ready(i)]
                if fresh:
                    iid = hub_pick(assignee, fresh, [view.issues[i].priority for i in fresh])
                    base, rtip = bases[iid]
                    actor = self.actor(by or assignee)
                    build = self._builder(iid, lambda st, bb: _claim_specs(bb, st, assignee), actor=actor,
                                          create=None, board=view)
                    self._ensure_init()
                    try:
                        won = syncer.push_on_tip(hub, ISSUES, iid, base if base is not None else
                                                 self.store.load(ISSUES, iid), rtip, build,
                                                 message=f"claim {iid}\n\nby {actor}", author=self._author(actor),
                                                 what="claim")
                    except (AlreadyClaimedError, BlockedError, NotFoundError):
                        # another agent won it (or it changed): the rest of the window is as old as this
                        # one was, so fetch it again rather than push for another issue on stale tips
                        gone.add(iid)
                        beaten.add(iid)
                        lost += 1
            finally:
                syncer.settle(hub, refs, kept)  # merge what was fetched, after the push
            if won is not None:
                self._written(iid, won, view)
                return self._shown(iid)
            if not fresh and not pulled:
                # everything this clone thought ready was taken: its view is stale, catch up at once
                self.pull(hub)
                pulled = True
            b = self.board(fresh=True)
        else:
            raise BusyError(f"claim-next through {hub}: lost {lost} races in a row",
                            hint="many agents are claiming at once; try again in a moment",
                            details={"remote": hub, "lost": lost})
        raise NoWorkError(
            "no ready issue to claim" + (f" matching {filter!r}" if filter else ""),
            hint="run 'jit query ready' or 'jit query blocked' to see what is waiting",
        )

    def _hub_view(self, syncer: Any, hub: str, b: Board,
                  ids: list[str]) -> tuple[Board, dict[str, tuple[Loaded | None, str | None]]]:
        """A board of ``ids`` (and what they depend on) as ``hub`` has them, from the tracking refs
        just fetched, and each issue's base for a claim: ``(loaded, hub tip)`` where ``loaded`` is
        the hub's tip (the local ref is behind it) or None for the local ref (equal to it, ahead of
        it, or the issue not on the hub). A local ref that diverged from the hub's is merged first
        (rare: this clone changed the issue and did not push). An issue whose hub copy cannot be
        read is left out (the ``settle`` after says why)."""
        over: dict[str, IssueState] = {}
        bases: dict[str, tuple[Loaded | None, str | None]] = {}
        merge: list[str] = []
        for i in ids:
            ref = ISSUES + i
            tname = syncer.tracking_ref(hub, ref)
            rtip, ltip = self.git.tip(tname), self.git.tip(ref)
            if rtip is None or rtip == ltip or (ltip is not None and self.git.is_ancestor(rtip, ltip)):
                bases[i] = (None, rtip)
            elif ltip is None or self.git.is_ancestor(ltip, rtip):
                try:
                    evs = syncer.load_valid(ref, rtip, where=tname, remote=True)
                except ValidationError:
                    continue
                over[i] = fold_issue(i, evs)
                bases[i] = (Loaded(i, ref, rtip, evs), rtip)
            else:
                merge.append(i)
        if merge:
            syncer.reconcile(hub, only=[ISSUES + i for i in merge])
            for i in merge:
                rtip = self.git.tip(syncer.tracking_ref(hub, ISSUES + i))
                ld = self.store.load(ISSUES, i)
                if ld is not None and rtip is not None and self.git.is_ancestor(rtip, ld.tip):
                    over[i] = fold_issue(i, ld.events)
                    bases[i] = (None, rtip)
        ix = getattr(b, "indexer", None)
        if ix is None:
            return Board({**b.all, **over}, b.gate_defs), bases
        need = ix.closure(ids, over)
        states = ix.states([k for k in need if k not in over])
        states.update(over)
        return ix.local_board(states), bases

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



def _wrap(e: Exception) -> GitjitError:
    """A non-gitjit error refusing one claim of a batch (a hostile ref: ``BadRef``) as a gitjit error."""
    from ..core.errors import ValidationError

    return ValidationError(str(e))


def hub_pick(actor: str, ids: list[str], priorities: list[str]) -> str:
    """Which of ``ids`` (ready on the hub, best first; ``priorities`` theirs) a hub ``claim_next``
    pushes for: the one ``actor`` ranks highest by a hash of (actor, issue) -- rendezvous hashing --
    among the *pool*: the first ``HUB_SPREAD`` of the best priority. When fewer than
    ``HUB_POOL_MIN`` of those are ready, the pool is the first ``HUB_POOL_MIN`` (the next priority's
    first issues join), and the rendezvous is weighted: each of the best priority is
    ``HUB_BEST_WEIGHT`` times as likely to be an agent's pick as one of the next. Each agent's
    choice is as good as random and independent of the others', so two agents rarely push for the
    same issue; and it does not move when other issues are taken (a place in the list would: every
    claim shifts the list, onto a neighbour's place). Without the weighted tail, the last 3 issues
    of a priority with 8 agents racing made at least 5 of them lose a push. Only the order of a
    priority's last few and the next one's first is bent, and only with a hub, where the order in
    which racing agents' claims land is decided by timing anyway."""
    pool = [i for i, p in zip(ids[:HUB_SPREAD], priorities) if p == priorities[0]]
    if len(pool) >= HUB_POOL_MIN:
        return max(pool, key=lambda i: _rank(actor, i))
    best = set(pool)
    # weighted rendezvous (the highest u ** (1 / weight), u the hash as a fraction): each of the
    # best priority is HUB_BEST_WEIGHT times as likely as one of the next to be an agent's pick
    return max(ids[:HUB_POOL_MIN],
               key=lambda i: math.log(_unit(actor, i)) / (HUB_BEST_WEIGHT if i in best else 1.0))


def _rank(actor: str, iid: str) -> bytes:
    import hashlib

    return hashlib.blake2b(f"{actor}\0{iid}".encode(), digest_size=8).digest()


def _unit(actor: str, iid: str) -> float:
    """``_rank`` as a fraction in (0, 1]."""
    return (int.from_bytes(_rank(actor, iid), "big") + 1) / 2.0**64


#: fresh looks ``claim_next`` takes after passing over candidates other processes are writing
CLAIM_LOOKS = 3
#: how many of the first ready issues a hub ``claim_next`` fetches at once and spreads agents over
HUB_WINDOW = 32
#: among how many of the first ready issues agents of one hub spread (``hub_pick``)
HUB_SPREAD = 32
#: the fewest issues agents of one hub spread over: a priority's last few are pooled with the next ones
HUB_POOL_MIN = 16
#: how much likelier a priority's last few are picked than the next priority's first (``hub_pick``)
HUB_BEST_WEIGHT = 4.0
#: windows a hub ``claim_next`` fetches before it gives up (BusyError: it kept losing races)
HUB_LOOKS = 64
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
