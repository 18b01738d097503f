"""``jit doctor`` (alias ``jit fsck``): verify everything gitjit keeps, and repair what can be
repaired without losing an event.

What is checked (each problem comes with the command that fixes it):

* **refs** under ``refs/jit/``: a direct ref, a known name (``issues/<12 hex>``,
  ``gates/<key>``), a commit, an ``events.jsonl`` that parses (UTF-8, JSON, schema, size
  limits), belongs to that ref (``gitjit.store.checks.check_document``: ids, clocks that do
  not leap), folds, and is in canonical form;
* **remote-tracking refs** (``refs/jit-remotes/``): the same document checks; an invalid one
  is skipped by every pull, so it is a warning, repaired on the remote;
* **locks**: ``*.lock`` files under the jit namespaces and ``packed-refs.lock``, judged by
  ``gitjit.store.locks`` (live owner, age), and owner records of dead processes;
* **setup**: ``jit.version``, reflogs for jit refs, the merge driver's registration and that
  its interpreter still exists; the index and the hooks when those modules are present;
* with ``--full``: every commit of every jit ref (each commit's log contains its parents'
  logs; a merge holds exactly their union) and ``git fsck`` of the object store.

``--fix`` repairs: an unreadable or invalid ref is **quarantined** — the ref is parked
under ``refs/jit-quarantine/<ns>/<key>/<time>-<oid>`` (nothing is deleted) — and the entity is
restored from the newest readable history (its readable ancestors and reflog values, united
when there are several); stale locks are removed; a non-canonical log is rewritten as a new
commit with the same events; the merge driver and the reflog setting are re-registered; the
index is rebuilt. Nothing here ever drops an event that was readable.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ExternalError, GitjitError, ValidationError
from ..core.event import Event
from ..core.fold import fold_gate, fold_issue, parse_events, serialize_events, union_events
from ..core.model import GATE_KEY_RE, ISSUE_ID_RE, LIMITS
from ..core.progress import Progress, counted
from ..core.refs import LOCAL, QUARANTINE, TRACKING
from ..git import CasFailed, GitRepo, RefLocked, files, raw
from ..git import run as git_run
from ..schema.events import check_events
from ..store import locks
from ..store.entities import DOC, EntityStore

__all__ = ["QUARANTINE", "Doctor", "Problem", "diagnose", "verify_history"]

DOCTOR_AUTHOR = ("gitjit doctor", "doctor@gitjit")
FIX = "jit doctor --fix"


@dataclass
class Problem:
    check: str                 # refs, remote-refs, locks, setup, index, hooks, history, objects, housekeeping
    code: str                  # stable machine name, e.g. unreadable_ref, stale_lock
    severity: str              # error | warning | info
    subject: str               # the ref, file or setting concerned
    message: str
    fix: str | None = None     # the command that fixes it
    repairable: bool = False   # `jit doctor --fix` repairs it
    repaired: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    _repair: Callable[[], str] | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"check": self.check, "code": self.code, "severity": self.severity, "subject": self.subject,
                "message": self.message, "problem": f"{self.subject}: {self.message}", "fix": self.fix,
                "repairable": self.repairable, "repaired": self.repaired, "details": self.details}


# ----------------------------------------------------------------------------- history (pure-ish)

def verify_history(git: GitRepo, tip: str, *, where: str, limit: int = 100_000) -> tuple[int, list[str]]:
    """Walk every commit reachable from ``tip``; return (commits seen, problems). A valid chain:
    each commit's log parses and contains every event of each parent, unchanged; a commit with
    several parents holds exactly their union plus nothing, or plus the events of one write.

    Linear in the depth of the history: commits are checked oldest first, each against the
    verified log of its parents, so only what a commit adds is parsed (a commit that appends to
    its parent's log, the usual case, is one byte comparison and the new lines). A verified log
    is kept only until the last of its children is checked. Parsing every commit's whole log and
    keeping all of them took 64 s and 910 MB for 1,000 commits of one issue, and more than 454 s
    and 11.5 GB for 5,000 (issue 31, item 13)."""
    parents_of: dict[str, list[str]] = {}
    todo = [tip]
    while todo and len(parents_of) < limit:
        c = todo.pop()
        if c in parents_of:
            continue
        parents_of[c] = ps = git.parents(c)
        todo.extend(ps)
    order = _oldest_first(parents_of)
    waiting: dict[str, int] = {}  # children of a commit still to be checked
    for c in order:
        for p in parents_of[c]:
            if p in parents_of:
                waiting[p] = waiting.get(p, 0) + 1
    logs: dict[str, _Log | None] = {}  # verified logs still needed; None: unreadable
    problems: list[str] = []
    datas = git.read_files(order, DOC)
    try:
        for c, data in zip(order, datas):
            ps = parents_of[c]
            log = _check_commit(c, ps, data, logs, waiting, problems, where)
            for p in ps:
                if p in waiting:
                    waiting[p] -= 1
                    if not waiting[p]:
                        del waiting[p]
                        logs.pop(p, None)
            if waiting.get(c):
                logs[c] = log
    finally:
        datas.close()
    return len(order), problems


@dataclass
class _Log:
    """A verified ``events.jsonl``: its bytes, and the text of the line that holds each event."""

    data: bytes
    lines: dict[str, str]  # event id -> line
    count: int             # events (non-blank lines)


def _oldest_first(parents_of: dict[str, list[str]]) -> list[str]:
    """The commits of ``parents_of``, each after all of its parents that are in it (Kahn)."""
    children: dict[str, list[str]] = {}
    missing: dict[str, int] = {}
    for c, ps in parents_of.items():
        inside = [p for p in ps if p in parents_of]
        missing[c] = len(inside)
        for p in inside:
            children.setdefault(p, []).append(c)
    ready = sorted(c for c, n in missing.items() if n == 0)
    out: list[str] = []
    while ready:
        c = ready.pop()
        out.append(c)
        for ch in children.get(c, ()):
            missing[ch] -= 1
            if not missing[ch]:
                ready.append(ch)
    return out


def _lines_of(chunk: bytes, where: str) -> list[tuple[str, Event]]:
    """The events of a piece of a log made of whole lines, each with its line (parse_events'
    checks: UTF-8, JSON, schema, per-line limits); ValidationError if anything is wrong."""
    evs = parse_events(chunk, where=where)
    lines = [line for line in chunk.decode("utf-8").split("\n") if line.strip()]  # as parse_events splits
    return list(zip(lines, evs))


def _check_commit(c: str, parents: list[str], data: Any, logs: dict[str, _Log | None], waiting: dict[str, int],
                  problems: list[str], where: str) -> _Log | None:
    """Check commit ``c`` (its document ``data``) against its parents' verified logs; its own."""
    if not isinstance(data, bytes) or len(data) > LIMITS["events_blob"]:
        problems.append(f"{where}: commit {c[:12]} has no readable {DOC}")
        return None
    known = [(p, lg) for p in parents if (lg := logs.get(p)) is not None]
    try:
        if len(parents) == 1 and known:
            p, base = known[0]
            if data == base.data:  # the same log: share it, or copy it if the parent still needs its own
                return base if waiting.get(p) == 1 else _Log(base.data, dict(base.lines), base.count)
            if data.startswith(base.data) and (not base.data or base.data.endswith(b"\n")):
                # the usual write: the parent's log, then lines of its own
                added = _lines_of(data[len(base.data):], where)
                if base.count + len(added) > LIMITS["events"]:
                    raise ValidationError(f"{where}: more than {LIMITS['events']} events")
                last = {e.id: (line, e) for line, e in added}  # an id twice: the later line counts, as in a fold
                for eid, (line, e) in last.items():
                    old = base.lines.get(eid)
                    if old is not None and old != line and _event(old) != e:
                        problems.append(f"{where}: commit {c[:12]} changed event {eid} of parent {p[:12]}")
                own = waiting.get(p) == 1  # c is the parent's last child: its log becomes c's
                lines = base.lines if own else dict(base.lines)
                lines.update((eid, line) for eid, (line, _e) in last.items())
                return _Log(data, lines, base.count + len(added))
        # a merge, a first commit, or a log rewritten (reordered, reformatted): compare by line
        text = data.decode("utf-8")
        mine = [line for line in text.split("\n") if line.strip()]
        if len(mine) > LIMITS["events"]:
            raise ValidationError(f"{where}: more than {LIMITS['events']} events")
        ids = {line: eid for _p, plog in known for eid, line in plog.lines.items()}  # verified lines
        new = [line for line in mine if line not in ids]
        added = _lines_of("\n".join(new).encode("utf-8"), where) if new else []
        ids.update((line, e.id) for line, e in added)
        lines = {ids[line]: line for line in mine}  # event id -> its line here (the last, as a fold reads it)
        union: set[str] = set()
        for p, plog in known:
            for eid, line in plog.lines.items():
                union.add(eid)
                here = lines.get(eid)
                if here == line:
                    continue
                theirs = _event(line)
                if here is None:
                    problems.append(f"{where}: commit {c[:12]} lost event {eid} ({theirs.type}) of parent {p[:12]}")
                elif _event(here) != theirs:
                    problems.append(f"{where}: commit {c[:12]} changed event {eid} of parent {p[:12]}")
        if len(parents) > 1:
            extra = [e for line, e in added if e.id not in union and lines[e.id] == line]
            if len({e.actor for e in extra}) > 1:
                problems.append(f"{where}: merge {c[:12]} adds events by several actors beyond its parents")
        return _Log(data, lines, len(mine))
    except (ValidationError, UnicodeDecodeError):
        problems.append(f"{where}: commit {c[:12]} has no readable {DOC}")
        return None


def _event(line: str) -> Event:
    """The event of a line already verified once (it parses)."""
    return parse_events(line.encode("utf-8"))[0]


# ----------------------------------------------------------------------------- the doctor

class Doctor:
    def __init__(self, git: GitRepo, store: EntityStore | None = None):
        self.git = git
        self.store = store or EntityStore(git)
        self.problems: list[Problem] = []
        self.counts: dict[str, int] = {"refs": 0, "issues": 0, "gates": 0, "events": 0, "tracking_refs": 0,
                                       "quarantined_refs": 0, "locks": 0}
        self.invalid: list[dict[str, str]] = []
        #: what ``check_refs`` folded, by (ref, tip): the fold of every ref that ``check_index``
        #: compares the index with reuses it for the refs that have not moved since
        self._folded: dict[tuple[str, str], Any] = {}
        from .trust import GatePolicy

        self.policy = GatePolicy(git, self.store)
        try:
            from ..store.checks import check_document
            self._check_document: Callable[[str, Any], None] | None = check_document
        except ImportError:  # pragma: no cover - sync is part of the package; kept for partial installs
            self._check_document = None

    def add(self, p: Problem) -> None:
        self.problems.append(p)

    # ------------------------------------------------------------------ entry point

    def run(self, *, fix: bool = False, full: bool = False, progress: Progress | None = None) -> dict[str, Any]:
        """Every check (``progress`` is told of each ref checked: gitjit/core/progress.py), then
        with ``fix`` the repairs and a fresh look at what is left."""
        self.check_setup()
        self.check_refs(full=full, progress=progress)
        self.check_tracking()
        self.check_locks()
        self.check_index()
        self.check_hooks()
        self.check_housekeeping()
        if full:
            self.check_objects()
        if fix:
            # stale locks first: the other repairs write refs that a stale lock would block
            for p in sorted(self.problems, key=lambda p: p.check != "locks"):
                if p._repair is not None:
                    try:
                        p.repaired = p._repair()
                    except (GitjitError, OSError, CasFailed, RefLocked) as e:
                        p.repaired = f"not repaired: {getattr(e, 'message', None) or e}"
            # what is left after the repairs, from a fresh look (the report keeps what was done)
            after = Doctor(self.git)
            after.check_setup()
            after.check_refs(full=full)
            after.check_locks()
            after.check_index()
            after.check_hooks()
            remaining = [p for p in after.problems if p.severity == "error"]
        else:
            remaining = [p for p in self.problems if p.severity == "error"]
        return self.report(fix=fix, full=full, remaining=remaining)

    def report(self, *, fix: bool, full: bool, remaining: list[Problem]) -> dict[str, Any]:
        from .mergedriver import is_registered

        remotes = [{"remote": r, "refspec": f"+refs/jit/*:refs/jit-remotes/{r}/*"
                    in self.git.config_get_all(f"remote.{r}.fetch")} for r in self._remote_names()]
        return {
            "ok": not remaining,
            "fix": fix,
            "full": full,
            "checked": self.counts,
            "errors": sum(p.severity == "error" for p in self.problems),
            "warnings": sum(p.severity == "warning" for p in self.problems),
            "repaired": sum(1 for p in self.problems if p.repaired and not p.repaired.startswith("not ")),
            "remaining_errors": [p.to_json() for p in remaining] if fix else None,
            "problems": [p.to_json() for p in self.problems],
            # the keys of the first, sync-only doctor (kept: scripts may read them)
            "invalid_refs": self.invalid,
            "merge_driver": {"registered": is_registered(self.git), "driver": self.git.config_get("merge.jit.driver")},
            "hub": self.git.config_get("jit.hub"),
            "remotes": remotes,
        }

    def _remote_names(self) -> list[str]:
        f = getattr(self.git, "remote_names", None)
        return list(f()) if f else []

    # ------------------------------------------------------------------ setup

    def check_setup(self) -> None:
        from .mergedriver import is_registered, register

        g = self.git
        used = g.config_get("jit.version") is not None or bool(g.tips(LOCAL))
        if not used:
            self.add(Problem("setup", "not_initialized", "info", "jit.version",
                             "this repository has no jit data and is not set up for jit", fix="jit init"))
            return
        if g.config_get("jit.version") is None:
            self.add(Problem("setup", "not_initialized", "warning", "jit.version",
                             "jit refs exist but 'jit init' was not run in this clone", fix="jit init",
                             repairable=True, _repair=lambda: self._init("jit.version")))
        if (g.config_get("core.logAllRefUpdates") or "").lower() != "always":
            self.add(Problem("setup", "no_reflog", "warning", "core.logAllRefUpdates",
                             "jit refs get no reflog, the local trail doctor uses to restore a damaged ref",
                             fix="jit init", repairable=True, _repair=lambda: self._init("core.logAllRefUpdates")))
        if not is_registered(g):
            self.add(Problem("setup", "merge_driver", "error", "merge.jit.driver",
                             "the jit merge driver is not registered: a git merge of jit commits would conflict "
                             "instead of uniting the event logs", fix="jit init", repairable=True,
                             _repair=lambda: "registered: " + (", ".join(register(g)) or "nothing to change")))
        else:
            cmd = g.config_get("merge.jit.driver") or ""
            try:
                exe = shlex.split(cmd)[0]
            except (ValueError, IndexError):
                exe = ""
            if not exe or (os.sep in exe and not os.access(exe, os.X_OK)):
                self.add(Problem("setup", "merge_driver_missing", "error", "merge.jit.driver",
                                 f"the merge driver runs {exe or '(nothing)'}, which does not exist any more "
                                 "(was the virtualenv moved?)", fix="jit init", repairable=True,
                                 _repair=lambda: self._reregister()))

    def _init(self, what: str) -> str:
        if what == "jit.version":
            self.git.config_set("jit.version", "1")
        else:
            self.git.config_set("core.logAllRefUpdates", "always")
        return f"set {what}"

    def _reregister(self) -> str:
        from .mergedriver import register, unregister

        unregister(self.git)
        register(self.git)
        return f"merge driver now runs {self.git.config_get('merge.jit.driver')}"

    # ------------------------------------------------------------------ refs

    def _doc_problem(self, ref: str, local: str, tip: str, blob: bytes | None = None
                     ) -> tuple[str, str, tuple[Event, ...] | None, bytes | None]:
        """(code, message, events, blob) for the document at ``tip`` meant for local ref ``local``;
        code "" when it is fine. ``blob``: the document, already read from the commit ``tip``."""
        if blob is None:
            kind = raw.object_kind(self.git, tip)
            if kind is None:
                return "missing_object", f"points at {tip[:12]}, which is not in the object store", None, None
            if kind != "commit":
                return "not_a_commit", f"points at a {kind}, not a commit", None, None
            try:
                blob = self.git.read_file(tip, DOC)
            except Exception as e:  # noqa: BLE001 - BadRef and friends: the message is the finding
                return "unreadable_ref", str(e), None, None
        try:
            evs = tuple(parse_events(blob, where=ref))
            check_events(evs, where=ref)  # the schema of record (gitjit.schema.events), as a pull holds it
        except ValidationError as e:
            return "unreadable_ref", e.message.removeprefix(f"{ref}: "), None, blob
        try:
            if self._check_document is not None and local.startswith(LOCAL) and local.count("/") == 3:
                self._check_document(local, evs)
            else:
                _check_clocks(ref, evs)
        except ValidationError as e:
            return "invalid_document", e.message.replace(local, ref, 1).removeprefix(f"{ref}: "), evs, blob
        try:
            key = local.rsplit("/", 1)[-1]
            if local.startswith(LOCAL + "issues/"):
                folded: Any = fold_issue(key, evs)
            elif local.startswith(LOCAL + "gates/"):
                folded = fold_gate(key, evs)
            else:
                folded = None
        except Exception as e:  # noqa: BLE001 - the fold must never fail on a valid log: report it
            return "fold_failed", f"the fold failed: {type(e).__name__}: {e}", evs, blob
        if folded is not None and ref == local:
            self._folded[(ref, tip)] = folded
        return "", "", evs, blob

    def check_refs(self, *, full: bool = False, progress: Progress | None = None) -> None:
        refs = raw.list_refs(self.git, LOCAL)
        # the documents of the refs that name an issue or a gate, read in one stream, in order
        # (``GitRepo.read_files``): one by one through libgit2 they were a third of the check
        named = [r for r in refs if not r.symbolic and _entity_key(r.name) is not None]
        stream = self.git.read_files([r.target for r in named], DOC)
        try:
            self._check_refs(list(refs), zip(named, stream), full, progress)
        finally:
            stream.close()

    def _check_refs(self, refs: list[raw.RawRef], docs: Any, full: bool, progress: Progress | None = None) -> None:
        for r in counted(refs, progress, "checking refs", len(refs)):
            self.counts["refs"] += 1
            if r.symbolic:
                self.add(Problem("refs", "symbolic_ref", "error", r.name,
                                 f"is a symbolic ref to {r.target}; jit refs point at commits", fix=FIX,
                                 repairable=True, _repair=functools.partial(self._drop_symbolic, r)))
                continue
            ns, _, key = r.name[len(LOCAL):].partition("/")
            if ns == "issues" and not ISSUE_ID_RE.fullmatch(key) or ns == "gates" and not GATE_KEY_RE.fullmatch(key):
                self.add(self._bad(r.name, r.target, "bad_ref_name", f"{key!r} is not a valid {ns[:-1]} key"))
                continue
            if ns not in ("issues", "gates"):
                self.add(Problem("refs", "unknown_namespace", "info", r.name,
                                 f"refs/jit/{ns}/ is not a namespace this version of gitjit knows; not checked"))
                continue
            named, data = next(docs)
            assert named is r
            # a read that failed is done again one step at a time, for the exact finding
            code, msg, evs, blob = self._doc_problem(r.name, r.name, r.target,
                                                     None if isinstance(data, Exception) else data)
            if code:
                self.invalid.append({"ref": r.name, "scope": "local", "reason": msg})
                self.add(self._bad(r.name, r.target, code, msg))
                continue
            assert evs is not None and blob is not None
            if ns == "issues":
                st = self._folded.get((r.name, r.target)) or fold_issue(key, evs)
                for gate, note in sorted(self.policy.untrusted(st, ref=r.name, tip=r.target,
                                                               events=evs).items()):
                    self.add(Problem("trust", "untrusted_gate_pass", "warning", r.name, f"gate '{gate}' {note}",
                                     fix=f"jit gate pass {key[:8]} {gate} --by <someone {self.policy.rule(gate)}>"
                                         "   (or fail it: jit gate fail)", details={"gate_key": gate}))
            self.counts["issues" if ns == "issues" else "gates"] += 1
            self.counts["events"] += len(evs)
            if serialize_events(union_events(evs)[0]) != blob:
                self.add(Problem("refs", "noncanonical", "warning", r.name,
                                 "the event log is not in canonical form (order, spacing or duplicate lines); "
                                 "it reads fine", fix=FIX, repairable=True,
                                 _repair=functools.partial(self._canonicalize, r.name, r.target, evs)))
            if full:
                n, bad = verify_history(self.git, r.target, where=r.name)
                self.counts["commits"] = self.counts.get("commits", 0) + n
                for b in bad[:20]:
                    self.add(Problem("history", "broken_history", "warning", r.name, b,
                                     fix="inspect it with 'git log -p " + r.name + "'"))
        self.counts["quarantined_refs"] = len(raw.list_refs(self.git, QUARANTINE))
        if self.counts["quarantined_refs"]:
            self.add(Problem("refs", "quarantined", "info", QUARANTINE,
                             f"{self.counts['quarantined_refs']} ref(s) parked by an earlier repair",
                             fix=f"inspect with 'git for-each-ref {QUARANTINE}' and 'git show <ref>:{DOC}'; "
                                 "delete one with 'git update-ref -d <ref>' once nothing in it is needed"))

    def _bad(self, ref: str, tip: str, code: str, msg: str) -> Problem:
        return Problem("refs", code, "error", ref, msg,
                       fix=f"{FIX}   (parks it under {QUARANTINE} and restores the newest readable history)",
                       repairable=True, details={"target": tip},
                       _repair=lambda: self._quarantine(ref, tip))

    def _drop_symbolic(self, r: raw.RawRef) -> str:
        if raw.drop_ref(self.git, r.name, r.target):
            self._log({"action": "dropped symbolic ref", "ref": r.name, "target": r.target})
            return f"deleted the symbolic ref (it pointed at {r.target}; it held no events)"
        return "not repaired: the ref changed meanwhile"

    def _valid_commit(self, ref: str, c: str) -> tuple[Event, ...] | None:
        code, _msg, evs, _blob = self._doc_problem(ref, ref, c)
        return evs if not code else None

    def salvage(self, ref: str, tip: str) -> list[tuple[str, tuple[Event, ...]]]:
        """The newest readable states of ``ref`` below a bad ``tip``: readable ancestors reached
        through unreadable commits, and readable values from the ref's reflog."""
        found: dict[str, tuple[Event, ...]] = {}
        if raw.object_kind(self.git, tip) == "commit":
            todo, seen = list(self.git.parents(tip)), {tip}
            while todo and len(seen) < 500:
                c = todo.pop(0)
                if c in seen:
                    continue
                seen.add(c)
                evs = self._valid_commit(ref, c)
                if evs is not None:
                    found[c] = evs
                elif raw.object_kind(self.git, c) == "commit":
                    todo.extend(self.git.parents(c))
        for c in raw.reflog_targets(self.git, ref):
            if c != tip and c not in found and raw.object_kind(self.git, c) == "commit":
                evs = self._valid_commit(ref, c)
                if evs is not None:
                    found[c] = evs
        # keep only the newest: drop a candidate that another candidate already contains
        keep = [c for c in found if not any(o != c and self.git.is_ancestor(c, o) for o in found)]
        return [(c, found[c]) for c in sorted(keep)]

    def _quarantine(self, ref: str, tip: str) -> str:
        now = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        parked = f"{QUARANTINE}{ref[len(LOCAL):]}/{now}-{tip[:12]}"
        if not raw.park_ref(self.git, parked, tip, "jit doctor: quarantined"):
            parked = ""  # the object is missing: nothing to park; the log below keeps its id
        found = self.salvage(ref, tip)
        new: str | None
        if not found:
            new = None
        elif len(found) == 1:
            new = found[0][0]
        else:
            merged, _ = union_events(*(evs for _, evs in found))
            new = self.git.write_commit({DOC: serialize_events(merged)}, [c for c, _ in found],
                                        f"jit doctor: restore {ref}\n\nUnion of its readable histories.\n",
                                        author=DOCTOR_AUTHOR, committer=DOCTOR_AUTHOR)
        try:
            if new is None:
                if not raw.drop_ref(self.git, ref, tip):
                    return "not repaired: the ref changed meanwhile; run the doctor again"
            elif not parked and raw.object_kind(self.git, tip) is None:
                # moving the ref would log the missing id as its old value, and git fsck rejects a
                # reflog naming a missing object: delete (with its reflog) and create afresh
                if not raw.drop_ref(self.git, ref, tip):
                    return "not repaired: the ref changed meanwhile; run the doctor again"
                self.git.create_ref(ref, new, "jit doctor: restore readable history")
            else:
                self.git.swap_ref(ref, tip, new, "jit doctor: restore readable history")
        except (CasFailed, RefLocked):
            return "not repaired: the ref changed meanwhile; run the doctor again"
        self._log({"action": "quarantined", "ref": ref, "bad_tip": tip, "parked_as": parked or None,
                   "restored_to": new, "from": [c for c, _ in found]})
        where = f"parked as {parked}" if parked else f"its target {tip[:12]} is missing (id kept in jit/doctor.log)"
        if new is None:
            return f"{where}; no readable history to restore, so {ref} was removed"
        lost = "" if len(found) == 1 else f" (union of {len(found)} readable histories)"
        return f"{where}; {ref} restored to {new[:12]}{lost}"

    def _canonicalize(self, ref: str, tip: str, evs: tuple[Event, ...]) -> str:
        merged, _ = union_events(evs)
        c = self.git.write_commit({DOC: serialize_events(merged)}, [tip], f"jit doctor: canonical {DOC}\n",
                                  author=DOCTOR_AUTHOR, committer=DOCTOR_AUTHOR)
        try:
            with locks.owning(self.git.common_dir, ref):
                self.git.swap_ref(ref, tip, c, "jit doctor: canonical form")
        except (CasFailed, RefLocked):
            return "not repaired: the ref changed meanwhile; run the doctor again"
        return f"rewrote as {c[:12]} with the same {len(merged)} events"

    def _log(self, entry: dict[str, Any]) -> None:
        try:
            p = Path(self.git.common_dir) / "jit" / "doctor.log"
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "a", encoding="utf-8") as f:
                f.write(json.dumps({"time": time.time(), **entry}) + "\n")
        except OSError:
            pass

    # ------------------------------------------------------------------ remote-tracking refs

    def check_tracking(self) -> None:
        for r in raw.list_refs(self.git, TRACKING):
            self.counts["tracking_refs"] += 1
            parts = r.name[len(TRACKING):].split("/")
            if len(parts) < 3 or r.symbolic:
                continue
            remote, local = "/".join(parts[:-2]), LOCAL + "/".join(parts[-2:])
            if parts[-2] not in ("issues", "gates"):
                continue
            if (local, r.target) in self._folded:
                continue  # the commit the local ref is at, checked already (most are, after a sync)
            code, msg, _evs, _blob = self._doc_problem(r.name, local, r.target)
            if code:
                self.invalid.append({"ref": r.name, "scope": f"remote:{remote}", "reason": msg})
                self.add(Problem(
                    "remote-refs", code, "warning", r.name, msg + " (every pull skips it; local data is untouched)",
                    fix=f"whoever can push to {remote} can replace or delete it: 'git push {remote} :{local}' "
                        f"deletes it there, then 'jit sync {remote}' puts this clone's copy back",
                    details={"remote": remote}))

    # ------------------------------------------------------------------ locks

    def check_locks(self) -> None:
        cd = self.git.common_dir
        for lock in locks.find_locks(cd):
            self.counts["locks"] += 1
            ref = locks.ref_of_lock(cd, lock)
            info = locks.inspect(cd, ref, lock=lock)
            if info is None:
                continue
            sev = {"held": "info", "young": "warning", "stale": "error"}.get(info.state, "warning")
            msg = info.message
            if info.state == "stale" and ref != files.PACKED_REFS and self.git.tip(ref) is None:
                sev = "warning"  # a create killed mid-write: blocks nothing, names no data
                msg += f"; {ref} does not exist (a create was killed before it finished; nothing was written)"
            self.add(Problem("locks", f"{info.state}_lock", sev, str(lock.relative_to(cd)), msg,
                             fix=None if info.state == "held" else
                             f"{FIX}   (or just retry: the next write removes a stale lock itself)",
                             repairable=info.state == "stale", details=info.to_json(),
                             _repair=functools.partial(self._unlock, ref, lock)
                             if info.state == "stale" else None))
        dead = [o for o in locks.owners(cd, idle=True) if o.alive() is False
                and not (o.ref and os.path.exists(files.lock_file(cd, o.ref)))]
        if dead:
            self.add(Problem("locks", "dead_owner_records", "warning", locks.OWNERS,
                             f"{len(dead)} owner record(s) of jit processes that died mid-write (harmless)",
                             fix=FIX, repairable=True,
                             _repair=lambda: f"removed {len(locks.prune_dead_owners(cd))} record(s)"))

    def _unlock(self, ref: str, lock: Path) -> str:
        info = locks.recover(self.git.common_dir, ref, lock=lock)
        if info is None:
            return "already gone"
        return info.message if info.state == "removed" else f"not repaired: {info.message}"

    # ------------------------------------------------------------------ index and hooks

    def _tracker(self) -> Any:
        from .tracker import Tracker

        t = Tracker(str(self.git.git_dir))
        t.store = self.store
        return t

    def check_index(self) -> None:
        """The index is a cache: after a refresh it must give the answers a fold of every ref gives."""
        try:
            from ..store.indexboard import IndexBoard
        except ImportError:  # pragma: no cover - the index ships with gitjit
            return
        t = self._tracker()
        try:
            ib = t.index.board(fresh=True)
        except Exception as e:  # noqa: BLE001 - a broken cache is a finding, never a crash
            self._index_problem(f"the index cannot be refreshed: {type(e).__name__}: {e}")
            return
        if not isinstance(ib, IndexBoard):
            return  # switched off or unusable here: every command folds the refs instead
        msgs = index_differences(ib, self._fold_board())
        if msgs:
            self._index_problem(f"the index disagrees with the refs on {len(msgs)} point(s): " + "; ".join(msgs[:5]))

    def _fold_board(self) -> Any:
        """Every ref folded, as the commands read them (``EntityStore.load_all``: a ref that does not
        parse is left out). ``check_refs`` folded each one already: a ref still at that tip is not
        read again, one that moved since (a writer meanwhile) is."""
        from ..core.board import Board
        from ..store.entities import GATES, ISSUES

        st = EntityStore(self.git)
        boards: list[dict[str, Any]] = []
        for prefix, fold in ((ISSUES, fold_issue), (GATES, fold_gate)):
            out: dict[str, Any] = {}
            moved: list[tuple[str, str]] = []
            for ref, tip in self.git.tips(prefix).items():
                done = self._folded.get((ref, tip))
                if done is not None:
                    out[ref[len(prefix):]] = done
                else:
                    moved.append((ref, tip))
            with closing(st.events_many(moved, keep=False)) as read:
                for (ref, _tip), evs in zip(moved, read):
                    if not isinstance(evs, ValidationError):
                        key = ref[len(prefix):]
                        out[key] = fold(key, evs)
            boards.append(out)
        return Board(boards[0], boards[1])

    def _index_problem(self, msg: str) -> None:
        self.add(Problem("index", "index_stale", "error", "index", msg,
                         fix=f"{FIX}   (the index is a cache: it is rebuilt from the refs)", repairable=True,
                         _repair=self._rebuild_index))

    def _rebuild_index(self) -> str:
        ix = self._tracker().index.indexer()
        if ix is None:
            return "not repaired: the index is switched off or unusable in this repository"
        info = ix.rebuild()
        return "rebuilt the index" + (f" ({info.get('issues')} issues)" if isinstance(info, dict) and
                                      info.get("issues") is not None else "")

    def check_hooks(self) -> None:
        """Only when the user installed jit's hooks: shims that git will not run or that are outdated,
        and recent hook failures from the hook log."""
        try:
            from . import hooks as hooks_mod
        except ImportError:  # pragma: no cover
            return
        try:
            st = hooks_mod.status(self.git)
        except Exception as e:  # noqa: BLE001
            self.add(Problem("hooks", "hooks_unreadable", "warning", "hooks", f"cannot inspect the hooks: {e}",
                             fix="jit hooks status"))
            return
        rows = st.get("hooks") or []
        if not any(r.get("state") in ("installed", "outdated") for r in rows) and not st.get("inactive_shims"):
            return
        outdated = [r["name"] for r in rows if r.get("state") == "outdated"]
        if outdated:
            self.add(Problem("hooks", "hooks_outdated", "warning", st.get("hooks_dir", "hooks"),
                             f"jit hook shim(s) changed or not executable: {', '.join(outdated)}",
                             fix="jit hooks install", repairable=True,
                             _repair=lambda: f"reinstalled {', '.join(outdated)}"
                             if hooks_mod.install(self.git, hooks=outdated) is not None else ""))
        gone = [i["python"] for i in st.get("interpreters") or [] if not i.get("works")]
        if gone:
            ours = [r["name"] for r in rows if r.get("state") in ("installed", "outdated")]
            self.add(Problem("hooks", "hooks_interpreter_missing", "warning", gone[0],
                             f"the hook shims run {', '.join(gone)}, which is gone or has lost its gitjit: they fall "
                             "back to 'jit' on PATH, then 'python3 -m gitjit', and skip their work (with a warning) "
                             "when neither starts", fix="jit hooks install", repairable=True,
                             _repair=lambda: "reinstalled the hooks for "
                             + str(hooks_mod.install(self.git, hooks=ours, hooks_path=True)["python"])))
        for r in st.get("remotes") or []:
            if not r.get("refspec"):
                self.add(Problem("hooks", "no_jit_refspec", "warning", f"remote.{r['remote']}.fetch",
                                 f"'git fetch'/'git pull' from {r['remote']} do not bring its jit refs, so issues "
                                 "created elsewhere never arrive through them (only 'jit pull' brings them)",
                                 fix=r.get("fix")))
        if st.get("inactive_shims"):
            self.add(Problem("hooks", "hooks_inactive", "warning", "core.hooksPath",
                             f"core.hooksPath points at {st.get('core_hooks_path')}, so git does not run the jit "
                             f"shims in {', '.join(st['inactive_shims'][:3])}",
                             fix="jit hooks install   (installs into the directory git really uses)"))
        if st.get("problems"):
            self.add(Problem("hooks", "hook_failures", "info", st.get("log", "hook log"),
                             f"{len(st['problems'])} recent hook problem(s), the last: {st['problems'][-1][:200]}",
                             fix="jit hooks status"))

    # ------------------------------------------------------------------ objects

    # ------------------------------------------------------------------ housekeeping

    def check_housekeeping(self) -> None:
        """What git's automatic housekeeping and jit's large pushes can leave behind
        (docs/reliability.md, "Housekeeping")."""
        from ..git.housekeeping import gc_due, loose_estimate
        from ..store.sync import Syncer

        syncer = Syncer(self.git, self.store)
        stale = syncer.stale_stages()
        if stale:
            self.add(Problem("housekeeping", "stale_push_stage", "warning", "refs/jit-push/",
                             f"{len(stale)} staging ref(s) of large pushes whose process was killed "
                             "(they hold no data of their own; the next large push removes them too)",
                             fix=FIX, repairable=True, details={"refs": stale[:20]},
                             _repair=lambda: f"removed {len(syncer.drop_stale_stages())} staging ref(s)"))
        cd = Path(self.git.common_dir)
        log = cd / "gc.log"
        if log.exists():
            text = log.read_text(errors="replace").strip()
            self.add(Problem("housekeeping", "gc_refused", "warning", "gc.log",
                             "git's last automatic gc failed or warned, and git will not run one again "
                             f"for a day (gc.logExpiry), so loose objects pile up: {text[:300]}",
                             fix="git gc   (or 'git prune' if it warns of unreachable objects), then "
                                 f"rm {log}", details={"log": text[:2000]}))
        loose = loose_estimate(cd)
        auto = self.git.config_get("gc.auto")
        if not gc_due(self.git) and loose > 50_000 and (auto or "").strip() == "0":
            self.add(Problem("housekeeping", "gc_off", "info", "gc.auto",
                             f"about {loose:,} loose objects and automatic gc is off (gc.auto 0): every "
                             "object lookup and the disk pay for them",
                             fix="git gc   (now and then), or git config --unset gc.auto",
                             details={"loose_estimate": loose}))

    def check_objects(self) -> None:
        try:
            proc = git_run.run(["fsck", "--no-dangling", "--no-progress"], git_dir=self.git.git_dir, timeout=3600,
                               env={"LC_ALL": "C"})
        except ExternalError as e:
            self.add(Problem("objects", "fsck_failed", "warning", "git fsck", f"could not run git fsck: {e.message}"))
            return
        lines = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip() and not x.startswith("notice:")]
        if proc.returncode != 0 or any(x.startswith(("error", "missing", "broken", "fatal")) for x in lines):
            self.add(Problem("objects", "fsck", "error", "git fsck",
                             "git fsck reports problems: " + "; ".join(lines[:10]),
                             fix="git fsck --full   (then restore the objects from another clone: git fetch)"))


def _check_clocks(where: str, evs: tuple[Event, ...]) -> None:
    prev = 0
    for e in sorted(evs, key=Event.sort_key):
        if e.clock - prev > LIMITS["clock_jump"]:
            raise ValidationError(f"{where}: clock leaps from {prev} to {e.clock} (event {e.id})")
        prev = e.clock


def diagnose(git: GitRepo, *, fix: bool = False, full: bool = False) -> dict[str, Any]:
    """Run the doctor over ``git``; the JSON report (see docs/reliability.md)."""
    return Doctor(git).run(fix=fix, full=full)


def index_differences(ib: Any, full: Any) -> list[str]:
    """Where an index board and a board folded from every ref disagree (ids, issue JSON, ready order)."""
    from ..core.board import issue_json

    out: list[str] = []
    a, b = set(ib.issues), set(full.issues)
    if a != b:
        out.append(f"issues only in the index: {sorted(a - b)[:3]}, only in the refs: {sorted(b - a)[:3]}")
    both = sorted(a & b)
    for iid, got in ((i, g) for n in range(0, len(both), 2000)  # a few thousand documents at a time
                     for i, g in zip(both[n:n + 2000], ib.listing(both[n:n + 2000]))):
        want = json.loads(json.dumps(issue_json(full, iid)))
        if got != want:
            keys = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
            out.append(f"issue {iid}: {', '.join(keys)}")
    if not out and ib.ready() != full.ready():
        out.append("the ready order differs")
    return out


def _entity_key(ref: str) -> str | None:
    """The key of a ref that names an issue or a gate (``refs/jit/issues/<id>``), else None."""
    ns, _, key = ref[len(LOCAL):].partition("/")
    if ns == "issues" and ISSUE_ID_RE.fullmatch(key) or ns == "gates" and GATE_KEY_RE.fullmatch(key):
        return key
    return None
