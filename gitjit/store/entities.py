"""Entities (issues, gate definitions) as commit chains on ``refs/jit/*``.

Each entity is one ref; each commit on it adds one or more events, and its tree holds the
entity's *whole* event log as ``events.jsonl`` (canonical, sorted by ``(clock, id)``), so the
tip alone gives the full history and a merge is a union of two files. Every write is a
compare-and-swap of that one ref, retried with backoff and jitter when another writer got
there first; the caller's ``build`` function runs again on every attempt against the fresh
events, so a check such as "not already claimed" is made against what is really there.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ..core.errors import BusyError, UsageError, ValidationError
from ..core.event import Event
from ..core.fold import parse_events, serialize_events
from ..core.model import LIMITS
from ..core.refs import DOC, GATES, ISSUES
from ..git import BadRef, CasFailed, GitRepo, RefLocked, files, raw
from ..git.housekeeping import maybe_gc
from . import locks

__all__ = ["DOC", "GATES", "ISSUES", "EntityStore", "Loaded", "retrying"]



@dataclass(frozen=True)
class Loaded:
    key: str
    ref: str
    tip: str
    events: tuple[Event, ...]


def retrying(op: Callable[[], object], *, what: str,
             on_locked: Callable[[], str | None] | None = None) -> object:
    """Run ``op`` until it stops raising CasFailed/RefLocked; exponential backoff with full jitter,
    within ``JIT_RETRY_SECONDS`` (default 20 s, as Gerrit's NoteDb retry budget). ``on_locked``
    (``gitjit.store.locks``) removes a stale lock left by a killed writer and describes a live one."""
    budget = float(os.environ.get("JIT_RETRY_SECONDS", "20"))
    deadline = time.monotonic() + budget
    delay = 0.002
    locked = False
    holder: str | None = None
    while True:
        try:
            return op()
        except (CasFailed, RefLocked) as e:
            locked = isinstance(e, RefLocked)
            holder = on_locked() if locked and on_locked is not None else None
            if time.monotonic() >= deadline:
                raise BusyError(
                    f"{what}: the ref {'stayed locked' if locked else 'kept changing'} for {budget:g}s"
                    + (f": {holder}" if holder else ""),
                    hint="another jit process is writing the same issue; retry, or raise JIT_RETRY_SECONDS"
                    if not holder or " is being written by " in holder else
                    "retry shortly: a lock no running process owns is removed automatically (see 'jit doctor')",
                    details={"ref": str(e), **({"lock": holder} if holder else {})},
                ) from None
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 0.1)


class EntityStore:
    def __init__(self, git: GitRepo):
        self.git = git
        self.warnings: list[str] = []
        self._parsed: dict[str, tuple[Event, ...]] = {}  # tip -> events (commits are immutable)
        #: ref -> the tip last cached for it, and tip -> how many refs that is: when a ref moves,
        #: its old tip's events are dropped (unless another ref still points there), so the cache
        #: holds about one entry per ref however many writes a long-lived process makes
        self._tip_of: dict[str, str] = {}
        self._refs_at: dict[str, int] = {}
        #: given the events a write adds, a function that signs the commit, or None (gitjit/trust.py)
        self.signer: Callable[[list[Event]], Callable[[bytes], bytes] | None] | None = None

    # ------------------------------------------------------------------ reads

    def events_at(self, tip: str, *, where: str) -> tuple[Event, ...]:
        """Parse the event log in commit ``tip``; ValidationError on anything malformed. When
        ``where`` is a local entity ref, the log is also held to what a pull demands of a remote
        copy (``checks.check_document``: events naming this entity, no clock leaps), so a hand-made
        or tampered ref is skipped like a hostile remote one instead of showing as a ghost."""
        hit = self._parsed.get(tip)
        if hit is None:
            try:
                blob = self.git.read_file(tip, DOC)
            except BadRef as e:
                raise ValidationError(f"{where}: {e}") from None
            hit = self._parse(tip, blob, where)
        self._check(where, hit)
        return hit

    def events_many(self, items: list[tuple[str, str]], *, keep: bool = True
                    ) -> Generator[tuple[Event, ...] | ValidationError, None, None]:
        """``events_at`` of many ``(ref, tip)`` pairs, in order: the events, or the
        ValidationError ``events_at`` would raise. The documents not parsed yet are read in
        bulk (``GitRepo.read_files``: one git process streaming them while these are parsed).
        ``keep=False``: what is parsed here is not cached (a bulk fold into the index, whose
        logs this process is unlikely to write next: a cache of every ref costs memory and makes
        each of the interpreter's full garbage collections walk it)."""
        need: dict[str, None] = {}
        for _, tip in items:
            if tip not in self._parsed:
                need.setdefault(tip)
        datas = self.git.read_files(list(need), DOC)
        memo: dict[str, Event] = {}  # the lines both sides of a pulled ref share: parsed once
        try:
            for ref, tip in items:
                try:
                    hit = self._parsed.get(tip)
                    if hit is None and tip in need:
                        del need[tip]  # the stream holds each needed tip once, in this order
                        data = next(datas)
                        if isinstance(data, BadRef):
                            raise ValidationError(f"{ref}: {data}")
                        hit = self._parse(tip, data, ref, memo) if keep \
                            else tuple(parse_events(data, where=ref, memo=memo))
                    elif hit is None:  # failed to parse earlier in this call: the same error again
                        hit = self.events_at(tip, where=ref)
                    self._check(ref, hit)
                except ValidationError as e:
                    yield e
                    continue
                yield hit
        finally:
            datas.close()

    def _parse(self, tip: str, blob: bytes, where: str, memo: dict[str, Event] | None = None) -> tuple[Event, ...]:
        hit = tuple(parse_events(blob, where=where, memo=memo))
        self.remember(where, tip, hit)
        return hit

    def remember(self, ref: str, tip: str, events: tuple[Event, ...]) -> None:
        """Cache the parsed ``events`` of commit ``tip``, now the tip of ``ref`` (a ref name, or
        any other label, which is then not tracked)."""
        self._parsed[tip] = events
        if not ref.startswith("refs/"):
            return
        old = self._tip_of.get(ref)
        if old == tip:
            return
        self._tip_of[ref] = tip
        self._refs_at[tip] = self._refs_at.get(tip, 0) + 1
        if old is not None:
            n = self._refs_at.get(old, 1) - 1
            if n > 0:
                self._refs_at[old] = n
            else:
                self._refs_at.pop(old, None)
                self._parsed.pop(old, None)

    @staticmethod
    def _check(where: str, hit: tuple[Event, ...]) -> None:
        if where.startswith((ISSUES, GATES)) and where.count("/") == 3:
            from .checks import check_document

            check_document(where, hit)

    def load_all(self, prefix: str) -> dict[str, Loaded]:
        """Every valid entity under ``prefix``. A ref that does not parse is skipped with a warning
        (``jit doctor`` lists it); it never stops the command."""
        out: dict[str, Loaded] = {}
        for ref, tip in self.git.tips(prefix).items():
            key = ref[len(prefix):]
            try:
                out[key] = Loaded(key, ref, tip, self.events_at(tip, where=ref))
            except ValidationError as e:
                self.warn(f"skipping {ref}: {e.message}")
        return out

    def load(self, prefix: str, key: str) -> Loaded | None:
        ref = prefix + key
        tip = self.git.tip(ref)
        if tip is None:
            return None
        return Loaded(key, ref, tip, self.events_at(tip, where=ref))

    def warn(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    # ------------------------------------------------------------------ writes

    def append(
        self,
        prefix: str,
        key: str,
        build: Callable[[Loaded | None], list[Event]],
        *,
        message: str,
        author: tuple[str, str],
        what: str,
        wait: bool = True,
    ) -> Loaded:
        """Append under the ref's lock: lock it, read the tip, ``build`` the new events from it,
        write a commit whose parent is that tip, and move the ref (``GitRepo.write_locked``).
        ``build`` may raise a GitjitError to refuse (nothing is written) or return [] for a no-op.
        A ref locked by another writer is retried with backoff; with ``wait=False`` it raises
        ``RefLocked`` at once instead (unless the lock turns out to be stale and is removed)."""
        ref = prefix + key
        result: list[Loaded] = []

        def make(tip: str | None) -> str | None:
            cur = Loaded(key, ref, tip, self.events_at(tip, where=ref)) if tip is not None else None
            new = build(cur)
            if not new:
                result.append(cur)  # type: ignore[arg-type]
                return None
            old = list(cur.events) if cur else []
            allev = old + list(new)
            doc = serialize_events(allev)
            self._check_limits(ref, what, new, allev, doc)
            sign = self.signer(new) if self.signer is not None else None
            parents = [tip] if tip is not None else []
            if sign is not None:  # a gate pass under a signing key (gitjit/trust.py)
                commit = raw.write_signed_commit(self.git, {DOC: doc}, parents, message, author=author, sign=sign)
            else:
                commit = self.git.write_commit({DOC: doc}, parents, message, author=author)
            evs = tuple(sorted(allev, key=Event.sort_key))
            self.remember(ref, commit, evs)
            result.append(Loaded(key, ref, commit, evs))
            return commit

        def attempt() -> None:
            result.clear()
            with locks.owning(self.git.common_dir, ref):  # lets a later writer tell a crashed owner
                self.git.write_locked(ref, make, message)

        if not wait:
            try:
                attempt()
            except RefLocked:
                # a live writer holds a lock for milliseconds: only an old one can be stale (and is
                # removed here, then one more try); the owner records are read only then
                lock = files.lock_file(self.git.common_dir, ref)
                try:
                    old = time.time() - os.stat(lock).st_mtime >= locks.stale_seconds()
                except OSError:
                    old = False
                if old and locks.on_locked(self.git.common_dir, ref) is not None and not os.path.exists(lock):
                    attempt()
                else:
                    raise
        else:
            retrying(attempt, what=what, on_locked=lambda: locks.on_locked(self.git.common_dir, ref))
        if result[-1] is not None and result[-1].tip is not None:
            maybe_gc(self.git)  # git's own automatic housekeeping, as after a commit (gitjit/git/housekeeping.py)
        return result[-1]

    def _check_limits(self, ref: str, what: str, new: list[Event], allev: list[Event], doc: bytes) -> None:
        longest = max(len(e.to_line()) for e in new)
        if longest > LIMITS["event_line"]:
            raise UsageError(
                f"{what}: one event would be {longest} characters long, over the {LIMITS['event_line']} "
                "limit of a line; nothing was written", hint="store large values elsewhere and link to them",
                details={"ref": ref, "line": longest})
        if len(doc) > LIMITS["events_blob"] or len(allev) > LIMITS["events"]:
            # every reader refuses a log over the limits: writing it would lock the entity out
            raise UsageError(
                f"{what}: {ref} would hold {len(allev)} events / {len(doc)} bytes, over the limits "
                f"({LIMITS['events']} events, {LIMITS['events_blob']} bytes); nothing was written",
                hint="keep long text out of the tracker (link to it), or continue in a new issue",
                details={"ref": ref, "events": len(allev), "bytes": len(doc)})
