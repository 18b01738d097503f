"""Sharing ``refs/jit/*`` with remotes: fetch, reconcile, push, and claims decided by a hub.

The network goes through the **git CLI** (``gitjit.git.run``), local objects and refs through
pygit2 (``gitjit.git``). Why the CLI: libgit2 has no ``--force-with-lease`` and no ``--atomic``
push, and its local-path transport writes the remote's refs with no old-value check, so a
race over a path or ``file://`` hub would silently lose a claim; git runs ``receive-pack``
for every transport and checks the old value of every ref it updates.

* **Fetch** lands in a remote-tracking namespace, ``refs/jit-remotes/<remote>/...``, mirroring
  ``refs/jit/...`` (not ``refs/remotes/``, so 100k issue refs never show in ``git branch -r``).
* **Reconcile** each tracking ref into its local ref: absent -> create; same or behind -> keep;
  local behind -> fast-forward; diverged -> a *deterministic* merge commit whose one file is the
  union of both event logs (``gitjit.core.fold.union_events``): sorted parents, a fixed identity,
  the later parent's time, a fixed message. Two clones merging the same pair write the same
  commit id, so merges never ping-pong. A remote document that is not a commit, does not
  parse, breaks the schema or the size limits, names another issue, or whose clock leaps is
  skipped with a warning naming the ref: never merged, never fatal.
* **Push** only refs whose local tip differs from the tracking tip, each guarded by
  ``--force-with-lease=<ref>:<tracking tip or empty>`` in ``--atomic`` batches of at most 500;
  a rejection means someone pushed meanwhile: fetch, reconcile, try again (bounded).
* **Hub claims** (``append_via_remote``): the claim commit is pushed with a lease on the tip just
  fetched, and the local ref moves only after the hub accepted it.

Nothing that arrives from a remote is ever executed: documents are parsed as data and folded.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import (
    AlreadyClaimedError,
    BusyError,
    ExternalError,
    GitjitError,
    NotFoundError,
    UsageError,
    ValidationError,
)
from ..core.event import Event
from ..core.fold import fold_issue, serialize_events, union_events
from ..core.model import LIMITS
from ..core.progress import Progress, counted
from ..core.refs import STAGE_PREFIX, TRACKING, refspec_for
from ..git import BadRef, BadRefName, CasFailed, GitRepo, RefLocked
from ..git import run as git_run
from ..git.files import refs_signature, tips_under
from ..git.housekeeping import maybe_gc, pack_loose_tracking
from ..git.packedrefs import ANY, Unsupported
from ..git.packwrite import merge_objects, write_pack
from ..git.refs import check_ref_name, check_target
from ..git.refusal import explain, server_lines
from ..schema.events import check_events, remote_event_problem
from . import fetched, locks
from .checks import LOCAL, check_document
from .entities import DOC, ISSUES, EntityStore, Loaded, retrying

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "LOCAL",
    "MERGE_AUTHOR",
    "MERGE_MESSAGE",
    "PUSH_BATCH",
    "TRACKING",
    "PullResult",
    "Syncer",
    "check_document",
    "refspec_for",
]

#: the fixed identity and message of merge commits (determinism: see module docstring)
MERGE_AUTHOR = ("gitjit merge", "merge@gitjit")
MERGE_MESSAGE = "jit merge\n\nUnion of the event logs of both parents (docs/merge.md).\n"
#: refs per push: GitHub answered HTTP 500 to pushes of >10k refs; ~500 per push worked
PUSH_BATCH = 500
#: from this many refs on, a push goes through one glob refspec over staged refs (``push_staged``),
#: in batches of ``STAGED_PUSH_BATCH``
STAGED_PUSH_MIN = 64
STAGED_PUSH_BATCH = 2000
#: where ``push_staged`` stages the tips of one push: ``<prefix><pid>-<nonce>/issues/<id>``
#: whole push rounds (push, rejected, fetch, reconcile, push again) before giving up
PUSH_ROUNDS = 8
#: attempts of a hub claim/release before BusyError (each lost one re-fetches and re-folds)
HUB_ATTEMPTS = 30
GIT_TIMEOUT = 600.0
#: local refs moved per ``git update-ref --stdin`` transaction when reconciling many at once
BATCH_REFS = 10000
#: up to this many refs, tracking refs are written through libgit2 instead of a ``git update-ref``
FEW_REFS = 8
#: up to this many created or fast-forwarded refs, a pull moves them through libgit2 (``swap_many``)
SMALL_BATCH = 64
#: up to this many moved refs, a pull fetches and reconciles just those (``Syncer._moved``)
FEW_MOVED = 500
#: from this many merges in one pull on, their objects go into one pack (gitjit.git.packwrite)
PACK_MIN = 8
#: from this many changed refs in one pull on, both sides' documents are read in one stream
#: (``EntityStore.events_many``) before reconciling
PREFETCH_MIN = 100

#: where ``Syncer`` records, per remote, what it last found in step (``quiet``)
QUIET_FILE = os.path.join("jit", "sync-state.json")

#: an advertised issue ref in the shape jit writes (``advertised_tips``)
_ISSUE_LINE = re.compile(r"[0-9a-f]{40}\trefs/jit/issues/[0-9a-f]{12}")
_REMOTE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")
#: rejection reasons a retry can cure: someone else moved the ref, or held its lock
_RETRYABLE = ("stale info", "fetch first", "non-fast-forward", "atomic", "failed to update ref",
              "cannot lock ref", "failed to lock", "unable to create", "incorrect old value", "lock")


# ----------------------------------------------------------------------------- results

@dataclass
class PullResult:
    remote: str
    created: list[str] = field(default_factory=list)
    fast_forwarded: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    #: remote refs that were force-pushed or deleted since our last fetch (see ``Syncer.rewrites``)
    rewritten: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "created": self.created, "fast_forwarded": self.fast_forwarded, "merged": self.merged,
            "unchanged": self.unchanged, "skipped": self.skipped, "rewritten": self.rewritten,
            "counts": {"created": len(self.created), "fast_forwarded": len(self.fast_forwarded),
                       "merged": len(self.merged), "unchanged": self.unchanged, "skipped": len(self.skipped)},
        }


@dataclass(frozen=True)
class _Plan:
    """What one local ref becomes: ``old`` -> ``new`` (``old`` None: create)."""

    ref: str
    old: str | None
    new: str
    outcome: str  # created | unchanged | fast_forwarded | merged | skipped
    events: tuple[Event, ...]
    why: str = ""
    #: a deferred merge: its objects, not yet written (``plan(defer=True)``)
    objects: tuple[tuple[str, bytes], ...] = ()
    doc: bytes = b""
    tips: tuple[str, str] = ("", "")


# ----------------------------------------------------------------------------- the syncer

class Syncer:
    def __init__(self, git: GitRepo, store: EntityStore):
        self.git = git
        self.store = store
        #: commits whose documents this syncer has held to the schema of record (``load_valid``)
        self._held: set[str] = set()

    # ------------------------------------------------------------------ remotes & config

    def check_remote(self, remote: str) -> None:
        if not isinstance(remote, str) or not _REMOTE_RE.fullmatch(remote) or ".." in remote:
            raise UsageError(f"{remote!r} is not a remote name",
                             hint="use the name of a configured remote (see 'git remote -v')")
        if self.git.config_get(f"remote.{remote}.url") is None:
            raise NotFoundError(
                f"no remote named {remote!r} in this repository",
                hint=f"add it first: git remote add {remote} <url>   (any git URL or path works)",
                details={"remote": remote},
            )

    @staticmethod
    def tracking_prefix(remote: str) -> str:
        return f"{TRACKING}{remote}/"

    def tracking_ref(self, remote: str, ref: str) -> str:
        return self.tracking_prefix(remote) + ref[len(LOCAL):]

    def add_refspecs(self, remote: str) -> dict[str, Any]:
        """Make plain ``git fetch``/``git pull`` bring the remote's jit refs (into the tracking namespace)."""
        self.check_remote(remote)
        spec = refspec_for(remote)
        key = f"remote.{remote}.fetch"
        had = spec in self.git.config_get_all(key)
        if not had:
            self.git.config_add_multivar(key, spec)
        return {"remote": remote, "refspec": spec, "added": not had, "config_key": key}

    def remove_refspecs(self, remote: str) -> dict[str, Any]:
        self.check_remote(remote)
        spec = refspec_for(remote)
        removed = self.git.config_remove_multivar(f"remote.{remote}.fetch", spec)
        return {"remote": remote, "refspec": spec, "removed": removed, "config_key": f"remote.{remote}.fetch"}

    # ------------------------------------------------------------------ the git CLI

    def _git(self, args: list[str], *, what: str) -> subprocess.CompletedProcess[str]:
        # LC_ALL=C: we read git's porcelain and match a few error messages; keep them English
        return git_run.run(args, git_dir=self.git.git_dir, env={"LC_ALL": "C", "LANGUAGE": "C"},
                           timeout=GIT_TIMEOUT, what=what)

    def fetch(self, remote: str, refs: Iterable[str] | None = None) -> None:
        """``git fetch --prune`` of the remote's jit refs (all, or just ``refs``) into tracking refs.

        A single ref is fetched through a one-ref *glob* (``<ref>*``): an exact refspec for a ref
        the remote lacks fails the whole fetch, a glob that matches nothing does not."""
        self.check_remote(remote)
        tp = self.tracking_prefix(remote)
        if refs is None:
            specs = [refspec_for(remote)]
        else:
            specs = [f"+{r}*:{tp}{r[len(LOCAL):]}*" for r in dict.fromkeys(refs)]
            if not specs:
                return
        # --no-auto-maintenance: git's housekeeping would run in the foreground of the pull; jit
        # starts it in the background afterwards instead (gitjit/git/housekeeping.py)
        args = ["fetch", "--prune", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance", "--quiet",
                remote, *specs]
        delay = 0.05
        for attempt in range(6):
            proc = self._git(args, what=f"fetch from {remote}")
            if proc.returncode == 0:
                return
            err = proc.stderr.strip()
            # two jit processes in one clone fetching the same tracking ref: git's lock says so
            if attempt < 5 and ("cannot lock ref" in err or "Unable to create" in err or ".lock" in err):
                time.sleep(random.uniform(0, delay))
                delay *= 2
                continue
            raise _access_error(remote, "fetch", err) or ExternalError(
                f"git fetch from {remote} failed: {git_run.last_lines(err)}",
                hint="check the remote URL and your access (git fetch works the same way)",
                details={"remote": remote, "stderr": err[-2000:]})

    def push_batch(self, remote: str, updates: list[tuple[str, str, str | None]], *,
                   atomic: bool = True) -> dict[str, tuple[bool, str]]:
        """One ``git push --atomic --porcelain`` of ``(ref, new, expected-remote-tip|None)`` updates
        (``atomic=False``: each ref accepted or refused on its own, as a batch of claims needs).

        Returns ``{ref: (accepted, git's summary)}``. Raises ExternalError when git failed
        without reporting the refs (network, auth) or when the remote refused a ref for a reason
        no retry cures (a hook, a host that accepts only branches and tags)."""
        args = ["push", *(["--atomic"] if atomic else []), "--porcelain", remote]
        for ref, _new, old in updates:
            args.append(f"--force-with-lease={ref}:{old or ''}")
        args += [f"{new}:{ref}" for ref, new, _old in updates]
        proc = self._git(args, what=f"push to {remote}")
        return self._push_status(remote, updates, proc)

    def _push_status(self, remote: str, updates: list[tuple[str, str, str | None]],
                     proc: subprocess.CompletedProcess[str]) -> dict[str, tuple[bool, str]]:
        status: dict[str, tuple[bool, str]] = {}
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if len(parts) < 3 or len(parts[0]) != 1:
                continue
            flag, spec, summary = parts[0], parts[1], parts[2]
            dst = spec.rsplit(":", 1)[-1]
            status[dst] = (flag != "!", summary)
        missing = [ref for ref, _, _ in updates if ref not in status]
        if missing:
            raise _access_error(remote, "push", proc.stderr) or ExternalError(
                f"git push to {remote} failed: {git_run.last_lines(proc.stderr)}",
                hint="check the remote URL and your push access; " + _KEPT,
                details={"remote": remote, "stderr": proc.stderr[-2000:]})
        for ref, (ok, summary) in status.items():
            if not ok and not any(s in summary.lower() for s in _RETRYABLE):
                said = server_lines(proc.stderr)
                why = summary + (f" ({' / '.join(said)})" if said else "")
                denied = explain(proc.stderr)
                hint = (f"your account may not write {ref} on {remote}: ask its administrator for write access "
                        "to refs/jit/* (docs/sharing.md, 'Serving a hub')" if denied and denied.kind == "denied"
                        else "some hosts accept only branches and tags; see docs/sharing.md")
                details = {"remote": remote, "ref": ref, "reason": why, "stderr": proc.stderr[-2000:]}
                if denied:
                    details["access"] = denied.kind
                raise ExternalError(f"{remote} refused {ref}: {why}", hint=f"{hint}; {_KEPT}", details=details)
        return status

    def push_staged(self, remote: str, updates: list[tuple[str, str, str | None]]) -> dict[str, tuple[bool, str]]:
        """Push many refs at once through one *glob* refspec: ``push_batch``'s result, for large pushes.

        git matches explicit refspecs one by one against every ref the remote has, which made a
        push of 10,000 issues take minutes (docs/sharing.md). So the new tips are staged under a
        private namespace (``refs/jit-push/<nonce>/``, one ``git update-ref --stdin``, no reflog)
        and pushed with ``<stage>/*:refs/jit/*``, without force: the remote takes an update only
        as a fast-forward, so a tip that does not contain everything the remote holds is refused
        (and retried after a fetch and merge, as a lost lease is), and no remote event can be lost.
        The staging refs are deleted afterwards, whatever happened."""
        stage = f"{STAGE_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:12]}/"
        text = "".join(f"create {stage}{ref[len(LOCAL):]} {new}\n" for ref, new, _old in updates)
        env = {"LC_ALL": "C"}
        base = ["-c", "core.logAllRefUpdates=true", "update-ref", "--stdin"]
        try:
            made = git_run.run(base, git_dir=self.git.git_dir, input=text, env=env, timeout=GIT_TIMEOUT)
            if made.returncode != 0:
                raise ExternalError(f"could not stage the push to {remote}: {git_run.last_lines(made.stderr)}",
                                    details={"remote": remote, "stderr": made.stderr[-2000:]})
            proc = self._git(["push", "--atomic", "--porcelain", remote, f"{stage}*:{LOCAL}*"],
                             what=f"push to {remote}")
        finally:
            gone = "".join(f"delete {stage}{ref[len(LOCAL):]}\n" for ref, _new, _old in updates)
            try:
                git_run.run(base, git_dir=self.git.git_dir, input=gone, env=env, timeout=GIT_TIMEOUT)
            except ExternalError:
                pass
        return self._push_status(remote, updates, proc)

    def stale_stages(self) -> list[str]:
        """The staging refs (``push_staged``) of pushes whose process is gone (killed in the middle)."""
        stale: list[str] = []
        for ref in self.git.tips(STAGE_PREFIX):
            owner = ref[len(STAGE_PREFIX):].split("/", 1)[0].split("-", 1)[0]
            if owner.isdigit() and not _alive(int(owner)):
                stale.append(ref)
        return stale

    def drop_stale_stages(self) -> list[str]:
        """Delete the staging refs of pushes whose process is gone; a live process's stage is left
        alone. Best effort; returns the refs deleted."""
        stale = self.stale_stages()
        if stale:
            try:
                git_run.run(["update-ref", "--stdin"], git_dir=self.git.git_dir,
                            input="".join(f"delete {r}\n" for r in stale), env={"LC_ALL": "C"}, timeout=GIT_TIMEOUT)
            except ExternalError:
                return []
        return stale

    def set_tracking(self, remote: str, pairs: list[tuple[str, str]]) -> None:
        """Record what the remote now holds after our accepted push: ``(local ref, commit)`` pairs.

        One rewrite of ``packed-refs`` for the whole batch (``GitRepo.move_refs``; ``git update-ref
        --stdin`` if that cannot be done), without a reflog: the tracking namespace is a cache of the
        remote, which the next fetch rewrites anyway, so it needs neither fsync nor history; writing
        1,000 of them one by one through libgit2 (fsync + reflog each) cost seconds. Best effort: a
        failure (another process fetching the same refs) leaves stale tracking refs, which only
        costs a rejected lease and a re-fetch later, never an event."""
        if not pairs:
            return
        if len(pairs) <= FEW_REFS:  # a hub claim's one ref: no process (a reflog line aside, the same)
            # the refs pushed are the local tips: still reconciled, so the last pull's record moves along
            kept = self.quiet(remote, "pulled", tracking=self._tracking_sig(remote))
            try:
                self.git.set_cached([(self.tracking_ref(remote, ref), new) for ref, new in pairs],
                                    f"jit push to {remote}")
                if kept:
                    self._keep_tracking(remote)
                return
            except Exception:  # noqa: BLE001, S110 - best effort: falls through to the update-ref below
                pass
        try:
            # one rewrite of packed-refs, no loose file per ref (gitjit/git/packedrefs.py)
            self.git.move_refs([(self.tracking_ref(remote, ref), ANY, new) for ref, new in pairs], None,
                               durable=False)  # a raced one holds what a concurrent fetch brought
            return
        except (CasFailed, RefLocked, Unsupported, BadRefName, ValueError, OSError):
            pass
        text = "".join(f"update {self.tracking_ref(remote, ref)} {new}\n" for ref, new in pairs)
        try:
            git_run.run(["-c", "core.logAllRefUpdates=true", "update-ref", "--stdin", "-m", f"jit push to {remote}"],
                        git_dir=self.git.git_dir, input=text, env={"LC_ALL": "C"}, timeout=GIT_TIMEOUT)
        except ExternalError:
            pass

    # ------------------------------------------------------------------ reading & validating

    def load_valid(self, ref: str, tip: str, *, where: str, remote: bool = False,
                   known: tuple[Event, ...] = ()) -> tuple[Event, ...]:
        """The events of commit ``tip`` meant for local ref ``ref``; ValidationError naming ``where``.
        ``remote``: the document arrived from a remote, so it is also held to the schema of record
        (``gitjit.schema.events.StoredEvent``) before anything of it is merged; the events equal
        to one of ``known`` (the local copy's, already held here) bring nothing new and are not
        checked again (a pulled ref that gained one event: one event checked, not all of them)."""
        evs = self.store.events_at(tip, where=where)
        try:
            check_document(ref, evs)
        except ValidationError as e:
            raise ValidationError(e.message.replace(ref, where, 1)) from None
        if remote and tip not in self._held:
            have = {e.id: e for e in known}
            new = [e for e in evs if have.get(e.id) != e] if have else evs
            try:
                check_events(new, where=where)
            except ValidationError:
                check_events(evs, where=where)  # the message names the event's place in the document
                raise
            self._held.add(tip)  # a hub claim reads its window's tips before its push and merges them after
        return evs

    # ------------------------------------------------------------------ reconciling

    def _merge_time(self, a: str, b: str) -> int:
        return max(self.git.commit_time(a), self.git.commit_time(b))

    def merge_commit(self, a: str, b: str, doc: bytes) -> str:
        """The deterministic merge of tips ``a`` and ``b`` holding ``doc``: same inputs, same commit id
        on every clone (sorted parents, fixed identity and message, the later parent's time)."""
        parents = sorted([a, b])
        when = self._merge_time(a, b)
        return self.git.write_commit({DOC: doc}, parents, MERGE_MESSAGE, author=MERGE_AUTHOR,
                                     committer=MERGE_AUTHOR, time=when)

    def plan(self, ref: str, ltip: str | None, rtip: str, revents: tuple[Event, ...], *,
             defer: bool = False) -> _Plan:
        """Decide what local ``ref`` (now at ``ltip``) becomes given the validated remote tip: writes
        the merge commit's objects if one is needed (``defer``: only computes them, for one pack
        later), but moves no ref."""
        if ltip is None:
            why = _hostile_text(revents)
            if why:
                return _Plan(ref, None, "", "skipped", (), why)
            return _Plan(ref, None, rtip, "created", revents)
        if ltip == rtip or self.git.is_ancestor(rtip, ltip):
            return _Plan(ref, ltip, ltip, "unchanged", ())
        try:
            levents = self.load_valid(ref, ltip, where=ref)
        except ValidationError as e:
            return _Plan(ref, ltip, ltip, "skipped", (), f"the local copy is invalid ({e.message})")
        have = {e.id: e for e in levents}
        why = _hostile_text(e for e in revents if have.get(e.id) != e)  # only what is new here
        if why:
            return _Plan(ref, ltip, ltip, "skipped", (), why)
        merged, _dups = union_events(levents, revents)
        by_id = {e.id: e for e in revents}
        if len(merged) == len(by_id) and all(by_id.get(e.id) == e for e in merged) \
                and self.git.is_ancestor(ltip, rtip):
            # the remote holds every local event and descends from us: take it as is
            return _Plan(ref, ltip, rtip, "fast_forwarded", revents)
        doc = serialize_events(merged)
        if len(doc) > LIMITS["events_blob"] or len(merged) > LIMITS["events"]:
            return _Plan(ref, ltip, ltip, "skipped", (), f"the union of both sides would hold {len(merged)} "
                                                         f"events / {len(doc)} bytes, over the limits")
        if defer:
            cid, objs = merge_objects(doc, DOC, sorted([ltip, rtip]), self._merge_time(ltip, rtip), MERGE_AUTHOR,
                                      MERGE_MESSAGE)
            return _Plan(ref, ltip, cid, "merged", tuple(merged), objects=tuple(objs), doc=doc, tips=(ltip, rtip))
        return _Plan(ref, ltip, self.merge_commit(ltip, rtip, doc), "merged", tuple(merged))

    def _write_deferred(self, plans: list[_Plan]) -> list[_Plan]:
        """Write the objects of deferred merges: one pack when there are many, else through pygit2
        (whose ids must equal the computed ones; if they ever did not, pygit2's id is used)."""
        merges = [p for p in plans if p.objects]
        if len(merges) >= PACK_MIN and write_pack(self.git.git_dir, [o for p in merges for o in p.objects]) \
                and self.git.has_object(merges[-1].new):
            return [dataclasses.replace(p, objects=()) for p in plans]
        out = []
        for p in plans:
            if p.objects:
                cid = self.merge_commit(p.tips[0], p.tips[1], p.doc)
                p = dataclasses.replace(p, new=cid, objects=())
            out.append(p)
        return out

    def _skip(self, p: _Plan) -> None:
        self.store.warn(f"not merging into {p.ref}: {p.why}; see 'jit doctor'")

    def _done(self, p: _Plan) -> None:
        if p.outcome == "merged":
            self.store.remember(p.ref, p.new, p.events)

    def reconcile_ref(self, ref: str, rtip: str, revents: tuple[Event, ...], *,
                      what: str = "pull") -> tuple[str, str]:
        """Bring the remote tip ``rtip`` (already validated) into local ``ref``; CAS, retried.

        Returns (outcome, reason): "created", "unchanged", "fast_forwarded", "merged", or "skipped"
        (the local side is unreadable, or the union would break the size limits; a warning says so)."""
        out: list[_Plan] = []

        def attempt() -> None:
            out.clear()
            p = self.plan(ref, self.git.tip(ref), rtip, revents)
            if p.outcome == "skipped":
                self._skip(p)
            elif p.outcome != "unchanged":
                self.git.swap_ref(ref, p.old, p.new, f"jit {what}: {p.outcome.replace('_', '-')}")
                self._done(p)
            out.append(p)

        # a lock left by a killed local writer must not stall every pull of this issue (store/locks.py)
        retrying(attempt, what=f"reconcile {ref}", on_locked=lambda: locks.on_locked(self.git.common_dir, ref))
        return out[-1].outcome, out[-1].why

    def _apply_batch(self, plans: list[_Plan], what: str) -> set[str]:
        """Move many local refs in ONE compare-and-swap transaction (``GitRepo.move_refs``: every
        ``old`` value is checked under ``packed-refs.lock``, then all refs move or none does, in
        one rewrite of ``packed-refs``). Not one fsync'd libgit2 write per ref, nor a loose file per ref:
        a pull of 10,000 changed issues would otherwise spend most of its time here. Returns the
        refs not moved: all of them if anything moved meanwhile (or a lock was held), or those a
        writer raced; the caller takes the per-ref CAS path for them, which re-plans each ref."""
        if len(plans) <= SMALL_BATCH and all(p.outcome in ("created", "fast_forwarded") for p in plans):
            # a hub claim's window: a few refs that only take what the remote holds, so neither a
            # ``git update-ref`` process nor fsync (a crash loses nothing the remote does not keep)
            try:
                self.git.swap_many([(p.ref, p.old, p.new) for p in plans], f"jit {what}", durable=False)
            except (CasFailed, RefLocked):
                return {p.ref for p in plans}  # another process moved some meanwhile: one at a time, re-planned
            for p in plans:
                self._done(p)
            return set()
        # jit.fsync (docs/reliability.md) holds for these refs too, except when every one of them
        # only takes what the remote already holds (created or fast-forwarded to its tip): a crash
        # then loses nothing the remote does not keep, and the next pull writes them again. A hub
        # claim's refresh of its window is such a write, and fsync was most of its time.
        fsync = (self.git.config_get("jit.fsync") or "true").strip().lower() not in ("false", "no", "off", "0") \
            and any(p.outcome == "merged" for p in plans)
        try:
            # one rewrite of packed-refs under its lock (gitjit/git/packedrefs.py): a
            # ``git update-ref`` transaction wrote a loose file per ref (7.2 s for 10,000 of them
            # at 100,000 issues), which then had to be packed again
            raced = self.git.move_refs([(p.ref, p.old, p.new) for p in plans], f"jit {what}", durable=fsync)
        except (CasFailed, RefLocked, BadRefName, ValueError, OSError):
            return {p.ref for p in plans}  # refs that another process moved or holds: one at a time, re-planned
        except Unsupported:
            return set() if self._apply_update_ref(plans, what, fsync) else {p.ref for p in plans}
        for p in plans:
            if p.ref not in raced:
                self._done(p)
        return raced

    def _apply_update_ref(self, plans: list[_Plan], what: str, fsync: bool) -> bool:
        """``_apply_batch`` through one ``git update-ref --stdin`` transaction (refs that are not files)."""
        lines = ["start"]
        for p in plans:
            lines.append(f"create {p.ref} {p.new}" if p.old is None else f"update {p.ref} {p.new} {p.old}")
        lines += ["prepare", "commit"]
        cmd: list[str] = []
        if fsync:
            cmd += ["-c", "core.fsync=reference"]
        cmd += ["update-ref", "--stdin", "-m", f"jit {what}"]
        try:
            proc = git_run.run(cmd, git_dir=self.git.git_dir, input="\n".join(lines) + "\n", env={"LC_ALL": "C"},
                               timeout=GIT_TIMEOUT)
        except ExternalError:
            return False
        if proc.returncode != 0:
            return False
        for p in plans:
            self._done(p)
        return True

    def reconcile(self, remote: str, *, only: Iterable[str] | None = None,
                  progress: Progress | None = None, tips: dict[str, str] | None = None) -> PullResult:
        """Reconcile every tracking ref of ``remote`` (or just the local refs in ``only``);
        ``progress`` is told of each ref read and merged (gitjit/core/progress.py). ``tips``: the
        local and tracking refs as the caller just read them (``listing``), not read again."""
        want = set(only) if only is not None else None
        res = PullResult(remote)
        tp = self.tracking_prefix(remote)
        if tips is not None:
            pass
        elif want is None:
            tips = self.listing(remote)
        else:  # a few refs (a hub claim's refresh): each looked up, not every ref listed (0.7 s at 100,000)
            tips = {}
            for ref in want:
                for name in (ref, tp + ref[len(LOCAL):]) if ref.startswith(LOCAL) else ():
                    tip = self.git.tip(name)
                    if tip is not None:
                        tips[name] = tip
        plans: list[tuple[_Plan, tuple[Event, ...]]] = []
        todo: list[tuple[str, str, str | None, str]] = []
        for tname, rtip in sorted(tips.items()):
            if not tname.startswith(tp):
                continue
            ref = LOCAL + tname[len(tp):]
            if want is not None and ref not in want:
                continue
            ltip = tips.get(ref)
            # fast path without parsing: nothing new
            if ltip is not None and (ltip == rtip or self.git.is_ancestor(rtip, ltip)):
                res.unchanged += 1
                continue
            todo.append((tname, ref, ltip, rtip))
        if len(todo) >= PREFETCH_MIN:
            # read both sides' documents in one stream (GitRepo.read_files); the parsed events are
            # cached by commit, so the checks below find them (and their errors come again there)
            warm = [(tname, rtip) for tname, _, _, rtip in todo] + [(ref, ltip) for _, ref, ltip, _ in todo if ltip]
            with closing(self.store.events_many(warm)) as read:
                for _ in counted(read, progress, "reading refs", len(warm)):
                    pass
        for tname, ref, ltip, rtip in counted(todo, progress, "merging refs", len(todo)):
            known: tuple[Event, ...] = ()
            if ltip is not None:
                try:
                    known = self.load_valid(ref, ltip, where=ref)
                except ValidationError:
                    known = ()  # plan() says why the local copy cannot be merged
            try:
                revents = self.load_valid(ref, rtip, where=tname, remote=True, known=known)
            except ValidationError as e:
                self.store.warn(f"skipping {tname} ({remote}'s {ref}): {e.message.removeprefix(tname + ': ')}")
                res.skipped.append({"ref": tname, "reason": e.message})
                continue
            p = self.plan(ref, ltip, rtip, revents, defer=True)
            if p.outcome == "skipped":
                self._skip(p)
                res.skipped.append({"ref": ref, "reason": p.why})
            elif p.outcome == "unchanged":
                res.unchanged += 1
            else:
                plans.append((p, revents))
        written = self._write_deferred([p for p, _ in plans])
        plans = [(w, ev) for w, (_, ev) in zip(written, plans)]
        for i in range(0, len(plans), BATCH_REFS):
            chunk = plans[i:i + BATCH_REFS]
            left = self._apply_batch([p for p, _ in chunk], f"pull from {remote}") if len(chunk) > 1 \
                else {p.ref for p, _ in chunk}
            for p, _ in chunk:
                if p.ref not in left:
                    getattr(res, p.outcome).append(p.ref)
            for p, revents in (x for x in chunk if x[0].ref in left):  # re-planned under CAS with retries
                out, why = self.reconcile_ref(p.ref, tips[self.tracking_ref(remote, p.ref)], revents)
                if out == "skipped":
                    res.skipped.append({"ref": p.ref, "reason": why})
                elif out == "unchanged":
                    res.unchanged += 1
                else:
                    getattr(res, out).append(p.ref)
        return res

    # ------------------------------------------------------------------ nothing moved: stop early

    def advertised(self, remote: str) -> tuple[str, int]:
        """``(digest, count)`` of the remote's jit refs as it advertises them (one ``git ls-remote``):
        the digest changes whenever any jit ref there moves, appears or goes."""
        import hashlib

        proc = self._git(["ls-remote", remote, f"{LOCAL}*"], what=f"ls-remote {remote}")
        if proc.returncode != 0:
            err = proc.stderr.strip()
            raise ExternalError(f"git ls-remote {remote} failed: {git_run.last_lines(err)}",
                                hint="check the remote URL and your access (git ls-remote works the same way)",
                                details={"remote": remote, "stderr": err[-2000:]})
        out = proc.stdout
        self._advertised = out
        return hashlib.sha1(out.encode()).hexdigest(), out.count("\n")

    def _moved(self, remote: str) -> list[str] | None:
        """The local refs whose copy on ``remote`` (as its last ``advertised`` answer said) differs
        from the tracking ref: what a pull must fetch. None when a tracking ref is no longer on the
        remote (deleted there: the whole pull prunes it and says so) or the answer is not there."""
        text = getattr(self, "_advertised", None)
        if text is None:
            return None
        tp = self.tracking_prefix(remote)
        have = tips_under(self.git.common_dir, tp)
        adv: dict[str, tuple[str, str]] = {}
        for line in text.splitlines():
            tip, _, ref = line.partition("\t")
            if ref.startswith(LOCAL):
                adv[tp + ref[len(LOCAL):]] = (ref, tip)
        if any(name not in adv for name in have):
            return None  # a tracking ref the remote no longer has
        return [ref for name, (ref, tip) in adv.items() if have.get(name) != tip]

    def _signatures(self, remote: str) -> dict[str, str | None]:
        """``stat`` signatures of this clone's jit refs and of the remote's tracking refs (no listing:
        ``packed-refs`` and the loose files; gitjit.git.files.refs_signature)."""
        common = self.git.common_dir
        return {"local": refs_signature(common, LOCAL, settled_ns=0),
                "tracking": refs_signature(common, self.tracking_prefix(remote), settled_ns=0)}

    def _tracking_sig(self, remote: str) -> str | None:
        """``_signatures(remote)["tracking"]`` alone: a hub claim checks it up to four times, and
        the local refs' signature beside it cost as much again for nothing."""
        return refs_signature(self.git.common_dir, self.tracking_prefix(remote), settled_ns=0)

    def quiet(self, remote: str, what: str, **now: str | None) -> bool:
        """Is ``remote`` as it was when ``what`` ("pulled" or "pushed") last found it in step? Each
        of ``now`` (the advertised digest, the signatures) must equal what was recorded then."""
        rec = fetched.read_state(self.git.common_dir, QUIET_FILE).get(remote)
        got = rec.get(what) if isinstance(rec, dict) else None
        return isinstance(got, dict) and all(v is not None and got.get(k) == v for k, v in now.items())

    def _record_quiet(self, remote: str, what: str, **now: str | None) -> None:
        if any(v is None for v in now.values()):
            return
        common = self.git.common_dir
        state = fetched.read_state(common, QUIET_FILE)
        rec = state.get(remote)
        rec = dict(rec) if isinstance(rec, dict) else {}
        rec[what] = now
        state[remote] = rec
        fetched.write_state(common, state, QUIET_FILE)

    def pull(self, remote: str, *, fetch: bool = True, progress: Progress | None = None) -> PullResult:
        """Fetch and reconcile. When the remote advertises exactly what it did at the last pull, and
        the tracking refs are as that pull left them, nothing can have moved: one ``git ls-remote``
        and two ``stat`` signatures, no fetch and no listing of every ref (4 s at 100,000 issues)."""
        self.check_remote(remote)
        digest = None
        if fetch:
            digest, count = self.advertised(remote)
            if self.quiet(remote, "pulled", advertised=digest, tracking=self._tracking_sig(remote)):
                return PullResult(remote, unchanged=count)
        # the tracking refs as the last pull left them (nothing else moved them, a plain ``git fetch``
        # say): then what differs from the advertisement is all there is to bring
        moved = self._moved(remote) if fetch and self.quiet(
            remote, "pulled", tracking=self._tracking_sig(remote)) else None
        if moved is not None and len(moved) <= FEW_MOVED:
            # a few refs moved: fetch and reconcile just those (the rest of the advertisement
            # equals the tracking refs), in time proportional to what moved
            before = {self.tracking_ref(remote, r): t for r in moved
                      if (t := self.git.tip(self.tracking_ref(remote, r))) is not None}
            res = self.refresh(remote, moved) if moved else PullResult(remote)
            after = {self.tracking_ref(remote, r): t for r in moved
                     if (t := self.git.tip(self.tracking_ref(remote, r))) is not None}
            res.rewritten = self.rewrites(remote, before, after)
            res.unchanged += count - len(moved)
            if not res.skipped:
                self._record_quiet(remote, "pulled", advertised=digest,
                                   tracking=self._tracking_sig(remote))
            return res
        if fetch:
            bulk = self._pull_bulk(remote, digest, progress)
            if bulk is not None:
                return bulk
        before = self.git.ref_tips(self.tracking_prefix(remote)) if fetch else {}
        if fetch:
            self.fetch(remote)
        res = self.reconcile(remote, progress=progress)
        res.rewritten = self.rewrites(remote, before)
        pack_loose_tracking(self.git, self.tracking_prefix(remote))  # what the fetch left loose
        maybe_gc(self.git)  # the housekeeping the fetch was told not to run in the foreground
        if digest is not None and not res.skipped:
            # what was advertised before the fetch is all in: the fetch brought at least that
            self._record_quiet(remote, "pulled", advertised=digest, tracking=self._tracking_sig(remote))
        return res

    def advertised_tips(self, remote: str) -> dict[str, str] | None:
        """``{tracking ref: tip}`` of the remote's jit refs as its last ``advertised`` answer gave
        them (None without one). A name git would refuse, or a tip that is no object id, is left
        out with a warning: the remote is not trusted to name refs here."""
        text = getattr(self, "_advertised", None)
        if text is None:
            return None
        tp = self.tracking_prefix(remote)
        out: dict[str, str] = {}
        for line in text.splitlines():
            tip, _, ref = line.partition("\t")
            if not ref.startswith(LOCAL) or ref.endswith("^{}"):
                continue
            name = tp + ref[len(LOCAL):]
            if _ISSUE_LINE.fullmatch(line):
                out[name] = tip  # the common shape, which git accepts: no need for the whole check
                continue
            try:
                check_ref_name(name)
                check_target(tip)
            except (BadRefName, ValueError):
                self.store.warn(f"{remote} advertises {ref!r} at {tip[:40]!r}, which is not a valid ref: ignored")
                continue
            out[name] = tip.lower()
        return out

    def fetch_objects(self, remote: str, oids: list[str]) -> bool:
        """Fetch the objects of ``oids`` (tips the remote just advertised) and write no ref: one
        ``git fetch`` of object ids (``--stdin``), which still checks that everything they need is
        here (git's connectivity check), but moves no tracking ref: the caller writes those in one
        ``packed-refs`` rewrite. False when the remote will not serve a want by id (a protocol v0
        server that no longer advertises one of them): the caller then fetches by ref name."""
        if not oids:
            return True
        args = ["fetch", "--stdin", "--no-tags", "--no-write-fetch-head", "--no-auto-maintenance", "--quiet",
                remote]
        proc = git_run.run(args, git_dir=self.git.git_dir, input="".join(o + "\n" for o in oids),
                           env={"LC_ALL": "C", "LANGUAGE": "C"}, timeout=GIT_TIMEOUT, what=f"fetch from {remote}")
        if proc.returncode == 0:
            return True
        err = _access_error(remote, "fetch", proc.stderr.strip())
        if err is not None:
            raise err
        return False

    def _pull_bulk(self, remote: str, digest: str | None, progress: Progress | None) -> PullResult | None:
        """The whole pull when many refs moved, in time that follows what moved rather than the
        number of refs: the advertisement (``advertised``) against the tracking refs read from
        their files gives what moved and what is gone; one ``fetch_objects`` of the moved tips;
        the tracking refs move in one ``packed-refs`` rewrite (no loose file per ref, no reflog:
        they are a cache of the remote); the reconcile works from those tips without listing
        the refs again. None when this cannot be done here (no advertisement, a lock held, a
        name that clashes, a server that refuses wants by id): the caller then pulls git's way."""
        adv = self.advertised_tips(remote)
        if adv is None:
            return None
        tp = self.tracking_prefix(remote)
        try:
            have = self.git.ref_tips(tp)
        except OSError:
            return None
        moved = {t: tip for t, tip in adv.items() if have.get(t) != tip}
        gone = sorted(t for t in have if t not in adv)
        if not self.fetch_objects(remote, sorted(set(moved.values()))):
            return None
        updates: list[tuple[str, str | None, str | None]] = [(t, ANY, tip) for t, tip in sorted(moved.items())]
        updates += [(t, ANY, None) for t in gone]
        try:
            raced = self.git.move_refs(updates, None, durable=False)
        except (CasFailed, RefLocked, Unsupported, BadRefName, ValueError, OSError):
            return None
        after = {t: tip for t, tip in have.items() if t not in moved and t not in gone}
        after.update(moved)
        for t in raced:  # a plain ``git fetch`` wrote these meanwhile: as it left them
            now = self.git.tip(t)
            if now is None:
                after.pop(t, None)
            else:
                after[t] = now
        res = self.reconcile(remote, progress=progress, tips={**self.git.ref_tips(LOCAL), **after})
        res.rewritten = self.rewrites(remote, {t: have[t] for t in (*moved, *gone) if t in have}, after)
        maybe_gc(self.git)
        if digest is not None and not res.skipped:
            self._record_quiet(remote, "pulled", advertised=digest, tracking=self._signatures(remote)["tracking"])
        return res

    def rewrites(self, remote: str, before: dict[str, str],
                 after: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Tracking refs the fetch moved to a tip that does not descend from the old one (a forced
        push on the remote) or removed: say so, with the events the remote no longer has. The
        local refs keep every event (the union never drops any) and the next push restores them."""
        after = self.git.ref_tips(self.tracking_prefix(remote)) if after is None else after
        out: list[dict[str, Any]] = []
        for tname, old in sorted(before.items()):
            new = after.get(tname)
            if new == old or (new is not None and self.git.is_ancestor(old, new)):
                continue
            ref = LOCAL + tname[len(self.tracking_prefix(remote)):]
            try:
                had = {e.id for e in self.store.events_at(old, where=tname)}
                now = {e.id for e in self.store.events_at(new, where=tname)} if new else set()
                dropped: int | None = len(had - now)
            except ValidationError:
                dropped = None
            what = "deleted" if new is None else "rewritten (force-pushed)"
            lost = f"; it no longer holds {dropped} event(s) it had" if dropped else ""
            self.store.warn(f"{remote}'s {ref} was {what}{lost}: they are kept here, and 'jit push "
                            f"{remote}' restores them there")
            out.append({"ref": ref, "remote": remote, "was": old, "now": new, "dropped_events": dropped})
        return out

    def refresh(self, remote: str, refs: Iterable[str]) -> PullResult:
        """Fetch and reconcile just ``refs`` (local names): one network round trip."""
        refs = list(dict.fromkeys(refs))
        return self.settle(remote, refs, self.fetch_only(remote, refs))

    def fetch_only(self, remote: str, refs: list[str]) -> bool:
        """``refresh``'s first half: fetch ``refs`` into their tracking refs, merge nothing yet
        (``settle`` does). True when the tracking refs were as the last pull left them: after
        the ``settle`` of ``refs`` they still are all reconciled, so the record moves along (a
        later pull of a few moved refs stays proportional to them)."""
        kept = self.quiet(remote, "pulled", tracking=self._tracking_sig(remote))
        self.fetch(remote, refs)
        return kept

    def settle(self, remote: str, refs: list[str], kept: bool) -> PullResult:
        """``refresh``'s second half: reconcile ``refs`` with their tracking refs."""
        res = self.reconcile(remote, only=refs)
        pack_loose_tracking(self.git, self.tracking_prefix(remote))
        maybe_gc(self.git)
        if kept and not res.skipped:
            self._keep_tracking(remote)
        return res

    def _keep_tracking(self, remote: str) -> None:
        """Record the tracking refs' new signature as reconciled (this process just reconciled
        what it moved), keeping the advertised digest: the next pull still asks the remote."""
        common = self.git.common_dir
        state = fetched.read_state(common, QUIET_FILE)
        rec = state.get(remote)
        got = rec.get("pulled") if isinstance(rec, dict) else None
        sig = self._tracking_sig(remote)
        if isinstance(got, dict) and sig is not None:
            self._record_quiet(remote, "pulled", advertised=got.get("advertised"), tracking=sig)

    def refresh_issue(self, remote: str, iid: str) -> None:
        """Fetch one issue and the issues it depends on (their state decides whether it is ready)."""
        def deps() -> set[str]:
            try:
                ld = self.store.load(ISSUES, iid)
            except ValidationError:
                return set()
            return set(fold_issue(iid, ld.events).dependencies) if ld else set()

        before = deps()
        self.refresh(remote, [ISSUES + iid] + [ISSUES + d for d in sorted(before)])
        new = deps() - before
        if new:
            self.refresh(remote, [ISSUES + d for d in sorted(new)])

    # ------------------------------------------------------------------ pushing

    def listing(self, remote: str) -> dict[str, str]:
        """Every local jit ref and every tracking ref of ``remote`` with its tip, read from the
        ref files (``GitRepo.ref_tips``)."""
        return self.git.ref_tips(LOCAL, self.tracking_prefix(remote))

    def pending(self, remote: str, tips: dict[str, str] | None = None) -> list[tuple[str, str, str | None]]:
        """``(ref, local tip, tracking tip|None)`` for every local ref the remote does not have yet
        (``tips``: a ``listing`` just read, else one is read).

        Only pushes that keep every remote event: the tracking tip must be an ancestor of the
        local tip (``reconcile`` makes it so), otherwise the ref waits with a warning."""
        tp = self.tracking_prefix(remote)
        tips = self.listing(remote) if tips is None else tips
        out: list[tuple[str, str, str | None]] = []
        for ref, ltip in sorted(tips.items()):
            if not ref.startswith(LOCAL):
                continue
            tname = tp + ref[len(LOCAL):]
            rtip = tips.get(tname)
            if rtip == ltip:
                continue
            try:
                self.load_valid(ref, ltip, where=ref)
            except ValidationError as e:
                self.store.warn(f"not pushing {ref}: the local copy is invalid ({e.message}); see 'jit doctor'")
                continue
            if rtip is not None and not self.git.is_ancestor(rtip, ltip):
                self.store.warn(f"not pushing {ref}: {remote}'s copy ({tname}) was not merged "
                                "(it is invalid or could not be merged; see 'jit doctor')")
                continue
            out.append((ref, ltip, rtip))
        return out

    def push(self, remote: str) -> dict[str, Any]:
        """Push every changed jit ref, leased on what we last fetched; on rejection fetch, merge, retry."""
        self.check_remote(remote)
        pushed: list[str] = []
        rounds = 0
        delay = 0.05
        sigs = self._signatures(remote)
        if self.quiet(remote, "pushed", **sigs):
            # neither a local jit ref nor a tracking ref moved since a push last found nothing pending
            return {"remote": remote, "pushed": [], "count": 0, "rounds": 0}
        # the tracking refs as the last pull left them (all reconciled): after this push they still
        # are, with the pushed refs at our tips, so the next pull need not be a whole one
        was_pulled = self.quiet(remote, "pulled", tracking=sigs["tracking"])
        accepted_all: dict[str, str] = {}
        while True:
            rounds += 1
            if rounds > 1:
                sigs = self._signatures(remote)  # taken before the look: a write after it is seen next time
            tips = self.listing(remote)  # one listing for the reconcile and the pending refs
            merged = self.reconcile(remote, tips=tips)  # never lease on a remote tip we have not merged
            if merged.created or merged.fast_forwarded or merged.merged:
                tips = self.listing(remote)
            todo = self.pending(remote, tips)
            if not todo:
                self._record_quiet(remote, "pushed", **sigs)
                break
            rejected: list[str] = []
            staged = len(todo) >= STAGED_PUSH_MIN
            if staged and rounds == 1:
                self.drop_stale_stages()
            size = STAGED_PUSH_BATCH if staged else PUSH_BATCH
            for i in range(0, len(todo), size):
                batch = todo[i:i + size]
                status = self.push_staged(remote, batch) if staged else self.push_batch(remote, batch)
                accepted = [(ref, new) for ref, new, _old in batch if status[ref][0]]
                rejected += [ref for ref, _new, _old in batch if not status[ref][0]]
                self.set_tracking(remote, accepted)
                pushed += [ref for ref, _ in accepted]
                accepted_all.update(accepted)
            if not rejected:
                break
            if rounds >= PUSH_ROUNDS:
                raise BusyError(
                    f"push to {remote}: {len(rejected)} ref(s) kept changing on the remote through "
                    f"{rounds} rounds", hint="another clone is pushing the same issues; run 'jit sync' again",
                    details={"remote": remote, "rejected": rejected[:50]})
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 1.0)
            was_pulled = False  # this fetch moves tracking refs that only the next reconcile merges
            self.fetch(remote)
        if was_pulled and accepted_all:
            self._pushed_in_step(remote, accepted_all)
        return {"remote": remote, "pushed": pushed, "count": len(pushed), "rounds": rounds}

    def _pushed_in_step(self, remote: str, accepted: dict[str, str]) -> None:
        """After a push that the remote took whole, from tracking refs the last pull left
        reconciled: record them as still reconciled, and the advertisement the remote should now
        give (the last one with our pushed tips in), so that the next pull of an unchanged remote
        is the quiet one (one ``git ls-remote``), not a fetch. If anyone else moved a ref there
        meanwhile, the digest differs and the next pull fetches just what moved. Without this
        process's own advertisement (a push on its own), the recorded digest is kept: the next
        pull then finds nothing moved but the refs it already has."""
        import hashlib

        state = fetched.read_state(self.git.common_dir, QUIET_FILE)
        rec = state.get(remote)
        got = rec.get("pulled") if isinstance(rec, dict) else None
        sig = self._signatures(remote)["tracking"]
        if not isinstance(got, dict) or sig is None:
            return
        digest = got.get("advertised")
        text = getattr(self, "_advertised", None)
        if text is not None and digest == hashlib.sha1(text.encode()).hexdigest():
            lines: dict[str, str] = {}
            for line in text.splitlines():
                lines[line.partition("\t")[2]] = line
            for ref, new in accepted.items():
                lines[ref] = f"{new}\t{ref}"
            predicted = "".join(lines[k] + "\n" for k in sorted(lines, key=lambda r: r.encode()))
            digest = hashlib.sha1(predicted.encode()).hexdigest()
            self._advertised = predicted
        self._record_quiet(remote, "pulled", advertised=digest, tracking=sig)

    # ------------------------------------------------------------------ hub-decided writes

    def append_via_remote(
        self,
        remote: str,
        prefix: str,
        key: str,
        build: Callable[[Loaded | None], list[Event]],
        *,
        message: str,
        author: tuple[str, str],
        what: str,
        retry: bool = True,
    ) -> Loaded:
        """Like ``EntityStore.append``, but the write is real only once ``remote`` accepted it.

        The caller has just fetched and reconciled the ref (``refresh``). ``retry=False``: a refused
        push raises AlreadyClaimedError at once (the caller moves on). Each attempt: ``build``
        the events against the local ref (which holds everything the hub had), write the commit
        on top, push it with ``--force-with-lease=<ref>:<hub tip we fetched>``; only when the hub
        accepts, move the local ref (CAS; a local writer that got in meanwhile is merged). When
        the hub refuses, leave the local ref alone, fetch again and let ``build`` decide anew: it
        raises (e.g. AlreadyClaimedError) once the change is no longer possible."""
        ref = prefix + key
        tname = self.tracking_ref(remote, ref)
        delay = 0.02
        for attempt in range(HUB_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, delay))
                delay = min(delay * 2, 0.5)
                self.refresh(remote, [ref])
            rtip = self.git.tip(tname)
            cur = self.store.load(prefix, key)
            if rtip is not None and (cur is None or not self.git.is_ancestor(rtip, cur.tip)):
                # the hub's copy could not be merged (invalid, or over the limits): nothing safe to do
                raise ValidationError(
                    f"{remote}'s copy of {ref} could not be merged, so the change cannot be made there",
                    hint="see 'jit doctor'", details={"remote": remote, "ref": ref})
            new = build(cur)
            if not new:
                assert cur is not None
                return cur
            allev = (list(cur.events) if cur else []) + list(new)
            doc = serialize_events(allev)
            self.store._check_limits(ref, what, list(new), allev, doc)  # as a local write
            commit = self.git.write_commit({DOC: doc}, [cur.tip] if cur else [], message, author=author)
            status = self.push_batch(remote, [(ref, commit, rtip)])
            if not status[ref][0]:
                if not retry:
                    # the caller has other candidates (claim_next): another agent most likely won this
                    raise AlreadyClaimedError(f"{remote} refused the {what} of {key}: it moved there meanwhile",
                                              details={"remote": remote, "ref": ref})
                continue  # someone else moved the hub's ref first: fetch, re-fold, decide again
            # accepted: this is now the hub's truth
            self.set_tracking(remote, [(ref, commit)])
            evs = tuple(sorted(allev, key=Event.sort_key))
            self.store.remember(ref, commit, evs)
            try:
                self.git.swap_ref(ref, cur.tip if cur else None, commit, f"jit {what} (accepted by {remote})")
            except (CasFailed, RefLocked):
                # a local writer moved the ref meanwhile: merge the hub's accepted commit in
                self.reconcile_ref(ref, commit, evs, what=what)
            return Loaded(key, ref, commit, evs)
        raise BusyError(f"{what} {key}: {remote} kept moving the ref through {HUB_ATTEMPTS} attempts",
                        hint="retry in a moment", details={"remote": remote, "ref": ref})

    def push_on_tip(self, remote: str, prefix: str, key: str, base: Loaded | None, rtip: str | None,
                    build: Callable[[Loaded | None], list[Event]], *, message: str, author: tuple[str, str],
                    what: str) -> Loaded:
        """One try of a hub-decided write built on ``base``: the remote's tip just fetched (``rtip``,
        its events) or the local ref when that holds it and more. The commit goes to the remote
        FIRST, leased on ``rtip``; only once it is accepted is the tracking ref and then the local
        ref moved (a fast-forward from the local tip read here; a local writer that got in meanwhile
        is merged). Refused: AlreadyClaimedError, and nothing here moved. This is how a hub
        ``claim_next`` keeps the gap between its fetch and its push to one build and one commit:
        the merge of the rest of what it fetched comes after the push (``settle``)."""
        ref = prefix + key
        ltip = self.git.tip(ref)
        new = build(base)
        if not new:
            assert base is not None
            return base
        allev = (list(base.events) if base else []) + list(new)
        doc = serialize_events(allev)
        self.store._check_limits(ref, what, list(new), allev, doc)  # as a local write
        commit = self.git.write_commit({DOC: doc}, [base.tip] if base else [], message, author=author)
        status = self.push_batch(remote, [(ref, commit, rtip)])
        if not status[ref][0]:
            raise AlreadyClaimedError(f"{remote} refused the {what} of {key}: it moved there meanwhile",
                                      details={"remote": remote, "ref": ref})
        # accepted: this is now the hub's truth
        try:
            self.git.set_cached([(self.tracking_ref(remote, ref), commit)], f"jit push to {remote}")
        except Exception:  # noqa: BLE001, S110 - a stale tracking ref costs a refused lease later, never an event
            pass
        evs = tuple(sorted(allev, key=Event.sort_key))
        self.store.remember(ref, commit, evs)
        try:
            if ltip is not None and ltip != commit and not self.git.is_ancestor(ltip, commit):
                raise CasFailed(ref)  # the local ref holds more than the base: merge
            self.git.swap_ref(ref, ltip, commit, f"jit {what} (accepted by {remote})")
        except (CasFailed, RefLocked):
            self.reconcile_ref(ref, commit, evs, what=what)
        return Loaded(key, ref, commit, evs)

    def append_many_via_remote(
        self, remote: str, items: list[tuple[str, str, Callable[[Loaded | None], list[Event]], str, tuple[str, str]]],
        *, what: str,
    ) -> dict[str, Loaded | Exception]:
        """Several ``append_via_remote`` writes (``(prefix, key, build, message, author)``) in ONE
        push, each ref with its own lease and accepted or refused on its own (no ``--atomic``): a
        dispatcher's claims of one round cost one push whatever their number. One attempt, no
        retry: a refused one is ``AlreadyClaimedError`` (another clone moved it first); ``build``
        raising is that key's answer. The caller has just fetched the refs (``refresh``)."""
        out: dict[str, Loaded | Exception] = {}
        updates: list[tuple[str, str, str | None]] = []
        made: dict[str, tuple[str, Loaded | None, list[Event]]] = {}
        for prefix, key, build, message, author in items:
            ref = prefix + key
            rtip = self.git.tip(self.tracking_ref(remote, ref))
            try:
                cur = self.store.load(prefix, key)
                if rtip is not None and (cur is None or not self.git.is_ancestor(rtip, cur.tip)):
                    raise ValidationError(f"{remote}'s copy of {ref} could not be merged, so the change cannot be made "
                                          "there", hint="see 'jit doctor'", details={"remote": remote, "ref": ref})
                new = build(cur)
                if not new:
                    assert cur is not None
                    out[key] = cur
                    continue
                allev = (list(cur.events) if cur else []) + list(new)
                doc = serialize_events(allev)
                self.store._check_limits(ref, what, list(new), allev, doc)
            except (GitjitError, BadRef) as e:
                out[key] = e
                continue
            commit = self.git.write_commit({DOC: doc}, [cur.tip] if cur else [], message, author=author)
            updates.append((ref, commit, rtip))
            made[ref] = (key, cur, allev)
        if not updates:
            return out
        status = self.push_batch(remote, updates, atomic=False)
        accepted = [(ref, commit) for ref, commit, _ in updates if status[ref][0]]
        self.set_tracking(remote, accepted)
        for ref, commit, _ in updates:
            key, cur, allev = made[ref]
            if not status[ref][0]:
                out[key] = AlreadyClaimedError(f"{remote} refused the {what} of {key}: it moved there meanwhile",
                                               details={"remote": remote, "ref": ref})
                continue
            evs = tuple(sorted(allev, key=Event.sort_key))
            self.store.remember(ref, commit, evs)
            try:
                self.git.swap_ref(ref, cur.tip if cur else None, commit, f"jit {what} (accepted by {remote})")
            except (CasFailed, RefLocked):
                self.reconcile_ref(ref, commit, evs, what=what)
            out[key] = Loaded(key, ref, commit, evs)
        return out


_KEPT = ("nothing was lost: local changes stay in this clone and the next 'jit sync' sends them (a claim or "
         "release through the hub was not made)")


def _access_error(remote: str, op: str, stderr: str) -> ExternalError | None:
    """A clear error when git failed for want of credentials or of rights on ``remote``, else None."""
    r = explain(stderr)
    if r is None:
        return None
    details = {"remote": remote, "access": r.kind, "reason": r.reason, "stderr": stderr[-2000:]}
    if r.kind == "auth":
        return ExternalError(
            f"{remote} wants credentials to {op}, and git has none that work: {r.reason}",
            hint=f"set git up to log in to {remote} (https: a credential helper holding a token, e.g. 'git config "
                 "credential.helper store'; ssh: a key the server knows), then run the command again; " + _KEPT,
            details=details)
    return ExternalError(
        f"{remote} refused the {op}: {r.reason}",
        hint=f"your account may not {'write' if op == 'push' else 'read'} these refs on {remote}: ask its "
             "administrator for access to refs/jit/* (docs/sharing.md, 'Serving a hub'); " + _KEPT,
        details=details)


def _hostile_text(events: Iterable[Event]) -> str | None:
    """Why the remote events new to this clone may not be merged: a control character where no
    writer of this version puts one (the schema of record ``gitjit.schema.events.RemoteEvent``,
    which runs the core's ``model.text_problem``); None when they are fine."""
    why = remote_event_problem(events)
    return f"{why}, which is never written here (a terminal would obey it)" if why else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True
