"""The dispatch cycle.

One cycle, in this order (docs/dispatch.md explains each step):

1. **reap** agents that exited: a finished issue is a success; otherwise the issue is released
   with the reason recorded (or the agent retried, ``on_failure = "retry"``) and the failure is
   counted by the agent's circuit breaker;
2. **renew** the leases of running agents, all together every ``lease_secs / 3`` (local writes);
3. **sync** each repository with its hub (pull, then push: renewals and what agents wrote go out);
4. stop agents whose claim was **lost** (released for timeout by another dispatcher while we were
   cut off from the hub);
5. **reclaim** in-progress work whose lease lapsed (any dispatcher does this, reason ``timeout``)
   and our own claims that no agent of ours runs any more (a restart after a crash);
6. **dispatch**: gather ready issues across repositories, order them by escalated priority then
   age, match their tags to agents with free capacity and an unpaused breaker, claim each
   atomically (through the hub when there is one) with a lease, and launch the agent;
7. hand new events to the **webhooks**, and write ``state.json`` for ``status``/``agents``.

Everything goes through ``gitjit.app.tracker.Tracker`` in-process; the only subprocesses are the agents
(and the git CLI, through ``gitjit.git.run``: the clone of a hub, the tracker's sync).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..app.feed import EventFeed
from ..core.board import Board
from ..core.errors import AlreadyClaimedError, BlockedError, ExternalError, GitjitError, NotFoundError
from ..core.fold import fold_issue
from ..core.model import PRIORITY_RANK, IssueState, now_ts
from ..core.refs import ISSUES
from ..core.rules import Backoff
from ..git import run as git_run
from .agents import AgentRun, Breakers, ProcessPool, RunLock, StateDir, lease_lapsed, lease_until, parse_ts
from .config import AgentConfig, DispatchConfig, RepoConfig
from .webhooks import WebhookSender

__all__ = ["Dispatcher", "RepoHandle", "effective_rank", "issue_tags", "ready_across"]

CLOSED = ("done", "rejected", "archived")
LogFn = Callable[[dict[str, Any]], None]

logger = logging.getLogger("gitjit.dispatch")

#: the level of each kind of record (others are INFO): what needs a look is a warning, what
#: needs a person an error; each cycle's summary is DEBUG
LEVELS = {
    "agent_failed": logging.WARNING, "breaker_open": logging.WARNING, "claim_failed": logging.WARNING,
    "claim_lost": logging.WARNING, "sync_failed": logging.WARNING, "issue_backoff": logging.WARNING,
    "run_still_alive": logging.WARNING, "issue_parked": logging.ERROR, "release_failed": logging.ERROR,
    "webhook_failed": logging.ERROR, "cycle": logging.DEBUG,
}


def issue_tags(st: IssueState) -> set[str]:
    """The tags an issue *requires*: ``context.tags`` (a list, or "a,b") and the values of ``tag:*``
    labels. An issue without any may go to any agent."""
    t = st.context.get("tags")
    tags = set()
    if isinstance(t, str):
        tags |= {x.strip() for x in t.split(",") if x.strip()}
    elif isinstance(t, list):
        tags |= {x for x in t if isinstance(x, str)}
    tags |= {lab.split(":", 1)[1] for lab in st.labels if lab.startswith("tag:")}
    return tags


def effective_rank(st: IssueState, now: datetime, escalation_hours: float) -> int:
    """Priority rank (0 critical .. 3 low) lowered by one level per ``escalation_hours`` the issue
    has existed, but never to critical: aging keeps low work from starving behind a steady stream
    of high work, while critical stays reserved for what someone marked critical."""
    base = PRIORITY_RANK.get(st.priority, 2)
    if escalation_hours <= 0 or base <= 1 or not st.created_at:
        return base
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)  # naive means UTC, as in gitjit's timestamps
    try:
        age_h = (now - parse_ts(st.created_at)).total_seconds() / 3600
    except ValueError:
        return base
    return max(1, base - int(max(0.0, age_h) // escalation_hours))


def ready_across(ready: list[list[IssueState]], escalation_hours: float, *,
                 now_s: str | None = None) -> tuple[list[tuple[int, IssueState]], int]:
    """The ready work of several repositories (``ready[k]``: repository k's ready issues, any
    order) in the order a dispatcher hands it out: escalated priority (``effective_rank``), then
    age, then repository order, then id. Each is (k, issue). An issue whose runs failed lately
    (``retry_after`` still ahead, any dispatcher's) waits: it is left out and counted (the second
    value). The board's "Next up" shows this order too."""
    now_s = now_s or now_ts()
    now = parse_ts(now_s)
    out: list[tuple[tuple[Any, ...], int, IssueState]] = []
    backing_off = 0
    for k, sts in enumerate(ready):
        for st in sts:
            if st.retry_after and st.retry_after > now_s:  # both in utc_ts's form: instants compare
                backing_off += 1
                continue
            out.append(((effective_rank(st, now, escalation_hours), st.created_at, k, st.id), k, st))
    out.sort(key=lambda x: x[0])
    return [(k, st) for _, k, st in out], backing_off


@dataclass
class RepoHandle:
    cfg: RepoConfig
    tracker: Any
    index: int
    synced: bool = True
    last_error: str | None = None
    last_sync_at: str | None = None

    @property
    def name(self) -> str:
        return self.cfg.name

    @property
    def hub(self) -> str | None:
        """dispatch.toml's ``hub``, else the clone's own ``jit config set hub``: the tracker would use
        that one for claims anyway, so the dispatcher syncs with it too."""
        return self.cfg.hub or self.tracker.hub()

    def _remote(self) -> dict[str, Any]:
        return {"remote": self.hub} if self.hub else {}

    def sync(self) -> None:
        if self.hub:
            self.tracker.sync(self.hub)
            self.last_sync_at = now_ts()

    def claim(self, iid: str, assignee: str, lease: str) -> dict[str, Any]:
        return self.tracker.claim(iid, assignee, lease_expires_at=lease, **self._remote())  # type: ignore[no-any-return]

    def claim_many(self, pairs: list[tuple[str, str]], lease: str) -> dict[str, Any]:
        return self.tracker.claim_many(pairs, lease_expires_at=lease, **self._remote())  # type: ignore[no-any-return]

    def release(self, iid: str, reason: str, *, holder: str, lapsed_before: str | None = None,
                failed: Backoff | None = None) -> dict[str, Any]:
        return self.tracker.release(iid, reason, holder=holder, lapsed_before=lapsed_before,  # type: ignore[no-any-return]
                                    failed=failed, **self._remote())

    def issue(self, iid: str) -> IssueState | None:
        ld = self.tracker.store.load(ISSUES, iid)
        return fold_issue(iid, ld.events) if ld else None

    @property
    def workdir(self) -> Path:
        git = self.tracker.git
        return Path(git.workdir or git.common_dir)

    @property
    def runs_dir(self) -> Path:
        """Where the run locks of this repository's issues live (``RunLock``): in its git directory,
        so every dispatcher on this machine serving this clone sees them."""
        return Path(self.tracker.git.common_dir) / "jit-dispatch" / "running"


class Dispatcher:
    def __init__(self, cfg: DispatchConfig, *, log: LogFn | None = None):
        self.cfg = cfg
        self.id = cfg.id
        self.actor = f"jit-dispatch:{cfg.id}"
        self.state = StateDir(cfg.state_dir)
        self.pool = ProcessPool(self.state)
        self.breakers = Breakers(self.state)
        self.backoff = Backoff(cfg.backoff_secs, cfg.backoff_max_secs, cfg.park_after_failures)
        self.repos: list[RepoHandle] = []
        self.feeds: dict[str, EventFeed] = {}
        self._cursor_saved = False
        self.webhooks: WebhookSender | None = None
        self._logfn = log or (lambda rec: None)
        self.stopping: str | None = None  # None, "finish" or "release"
        self._signalled: list[str | None] = []  # stop requests from signal handlers, handled by the loop
        self._stop_requested_at: float | None = None
        self._last_renew = time.monotonic()
        self.started_at = now_ts()
        self.cycles = 0
        self.mode = "start"
        self.totals = {"claimed": 0, "finished": 0, "failed": 0, "released": 0, "reclaimed": 0, "renewed": 0,
                       "retried": 0, "parked": 0}
        self._opened = False
        #: the first failures to reach a hub (a sync, or a claim's fetch or push): what `once` reports
        self.hub_errors: list[dict[str, Any]] = []
        self._busy_logged: set[tuple[str, str]] = set()
        self._backing_off = 0

    # ------------------------------------------------------------------ logging

    def log(self, kind: str, message: str, **fields: Any) -> None:
        """One record: to the ``log`` callback (a dict), and through ``logging`` (logger
        ``gitjit.dispatch``, at the kind's level; the record rides along as ``jit_record``)."""
        level = LEVELS.get(kind, logging.INFO)
        rec = {"ts": now_ts(), "level": logging.getLevelName(level).lower(), "event": kind, "message": message,
               **fields}
        self._logfn(rec)
        logger.log(level, message, extra={"jit_record": rec})

    # ------------------------------------------------------------------ life cycle

    def open(self) -> None:
        """Take the configuration's lock, prepare every repository and the event feeds."""
        from ..app.tracker import Tracker

        self.state.acquire()
        try:
            self.state.write_pid()
            for i, rc in enumerate(self.cfg.repos):
                if rc.url and not rc.path.exists():
                    self._clone(rc)
                # held up by another process's rebuild of an index: say so in the log
                t = Tracker(rc.path, actor=self.actor, on_wait=lambda text: self.log("index_wait", text))
                t.init()
                self.repos.append(RepoHandle(rc, t, i))
            cursor = self.state.read_cursor() or {}
            for r in self.repos:
                self.feeds[r.name] = EventFeed(r.tracker, cursor.get(r.name))
            self._cursor_saved = all(r.name in cursor for r in self.repos)
            if self.cfg.webhooks:
                self.webhooks = WebhookSender(self.cfg.webhooks, lambda kind, message, **f: self.log(kind, message, **f))
        except BaseException:
            self.state.clear_pid()
            self.state.release()
            raise
        self._opened = True

    def _clone(self, rc: RepoConfig) -> None:
        rc.path.parent.mkdir(parents=True, exist_ok=True)
        self.log("clone", f"cloning {rc.url} into {rc.path}", repo=rc.name)
        p = git_run.run(["clone", "--quiet", "--no-checkout", str(rc.url), str(rc.path)])
        if p.returncode != 0:
            raise ExternalError(f"cannot clone {rc.url}: {p.stderr.strip()[-500:]}", details={"repo": rc.name})

    def close(self) -> None:
        if not self._opened:
            return
        for r in self.repos:
            self._sync(r)
        self._feed_webhooks()
        if self.webhooks:
            self.webhooks.close(timeout=10.0)
        self._write_state(final=True)
        self.pool.close()  # any supervisor still running stops its agent now
        self.state.clear_pid()
        self.state.release()
        self._opened = False

    def request_stop(self, mode: str | None = None) -> None:
        """SIGTERM: ``on_stop`` (finish or release); asked again, or with mode "release": release now."""
        mode = mode or self.cfg.on_stop
        if self.stopping is not None and mode == "finish":
            mode = "release"  # a second request escalates
        if self.stopping == "release":
            return
        self.stopping = mode
        self._stop_requested_at = self._stop_requested_at or time.monotonic()
        self.log("stopping", f"stopping ({'letting agents finish' if mode == 'finish' else 'releasing work'}; "
                             f"{len(self.pool.runs)} agent(s) running)", mode=mode)
        if mode == "release":
            for run in self.pool.runs:
                self.pool.stop(run, "dispatcher stopping", self.cfg.kill_grace_secs)

    def signal_stop(self, mode: str | None = None) -> None:
        """For signal handlers: only records the request (logging from a handler could re-enter a
        write already in progress); the loop acts on it within one sleep step."""
        self._signalled.append(mode)

    def _handle_signals(self) -> None:
        while self._signalled:
            self.request_stop(self._signalled.pop(0))

    def run(self, *, once: bool = False, until: Callable[[], bool] | None = None,
            sleep_step: float = 0.05) -> dict[str, int]:
        """``start`` (until stopped, or until ``until()`` holds after a cycle: then as on SIGTERM with
        on_stop = finish) or ``once`` (one dispatch pass, then wait for its agents)."""
        self.mode = "once" if once else "start"
        self.open()
        try:
            self.cycle(dispatch=True)
            # once: no second dispatch pass, but retries, renewals and releases go on until its agents exit
            while True:
                self._handle_signals()
                if (self.stopping or once) and not self.pool.runs:
                    break
                if until is not None and self.stopping is None and until():
                    self.request_stop("finish")
                    continue
                self._sleep(sleep_step)
                self._handle_signals()  # a SIGTERM during the sleep: no dispatch pass after it
                if (self.stopping == "finish" and self.cfg.stop_timeout_secs is not None
                        and self._stop_requested_at is not None
                        and time.monotonic() - self._stop_requested_at > self.cfg.stop_timeout_secs):
                    self.request_stop("release")
                self.cycle(dispatch=self.stopping is None and not once)
        finally:
            self.close()
        return dict(self.totals)

    def _sleep(self, step: float) -> None:
        """Until the poll interval passed, an agent exited, or a stop was requested."""
        deadline = time.monotonic() + self.cfg.poll_interval_secs
        stopping = self.stopping
        while time.monotonic() < deadline:
            if self.pool.any_exited() or self.stopping != stopping or self._signalled:
                return
            if any(r.kill_at is not None and time.monotonic() >= r.kill_at for r in self.pool.runs):
                return
            time.sleep(step)

    # ------------------------------------------------------------------ the cycle

    def cycle(self, *, dispatch: bool = True) -> dict[str, Any]:
        self.cycles += 1
        report: dict[str, Any] = {"claimed": [], "finished": [], "failed": [], "released": [], "reclaimed": [],
                                  "lost": [], "parked": [], "renewed": 0, "unmatched": 0, "backing_off": 0,
                                  "errors": []}
        self._reap(report)
        self._renew(report)
        for r in self.repos:
            r.synced = self._sync(r, report)
        self._check_lost(report)
        for r in self.repos:
            if r.synced:
                self._reclaim(r, report)
        if dispatch and self.stopping is None:
            self._dispatch(report)
        self._feed_webhooks()
        self._write_state(report=report)
        if logger.isEnabledFor(logging.DEBUG):
            counts = {k: (len(v) if isinstance(v, list) else v) for k, v in report.items()}
            said = ", ".join(f"{k} {v}" for k, v in counts.items() if v) or "nothing new"
            self.log("cycle", f"cycle {self.cycles}: {said} ({len(self.pool.runs)} running)", cycle=self.cycles,
                     **counts)
        return report

    def _repo(self, name: str) -> RepoHandle:
        return next(r for r in self.repos if r.name == name)

    def _sync(self, r: RepoHandle, report: dict[str, Any] | None = None) -> bool:
        try:
            r.sync()
        except GitjitError as e:
            r.last_error = e.message
            self.log("sync_failed", f"{r.name}: sync with {r.hub} failed: {e.message}", repo=r.name,
                     **({"hint": e.hint} if e.hint else {}))
            self._hub_error({"repo": r.name, "error": e.message, "hint": e.hint})
            if report is not None:
                report["errors"].append({"repo": r.name, "error": e.message})
            return False
        r.last_error = None
        return True

    def _hub_error(self, entry: dict[str, Any]) -> None:
        if len(self.hub_errors) < 20:  # a long-running dispatcher refused every cycle keeps the first
            self.hub_errors.append(entry)

    # -- 1. reap

    def _reap(self, report: dict[str, Any]) -> None:
        for run, rc in self.pool.reap():
            repo = self._repo(run.repo)
            agent = self._agent(run.agent_id)
            st = repo.issue(run.issue_id)
            how = _describe_exit(rc)
            base = {"agent": run.agent_id, "issue_id": run.issue_id, "repo": run.repo, "exit": rc,
                    "attempt": run.attempt}
            if run.lost:
                self.log("agent_stopped", f"{run.agent_id} on {run.issue_id[:8]}: stopped ({run.stop_reason})",
                         **base)
                continue
            if st is None or st.deleted or st.state in CLOSED:
                self.totals["finished"] += 1
                report["finished"].append(base)
                if agent:
                    self.breakers.record(agent.id, success=True, threshold=agent.failure_threshold)
                self.log("agent_finished", f"{run.agent_id} finished {run.issue_id[:8]} "
                                           f"({st.state if st else 'gone'}; {how})", **base)
                continue
            if run.stopping and self.stopping == "release":
                self._release(repo, run, f"dispatcher {self.id} stopped before {run.agent_id} finished", report)
                continue
            reason = (f"{run.agent_id} timed out after {agent.timeout_secs:g}s" if run.stop_reason == "timeout"
                      and agent and agent.timeout_secs else f"{run.agent_id} {how} without finishing")
            self.totals["failed"] += 1
            report["failed"].append({**base, "reason": reason})
            # an issue that failed before (under any agent, on any dispatcher) is more likely the
            # problem than this agent: its failure backs the issue off, but leaves the breaker alone
            br = self.breakers.record(run.agent_id, success=False, reason=reason,
                                      threshold=agent.failure_threshold if agent else 3,
                                      issue=f"{run.repo}/{run.issue_id}", counts=st.failures == 0)
            counted = "" if br.get("last_failure_counted") else "; not counted against the agent"
            self.log("agent_failed", f"{run.agent_id} on {run.issue_id[:8]}: {reason} "
                                     f"({br.get('failures')} consecutive failure(s){counted})", reason=reason,
                     **base)
            if br.get("just_opened"):
                self.log("breaker_open", f"circuit breaker open: {run.agent_id} paused after "
                                         f"{br['failures']} consecutive failures "
                                         f"(resume with: jit-dispatch agent reset {run.agent_id})",
                         agent=run.agent_id, failures=br["failures"])
            if st.assignee != run.assignee or st.state != "in_progress":
                continue  # the agent (or someone) released it already: nothing of ours to give back
            if (agent and agent.on_failure == "retry" and run.attempt <= agent.max_retries and not br.get("open")
                    and self.stopping is None):
                self.totals["retried"] += 1
                self._launch(repo, agent, st, run.attempt + 1, run.lease_expires_at, report, retry_of=reason)
                continue
            self._release(repo, run, reason, report, failed=True)

    def _release(self, repo: RepoHandle, run: AgentRun, reason: str, report: dict[str, Any], *,
                 failed: bool = False) -> None:
        """Give the run's issue back; ``failed``: its agent failed it, so the issue backs off (and is
        parked after too many failed runs in a row), as recorded on the issue for every dispatcher."""
        try:
            repo.release(run.issue_id, reason, holder=run.assignee, failed=self.backoff if failed else None)
        except (AlreadyClaimedError, BlockedError, NotFoundError):
            return  # no longer ours: nothing to release
        except GitjitError as e:
            # the release is not lost: it waits in the local clone, or the lease lapses on the hub
            report["errors"].append({"repo": repo.name, "issue_id": run.issue_id, "error": e.message})
            self.log("release_failed", f"release of {run.issue_id[:8]} failed: {e.message}", repo=repo.name,
                     issue_id=run.issue_id)
            return
        self.totals["released"] += 1
        report["released"].append({"issue_id": run.issue_id, "repo": repo.name, "reason": reason})
        self.log("released", f"released {run.issue_id[:8]} ({reason})", issue_id=run.issue_id, repo=repo.name,
                 reason=reason)
        if failed:
            self._after_failure(repo, run.issue_id, report)

    def _after_failure(self, repo: RepoHandle, iid: str, report: dict[str, Any]) -> None:
        st = repo.issue(iid)
        if st is None:
            return
        if st.parked is not None:
            self.totals["parked"] += 1
            report["parked"].append({"issue_id": iid, "repo": repo.name, "reason": st.parked.reason})
            self.log("issue_parked", f"parked {iid[:8]} after {st.failures} failed runs in a row; no dispatcher "
                                     f"starts it until someone runs: jit issue unpark {iid[:8]}",
                     issue_id=iid, repo=repo.name, failures=st.failures, reason=st.parked.reason)
        elif st.retry_after:
            self.log("issue_backoff", f"{iid[:8]} failed {st.failures} time(s) in a row; not started again "
                                      f"before {st.retry_after}", issue_id=iid, repo=repo.name,
                     failures=st.failures, retry_after=st.retry_after)

    # -- 2. renew

    def _renew(self, report: dict[str, Any]) -> None:
        if not self.pool.runs or time.monotonic() - self._last_renew < self.cfg.renew_every_secs:
            return
        self._last_renew = time.monotonic()
        until = lease_until(now_ts(), self.cfg.lease_secs)
        for run in list(self.pool.runs):
            if run.lost:
                continue
            try:
                self._repo(run.repo).tracker.renew_lease(run.issue_id, run.assignee, until)
            except AlreadyClaimedError:
                self._lost(run, report, "its claim was released or taken over")
                continue
            except GitjitError as e:
                report["errors"].append({"issue_id": run.issue_id, "error": e.message})
                continue
            run.lease_expires_at = until
            report["renewed"] += 1
            self.totals["renewed"] += 1

    def _lost(self, run: AgentRun, report: dict[str, Any], why: str) -> None:
        if run.lost:
            return
        st = self._repo(run.repo).issue(run.issue_id)
        if st is not None and st.state in CLOSED:
            return  # the agent finished it: not lost, just done
        run.lost = True
        report["lost"].append({"agent": run.agent_id, "issue_id": run.issue_id, "repo": run.repo})
        self.log("claim_lost", f"{run.agent_id} on {run.issue_id[:8]}: {why}; stopping the agent",
                 agent=run.agent_id, issue_id=run.issue_id, repo=run.repo)
        self.pool.stop(run, "claim lost", self.cfg.kill_grace_secs)

    def _timeouts(self) -> None:
        for run in self.pool.runs:
            agent = self._agent(run.agent_id)
            if agent and agent.timeout_secs and time.monotonic() - run.started_mono > agent.timeout_secs:
                self.pool.stop(run, "timeout", self.cfg.kill_grace_secs)

    # -- 4. lost claims

    def _check_lost(self, report: dict[str, Any]) -> None:
        self._timeouts()
        for run in list(self.pool.runs):
            if run.lost:
                continue
            st = self._repo(run.repo).issue(run.issue_id)
            if st is None or st.state in CLOSED:
                continue
            if st.assignee != run.assignee:
                self._lost(run, report, f"now held by {st.assignee or 'nobody'}")

    # -- 5. reclaim

    def _reclaim(self, r: RepoHandle, report: dict[str, Any]) -> None:
        now = now_ts()
        cutoff = lease_until(now, -self.cfg.lease_grace_secs)
        mine = {run.issue_id for run in self.pool.runs if run.repo == r.name}
        board = r.tracker.board(fresh=True)
        # the index's in-progress issues, not every issue loaded (seconds a cycle at 100,000 issues)
        for iid in sorted(board.select(state="in_progress")):
            st = board.issues[iid]
            if st.state != "in_progress" or not st.assignee or not st.lease_expires_at or iid in mine:
                continue
            if st.assignee.endswith("@" + self.id):
                reason, lapsed = f"orphaned: dispatcher {self.id} no longer runs an agent for it", None
            elif lease_lapsed(st.lease_expires_at, now, self.cfg.lease_grace_secs):
                reason, lapsed = "timeout", cutoff
            else:
                continue
            if RunLock.busy(r.runs_dir, iid):
                # an earlier run of it is still alive on this machine (a dispatcher killed with
                # SIGKILL: its supervisor is stopping the agent's group): not before it is gone
                self._note_busy(r, iid, st.assignee)
                continue
            try:
                r.release(iid, reason, holder=st.assignee, lapsed_before=lapsed)
            except (AlreadyClaimedError, BlockedError, NotFoundError):
                continue  # renewed, released or taken meanwhile
            except GitjitError as e:
                report["errors"].append({"repo": r.name, "issue_id": iid, "error": e.message})
                continue
            self._busy_logged.discard((r.name, iid))
            self.totals["reclaimed"] += 1
            report["reclaimed"].append({"issue_id": iid, "repo": r.name, "holder": st.assignee, "reason": reason})
            self.log("reclaimed", f"released {iid[:8]} held by {st.assignee} ({reason}; lease ran until "
                                  f"{st.lease_expires_at})", issue_id=iid, repo=r.name, holder=st.assignee,
                     reason=reason)

    def _note_busy(self, r: RepoHandle, iid: str, holder: str | None) -> None:
        if (r.name, iid) in self._busy_logged:
            return
        self._busy_logged.add((r.name, iid))
        self.log("run_still_alive", f"{iid[:8]}: a run of it is still alive on this machine"
                                    f"{f' (held by {holder})' if holder else ''}; waiting until it is gone",
                 issue_id=iid, repo=r.name)

    # -- 6. dispatch

    def _agent(self, agent_id: str) -> AgentConfig | None:
        return next((a for a in self.cfg.agents if a.id == agent_id), None)

    def candidates(self) -> list[tuple[RepoHandle, IssueState]]:
        """Ready work across repositories, best first: escalated priority, then age, then repository
        order, then id (deterministic)."""
        # a stale view of a hub we cannot reach is left out: its claims would fail anyway
        synced = [r for r in self.repos if r.synced]
        boards: list[Board] = [r.tracker.board(fresh=True) for r in synced]
        order, self._backing_off = ready_across([[b.issues[i] for i in b.ready()] for b in boards],
                                                self.cfg.escalation_hours)
        return [(synced[k], st) for k, st in order]

    def pick_agent(self, r: RepoHandle, st: IssueState, free: dict[str, int]) -> AgentConfig | None:
        """The agent for an issue, as seed 000 pattern 3 matches them. A *specialist* (an agent with
        tags) takes an issue that requires one of its tags, or, when the issue requires none, carries
        one of them as a label (``"*"`` takes anything). A *generalist* (no tags) takes untagged
        issues, and tagged ones that no agent of this dispatcher specialises in (pattern 3's default
        worker). Among those with free capacity serving this repository: the most tags in common
        first, then the fewest tags, then the most free slots, then configuration order."""
        need = issue_tags(st)
        labels = set(st.labels)
        offered = set().union(*(a.tags for a in self.cfg.agents)) if self.cfg.agents else set()
        orphan_tags = bool(need) and not (need & offered) and "*" not in offered
        best: tuple[tuple[int, int, int, int], AgentConfig] | None = None
        for n, a in enumerate(self.cfg.agents):
            if free.get(a.id, 0) <= 0 or (a.repos is not None and r.name not in a.repos):
                continue
            tags = set(a.tags)
            if tags:
                if "*" not in tags and not (need & tags if need else labels & tags):
                    continue
            elif need and not orphan_tags:
                continue
            score = (-len((need | labels) & tags), len(tags), -free[a.id], n)
            if best is None or score < best[0]:
                best = (score, a)
        return best[1] if best else None

    def _dispatch(self, report: dict[str, Any]) -> None:
        free = {}
        for a in self.cfg.agents:
            if self.breakers.is_open(a.id):
                continue
            free[a.id] = a.max_concurrent - len(self.pool.running(a.id))
        if sum(max(0, v) for v in free.values()) <= 0:
            return
        cands = self.candidates()
        report["backing_off"] = self._backing_off
        # first pick every (issue, agent) pair this round can start, then claim each repository's
        # pairs together: through a hub, ONE fetch and ONE push for all of them (Tracker.claim_many),
        # so a round's claims cost one push whatever their number (docs/dispatch.md)
        plan: dict[int, list[tuple[RepoHandle, IssueState, AgentConfig, str, RunLock]]] = {}
        for r, st in cands:
            if sum(max(0, v) for v in free.values()) <= 0:
                break
            agent = self.pick_agent(r, st, free)
            if agent is None:
                report["unmatched"] += 1
                continue
            lock = RunLock.try_acquire(r.runs_dir, st.id)
            if lock is None:  # released by someone while a run of it still lives here
                self._note_busy(r, st.id, None)
                continue
            plan.setdefault(r.index, []).append((r, st, agent, agent.assignee(self.id), lock))
            free[agent.id] -= 1
        for pairs in plan.values():
            r = pairs[0][0]
            lease = lease_until(now_ts(), self.cfg.lease_secs)
            try:
                got = r.claim_many([(st.id, assignee) for _, st, _, assignee, _ in pairs], lease)
            except GitjitError as e:  # the fetch or the push itself failed: nothing was claimed
                got = {st.id: e for _, st, _, _, _ in pairs}
            for _, st, agent, assignee, lock in pairs:
                issue = got.get(st.id)
                if not isinstance(issue, dict):
                    lock.release()
                    free[agent.id] += 1
                    if isinstance(issue, GitjitError) and not isinstance(
                            issue, (AlreadyClaimedError, BlockedError, NotFoundError)):
                        report["errors"].append({"repo": r.name, "issue_id": st.id, "error": issue.message})
                        self._hub_error({"repo": r.name, "issue_id": st.id, "error": issue.message,
                                         "hint": issue.hint})
                        r.last_error = issue.message  # until the next cycle's sync: `jit-dispatch status`
                        self.log("claim_failed", f"claim of {st.id[:8]} failed: {issue.message}", repo=r.name,
                                 issue_id=st.id, **({"hint": issue.hint} if issue.hint else {}))
                    continue  # another dispatcher or agent won it
                self.totals["claimed"] += 1
                report["claimed"].append({"issue_id": st.id, "repo": r.name, "agent": agent.id})
                self.log("claimed", f"{agent.id} <- {st.id[:8]} {st.title!r} [{st.priority}] in {r.name}",
                         agent=agent.id, issue_id=st.id, repo=r.name, assignee=assignee, lease_expires_at=lease)
                if not self._launch(r, agent, st, 1, lease, report, issue=issue, lock=lock):
                    free[agent.id] += 1

    def _launch(self, r: RepoHandle, agent: AgentConfig, st: IssueState, attempt: int, lease: str | None,
                report: dict[str, Any], *, issue: dict[str, Any] | None = None, retry_of: str | None = None,
                lock: RunLock | None = None) -> bool:
        assignee = agent.assignee(self.id)
        if lock is None:
            lock = RunLock.try_acquire(r.runs_dir, st.id)
            if lock is None:
                # cannot happen after a reaped run (its supervisor exits last); should it, the claim
                # stays ours and is released as an orphan once that run is gone (``_reclaim``)
                self._note_busy(r, st.id, assignee)
                return False
        self._busy_logged.discard((r.name, st.id))
        try:
            if issue is None:
                issue = r.tracker.show(st.id)
            run = self.pool.launch(
                agent, assignee=assignee, repo_name=r.name, repo_path=r.workdir,
                cwd=agent.working_dir or r.workdir, issue=issue, attempt=attempt, lease_expires_at=lease,
                extra_env={"JIT_DISPATCHER": self.id, "JIT_HUB": r.hub or "",
                           "JIT_LEASE_EXPIRES_AT": lease or ""},
                lock=lock, grace_secs=self.cfg.kill_grace_secs,
            )
        except BaseException as e:
            lock.release()  # (a no-op when launch released it already)
            if not isinstance(e, ExternalError):
                raise
            br = self.breakers.record(agent.id, success=False, reason=e.message, threshold=agent.failure_threshold)
            self.totals["failed"] += 1
            report["failed"].append({"agent": agent.id, "issue_id": st.id, "repo": r.name, "reason": e.message})
            self.log("agent_failed", e.message, agent=agent.id, issue_id=st.id, repo=r.name)
            if br.get("just_opened"):
                self.log("breaker_open", f"circuit breaker open: {agent.id} paused after {br['failures']} "
                                         f"consecutive failures (resume with: jit-dispatch agent reset {agent.id})",
                         agent=agent.id, failures=br["failures"])
            try:
                r.release(st.id, f"could not start {agent.id}: {e.message}", holder=assignee)
                self.totals["released"] += 1
            except GitjitError:
                pass
            return False
        what = f"retrying ({retry_of}), attempt {attempt}" if retry_of else "started"
        self.log("agent_started", f"{agent.id} {what} on {st.id[:8]} (pid {run.pid})", agent=agent.id,
                 issue_id=st.id, repo=r.name, pid=run.pid, attempt=attempt)
        return True

    # -- 7. webhooks and state

    def _feed_webhooks(self) -> None:
        if not self.feeds:
            return
        cursor = {}
        moved = not self._cursor_saved
        for r in self.repos:
            feed = self.feeds[r.name]
            before = feed.cursor
            evs = feed.poll()
            if evs and self.webhooks:
                self.webhooks.send(r.name, evs)
            cursor[r.name] = feed.cursor
            moved = moved or (feed.cursor is not before and feed.cursor != before)
        if not moved:
            return  # the file holds one tip per ref: 7.6 MB at 100,000 issues, not rewritten for nothing
        try:
            self.state.write_cursor(cursor)
            self._cursor_saved = True
        except OSError:
            pass

    def _write_state(self, *, report: dict[str, Any] | None = None, final: bool = False) -> None:
        import os

        data = {
            "dispatcher_id": self.id, "pid": os.getpid(), "config": str(self.cfg.path.resolve()),
            "mode": self.mode, "started_at": self.started_at, "updated_at": now_ts(), "cycles": self.cycles,
            "running_now": not final, "stopping": self.stopping,
            "running": [] if final else [r.to_json() for r in self.pool.runs],
            "totals": self.totals,
            "repos": [{"name": r.name, "path": str(r.cfg.path), "hub": r.hub, "url": r.cfg.url,
                       "last_sync_at": r.last_sync_at, "last_error": r.last_error} for r in self.repos],
            "webhooks": {"pending": self.webhooks.pending(), "delivered": self.webhooks.delivered,
                         "failed": self.webhooks.failed} if self.webhooks else None,
        }
        if report is not None:
            data["last_cycle"] = {k: (len(v) if isinstance(v, list) else v) for k, v in report.items()}
        try:
            self.state.write_state(data)
        except OSError:
            pass


def _describe_exit(rc: int) -> str:
    if rc < 0:
        import signal

        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = str(-rc)
        return f"was killed by {name}"
    return f"exited with code {rc}"
