"""The rules a claim, a state change and a ``claim-next`` filter apply to an issue's fresh state.

Pure functions over a ``Board`` and an ``IssueState`` (no I/O): ``Tracker`` calls them inside its
write, under the issue's ref lock, so they always judge the state the write will build on."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .board import Board, short
from .errors import AlreadyClaimedError, BlockedError, UsageError
from .model import (
    LIMITS,
    TERMINAL_STATES,
    IssueState,
    check_context_key,
    check_context_value,
    check_description,
    check_gate_key,
    check_label,
    check_title,
    new_event_id,
    parse_priority,
    parse_ts,
    utc_ts,
)

Spec = dict[str, Any]


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
    live = b.with_issue(st, dependents=False)  # answers for this issue only
    blockers = live.blockers(iid)
    if blockers:
        raise BlockedError(
            f"issue {iid} is blocked: " + _describe(blockers),
            hint=(f"un-park it first: jit issue unpark {short(iid)}" if blockers[0]["type"] == "parked"
                  else "see 'jit query blocked'"),
            details={"issue_id": iid, "blockers": blockers},
        )
    return [{"type": "issue_claimed", "assignee": assignee, "nonce": new_event_id()}]


def _describe(blockers: list[dict[str, Any]]) -> str:
    parts = []
    for r in blockers:
        if r["type"] == "parked":
            parts.append(f"parked by {r.get('by') or '?'}: {r.get('reason') or 'no reason given'}")
        elif r["type"] == "dependency":
            parts.append(f"depends on {short(r['issue_id'])} ({r['title']}, {r['state']})")
        elif r["type"] == "gate":
            parts.append(f"gate '{r['gate_key']}' is {r['status']}")
        else:
            parts.append(f"dependency {r['issue_id']} is not in this clone")
    return "; ".join(parts)


def _transition(b: Board, st: IssueState, target: str) -> list[Spec]:
    live = b.with_issue(st, dependents=False)  # answers for this issue only
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
            hint = (f"un-park it first: jit issue unpark {short(iid)}" if blockers[0]["type"] == "parked"
                    else f"pass the gates first: jit gate pass {short(iid)} {missing[0]}" if missing
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


@dataclass(frozen=True)
class Backoff:
    """How dispatchers back off an issue their agents keep failing (docs/dispatch.md, "Failing
    issues"). The n-th failed run in a row (n read from the issue's fresh state under the write,
    so dispatchers sharing a hub count alike) delays the next start by ``base_secs * 2**(n-1)``,
    at most ``max_secs``; the ``park_after``-th parks the issue (0: never)."""

    base_secs: float = 60.0
    max_secs: float = 3600.0
    park_after: int = 5

    def delay(self, failures: int) -> float:
        return min(self.max_secs, self.base_secs * 2.0 ** min(max(failures - 1, 0), 60))


def _failed_run_specs(st: IssueState, reason: str, backoff: Backoff, now: str) -> list[Spec]:
    """The release of a run its agent failed: ``retry_after`` counts it and sets the backoff; the
    ``park_after``-th failure in a row parks the issue in the same write."""
    n = st.failures + 1
    until = utc_ts((parse_ts(now) + timedelta(seconds=backoff.delay(n))).isoformat(timespec="microseconds"))
    specs: list[Spec] = [{"type": "issue_released", "assignee": st.assignee, "reason": reason, "retry_after": until}]
    if backoff.park_after and n >= backoff.park_after:
        why = f"{n} failed runs in a row; the last: {reason}"
        specs.append({"type": "issue_parked", "reason": why[:LIMITS["reason"]]})
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
            preds.append(_priority_in({parse_priority(a) for a in alts}))
        elif field == "label":
            preds.append(_label_matches(alts, fnmatch.fnmatchcase))
        elif field == "tag":
            preds.append(_tag_in(set(alts)))
        else:
            raise UsageError(f"unknown filter field {field!r}", hint="use priority, label or tag")
    return lambda st: all(p(st) for p in preds)


def _priority_in(ps: set[str]) -> Callable[[IssueState], bool]:
    return lambda st: st.priority in ps


def _label_matches(globs: list[str], match: Callable[[str, str], bool]) -> Callable[[IssueState], bool]:
    return lambda st: any(match(lab, g) for lab in st.labels for g in globs)


def _tag_in(tags: set[str]) -> Callable[[IssueState], bool]:
    return lambda st: bool(set(_tags(st)) & tags)


def _tags(st: IssueState) -> list[str]:
    t = st.context.get("tags")
    if isinstance(t, str):
        return [x.strip() for x in t.split(",") if x.strip()]
    if isinstance(t, list):
        return [x for x in t if isinstance(x, str)]
    return []


def check_new_issue(title: str, description: str, priority: str, gates: Iterable[str], labels: Iterable[str],
                    context: Mapping[str, Any] | None) -> tuple[str, str, str, list[str], list[str], dict[str, Any]]:
    """A new issue's fields, checked and normalised (``create_issue``, ``Batch.create_issue``)."""
    title = check_title(title)  # in this order: the first bad field is the one reported
    description = check_description(description or "")
    priority = parse_priority(priority)
    gate_list = list(dict.fromkeys(check_gate_key(g) for g in gates))
    label_list = list(dict.fromkeys(check_label(lab) for lab in labels))
    ctx = check_context(context or {})
    if len(gate_list) > LIMITS["gates"] or len(label_list) > LIMITS["labels"]:
        raise UsageError("too many gates or labels on one issue")
    return title, description, priority, gate_list, label_list, ctx


def check_context(ctx: Mapping[str, Any]) -> dict[str, Any]:
    if len(ctx) > LIMITS["context_keys"]:
        raise UsageError(f"at most {LIMITS['context_keys']} context keys")
    return {check_context_key(k): check_context_value(k, v) for k, v in ctx.items()}
