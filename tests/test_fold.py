"""Pure tests of the fold and the event documents (no git): examples plus hypothesis properties.

The convergence argument of the whole design rests on these: the state of an issue is a
function of the *set* of its events, and uniting two sets is commutative, associative and
idempotent. A parser that reads bytes from other clones must fail only in one documented way.
"""

from __future__ import annotations

import dataclasses
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.errors import ValidationError
from gitjit.core.event import Event
from gitjit.core.fold import fold_gate, fold_issue, parse_events, serialize_events, union_events

IID = "0123456789ab"
OTHER = "ba9876543210"

_counter = iter(range(1, 10**9))


def ev(type_: str, clock: int, *, actor: str = "agent:a", ts: str | None = None, **payload) -> Event:  # type: ignore[no-untyped-def]
    n = next(_counter)
    return Event.build(id=f"{n:032x}", type=type_, issue_id=payload.pop("issue_id", IID), clock=clock,
                       timestamp=ts or f"2026-01-01T00:00:{clock % 60:02d}.{n % 10**6:06d}", actor=actor, **payload)


# ----------------------------------------------------------------------------- examples

def test_fold_basic_lifecycle() -> None:
    evs = [
        ev("issue_created", 1, title="T", description="D", priority="high", labels=["a:b", "a:b"],
           context={"k": 1}, gates=["review"]),
        ev("issue_updated", 2, changes={"title": "T2", "labels_add": ["c:d"], "context_set": {"j": [1]},
                                        "context_unset": ["k"]}),
        ev("dependency_added", 3, dependency=OTHER),
        ev("issue_claimed", 4, assignee="w1"),
        ev("gate_passed", 5, gate_key="review", by="human:lead"),
        ev("issue_state_changed", 6, **{"from": "in_progress", "to": "done"}),
    ]
    s = fold_issue(IID, evs)
    assert (s.title, s.description, s.priority, s.state, s.assignee) == ("T2", "D", "high", "done", "w1")
    assert s.labels == ["a:b", "c:d"] and s.context == {"j": [1]} and s.dependencies == [OTHER]
    assert s.gates["review"].status.value == "passed" and s.gates["review"].by == "human:lead"
    # shown with the offset the old (naive) timestamps leave implicit: UTC
    assert s.created_at == evs[0].timestamp + "+00:00" and s.updated_at == evs[-1].timestamp + "+00:00"
    assert s.completed_at == evs[-1].timestamp + "+00:00" and s.clock == 6 and s.event_count == 6


def test_second_claim_loses_and_is_reported() -> None:
    evs = [ev("issue_created", 1, title="T"), ev("issue_claimed", 2, assignee="w1"),
           ev("issue_claimed", 2, assignee="w2")]
    s = fold_issue(IID, evs)
    first = min(evs[1:], key=Event.sort_key)
    assert s.assignee == first.assignee and s.state == "in_progress"
    assert [c.type for c in s.conflicts] == ["claim"] and s.conflicts[0].winner == first.assignee


def test_derived_and_foreign_events_change_nothing() -> None:
    base = [ev("issue_created", 1, title="T")]
    noise = [ev("issue_state_changed", 2, derived=True, **{"from": "open", "to": "done"}),
             ev("issue_state_changed", 3, issue_id=OTHER, **{"from": "open", "to": "ready"}),
             ev("some_future_type", 4)]
    a, b = fold_issue(IID, base), fold_issue(IID, base + noise)
    assert (a.state, a.title, a.updated_at) == (b.state, b.title, b.updated_at)


def test_edits_after_delete_are_ignored() -> None:
    evs = [ev("issue_created", 1, title="T"), ev("issue_deleted", 2),
           ev("issue_updated", 3, changes={"title": "zombie"})]
    s = fold_issue(IID, evs)
    assert s.deleted and s.title == "T" and [c.type for c in s.conflicts] == ["edit_after_delete"]


def test_claim_after_close_does_not_hold() -> None:
    evs = [ev("issue_created", 1, title="T"), ev("issue_state_changed", 2, to="done"),
           ev("issue_claimed", 3, assignee="late")]
    s = fold_issue(IID, evs)
    assert s.state == "done" and s.assignee is None and s.conflicts[0].type == "claim_after_close"


def test_fold_gate_definition() -> None:
    evs = [ev("gate_defined", 1, issue_id=None, gate_key="ut", title="UT", mode="auto", stage="precheck"),
           ev("gate_definition_removed", 2, issue_id=None, gate_key="ut")]
    g = fold_gate("ut", evs)
    assert (g.title, g.mode, g.stage, g.removed) == ("UT", "auto", "precheck", True)
    g = fold_gate("ut", evs + [ev("gate_defined", 3, issue_id=None, gate_key="ut", title="again")])
    assert (g.title, g.removed, g.created_at) == ("again", False, evs[0].timestamp + "+00:00")


def test_serialize_is_canonical_and_round_trips() -> None:
    evs = [ev("issue_created", 2, title="é ✓"), ev("issue_updated", 1, changes={"b": 1, "a": 2})]
    doc = serialize_events(evs)
    assert doc == serialize_events(list(reversed(evs)))
    lines = doc.decode().splitlines()
    assert [json.loads(x)["clock"] for x in lines] == [1, 2]
    assert lines[0] == json.dumps(json.loads(lines[0]), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert parse_events(doc) == sorted(evs, key=Event.sort_key)
    assert parse_events(b"") == [] and parse_events(b"\n\n") == []


@pytest.mark.parametrize("blob, text", [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json}\n", "line 1 is not JSON"),
    (b"[1, 2]\n", "line 1 is not a JSON object"),
    (b'{"id": "x"}\n', "line 1"),
    (b"\n" + b"[" * 100_000 + b"\n", "line 2 is not JSON"),
    (b"x" * (4 * 1024 * 1024 + 1), "limit"),
], ids=["not-utf8", "not-json", "not-object", "schema", "deep-nesting", "too-big"])
def test_parse_events_errors_name_the_line(blob: bytes, text: str) -> None:
    with pytest.raises(ValidationError, match=text):
        parse_events(blob)


def _valid_line(**over) -> bytes:  # type: ignore[no-untyped-def]
    obj = {"v": 1, "id": "a" * 32, "type": "issue_created", "issue_id": IID, "clock": 1,
           "timestamp": "2026-01-01T00:00:00", "actor": "x", **over}
    return json.dumps(obj).encode()


@pytest.mark.parametrize("raw", [
    _valid_line(title="\ud800"),                 # a lone surrogate, escaped: valid JSON, not valid Unicode
    _valid_line(extra={"k": "\udfff"}),
    _valid_line().replace(b'"clock": 1', b'"clock": 1, "n": NaN'),
    _valid_line().replace(b'"clock": 1', b'"clock": 1, "n": -Infinity'),
], ids=["surrogate-title", "surrogate-extra", "nan", "infinity"])
def test_parse_refuses_what_cannot_be_written_back(raw: bytes) -> None:
    """Events must survive serialize -> parse; JSON that Python accepts but UTF-8/RFC 8259 do not
    (lone surrogates, NaN) would make every later write of the ref crash."""
    with pytest.raises(ValidationError):
        parse_events(raw)


# ----------------------------------------------------------------------------- strategies

ids_pool = [f"{i:032x}" for i in range(1, 40)]
deps_pool = ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"]
actors = st.sampled_from(["agent:a", "agent:b", "human:c"])


@st.composite
def issue_event(draw, idx: int | None = None):  # type: ignore[no-untyped-def]
    t = draw(st.sampled_from([
        "issue_created", "issue_updated", "issue_state_changed", "issue_claimed", "issue_released",
        "issue_assigned", "issue_unassigned", "dependency_added", "dependency_removed", "gate_added",
        "gate_removed", "gate_passed", "gate_failed", "issue_deleted", "commit_linked", "unknown_kind",
    ]))
    payload: dict = {}
    if t == "issue_created":
        payload = {"title": draw(st.text(max_size=5)), "priority": draw(st.sampled_from(["low", "high"])),
                   "labels": draw(st.lists(st.sampled_from(["a:1", "b:2"]), max_size=2)),
                   "gates": draw(st.lists(st.sampled_from(["g1", "g2"]), max_size=2))}
    elif t == "issue_updated":
        payload = {"changes": draw(st.fixed_dictionaries({}, optional={
            "title": st.text(max_size=3), "priority": st.sampled_from(["low", "critical"]),
            "labels_add": st.lists(st.sampled_from(["a:1", "c:3"]), max_size=2),
            "labels_remove": st.lists(st.sampled_from(["a:1", "b:2"]), max_size=2),
            "context_set": st.dictionaries(st.sampled_from(["k", "j"]), st.integers(0, 3), max_size=2),
            "context_unset": st.lists(st.sampled_from(["k", "j"]), max_size=2)}))}
    elif t == "issue_state_changed":
        payload = {"to": draw(st.sampled_from(["open", "ready", "in_progress", "done", "rejected", "archived"])),
                   "derived": draw(st.sampled_from([None, True]))}
    elif t in ("issue_claimed", "issue_released", "issue_assigned", "issue_unassigned"):
        payload = {"assignee": draw(st.sampled_from(["w1", "w2", None]))}
    elif t.startswith("dependency"):
        payload = {"dependency": draw(st.sampled_from(deps_pool))}
    elif t.startswith("gate"):
        payload = {"gate_key": draw(st.sampled_from(["g1", "g2", "g3"])), "by": draw(st.sampled_from([None, "x"]))}
    elif t == "commit_linked":
        payload = {"commit": draw(st.sampled_from(["c" * 40, "d" * 40]))}
    return Event.build(
        id=ids_pool[idx] if idx is not None else draw(st.sampled_from(ids_pool)),
        type=t, issue_id=draw(st.sampled_from([IID, IID, IID, OTHER])),
        clock=draw(st.integers(1, 12)),
        timestamp=f"2026-01-01T00:00:{draw(st.integers(0, 59)):02d}.000000",
        actor=draw(actors), **payload,
    )


@st.composite
def event_set(draw, max_size: int = 25):  # type: ignore[no-untyped-def]
    """Events with distinct ids (what one clone can hold)."""
    n = draw(st.integers(0, max_size))
    idxs = draw(st.lists(st.integers(0, len(ids_pool) - 1), min_size=n, max_size=n, unique=True))
    return [draw(issue_event(i)) for i in idxs]


event_lists = st.lists(issue_event(), max_size=15)  # ids may repeat: forged or corrupt duplicates


# ----------------------------------------------------------------------------- properties

@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(event_set(), st.randoms(use_true_random=False))
def test_fold_is_independent_of_event_order(evs: list[Event], rnd: random.Random) -> None:
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    assert fold_issue(IID, shuffled) == fold_issue(IID, evs)


@settings(max_examples=80)
@given(event_set(), st.randoms(use_true_random=False))
def test_fold_gate_is_independent_of_event_order(evs: list[Event], rnd: random.Random) -> None:
    gevs = [dataclasses.replace(e, type=rnd.choice(["gate_defined", "gate_definition_updated",
                                                    "gate_definition_removed"]), title=e.actor,
                                mode=rnd.choice(["auto", "manual"])) for e in evs]
    shuffled = list(gevs)
    rnd.shuffle(shuffled)
    assert fold_gate("g", shuffled) == fold_gate("g", gevs)


def _u(*sides: list[Event]) -> list[Event]:
    return union_events(*sides)[0]


@settings(max_examples=100)
@given(event_lists, event_lists)
def test_union_is_commutative(a: list[Event], b: list[Event]) -> None:
    assert _u(a, b) == _u(b, a)


@settings(max_examples=100)
@given(event_lists, event_lists, event_lists)
def test_union_is_associative(a: list[Event], b: list[Event], c: list[Event]) -> None:
    assert _u(_u(a, b), c) == _u(a, _u(b, c)) == _u(a, b, c)


@settings(max_examples=100)
@given(event_lists, event_lists)
def test_union_is_idempotent(a: list[Event], b: list[Event]) -> None:
    once = _u(a)
    assert _u(a, a) == once
    assert _u(once, once) == once
    ab = _u(a, b)
    assert _u(ab, a) == ab and _u(ab, b) == ab
    # the result holds one event per id, sorted by (clock, id)
    assert len({e.id for e in ab}) == len(ab)
    assert ab == sorted(ab, key=Event.sort_key)


@settings(max_examples=80)
@given(event_set(), event_set())
def test_union_then_fold_converges(a: list[Event], b: list[Event]) -> None:
    """Two clones exchanging their events compute one state whoever merged whom."""
    assert fold_issue(IID, _u(a, b)) == fold_issue(IID, _u(b, a))


@settings(max_examples=80)
@given(event_set())
def test_serialize_parse_round_trip(evs: list[Event]) -> None:
    doc = serialize_events(evs)
    back = parse_events(doc)
    assert back == sorted(evs, key=Event.sort_key)
    assert serialize_events(back) == doc


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_parse_events_raises_only_validation_error_on_bytes(blob: bytes) -> None:
    try:
        evs = parse_events(blob)
    except ValidationError:
        return
    assert serialize_events(evs) is not None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
    max_leaves=8,
)
FIELDS = ["v", "id", "type", "issue_id", "clock", "timestamp", "actor", "title", "labels", "context", "changes",
          "from", "to", "gates", "derived", "dependency", "gate_key"]


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(FIELDS + ["zz", ""]), json_values, max_size=6),
       st.sampled_from(["ok", "drop", "raw"]), st.text(max_size=30))
def test_parse_events_raises_only_validation_error_on_near_valid_json(
        mutation: dict, mode: str, noise: str) -> None:
    """Start from a valid event, overwrite fields with arbitrary JSON values (NaN, huge ints,
    surrogates, wrong types), and parse. Anything that parses must write back and parse again."""
    base = json.loads(_valid_line())
    base.update(mutation)
    if mode == "drop" and mutation:
        base.pop(next(iter(mutation)), None)
    line = json.dumps(base, allow_nan=True)
    if mode == "raw":
        line = line[:-1] + noise
    try:
        evs = parse_events(line.encode("utf-8", "surrogatepass"))
    except ValidationError:
        return
    assert parse_events(serialize_events(evs)) == evs


# ----------------------------------------------------------------------------- failed runs and parking

@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["claim", "fail", "release", "unpark", "park", "done", "reopen"]), max_size=30),
       st.randoms(use_true_random=False))
def test_failed_runs_count_until_unparked_or_finished(ops: list[str], rnd: random.Random) -> None:
    """A dispatcher's failed run (a release with ``retry_after``) counts one failure; un-parking or
    finishing the issue forgets them; parking holds until un-parked or finished. Whatever order the
    events arrive in, the fold agrees with this model (as writers that follow the rules write them)."""
    evs = [ev("issue_created", 1, title="t")]
    state, holder, failures, parked, retry = "open", None, 0, False, None
    for n, op in enumerate(ops, 2):
        ts = f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}.000000+00:00"
        if op == "claim" and holder is None and not parked and state == "open":
            evs.append(ev("issue_claimed", n, assignee="w", ts=ts))
            state, holder = "in_progress", "w"
        elif op in ("fail", "release") and holder is not None and state == "in_progress":
            extra = {"retry_after": ts} if op == "fail" else {}
            evs.append(ev("issue_released", n, assignee=holder, reason="r", ts=ts, **extra))
            state, holder = "open", None
            if op == "fail":
                failures, retry = failures + 1, ts
        elif op == "unpark":
            evs.append(ev("issue_unparked", n, ts=ts))
            failures, parked, retry = 0, False, None
        elif op == "park" and state == "open":
            evs.append(ev("issue_parked", n, reason="why", ts=ts))
            parked = True
        elif op == "done" and state != "done":
            evs.append(ev("issue_state_changed", n, ts=ts, **{"from": state, "to": "done"}))
            state, failures, parked, retry = "done", 0, False, None
        elif op == "reopen" and state == "done":
            evs.append(ev("issue_state_changed", n, ts=ts, **{"from": "done", "to": "open"}))
            state = "open"
    rnd.shuffle(evs)
    s = fold_issue(IID, evs)
    assert (s.state, s.failures, s.parked is not None, s.retry_after) == (state, failures, parked, retry)
    if parked:
        assert s.parked is not None and (s.parked.reason, s.parked.by) == ("why", "agent:a")
