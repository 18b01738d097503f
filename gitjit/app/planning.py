"""Planning verbs of the seed's later CLI: rejecting an issue with a reason (``jit issue reject``)
and splitting one into subtasks (``jit issue breakdown``). A mixin of ``Tracker``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core.board import Board, listing_json, short
from ..core.errors import BlockedError, NotFoundError, UsageError
from ..core.fold import fold_issue
from ..core.model import LABEL_RE, LIMITS, IssueState, check_description
from ..core.refs import ISSUES
from ..core.rules import _transition
from .base import Spec, TrackerBase

__all__ = ["CHILD_TYPE", "PlanningOps", "check_reason", "resolution_label"]

#: the ``type:`` label a subtask gets when its parent carries a ``type:`` label (the seed's default)
CHILD_TYPE = "task"


def check_reason(reason: str) -> str:
    """A rejection reason: text, not blank, at most ``LIMITS["reason"]`` characters; tabs and
    newlines are allowed (as in a description), other control characters are not."""
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError("the reason is empty", hint='say why, e.g. --reason duplicate or --reason "superseded by 3f1c"')
    try:
        check_description(reason)
    except UsageError as e:
        raise UsageError(e.message.replace("description", "reason"), hint=e.hint) from None
    if len(reason) > LIMITS["reason"]:
        raise UsageError(f"the reason is {len(reason)} characters; the limit is {LIMITS['reason']}",
                         hint="shorten it; put the long story in the description")
    return reason


def resolution_label(reason: str | None) -> str | None:
    """The seed's ``resolution:REASON`` label, when REASON is one word a label can hold
    (``duplicate``, ``wont-fix``); None for free text (the reason is still on the event)."""
    if reason is None:
        return None
    label = f"resolution:{reason.strip()}"
    return label if LABEL_RE.fullmatch(label) and len(label) <= LIMITS["label"] else None


class PlanningOps(TrackerBase):
    """``Tracker.reject_issue`` and ``Tracker.breakdown_issue``."""

    def reject_issue(self, prefix: str, *, reason: str | None = None, by: str | None = None) -> dict[str, Any]:
        """Move an issue to ``rejected`` (from any state, as the seed allows), recording ``reason``
        on the ``issue_state_changed`` event and, when it is one word, as a ``resolution:REASON``
        label. A rejected issue no longer blocks its dependents (``TERMINAL_STATES``). Rejecting an
        issue that is already rejected only adds what is new (the label); otherwise it writes nothing."""
        if reason is not None:
            reason = check_reason(reason)
        label = resolution_label(reason)
        board = self.board()
        iid = self.resolve(prefix, board)

        def fn(st: IssueState, b: Board) -> list[Spec]:
            specs: list[Spec] = []
            if label is not None and label not in st.labels:
                if len(st.labels) >= LIMITS["labels"]:
                    raise UsageError(f"an issue holds at most {LIMITS['labels']} labels",
                                     hint="remove a label first, or give a reason with spaces (kept on the event only)")
                specs.append({"type": "issue_updated", "changes": {"labels_add": [label]}, "fields": ["labels"]})
            if st.state != "rejected":
                for s in _transition(b, st, "rejected"):
                    if s["type"] == "issue_state_changed" and reason is not None:
                        s = {**s, "reason": reason}
                    specs.append(s)
            return specs

        self._write_issue(iid, fn, by=by, what="reject", board=board)
        return self._shown(iid)

    def breakdown_issue(self, prefix: str, subtasks: Sequence[str], *, descriptions: Sequence[str] = (),
                        by: str | None = None) -> dict[str, Any]:
        """Split an issue into subtasks, as the seed's ``issue breakdown`` does: each subtask gets the
        parent's priority, gates and dependencies, its labels with ``type:X`` replaced by
        ``type:task``; then the parent depends on every subtask and no longer on its former
        dependencies (the subtasks carry them, so they still come first).

        The subtasks appear together or not at all (one ``Tracker.batch``); the parent's new edges
        are a second write. Refused for a parent that is done, rejected or archived."""
        titles = list(subtasks)
        if isinstance(subtasks, str) or not titles:
            raise UsageError("name at least one subtask", hint='jit issue breakdown ID --subtask "First step"')
        descs = list(descriptions)
        if descs and len(descs) != len(titles):
            raise UsageError(f"{len(descs)} description(s) for {len(titles)} subtask(s)",
                             hint="give one --description per --subtask, in the same order, or none")
        if len(titles) > LIMITS["dependencies"]:
            raise UsageError(f"at most {LIMITS['dependencies']} subtasks at once")
        board = self.board()
        pid = self.resolve(prefix, board)
        ld = self.store.load(ISSUES, pid)
        if ld is None:  # pragma: no cover - deleted between resolve and load
            raise NotFoundError(f"issue {pid} not found")
        parent = fold_issue(pid, ld.events)
        if parent.state in ("done", "rejected", "archived"):
            raise BlockedError(f"issue {pid} is {parent.state}; only unfinished work can be broken down",
                               hint=f"reopen it first: jit issue update {short(pid)} --state open",
                               details={"issue_id": pid, "state": parent.state})
        labels = [lab for lab in parent.labels if not lab.startswith("type:")]
        if len(labels) != len(parent.labels):
            labels.append(f"type:{CHILD_TYPE}")
        deps = [d for d in parent.dependencies if self._live(d)]  # an edge to a deleted issue no longer counts
        with self.batch(by=by) as bt:  # type: ignore[attr-defined]  # Tracker.batch (gitjit/app/tracker.py)
            ids = [bt.create_issue(t, description=descs[n] if descs else "", priority=parent.priority,
                                   gates=list(parent.gates), labels=labels, depends_on=deps)["id"]
                   for n, t in enumerate(titles)]

        def fn(st: IssueState, b: Board) -> list[Spec]:
            specs: list[Spec] = [{"type": "dependency_added", "dependency": i} for i in ids
                                 if i not in st.dependencies]
            specs += [{"type": "dependency_removed", "dependency": d} for d in deps if d in st.dependencies]
            if len(st.dependencies) - len(deps) + len(ids) > LIMITS["dependencies"]:
                raise UsageError(f"an issue holds at most {LIMITS['dependencies']} dependencies")
            return specs

        self._write_issue(pid, fn, by=by, what="breakdown")
        b = self.board(fresh=True)
        out = listing_json(b, ids)
        return {"parent_id": pid, "subtask_ids": ids, "issues": out["issues"], "count": len(ids),
                "parent_state": b.states.get(pid)}

    def _live(self, iid: str) -> bool:
        ld = self.store.load(ISSUES, iid)
        return ld is not None and not fold_issue(iid, ld.events).deleted
