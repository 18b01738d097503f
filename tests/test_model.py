"""The model classes (``gitjit.core.record.Record`` under ``gitjit.core.model``): the pydantic-shaped API the
rest of gitjit uses, strict validation of what is read from refs and from the index, exact
write-back of unknown fields, round trips, and that importing the model never imports pydantic."""

from __future__ import annotations

import copy
import json
import pickle
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.errors import ValidationError
from gitjit.core.fold import parse_events, serialize_events
from gitjit.core.model import (
    Conflict,
    Event,
    GateDef,
    GateState,
    GateStatus,
    IssueState,
    ModelError,
    Priority,
    canonical_json,
)
from gitjit.core.record import Field, Record

BASE: dict[str, Any] = {"v": 1, "id": "0123456789abcdef0123456789abcdef", "type": "issue_created",
                        "issue_id": "0123456789ab", "clock": 7, "timestamp": "2026-01-01T00:00:00.000000",
                        "actor": "agent:x"}


def event(**kw: Any) -> Event:
    return Event.model_validate({**BASE, **kw})


def first_error(exc: pytest.ExceptionInfo[ModelError]) -> tuple[tuple[Any, ...], str]:
    e = exc.value.errors()[0]
    return e["loc"], e["msg"]


# ----------------------------------------------------------------------------- import cost

def test_importing_the_model_and_the_fold_does_not_import_pydantic() -> None:
    code = ("import sys, gitjit.core.model, gitjit.core.fold; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' or m.startswith('pydantic_core')); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ----------------------------------------------------------------------------- validation

def test_a_typical_event_validates_and_keeps_its_values() -> None:
    e = event(title="Hello", labels=["type:task"], context={"k": [1, None]}, derived=False)
    assert (e.v, e.id, e.clock, e.title, e.labels, e.context, e.derived) == (
        1, BASE["id"], 7, "Hello", ["type:task"], {"k": [1, None]}, False)
    assert e.description is None and e.model_extra == {}


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
    with pytest.raises(ModelError) as exc:
        event(**{field: value})
    loc, text = first_error(exc)
    assert loc[0] == field and msg in text
    assert isinstance(exc.value, ValueError)


def test_errors_name_the_position_inside_a_container() -> None:
    with pytest.raises(ModelError) as exc:
        event(labels=["a:b", 3])
    assert first_error(exc) == (("labels", 1), "Input should be a valid string")
    with pytest.raises(ModelError) as exc:
        event(context={1: "x"})
    assert first_error(exc)[0] == ("context", 1, "[key]")


@pytest.mark.parametrize("field", ["id", "type", "clock", "timestamp", "actor"])
def test_a_missing_required_field_is_an_error(field: str) -> None:
    data = {k: v for k, v in BASE.items() if k != field}
    with pytest.raises(ModelError) as exc:
        Event.model_validate(data)
    assert first_error(exc) == ((field,), "Field required")
    assert [e["loc"] for e in exc.value.errors()] == [(field,)]  # a bad value is not also "required"


def test_every_problem_is_reported_in_field_order() -> None:
    with pytest.raises(ModelError) as exc:
        Event.model_validate({"actor": 3, "clock": "x", "type": 5})
    assert [e["loc"] for e in exc.value.errors()] == [("id",), ("type",), ("clock",), ("timestamp",), ("actor",)]
    assert "5 validation errors for Event" in str(exc.value)


def test_only_a_dict_validates() -> None:
    for bad in ([1], "x", None, 5):
        with pytest.raises(ModelError):
            Event.model_validate(bad)
    e = event()
    assert Event.model_validate(e) is e  # an instance is taken as it is


def test_parse_events_reports_the_first_error_with_line_and_field() -> None:
    line = json.dumps({**BASE, "clock": "5"}).encode()
    with pytest.raises(ValidationError, match=r"^doc: line 2: clock: Input should be a valid integer$"):
        parse_events(b"\n" + line + b"\n", where="doc")
    with pytest.raises(ValidationError, match=r"line 1: labels\.0: Input should be a valid string"):
        parse_events(json.dumps({**BASE, "labels": [None]}).encode())


def test_a_str_enum_member_is_stored_as_its_plain_value() -> None:
    e = Event(**BASE, priority=Priority.high)
    assert type(e.priority) is str and e.priority == "high"
    assert e.to_line() == event(priority="high").to_line()


# ----------------------------------------------------------------------------- alias and extras

def test_from_is_read_and_written_under_its_json_name() -> None:
    a = Event(**BASE, **{"from": "open"}, to="done")
    b = Event(**BASE, from_="open", to="done")
    assert a == b and a.from_ == "open"
    assert a.to_json()["from"] == "open" and "from_" not in a.to_json()
    assert a.model_dump()["from_"] == "open"
    assert a.model_dump(by_alias=True)["from"] == "open"
    assert list(a.model_dump(by_alias=True)) == ["from" if k == "from_" else k for k in a.model_dump()]
    # both spellings present: the JSON name wins and the other is kept as an unknown field (as pydantic)
    c = event(**{"from": "x", "from_": "y"})
    assert c.from_ == "x" and c.model_extra == {"from_": "y"}


def test_unknown_fields_are_kept_and_written_back_exactly_nulls_included() -> None:
    obj = {**BASE, "title": "t", "zz_future": None, "nested": {"a": [1, None, {"b": False}]}, "num": 1.5}
    line = canonical_json(obj)
    (e,) = parse_events(line.encode() + b"\n")
    assert e.model_extra == {"zz_future": None, "nested": {"a": [1, None, {"b": False}]}, "num": 1.5}
    assert e.nested == {"a": [1, None, {"b": False}]} and e.zz_future is None  # readable as attributes
    assert e.to_line() == line
    assert serialize_events([e]) == line.encode() + b"\n"
    with pytest.raises(AttributeError):
        e.not_there  # noqa: B018
    assert not hasattr(event(), "zz_future")


def test_to_json_drops_declared_nulls_and_copies_containers() -> None:
    e = event(title=None, labels=["a:b"], context={"k": {"x": [1]}})
    d = e.to_json()
    assert "title" not in d and "description" not in d
    d["labels"].append("c:d")
    d["context"]["k"]["x"].append(2)
    assert e.labels == ["a:b"] and e.context == {"k": {"x": [1]}}


# ----------------------------------------------------------------------------- immutability and copies

def test_an_event_is_frozen() -> None:
    e = event()
    with pytest.raises(ValueError, match="frozen"):
        e.clock = 8  # type: ignore[misc]
    with pytest.raises(ValueError, match="frozen"):
        e.brand_new = 1  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="frozen"):
        del e.title
    assert e.clock == 7


def test_the_constructor_copies_the_lists_and_dicts_it_is_given() -> None:
    labels, ctx = ["a:b"], {"k": 1}
    e = Event(**BASE, labels=labels, context=ctx)
    s = IssueState(id="x", labels=labels, context=ctx)
    labels.append("c:d")
    ctx["k"] = 2
    assert e.labels == ["a:b"] and s.labels == ["a:b"] and e.context == {"k": 1} and s.context == {"k": 1}


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
    assert IssueState.model_validate({"id": "c"}).labels == []


def test_a_mutable_record_takes_assignment_but_refuses_an_unknown_attribute() -> None:
    s = IssueState(id="a")
    s.title = "t"
    s.event_count += 1
    assert (s.title, s.event_count) == ("t", 1)
    with pytest.raises(AttributeError):
        s.titel = "typo"  # type: ignore[attr-defined]


def test_model_copy_applies_the_update_without_validating_it() -> None:
    e = event(labels=["a:b"])
    c = e.model_copy(update={"clock": "not an int", "command": "x"})
    assert c.clock == "not an int" and c.model_extra == {"command": "x"} and e.model_extra == {}
    assert c.labels is e.labels  # shallow, as pydantic
    assert e.model_copy(deep=True).labels is not e.labels
    s = IssueState(id="a", labels=["x:y"])
    t = s.model_copy(update={"title": "new"})
    assert (t.title, s.title, t.labels) == ("new", "", ["x:y"])
    with pytest.raises(ValueError):
        s.model_copy(update={"no_such_field": 1})


def test_copy_and_pickle_round_trip() -> None:
    e = event(title="t", extra_thing=[1])
    s = IssueState(id="a", gates={"g": GateState(key="g", status=GateStatus.passed)}, labels=["x:y"])
    for x in (e, s):
        assert pickle.loads(pickle.dumps(x)) == x
        assert copy.copy(x) == x and copy.deepcopy(x) == x


# ----------------------------------------------------------------------------- equality, hash, repr

def test_equality_compares_fields_and_extras() -> None:
    assert event() == event() and not (event() != event())
    assert event() != event(clock=8)
    assert event() != event(zz=1) and event(zz=1) == event(zz=1)
    assert event() != BASE and IssueState(id="a") != GateDef(key="a")
    assert IssueState(id="a", labels=["x:y"]) == IssueState(id="a", labels=["x:y"])
    assert IssueState(id="a") != IssueState(id="a", title="t")


def test_frozen_records_hash_like_their_fields_mutable_ones_do_not_hash() -> None:
    assert hash(event()) == hash(event()) and len({event(), event(), event(clock=8)}) == 2
    with pytest.raises(TypeError):
        hash(event(labels=["a:b"]))  # a list field: unhashable, as with pydantic
    with pytest.raises(TypeError):
        hash(IssueState(id="a"))


def test_repr_names_the_class_and_every_field() -> None:
    r = repr(Conflict(type="claim", event_id="e", winner="w"))
    assert r == "Conflict(type='claim', event_id='e', actor=None, winner='w', detail='', timestamp=None)"
    assert repr(event(zz=1)).endswith("expires_at=None, retry_after=None, zz=1)")
    assert str(GateState(key="g")).startswith("key='g' status=<GateStatus.pending")


# ----------------------------------------------------------------------------- dumps and round trips

def full_state() -> IssueState:
    return IssueState(
        id="0123456789ab", title="Tëst ☃", description="line\nline", priority="high", state="in_progress",
        assignee="agent:a", dependencies=["ba9876543210"], labels=["type:task"], context={"k": [1, {"x": None}], "f": 0.5},
        gates={"review": GateState(key="review", status=GateStatus.passed, by="h", updated_at="t"),
               "ci": GateState(key="ci", status="failed", note="untrusted")},
        conflicts=[Conflict(type="claim", event_id="e" * 32, actor="agent:b", winner="agent:a", detail="d")],
        commits=["c" * 40], clock=9, event_count=9, dep_events={"ba9876543210": "2026|x"}, deleted=False)


def test_issue_state_round_trips_through_json() -> None:
    s = full_state()
    js = s.model_dump_json()
    back = IssueState.model_validate_json(js)
    assert back == s and back.model_dump_json() == js
    assert IssueState.model_validate_json(js.encode()) == s
    assert type(back.gates["ci"].status) is GateStatus and back.gates["ci"].status is GateStatus.failed
    assert type(back.conflicts[0]) is Conflict


def test_dump_json_is_compact_utf8_in_declaration_order() -> None:
    s = full_state()
    js = s.model_dump_json()
    assert js.startswith('{"id":"0123456789ab","title":"Tëst ☃","description":"line\\nline","priority":"high",')
    assert '"gates":{"review":{"key":"review","status":"passed","by":"h","updated_at":"t","note":null,"reason":null},' in js
    assert list(json.loads(js)) == list(IssueState.__slots__[:-1])
    assert json.loads(js) == s.model_dump(mode="json")
    g = GateDef(key="k", title="T")
    assert g.model_dump_json() == ('{"key":"k","title":"T","description":"","mode":"manual","stage":"postcheck",'
                                   '"created_at":"","updated_at":"","removed":false,"clock":0}')
    assert GateDef.model_validate_json(g.model_dump_json()) == g


def test_model_dump_python_mode_keeps_enums_json_mode_gives_values() -> None:
    g = GateState(key="g")
    assert g.model_dump() == {"key": "g", "status": GateStatus.pending, "by": None, "updated_at": None, "note": None,
                              "reason": None}
    assert type(g.model_dump()["status"]) is GateStatus
    assert g.model_dump(mode="json")["status"] == "pending" and type(g.model_dump(mode="json")["status"]) is str
    s = full_state()
    d = s.model_dump()
    assert d["gates"]["review"] == {"key": "review", "status": GateStatus.passed, "by": "h", "updated_at": "t",
                                    "note": None, "reason": None}
    d["context"]["k"][1]["x"] = 1  # a copy, deep through the containers
    assert s.context["k"][1] == {"x": None}
    with pytest.raises(ValueError):
        s.model_dump(mode="yaml")


@pytest.mark.parametrize("doc", [
    "{not json", "[]", '"x"', "null", '{"title":"no id"}', '{"id":5}', '{"id":"a","labels":"x"}',
    '{"id":"a","gates":{"g":{"key":"g","status":"maybe"}}}', '{"id":"a","gates":{"g":"x"}}',
    '{"id":"a","conflicts":[{"type":"t"}]}', '{"id":"a","deleted":"no"}', '{"id":"a","clock":1.5}',
    '{"id":"a","dep_events":{"x":1}}', b"\xff\xfe",
])
def test_a_malformed_index_row_is_a_model_error(doc: str | bytes) -> None:
    with pytest.raises(ModelError):
        IssueState.model_validate_json(doc)


def test_nested_errors_carry_the_path() -> None:
    with pytest.raises(ModelError) as exc:
        IssueState.model_validate_json('{"id":"a","gates":{"g":{"key":"g","status":"maybe"}}}')
    assert first_error(exc) == (("gates", "g", "status"), "Input should be 'pending', 'passed' or 'failed'")
    with pytest.raises(ModelError) as exc:
        IssueState.model_validate({"id": "a", "conflicts": [{"type": "t", "event_id": "e"}, {"type": "t"}]})
    assert first_error(exc) == (("conflicts", 1, "event_id"), "Field required")


def test_unknown_keys_are_ignored_by_the_folded_state_classes() -> None:
    s = IssueState.model_validate({"id": "a", "from_a_newer_version": 1})
    assert s == IssueState(id="a") and s.model_extra is None


# ----------------------------------------------------------------------------- the base class itself

def test_record_classes_refuse_what_they_cannot_check() -> None:
    with pytest.raises(TypeError, match="unsupported field type"):
        class Bad(Record):  # noqa: F841
            x: set[str]
    with pytest.raises(TypeError, match="default_factory"):
        class Shared(Record):  # noqa: F841
            x: list[str] = []  # noqa: RUF012
    with pytest.raises(TypeError):
        class Frozen(Record, frozen=True):  # noqa: F841
            x: list[str] = Field(default_factory=list)


# ----------------------------------------------------------------------------- property: readers never crash

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**60), max_value=2**60),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
KEYS = [*BASE, "title", "labels", "context", "changes", "fields", "derived", "from", "from_", "gates", "zz"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(over=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4), drop=st.sets(st.sampled_from(list(BASE))))
def test_event_validation_raises_only_model_error_and_what_passes_writes_back(over: dict[str, Any],
                                                                               drop: set[str]) -> None:
    data = {k: v for k, v in {**BASE, **over}.items() if k not in drop}
    try:
        e = Event.model_validate(data)
    except ModelError as err:
        assert err.errors() and all(isinstance(x["loc"], tuple) and x["msg"] for x in err.errors())
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
