"""Issues: create, read, list, edit, delete, assign, dependencies and linked commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.board import Board, short
from ..core.errors import BlockedError, CycleError, ExternalError, UsageError
from ..core.graph import find_path
from ..core.model import (
    LIMITS,
    IssueState,
    check_actor,
    check_context_key,
    check_description,
    check_label,
    check_title,
    new_issue_id,
    parse_priority,
    parse_state,
)
from ..core.refs import ISSUES
from ..core.rules import _transition, check_context, check_new_issue
from .base import IdTaken, Spec, TrackerBase

#: a field the state does not have: a change to it always counts
_ABSENT = object()

__all__ = ["IssueOps"]


class IssueOps(TrackerBase):

    def create_issue(
        self,
        title: str,
        *,
        description: str = "",
        priority: str = "normal",
        gates: Iterable[str] = (),
        context: Mapping[str, Any] | None = None,
        labels: Iterable[str] = (),
        depends_on: Iterable[str] = (),
        by: str | None = None,
    ) -> dict[str, Any]:
        """A new issue; ``depends_on`` (ids or unique prefixes) are recorded in the same write, so the
        issue never exists without them (a new issue cannot close a cycle)."""
        title, description, priority, gate_list, label_list, ctx = check_new_issue(
            title, description, priority, gates, labels, context)
        b = self.board()
        deps = list(dict.fromkeys(self.resolve(d, b) for d in depends_on))
        if len(deps) > LIMITS["dependencies"]:
            raise UsageError(f"an issue holds at most {LIMITS['dependencies']} dependencies")
        dep_specs = [{"type": "dependency_added", "dependency": d} for d in deps]
        for g in gate_list:
            if g not in b.gate_defs:
                self.store.warn(f"gate '{g}' is not in the registry; it is treated as a manual postcheck gate "
                                f"(define it with 'jit registry add {g} --title ...')")
        for _ in range(5):
            iid = new_issue_id()
            spec = {"type": "issue_created", "title": title, "description": description, "priority": priority,
                    "labels": label_list, "context": ctx, "gates": gate_list}
            try:
                self._write_issue(iid, lambda st, b: list(dep_specs), by=by, what="create", create=spec, board=b)
            except IdTaken:
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
            changes["context_set"] = check_context(context)
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
            ch = {k: v for k, v in changes.items() if getattr(st, k, _ABSENT) != v}
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
                            hint=f"have an allowed passer run: jit gate pass {short(iid)} {min(bad)}",
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
