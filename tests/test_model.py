"""The model classes (plain dataclasses in ``gitjit.core.model``): strict reading of stored event
lines (``Event.from_json``), exact write-back of unknown fields, immutability, round trips through the
index's JSON, and that importing the model never imports pydantic (``gitjit.schema`` holds the
pydantic models of record; tests/test_schema.py holds the two to the same rules)."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.errors import ValidationError
from gitjit.core.event import Event, EventError
from gitjit.core.fold import parse_events, serialize_events
from gitjit.core.model import (
    Conflict,
    GateDef,
    GateState,
    GateStatus,
    IssueState,
    Parked,
    Priority,
    canonical_json,
    compact_json,
)

BASE: dict[str, Any] = {"v": 1, "id": "0123456789abcdef0123456789abcdef", "type": "issue_created",
                        "issue_id": "0123456789ab", "clock": 7, "timestamp": "2026-01-01T00:00:00.000000",
                        "actor": "agent:x"}


def event(**kw: Any) -> Event:
    return Event.from_json({**BASE, **kw})


def first_error(exc: pytest.ExceptionInfo[EventError]) -> tuple[tuple[Any, ...], str]:
    return exc.value.loc, exc.value.msg


# ----------------------------------------------------------------------------- import cost

def test_importing_the_model_and_the_fold_does_not_import_pydantic() -> None:
    code = ("import sys, gitjit.core.model, gitjit.core.fold; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m.startswith('pydantic_core')); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ----------------------------------------------------------------------------- reading stored lines

def test_a_typical_event_validates_and_keeps_its_values() -> None:
    e = event(title="Hello", labels=["type:task"], context={"k": [1, None]}, derived=False)
    assert (e.v, e.id, e.clock, e.title, e.labels, e.context, e.derived) == (
        1, BASE["id"], 7, "Hello", ["type:task"], {"k": [1, None]}, False)
    assert e.description is None and e.extra == {}


@pytest.mark.parametrize("field, value, msg", [
    # int fields: only an int (no coercion: events are written back byte for byte)
    ("clock", "5", "valid integer"), ("clock", 5.0, "valid integer"), ("clock", True, "valid integer"),
    ("clock", None, "valid integer"), ("v", "1", "valid integer"), ("v", False, "valid integer"),
    ("v", None, "valid integer"),
    # the field checks
    ("clock", 0, "clock out of range"), ("clock", 2**53, "clock out of range"), ("clock", -1, "clock out of range"),
    ("id", "A" * 32, "32 lowercase hex"), ("id", "a" * 31, "32 lowercase hex"), ("id", "a" * 32 + "\n", "32 lowercase hex"),
    ("type", "Bad", "lowercase letters"), ("type", "issue_created\n", "lowercase letters"),
    ("timestamp", "yesterday", "isoformat"),
    # str fields: only a str; None only where the field is optional
    ("id", 5, "valid string"), ("id", None, "valid string"), ("actor", None, "valid string"),
    ("timestamp", 20260101, "valid string"), ("title", 5, "valid string"), ("title", ["t"], "valid string"),
    ("nonce", b"x", "valid string"),
    # list[str], dict[str, Any], bool
    ("labels", "a:b", "valid list"), ("labels", ("a:b",), "valid list"), ("labels", {"a": 1}, "valid list"),
    ("gates", [1], "valid string"), ("fields", ["ok", None], "valid string"),
    ("context", [], "valid dictionary"), ("context", "x", "valid dictionary"), ("changes", 1, "valid dictionary"),
    ("derived", 1, "valid boolean"), ("derived", "true", "valid boolean"),
])
def test_event_rejects_a_value_of_the_wrong_json_type(field: str, value: Any, msg: str) -> None:
    with pytest.raises(EventError) as exc:
        event(**{field: value})
    loc, text = first_error(exc)
    assert loc[0] == field and msg in text
    assert isinstance(exc.value, ValueError)


def test_errors_name_the_position_inside_a_container() -> None:
    with pytest.raises(EventError) as exc:
        event(labels=["a:b", 3])
    assert first_error(exc) == (("labels", 1), "Input should be a valid string")
    with pytest.raises(EventError) as exc:
        event(context={1: "x"})
    assert first_error(exc)[0] == ("context", 1, "[key]")


@pytest.mark.parametrize("field", ["id", "type", "clock", "timestamp", "actor"])
def test_a_missing_required_field_is_an_error(field: str) -> None:
    data = {k: v for k, v in BASE.items() if k != field}
    with pytest.raises(EventError) as exc:
        Event.from_json(data)
    assert first_error(exc) == ((field,), "Field required")


def test_the_first_problem_in_field_order_is_reported() -> None:
    with pytest.raises(EventError) as exc:
        Event.from_json({"actor": 3, "clock": "x", "type": 5})
    assert first_error(exc) == (("id",), "Field required")
    assert str(exc.value) == "id: Field required"


def test_parse_events_reports_the_first_error_with_line_and_field() -> None:
    line = json.dumps({**BASE, "clock": "5"}).encode()
    with pytest.raises(ValidationError, match=r"^doc: line 2: clock: Input should be a valid integer$"):
        parse_events(b"\n" + line + b"\n", where="doc")
    with pytest.raises(ValidationError, match=r"line 1: labels\.0: Input should be a valid string"):
        parse_events(json.dumps({**BASE, "labels": [None]}).encode())
    for bad in (b"[1]\n", b'"x"\n', b"null\n", b"5\n"):  # only an object is an event
        with pytest.raises(ValidationError, match="not a JSON object"):
            parse_events(bad)


def test_a_str_enum_member_is_written_as_its_plain_value() -> None:
    e = Event(**BASE, priority=Priority.high)
    assert e.to_line() == event(priority="high").to_line()


# ----------------------------------------------------------------------------- names and extras

def test_from_is_read_and_written_under_its_json_name() -> None:
    a = Event.build(**BASE, **{"from": "open"}, to="done")
    b = Event(**BASE, from_="open", to="done")
    assert a == b and a.from_ == "open" and a == event(**{"from": "open"}, to="done")
    assert a.to_json()["from"] == "open" and "from_" not in a.to_json()
    # "from_" in a document is not the field: an unknown key, kept as it is
    c = event(**{"from": "x", "from_": "y"})
    assert c.from_ == "x" and c.extra == {"from_": "y"}
    assert json.loads(c.to_line())["from_"] == "y"


def test_unknown_fields_are_kept_and_written_back_exactly_nulls_included() -> None:
    obj = {**BASE, "title": "t", "zz_future": None, "nested": {"a": [1, None, {"b": False}]}, "num": 1.5}
    line = canonical_json(obj)
    (e,) = parse_events(line.encode() + b"\n")
    assert e.extra == {"zz_future": None, "nested": {"a": [1, None, {"b": False}]}, "num": 1.5}
    assert e.to_line() == line
    assert serialize_events([e]) == line.encode() + b"\n"
    with pytest.raises(AttributeError):
        e.zz_future  # type: ignore[attr-defined]  # noqa: B018


def test_build_keeps_names_it_does_not_declare_as_extras() -> None:
    e = Event.build(**BASE, commit="c" * 40, closes=True)
    assert e.commit == "c" * 40 and e.extra == {"closes": True}
    assert json.loads(e.to_line())["closes"] is True


def test_to_json_drops_declared_nulls_and_copies_containers() -> None:
    e = event(title=None, labels=["a:b"], context={"k": {"x": [1]}})
    d = e.to_json()
    assert "title" not in d and "description" not in d
    assert list(d) == ["v", "id", "type", "issue_id", "clock", "timestamp", "actor", "labels", "context"]
    d["labels"].append("c:d")
    d["context"]["k"]["x"].append(2)
    assert e.labels == ["a:b"] and e.context == {"k": {"x": [1]}}


# ----------------------------------------------------------------------------- immutability and copies

def test_an_event_is_frozen() -> None:
    e = event()
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.clock = 8  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.brand_new = 1  # type: ignore[attr-defined]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del e.title
    assert e.clock == 7


def test_mutable_defaults_are_never_shared() -> None:
    a, b = IssueState(id="a"), IssueState(id="b")
    a.labels.append("x:y")
    a.dependencies.append("c")
    a.gates["g"] = GateState(key="g")
    a.context["k"] = 1
    a.conflicts.append(Conflict(type="t", event_id="e"))
    a.commits.append("c0")
    a.dep_events["c"] = "k"
    assert (b.labels, b.dependencies, b.gates, b.context, b.conflicts, b.commits, b.dep_events) == (
        [], [], {}, {}, [], [], {})
    assert event().extra is not event().extra


def test_a_mutable_state_takes_assignment_but_refuses_an_unknown_attribute() -> None:
    s = IssueState(id="a")
    s.title = "t"
    s.event_count += 1
    assert (s.title, s.event_count) == ("t", 1)
    with pytest.raises(AttributeError):
        s.titel = "typo"  # type: ignore[attr-defined]


def test_replace_makes_a_changed_copy() -> None:
    e = event(labels=["a:b"], zz=1)
    c = dataclasses.replace(e, clock=8)
    assert (c.clock, e.clock, c.labels, c.extra) == (8, 7, ["a:b"], {"zz": 1})


def test_copy_and_pickle_round_trip() -> None:
    e = event(title="t", extra_thing=[1])
    s = IssueState(id="a", gates={"g": GateState(key="g", status=GateStatus.passed)}, labels=["x:y"],
                   conflicts=[Conflict(type="t", event_id="e")])
    for x in (e, s, GateDef(key="g", title="T")):
        assert pickle.loads(pickle.dumps(x)) == x
        assert copy.copy(x) == x and copy.deepcopy(x) == x


# ----------------------------------------------------------------------------- equality, hash

def test_equality_compares_fields_and_extras() -> None:
    assert event() == event() and not (event() != event())
    assert event() != event(clock=8)
    assert event() != event(zz=1) and event(zz=1) == event(zz=1)
    assert event() != BASE and IssueState(id="a") != GateDef(key="a")
    assert IssueState(id="a", labels=["x:y"]) == IssueState(id="a", labels=["x:y"])
    assert IssueState(id="a") != IssueState(id="a", title="t")


def test_events_hash_by_id_and_clock_mutable_states_do_not_hash() -> None:
    assert hash(event()) == hash(event()) and len({event(), event(), event(clock=8)}) == 2
    assert hash(event(labels=["a:b"])) == hash(event())  # containers do not stop an event hashing
    with pytest.raises(TypeError):
        hash(IssueState(id="a"))


# ----------------------------------------------------------------------------- the index's JSON

def full_state() -> IssueState:
    return IssueState(
        id="0123456789ab", title="Tëst ☃", description="line\nline", priority="high", state="in_progress",
        assignee="agent:a", dependencies=["ba9876543210"], labels=["type:task"], context={"k": [1, {"x": None}], "f": 0.5},
        gates={"review": GateState(key="review", status=GateStatus.passed, by="h", updated_at="t"),
               "ci": GateState(key="ci", status=GateStatus.failed, note="untrusted")},
        conflicts=[Conflict(type="claim", event_id="e" * 32, actor="agent:b", winner="agent:a", detail="d")],
        commits=["c" * 40], clock=9, event_count=9, dep_events={"ba9876543210": "2026|x"}, deleted=False)


def test_issue_state_round_trips_through_json() -> None:
    s = full_state()
    js = compact_json(s.to_json())
    back = IssueState.from_json(json.loads(js))
    assert back == s and compact_json(back.to_json()) == js
    assert type(back.gates["ci"].status) is GateStatus and back.gates["ci"].status is GateStatus.failed
    assert type(back.conflicts[0]) is Conflict
    g = GateDef(key="k", title="T", clock=3)
    assert GateDef.from_json(json.loads(compact_json(g.to_json()))) == g


def test_the_issue_31_fields_round_trip_through_the_index_json() -> None:
    """A gate's reason, failed runs, the retry time and parking survive the index (to_json/from_json)."""
    s = full_state()
    s.gates["ci"].reason = "exit 1"
    s.failures, s.retry_after = 2, "2026-12-07T19:01:55.123456+00:00"
    s.parked = Parked(reason="too many failed runs", by="dispatcher:d", since="2026-12-07T19:01:55.123456+00:00")
    d = json.loads(compact_json(s.to_json()))
    assert d["gates"]["ci"]["reason"] == "exit 1" and d["failures"] == 2
    assert d["parked"] == {"reason": "too many failed runs", "by": "dispatcher:d",
                           "since": "2026-12-07T19:01:55.123456+00:00"}
    back = IssueState.from_json(d)
    assert back == s and type(back.parked) is Parked and back.gates["ci"].reason == "exit 1"
    assert IssueState.from_json(json.loads(compact_json(IssueState(id="a").to_json()))).parked is None


def test_the_index_json_is_compact_utf8_in_declaration_order() -> None:
    """The index stores this text: the format of the earlier model, byte for byte."""
    s = full_state()
    js = compact_json(s.to_json())
    assert js.startswith('{"id":"0123456789ab","title":"Tëst ☃","description":"line\\nline","priority":"high",')
    assert '"gates":{"review":{"key":"review","status":"passed","by":"h","updated_at":"t","note":null,"reason":null},' in js
    assert list(json.loads(js)) == [
        "id", "title", "description", "priority", "state", "assignee", "dependencies", "gates", "context", "labels",
        "created_at", "updated_at", "created_by", "claimed_at", "lease_expires_at", "failures", "retry_after",
        "parked", "completed_at", "deleted", "conflicts", "commits", "clock", "event_count", "dep_events"]
    g = GateDef(key="k", title="T")
    assert compact_json(g.to_json()) == ('{"key":"k","title":"T","description":"","mode":"manual","stage":"postcheck",'
                                         '"created_at":"","updated_at":"","removed":false,"clock":0}')
    assert Conflict(type="claim", event_id="e").to_json() == {
        "type": "claim", "event_id": "e", "actor": None, "winner": None, "detail": "", "timestamp": None}


# ----------------------------------------------------------------------------- property: readers never crash

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**60), max_value=2**60),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
KEYS = [*BASE, "title", "labels", "context", "changes", "fields", "derived", "from", "from_", "gates", "zz"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(over=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4), drop=st.sets(st.sampled_from(list(BASE))))
def test_event_reading_raises_only_event_error_and_what_passes_writes_back(over: dict[str, Any],
                                                                               drop: set[str]) -> None:
    data = {k: v for k, v in {**BASE, **over}.items() if k not in drop}
    try:
        e = Event.from_json(data)
    except EventError as err:
        assert isinstance(err.loc, tuple) and err.loc and err.msg
        return
    assert all(type(getattr(e, k)) is int for k in ("v", "clock"))
    (again,) = parse_events(e.to_line().encode())
    assert again == e and again.to_line() == e.to_line()  # a declared null is dropped, and reads back as None


@pytest.mark.parametrize("check, value", [
    ("check_gate_key", "review\n"), ("check_context_key", "key\n"), ("check_label", "team:web\n"),
])
def test_input_checks_refuse_a_trailing_newline(check: str, value: str) -> None:
    """``$`` in a pattern also matches before a final newline: the checks match the whole string."""
    import gitjit.core.model as m
    from gitjit.core.errors import UsageError

    with pytest.raises(UsageError):
        getattr(m, check)(value)
    assert getattr(m, check)(value.rstrip("\n")) == value.rstrip("\n")
