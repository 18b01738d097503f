"""``jit validate``: the seed's read-only consistency check. It runs every check of ``jit doctor``
without repairing anything, then looks at the tracker's data as a whole: dependencies on issues
this clone does not hold or that were deleted, edges dropped to break a cycle, gates no registry
entry defines, conflicts the fold resolved, finished issues with unpassed gates or unfinished
dependencies, claimed work without an assignee, and document references whose file is gone.

Nothing is written to the refs; the index (a cache) is brought in step as by any read."""

from __future__ import annotations

from typing import Any

from ..core.board import Board, short
from ..core.errors import GitjitError
from ..core.fold import fold_gate, fold_issue
from ..core.model import TERMINAL_STATES
from ..core.refs import GATES, ISSUES
from .doctor import Doctor, Problem

__all__ = ["validate"]


def validate(tracker: Any) -> dict[str, Any]:
    """The report: ``valid`` (no error), the counts and every problem, doctor's and the data's,
    each in doctor's shape (``check`` says which: refs, locks, index, ..., or ``data``)."""
    doc = Doctor(tracker.git, tracker.store)
    doc.check_setup()
    doc.check_refs()
    doc.check_tracking()
    doc.check_locks()
    doc.check_index()
    doc.check_hooks()
    doc.check_housekeeping()
    problems: list[Problem] = list(doc.problems)
    loaded = tracker.store.load_all(ISSUES)
    issues = {k: fold_issue(k, ld.events) for k, ld in loaded.items()}
    gates = {k: fold_gate(k, ld.events) for k, ld in tracker.store.load_all(GATES).items()}
    b = Board(issues, gates)
    problems += _data_problems(b)
    docs = 0
    if tracker.git.workdir is not None:
        try:
            links = tracker.doc_check_links(scope="all")
        except GitjitError:  # pragma: no cover - a bare or odd repository: nothing to check
            links = None
        if links is not None:
            docs = links["documents"]
            for p in links["problems"]:
                if p["code"] in ("missing_document", "outside_repository", "unreadable_document"):
                    problems.append(Problem("data", p["code"], "warning", p["path"],
                                            f"{p['message']} (referenced by {short(p['issue_id'])})",
                                            fix="jit doc check-links", details={"issue_id": p["issue_id"]}))
    tracker.warnings.clear()  # the report names every skipped ref itself
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    return {
        "valid": errors == 0,
        "errors": errors,
        "warnings": warnings,
        "checked": {**doc.counts, "documents": docs},
        "problems": [p.to_json() for p in problems],
    }


def _data_problems(b: Board) -> list[Problem]:
    out: list[Problem] = []

    def add(code: str, iid: str, msg: str, fix: str | None = None, **details: Any) -> None:
        out.append(Problem("data", code, "warning", f"issue {iid}", msg, fix=fix,
                           details={"issue_id": iid, **details}))

    g = b.graph
    for iid in sorted(b.issues):
        st = b.issues[iid]
        for d in st.dependencies:
            if d not in b.all:
                add("missing_dependency", iid, f"depends on {d}, which this clone does not hold",
                    fix="jit pull (it may come from another clone), or jit dep rm " + f"{short(iid)} {d}",
                    dependency=d)
            elif b.all[d].deleted:
                add("dependency_on_deleted", iid, f"depends on {d}, which was deleted (the edge no longer counts)",
                    fix=f"jit dep rm {short(iid)} {d}", dependency=d)
        for key in st.gates:
            if key not in b.gate_defs or b.gate_defs[key].removed:
                add("undefined_gate", iid, f"requires gate '{key}', which the registry does not define "
                    "(it counts as a manual postcheck gate)", fix=f"jit gate define {key} --title ...", gate_key=key)
        for c in st.conflicts:
            add("conflict", iid, f"the fold resolved a {c.type} conflict: {c.detail}", event_id=c.event_id)
        if st.state == "done":
            open_gates = sorted(k for k, gs in st.gates.items() if gs.status.value != "passed")
            if open_gates:
                add("done_with_open_gates", iid, "is done but gate(s) " + ", ".join(open_gates) + " have not passed",
                    fix=f"jit gate pass {short(iid)} {open_gates[0]}", gates=open_gates)
            open_deps = sorted(d for d in g.deps.get(iid, ()) if b.issues[d].state not in TERMINAL_STATES)
            if open_deps:
                add("done_before_dependencies", iid, "is done while it depends on unfinished "
                    + ", ".join(short(d) for d in open_deps), dependencies=open_deps)
        if st.state == "in_progress" and st.assignee is None:
            add("in_progress_unassigned", iid, "is in progress but nobody holds it",
                fix=f"jit issue update {short(iid)} --state open")
    for e in g.broken:
        out.append(Problem("data", "cycle_edge_ignored", "warning", f"issue {e.src}",
                           f"the edge {short(e.src)} -> {short(e.dst)} closes a dependency cycle and is ignored",
                           fix=f"jit dep rm {short(e.src)} {short(e.dst)}", details={"from": e.src, "to": e.dst}))
    return out
