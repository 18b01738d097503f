"""The pydantic models of record (gitjit/schema/) against the inside and the outside.

* The light checks the hot path runs (``Event.from_json``, ``check_context``) accept and refuse
  exactly what the models do, with the same first problem (hypothesis).
* Everything the inside builds validates against the models: events as stored and as printed,
  folded states, issue JSON, listings, status, the graph export (hypothesis).
* ``jit schema`` lists and prints every schema; the error codes are the errors' own.
* Which commands import pydantic, measured in real processes: never the hot paths.
* A document the light reader was never asked about (an event built in-process, unchecked) is
  refused at the edge by the schema (``check_events``), naming the event and the field.

tests/test_json_docs.py checks docs/json.md against the catalog; tests/conftest.py validates every
``--json`` output of the suite against its command's schema.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Jit, git, make_repo, run_jit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.board import Board, event_json, issue_json, listing_json
from gitjit.core.errors import GitjitError, UsageError, ValidationError
from gitjit.core.event import Event, EventError, event_text_problem
from gitjit.core.fold import conflict_events, fold_gate, fold_issue
from gitjit.core.rules import check_context
from gitjit.schema.base import PydanticError, problems
from gitjit.schema.catalog import SCHEMAS, adapter, json_schema, shapes_of
from gitjit.schema.events import StoredEvent, check_events, remote_event_problem
from gitjit.schema.inputs import Context

# ----------------------------------------------------------------------------- the light reader agrees

BASE: dict[str, Any] = {"v": 1, "id": "0123456789abcdef0123456789abcdef", "type": "issue_created",
                        "issue_id": "0123456789ab", "clock": 7, "timestamp": "2026-01-01T00:00:00.000000",
                        "actor": "agent:x"}
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**60), max_value=2**60),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8),
              st.sampled_from(["a" * 32, "0" * 31 + "g", "issue_created", "Bad", "2026-01-01T00:00:00", "x"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)
EVENT_KEYS = [*BASE, "title", "labels", "context", "changes", "fields", "derived", "from", "from_", "gates",
              "expires_at", "zz"]


def _stored(data: dict[str, Any]) -> tuple[dict[str, Any] | None, tuple[tuple[Any, ...], str] | None]:
    """What the schema of record makes of ``data``: the event as written back, or its first problem."""
    try:
        m = StoredEvent.model_validate(data)
    except PydanticError as err:
        return None, problems(err)[0]
    extra = m.model_extra or {}
    declared = {info.alias or name: getattr(m, name) for name, info in StoredEvent.model_fields.items()}
    return {**{k: v for k, v in declared.items() if v is not None}, **extra}, None


@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(over=st.dictionaries(st.sampled_from(EVENT_KEYS), json_values, max_size=5),
       drop=st.sets(st.sampled_from(list(BASE))))
def test_the_light_event_reader_agrees_with_the_schema_of_record(over: dict[str, Any], drop: set[str]) -> None:
    data = {k: v for k, v in {**BASE, **over}.items() if k not in drop}
    want, problem = _stored(data)
    try:
        got = Event.from_json(data)
    except EventError as e:
        assert problem is not None, f"the hot path refused what the schema accepts: {e}"
        assert (e.loc, e.msg) == problem
        return
    assert problem is None, f"the hot path accepted what the schema refuses: {problem}"
    assert got.to_json() == want


@pytest.mark.parametrize("field, value", [("clock", "5"), ("clock", 2**53), ("id", "A" * 32), ("labels", ["a", 1]),
                                          ("timestamp", "yesterday"), ("derived", 1), ("context", {"k": 1.5})])
def test_examples_of_agreement(field: str, value: Any) -> None:
    data = {**BASE, field: value}
    _, problem = _stored(data)
    try:
        Event.from_json(data)
        light = None
    except EventError as e:
        light = (e.loc, e.msg)
    assert light == problem


context_keys = st.one_of(st.sampled_from(["k", "tags", "a.b", "_x", "bad key", "", "é", "x" * 65, "ok-1"]),
                         st.text(max_size=4))
def _nested(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = [v]
    return v


context_values = st.one_of(json_values, st.integers(16_370, 16_400).map(lambda n: "x" * n),
                           st.integers(14, 18).map(_nested))


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(context_keys, context_values, max_size=4))
def test_the_context_check_agrees_with_the_schema_of_record(ctx: dict[str, Any]) -> None:
    try:
        Context.model_validate(ctx)
        model = None
    except PydanticError as err:
        model = problems(err)[0][1]
    try:
        check_context(ctx)
        light = None
    except UsageError as e:
        light = e.message
    assert light == model


def test_the_context_limit_on_keys_is_the_same() -> None:
    ctx = {f"k{i}": i for i in range(101)}
    with pytest.raises(UsageError, match="at most 100"):
        check_context(ctx)
    with pytest.raises(PydanticError, match="at most 100"):
        Context.model_validate(ctx)


# ----------------------------------------------------------------------------- the inside validates

IDS = ["0123456789ab", "ba9876543210", "aaaaaaaaaaaa", "bbbbbbbbbbbb"]
ACTORS = ["agent:a", "agent:b", "human:h"]
_n = iter(range(1, 10**9))


@st.composite
def world_events(draw) -> dict[str, list[Event]]:  # type: ignore[no-untyped-def]
    """Events of a few issues, as clones can make them: creates, edits, claims racing, gates
    passing and failing at one clock, dependencies (on missing issues, on non-ids, in cycles),
    deletes, linked commits, derived notices."""
    out: dict[str, list[Event]] = {}
    for iid in draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=4, unique=True)):
        evs = [Event.build(id=f"{next(_n):032x}", type="issue_created", issue_id=iid, clock=1,
                           timestamp="2026-01-01T00:00:01.000000", actor="agent:a", title=f"t {iid}",
                           description="d", priority=draw(st.sampled_from(["low", "normal", "high", "critical"])),
                           labels=["team:x"], context={"k": [1, {"x": None}]},
                           gates=draw(st.lists(st.sampled_from(["review", "ci"]), max_size=2, unique=True)))]
        for _ in range(draw(st.integers(0, 8))):
            clock = draw(st.integers(2, 6))
            t = draw(st.sampled_from(["issue_claimed", "issue_released", "issue_state_changed", "issue_updated",
                                      "dependency_added", "dependency_removed", "gate_passed", "gate_failed",
                                      "gate_added", "issue_deleted", "commit_linked", "lease_renewed",
                                      "issue_assigned", "issue_unassigned", "issue_parked", "issue_unparked"]))
            payload: dict[str, Any] = {}
            if t in ("issue_claimed", "issue_assigned", "issue_released", "lease_renewed", "issue_unassigned"):
                payload = {"assignee": draw(st.sampled_from(ACTORS)), "nonce": "n"}
                if t == "issue_claimed" and draw(st.booleans()):
                    payload["expires_at"] = "2026-01-02T00:00:00.000000"
                if t == "issue_released" and draw(st.booleans()):  # a dispatcher's agent failed it
                    payload["reason"] = "worker-1 exited with code 1"
                    payload["retry_after"] = draw(st.sampled_from(["2026-01-02T00:00:00.000000+00:00",
                                                                   "2026-01-02T09:00:00+09:00"]))
            elif t == "issue_parked":
                payload = {"reason": "5 failed runs in a row"}
            elif t == "issue_unparked":
                payload = {"reason": draw(st.sampled_from([None, "fixed"]))}
            elif t == "issue_state_changed":
                payload = {"from": "open", "to": draw(st.sampled_from(["open", "ready", "in_progress", "done",
                                                                        "rejected", "archived"])),
                           "derived": draw(st.sampled_from([None, True]))}
            elif t == "issue_updated":
                payload = {"changes": draw(st.sampled_from([{"title": "new"}, {"priority": "high"},
                                                            {"labels_add": ["x:y"]}, {"context_set": {"a": 1}}])),
                           "fields": ["title"]}
            elif t.startswith("dependency"):
                payload = {"dependency": draw(st.sampled_from([*IDS, "cccccccccccc", "not-an-id"]))}
            elif t.startswith("gate"):
                payload = {"gate_key": draw(st.sampled_from(["review", "ci", "extra"])),
                           "by": draw(st.sampled_from([None, "human:h"]))}
            elif t == "commit_linked":
                payload = {"commit": "c" * 40, "closes": draw(st.booleans())}
            offset = draw(st.sampled_from(["", "+00:00"]))  # events before 2026-12-07 carry no offset
            evs.append(Event.build(id=f"{next(_n):032x}", type=t, issue_id=iid, clock=clock,
                                   timestamp=f"2026-01-01T00:00:{clock:02d}.{next(_n) % 10**6:06d}{offset}",
                                   actor=draw(st.sampled_from(ACTORS)), **payload))
        out[iid] = evs
    return out


def _valid(name: str, doc: Any) -> None:
    try:
        adapter(name).validate_python(json.loads(json.dumps(doc)))
    except PydanticError as e:
        raise AssertionError(f"{name}: {e}\n{json.dumps(doc)[:2000]}") from None


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(world_events())
def test_everything_the_inside_builds_validates(world: dict[str, list[Event]]) -> None:
    gate_events = [Event.build(id=f"{next(_n):032x}", type="gate_defined", clock=1, timestamp="2026-01-01T00:00:00",
                               actor="human:h", gate_key="review", title="Review", description="",
                               mode="manual", stage="precheck")]
    states = {iid: fold_issue(iid, evs) for iid, evs in world.items()}
    board = Board(states, {"review": fold_gate("review", gate_events)})
    for iid, evs in world.items():
        for e in [*evs, *conflict_events(iid, evs), *gate_events]:
            _valid("stored-event", e.to_json())
            _valid("event", event_json(e))
        _valid("issue-state", states[iid].to_json())
    _valid("events", [event_json(e) for evs in world.values() for e in evs])
    for iid in board.issues:
        _valid("issue-list", {"issues": [issue_json(board, iid)], "count": 1})
    _valid("issue-list", listing_json(board, board.sorted(board.issues)))
    _valid("issue-list", listing_json(board, board.ready()))
    _valid("issue-list", listing_json(board, board.blocked()))
    _valid("status", board.status())
    _valid("graph-export", board.export())


_CONTROLS = ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x80", "\x9b", "\x9f", "\xa0", "é", "x"]


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(field=st.sampled_from(["title", "actor", "assignee", "by", "description", "reason", "labels", "context",
                              "changes"]),
       text=st.text(alphabet=st.sampled_from(_CONTROLS), min_size=1, max_size=4))
def test_the_remote_event_schema_refuses_what_the_model_refuses(field: str, text: str) -> None:
    """C0 (but tab, LF and CR in multi-line text), DEL and C1 in a new remote event: the schema of
    record (``RemoteEvent``) and the core's ``event_text_problem`` agree, in the same words; a
    stored event holding them is still a valid document (older versions wrote such events)."""
    value: Any = {"labels": [f"ns:{text}"], "context": {"k": text}, "changes": {"title": text, "description": text}
                  }.get(field, text)
    e = Event.from_json({**BASE, field: value})
    StoredEvent.model_validate(e.to_json())  # a document may hold it
    assert remote_event_problem([e]) == event_text_problem(e)
    if any(c in text for c in "\x00\x1b\x7f\x80\x9b\x9f"):
        assert remote_event_problem([e]) is not None


def test_an_event_built_inside_is_held_to_the_schema_at_the_edge() -> None:
    """The edges (a pull, the merge driver, doctor) run the schema itself, not only the light reader:
    an unchecked event (built in-process with a wrong type) is refused, naming event and field."""
    good = Event.from_json(BASE)
    check_events([good], where="theirs")
    bad = Event.build(**{**BASE, "id": "f" * 32, "clock": "8"})
    with pytest.raises(ValidationError, match=r"^theirs: event 2: clock: Input should be a valid integer$"):
        check_events([good, bad], where="theirs")


# ----------------------------------------------------------------------------- the catalog and jit schema

def test_every_schema_generates_a_json_schema() -> None:
    for name in SCHEMAS:
        doc = json_schema(name)
        assert doc["$schema"].endswith("2020-12/schema") and doc["$id"] == f"gitjit:{name}"
        json.dumps(doc)


def test_the_error_codes_are_the_errors_own() -> None:
    import gitjit.app.hooks  # noqa: F401
    import gitjit.dispatch.config  # noqa: F401 - every module that defines an error class
    from gitjit.schema.outputs import ErrorBody

    def classes(c: type) -> list[type]:
        return [c, *(x for s in c.__subclasses__() for x in classes(s))]

    codes = {c.code for c in classes(GitjitError)}
    assert {"HOOK_STOPPED", "INVALID_CONFIG"} <= codes
    assert set(ErrorBody.model_fields["code"].annotation.__args__) == codes  # type: ignore[union-attr]


def test_shapes_of_reads_the_command_path() -> None:
    assert shapes_of(["--repo", "x", "--json", "issue", "show", "abc"]) == (("issue", "issue-array"), None)
    assert shapes_of(["dependency", "add", "a", "b"])[0] == ("dep-added",)
    assert shapes_of(["events", "tail", "--follow", "--json"]) == (("events",), "event")
    assert shapes_of(["dispatch", "-c", "d.toml", "agent", "add", "w"])[0] == ("dispatch-agent-added",)
    assert shapes_of(["schema", "issue"])[0] == ("json-schema",)
    assert shapes_of(["merge-driver", "a", "b", "c"]) == ((), None)


def test_jit_schema_lists_and_prints(tmp_path: Path) -> None:
    r = run_jit("schema", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == ""
    names = [line.split()[0] for line in r.stdout.splitlines()]
    assert names == list(SCHEMAS)
    r = run_jit("schema", "--json", cwd=tmp_path)
    listed = json.loads(r.stdout)["schemas"]
    assert [s["name"] for s in listed] == list(SCHEMAS) and all(s["description"] for s in listed)
    assert run_jit("schema", "-q", cwd=tmp_path).stdout.split() == list(SCHEMAS)
    for name in ("issue", "error", "dispatch-config", "stored-event"):
        r = run_jit("schema", name, cwd=tmp_path)
        assert r.returncode == 0 and json.loads(r.stdout) == json_schema(name)


def test_jit_schema_refuses_an_unknown_name(tmp_path: Path) -> None:
    r = run_jit("schema", "nope", cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "error: no schema named 'nope'\nhint: list them with: jit schema\n"
    r = run_jit("schema", "nope", "--json", cwd=tmp_path)
    assert r.returncode == 2
    assert json.loads(r.stdout) == {"error": {"code": "INVALID_ARGUMENT", "message": "no schema named 'nope'",
                                              "details": {}, "hint": "list them with: jit schema"}}


def test_the_suite_checks_json_output(jit: Jit) -> None:
    """The conftest hook fails a test whose command prints JSON its schema does not describe."""
    from conftest import check_json_output

    check_json_output(["status", "--json"], jit("status", "--json").stdout)
    with pytest.raises(AssertionError, match="matches none of status"):
        check_json_output(["status", "--json"], '{"open": "1"}')
    with pytest.raises(AssertionError, match="no schema names"):
        check_json_output(["frobnicate", "--json"], "{}")


# ----------------------------------------------------------------------------- who imports pydantic

_PROBE = (
    "import atexit, runpy, sys\n"
    "out = sys.argv[1]\n"
    "atexit.register(lambda: open(out, 'w').write(' '.join(sorted({m.split('.')[0] for m in sys.modules}))))\n"
    "sys.argv = ['jit', *sys.argv[2:]]\n"
    "runpy.run_module('gitjit', run_name='__main__', alter_sys=True)\n")


def _modules(repo: Path, tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    out = tmp_path / "modules.txt"
    r = subprocess.run([sys.executable, "-c", _PROBE, str(out), *args], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, "JIT_ACTOR": "agent:probe", **(env or {})}, timeout=120)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return set(out.read_text().split()), r.stdout


@pytest.fixture
def busy_repo(tmp_path: Path) -> tuple[Path, list[str]]:
    repo = make_repo(tmp_path / "repo")
    j = Jit(repo)
    j("init")
    ids = [j.json("issue", "create", "-t", f"task {n}", "--context", "k=[1]")["id"] for n in range(3)]
    j("dep", "add", ids[2], ids[0])
    j("issue", "list")  # the index in step with the refs
    return repo, ids


def test_the_hot_paths_never_import_pydantic(busy_repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    repo, ids = busy_repo
    for args in (["issue", "claim", ids[0], "agent:w"], ["issue", "claim-next", "agent:v"],
                 ["issue", "update", ids[0], "--state", "done", "--context", "n=2"],
                 ["issue", "show", ids[2], "--json"], ["issue", "list", "--json"], ["query", "ready"],
                 ["query", "blocked", "--json"], ["status", "--json"], ["events", "tail", "-n", "3"],
                 ["graph", "show"], ["issue", "create", "-t", "more", "--json"], ["dep", "add", ids[1], ids[2]],
                 ["gate", "add", ids[1], "review"], ["issue", "release", ids[1], "later"]):
        mods, _ = _modules(repo, tmp_path, *args)
        assert "pydantic" not in mods and "pydantic_core" not in mods, args


def test_the_edges_do_import_pydantic(busy_repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    """What docs/design.md lists as importing pydantic does (so the list is honest)."""
    repo, _ = busy_repo
    hub = make_repo(tmp_path / "hub.git", bare=True)
    git("remote", "add", "origin", str(hub), cwd=repo)
    good = tmp_path / "in.jsonl"
    good.write_text('{"title": "imported"}\n')
    for args in (["push", "origin"], ["pull", "origin"], ["doctor"], ["import", str(good)], ["schema"],
                 ["schema", "issue"]):
        mods, _ = _modules(repo, tmp_path, *args)
        assert "pydantic" in mods, args


def test_the_shapes_few_tests_print_validate(busy_repo: tuple[Path, list[str]], tmp_path: Path) -> None:
    """Commands whose --json output no other test reads: run for real, their output held to the
    schema by run_jit (tests/conftest.py)."""
    repo, _ = busy_repo
    hub = make_repo(tmp_path / "hub.git", bare=True)
    git("remote", "add", "origin", str(hub), cwd=repo)
    cfg = str(repo / "dispatch.toml")  # init-config points it at the repository beside it
    for args in (["push", "origin"], ["sync", "origin"], ["remote", "add-refspecs", "origin"],
                 ["remote", "remove-refspecs", "origin"], ["config", "set", "hub", "origin"],
                 ["config", "get", "hub"], ["events", "query", "--limit", "2"], ["graph", "export"],
                 ["dispatch", "-c", cfg, "init-config"], ["dispatch", "-c", cfg, "agent", "add", "w", "--command", "x"],
                 ["dispatch", "-c", cfg, "status"], ["dispatch", "-c", cfg, "agents"],
                 ["dispatch", "-c", cfg, "agent", "reset", "w"], ["dispatch", "-c", cfg, "stop"],
                 ["dispatch", "-c", cfg, "agent", "remove", "w"], ["schema"]):
        r = run_jit(*args, "--json", cwd=repo, env={"JIT_ACTOR": "agent:probe"})
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        assert r.stdout.strip(), args
