"""Bad data in the store: the readers of refs and the merge driver against random, mutated,
huge, deep and cyclic documents, and refs that point at the wrong kind of object.

The contract: a reader raises ``ValidationError`` (or the command skips the ref with a warning
naming it) and nothing else, whatever the bytes; whatever parses also serializes, folds and
renders; the merge driver answers 0 (a union every reader accepts) or 1 (conflict, ours left
untouched); a read never changes the store, and a write to a damaged issue fails cleanly.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app.mergedriver import merge_documents, merge_files
from gitjit.core.board import Board, issue_json
from gitjit.core.errors import EXIT_CODES, ValidationError
from gitjit.core.event import Event
from gitjit.core.fold import fold_issue, parse_events, serialize_events
from gitjit.core.model import LIMITS

EXAMPLES = int(os.environ.get("JIT_FUZZ_EXAMPLES", "100"))
FUZZ_STATS = os.environ.get("JIT_FUZZ_STATS")  # read at import: tests run with JIT_* scrubbed
TRIED: Counter[str] = Counter()
FUZZ = settings(max_examples=EXAMPLES * 3, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

IID = "0123456789ab"


def ev(n: int, type_: str = "issue_updated", **kw: object) -> Event:
    base = {"id": f"{n:032x}", "type": type_, "issue_id": IID, "clock": n, "timestamp": f"2026-01-01T00:00:{n % 60:02d}",
            "actor": "agent:a"}
    return Event.from_json({**base, **kw})


def sample_doc() -> bytes:
    evs = [ev(1, "issue_created", title="t", description="d", priority="high", labels=["a:b"], context={"k": [1]},
              gates=["review"]),
           ev(2, changes={"title": "u", "context_set": {"x": {"y": None}}}, fields=["title"]),
           ev(3, "dependency_added", dependency="ba9876543210"), ev(4, "issue_claimed", assignee="a", nonce="0" * 32),
           ev(5, "gate_passed", gate_key="review", by="h"), ev(6, "issue_state_changed", **{"from": "open", "to": "done"}),
           ev(7, "issue_state_changed", issue_id="ba9876543210", derived=True, to="ready")]
    return serialize_events(evs)


DOC = sample_doc()

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20)
FIELDS = ["v", "id", "type", "issue_id", "clock", "timestamp", "actor", "title", "description", "priority", "labels",
          "context", "gates", "from", "to", "assignee", "reason", "nonce", "dependency", "gate_key", "by", "changes",
          "fields", "derived", "mode", "stage", "commit", "ref", "expires_at", "unknown_field"]


def survives(blob: bytes) -> list[Event] | None:
    """Everything a reader does with a blob; only ValidationError may escape the parser."""
    try:
        evs = parse_events(blob, where="fuzz")
    except ValidationError as e:
        assert e.message.startswith("fuzz")
        return None
    again = parse_events(serialize_events(evs))
    assert {e.id for e in again} == {e.id for e in evs}
    st_ = fold_issue(IID, evs)
    b = Board({IID: st_})
    json.dumps(issue_json(b, IID))
    b.status()
    return evs


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(blob: bytes) -> None:
    TRIED["random bytes"] += 1
    survives(blob)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    lines = DOC.decode().splitlines(keepends=True)
    kind = draw(st.sampled_from(["flip", "truncate", "dup", "swap", "field", "drop", "splice"]))
    if kind == "flip":
        b = bytearray(DOC)
        for _ in range(draw(st.integers(1, 5))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(b)
    if kind == "truncate":
        return DOC[: draw(st.integers(0, len(DOC)))]
    if kind == "dup":
        i = draw(st.integers(0, len(lines) - 1))
        return "".join(lines[: i + 1] + [lines[i]] + lines[i + 1:]).encode()
    if kind == "swap":
        return "".join(draw(st.permutations(lines))).encode()
    if kind in ("field", "drop"):
        i = draw(st.integers(0, len(lines) - 1))
        obj = json.loads(lines[i])
        f = draw(st.sampled_from(FIELDS))
        if kind == "drop":
            obj.pop(f, None)
        else:
            obj[f] = draw(json_values)
        lines[i] = json.dumps(obj) + "\n"
        return "".join(lines).encode()
    return b"".join([DOC[: draw(st.integers(0, len(DOC)))], draw(st.binary(max_size=50)),
                     DOC[draw(st.integers(0, len(DOC))):]])


@FUZZ
@given(mutated())
def test_mutated_documents(blob: bytes) -> None:
    TRIED["mutated documents"] += 1
    survives(blob)


@FUZZ
@given(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=12))
def test_random_events_with_valid_envelopes(payload: dict) -> None:  # type: ignore[type-arg]
    """Type confusion in every payload field, on events that otherwise validate."""
    TRIED["random event payloads"] += 1
    obj = {"v": 1, "id": "a" * 32, "type": "issue_updated", "issue_id": IID, "clock": 2,
           "timestamp": "2026-01-01T00:00:00", "actor": "x", **payload}
    blob = DOC + (json.dumps(obj) + "\n").encode()
    survives(blob)


@pytest.mark.parametrize("name,blob", [
    ("over the size limit", b"x" * (LIMITS["events_blob"] + 1)),
    ("a line over the limit", b'{"a":"' + b"y" * (LIMITS["event_line"] + 10) + b'"}\n'),
    ("too many events", b"".join(ev(i + 1).to_line().encode() + b"\n" for i in range(LIMITS["events"] + 1))),
    ("deep arrays", b"[" * 200_000 + b"]" * 200_000 + b"\n"),
    ("deep objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"\n"),
    ("deep inside an event", (DOC.decode().splitlines()[1][:-1] + ',"context":' + '{"a":' * 5000 + "1"
                              + "}" * 5000 + "}\n").encode()),
    ("nul bytes", DOC.replace(b"\n", b"\x00\n", 1)),
    ("utf-16", DOC.decode().encode("utf-16")),
    ("a clock of 2**60", ev(1).to_line().replace('"clock":1', f'"clock":{2**60}').encode() + b"\n"),
    ("NaN and Infinity", b'{"clock": NaN, "x": Infinity}\n'),
])
def test_huge_and_deep_documents(name: str, blob: bytes) -> None:
    TRIED["huge or deep documents"] += 1
    assert survives(blob) is None, name


def test_cyclic_data_folds_and_renders() -> None:
    """Dependency cycles only merging can create, self-edges, and an issue depending on a missing one."""
    a, b, c = "aaaaaaaaaaaa", "bbbbbbbbbbbb", "cccccccccccc"

    def issue(iid: str, *deps: str) -> list[Event]:
        out = [Event.from_json({"id": f"{iid}{0:020x}", "type": "issue_created", "issue_id": iid, "clock": 1,
                                     "timestamp": "2026-01-01T00:00:00", "actor": "x", "title": iid})]
        for n, d in enumerate(deps, 2):
            out.append(Event.from_json({"id": f"{iid}{n:020x}", "type": "dependency_added", "issue_id": iid,
                                             "clock": n, "timestamp": "2026-01-01T00:00:00", "actor": "x",
                                             "dependency": d}))
        return out

    states = {a: fold_issue(a, issue(a, b, a)), b: fold_issue(b, issue(b, c)), c: fold_issue(c, issue(c, a, "d" * 12))}
    board = Board(states)
    assert board.graph.broken  # the cycle a -> b -> c -> a is broken deterministically
    for i in states:
        json.dumps(issue_json(board, i))
    board.ready(), board.blocked(), board.status()
    assert board.graph.upstream(a) is not None and board.graph.downstream(a) is not None
    TRIED["cyclic graphs"] += 1


# ----------------------------------------------------------------------------- the merge driver

@FUZZ
@given(st.one_of(mutated(), st.just(DOC), st.binary(max_size=300)), st.one_of(mutated(), st.just(DOC)))
def test_merge_documents(ours: bytes, theirs: bytes) -> None:
    TRIED["merge driver documents"] += 1
    try:
        out = merge_documents(b"", ours, theirs)
    except ValidationError:
        return
    merged = parse_events(out)  # what the driver writes, every reader accepts
    assert {e.id for e in merged} == {e.id for e in parse_events(ours)} | {e.id for e in parse_events(theirs)}
    assert merge_documents(b"", theirs, ours) == out  # the same bytes whichever side merges


def test_merge_refuses_a_union_over_the_limits(tmp_path: Path) -> None:
    big = "z" * 60_000
    side = [[ev(i + 1, description=big + str(s)) for i in range(40)] for s in range(2)]
    for s in side:
        for i, e in enumerate(s):
            s[i] = dataclasses.replace(e, id=f"{hash((id(s), i)) & (2**128 - 1):032x}")
    a, b = serialize_events(side[0]), serialize_events(side[1])
    assert len(a) < LIMITS["events_blob"] < len(a) + len(b)
    with pytest.raises(ValidationError, match="over the limits"):
        merge_documents(b"", a, b)
    (tmp_path / "o").write_bytes(a)
    (tmp_path / "t").write_bytes(b)
    assert merge_files("", str(tmp_path / "o"), str(tmp_path / "t"), "events.jsonl") == 1
    assert (tmp_path / "o").read_bytes() == a  # ours untouched on a conflict


def test_merge_refuses_a_clock_leap() -> None:
    leap = serialize_events([ev(1), ev(99, clock=5_000_000)])
    with pytest.raises(ValidationError, match="clock leaps"):
        merge_documents(b"", DOC, leap)


@FUZZ
@given(st.binary(max_size=400), st.one_of(st.just(DOC), st.binary(max_size=200)))
def test_merge_driver_command(jit: Jit, ours: bytes, theirs: bytes) -> None:
    TRIED["merge driver runs"] += 1
    d = jit.repo / ".git" / "mdtest"
    d.mkdir(exist_ok=True)
    (d / "O").write_bytes(b"")
    (d / "A").write_bytes(ours)
    (d / "B").write_bytes(theirs)
    r = jit("merge-driver", str(d / "O"), str(d / "A"), str(d / "B"), "events.jsonl")
    assert r.exit_code in (0, 1) and "Traceback" not in (r.stderr or ""), r.stderr
    if r.exit_code == 1:
        assert (d / "A").read_bytes() == ours and r.stderr.startswith("jit merge-driver: ")
    else:
        parse_events((d / "A").read_bytes())


# ----------------------------------------------------------------------------- damaged refs in a repository

def _blob(repo: Path, data: bytes) -> str:
    p = repo / ".git" / "scratch"
    p.write_bytes(data)
    try:
        return git("hash-object", "-w", str(p), cwd=repo).stdout.strip()
    finally:
        p.unlink()


def _commit(repo: Path, entry: str) -> str:
    tree = git("mktree", "--missing", cwd=repo, input=entry + "\n").stdout.strip()
    return git("commit-tree", tree, "-m", "hostile", cwd=repo).stdout.strip()


def damage(repo: Path, kind: str) -> str:
    """Make refs/jit/issues/<id> of a new issue point at something bad; return the id."""
    iid = "dddddddddddd"
    ref = f"refs/jit/issues/{iid}"
    good = _blob(repo, DOC.replace(IID.encode(), iid.encode()))
    if kind == "blob":
        target = good
    elif kind == "tree":
        target = git("mktree", cwd=repo, input=f"100644 blob {good}\tevents.jsonl\n").stdout.strip()
    elif kind == "tag":
        c = _commit(repo, f"100644 blob {good}\tevents.jsonl")
        git("tag", "-a", "-m", "t", "jit-tag", c, cwd=repo)
        target = git("rev-parse", "jit-tag", cwd=repo).stdout.strip()
        git("tag", "-d", "jit-tag", cwd=repo)
    elif kind == "missing":
        (repo / ".git" / ref).parent.mkdir(parents=True, exist_ok=True)
        (repo / ".git" / ref).write_text("2" * 40 + "\n")
        return iid
    elif kind == "no file":
        target = _commit(repo, f"100644 blob {good}\tsomething-else.txt")
    elif kind == "file is a tree":
        sub = git("mktree", cwd=repo, input=f"100644 blob {good}\tx\n").stdout.strip()
        target = _commit(repo, f"040000 tree {sub}\tevents.jsonl")
    elif kind == "file is a submodule":
        target = _commit(repo, f"160000 commit {'3' * 40}\tevents.jsonl")
    elif kind == "file is a symlink":
        target = _commit(repo, f"120000 blob {_blob(repo, b'/etc/passwd')}\tevents.jsonl")
    elif kind == "huge blob":
        target = _commit(repo, f"100644 blob {_blob(repo, b'{}' * (LIMITS['events_blob'] // 2 + 1))}\tevents.jsonl")
    elif kind == "deep json":
        target = _commit(repo, f"100644 blob {_blob(repo, b'[' * 100_000 + b']' * 100_000)}\tevents.jsonl")
    elif kind == "foreign issue":
        target = _commit(repo, f"100644 blob {_blob(repo, DOC)}\tevents.jsonl")  # names issue 0123456789ab
    else:  # pragma: no cover
        raise AssertionError(kind)
    git("update-ref", ref, target, cwd=repo)
    return iid


KINDS = ["blob", "tree", "tag", "missing", "no file", "file is a tree", "file is a submodule", "file is a symlink",
         "huge blob", "deep json", "foreign issue"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_ref_never_breaks_a_command(jit: Jit, kind: str) -> None:
    ok = jit("issue", "create", "-q", "-t", "healthy").stdout.strip()
    bad = damage(jit.repo, kind)
    before = ref_snapshot(jit.repo)
    for argv in (["issue", "list"], ["status"], ["query", "ready"], ["events", "tail"], ["graph", "export"],
                 ["issue", "show", ok], ["query", "blocked"], ["issue", "search", "t"], ["graph", "roots"]):
        for j in ([], ["--json"]):
            TRIED["commands over damaged refs"] += 1
            r = jit(*argv, *j)
            assert r.exit_code == 0, (kind, argv, r.stdout[-500:], r.stderr[-500:])
            assert "Traceback" not in r.stderr
        assert ref_snapshot(jit.repo) == before
    r = jit("issue", "list")
    if kind != "foreign issue":  # that one parses (its events name another issue): doctor names it below
        assert f"refs/jit/issues/{bad}" in r.stderr and r.stderr.startswith("warning: "), r.stderr
    # the damaged issue itself: a clear error, and writes change nothing
    for argv in (["issue", "show", bad], ["issue", "update", bad, "-t", "x"], ["issue", "claim", bad, "a"],
                 ["dep", "add", ok, bad], ["gate", "add", bad, "review"]):
        TRIED["commands over damaged refs"] += 1
        r = jit(*argv)
        assert r.exit_code in set(EXIT_CODES) - {0, 1}, (kind, argv, r.stdout, r.stderr)
        assert r.stderr.startswith(("error: ", "warning: ")) and "internal error" not in r.stderr, r.stderr
        assert ref_snapshot(jit.repo) == before
    # the rest of the store still takes writes
    assert jit("issue", "update", ok, "-t", "still fine").exit_code == 0
    d = jit("doctor", "--json")
    assert d.exit_code == 4 and any(p["subject"] == f"refs/jit/issues/{bad}" for p in json.loads(d.stdout)["problems"])


def test_a_write_that_would_break_the_limits_is_refused(jit: Jit) -> None:
    """Each input passes its own check, but the issue's log would outgrow what readers accept:
    refused (exit 2) before anything is written, so no write can lock an issue out."""
    iid = jit("issue", "create", "-q", "-t", "grows").stdout.strip()
    big = "😀" * 60_000  # 240 KB of UTF-8 in one description, under the 65,536-character limit
    codes = []
    for n in range(20):
        before = ref_snapshot(jit.repo)
        r = jit("issue", "update", iid, "-d", big + str(n))
        codes.append(r.exit_code)
        if r.exit_code:
            assert r.exit_code == 2 and "over the limits" in r.stderr and ref_snapshot(jit.repo) == before
            break
    assert codes[-1] == 2 and codes.count(0) >= 10
    ctx = [x for i in range(20) for x in ("--context", f"k{i}=" + "y" * 16_000)]  # 320 KB in one event
    r = jit("issue", "create", "-t", "wide", *ctx)
    assert r.exit_code == 2 and "over the 262144 limit of a line" in r.stderr
    assert jit("issue", "show", iid).exit_code == 0
    assert json.loads(jit("doctor", "--json").stdout)["ok"]
    TRIED["writes over the limits"] += 2


def test_report_inputs_tried() -> None:
    total = sum(TRIED.values())
    print(f"\nreader fuzz: {total} inputs: {dict(sorted(TRIED.items()))}")
    out = FUZZ_STATS
    if out:
        p = Path(out)
        old = json.loads(p.read_text()) if p.exists() else {}
        old["readers"] = {"total": total, "by_kind": dict(TRIED)}
        p.write_text(json.dumps(old, indent=1))
