"""Control characters in text anyone can write (issue 31, item 12). C1 controls (U+0080-U+009F:
U+009B alone is a CSI, ``\\x9b31m`` turns the terminal red) passed the title check and were printed
raw, as ESC, BEL and CR would have been from data that arrived without the input checks.

Refused on input (exit 2, nothing written); refused by a pull when a remote brings new events
with them; escaped (``\\uXXXX``) in everything a ``jit`` process prints, for data already stored;
and ``--json`` output stays valid JSON with the same values."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo, ref_snapshot, run_jit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from synclib import hub_and_clones, tracker

from gitjit.cli.termsafe import SafeStream, escape, safe_streams, write_pieces
from gitjit.core.errors import UsageError
from gitjit.core.event import Event, event_text_problem
from gitjit.core.fold import parse_events, serialize_events
from gitjit.core.model import check_actor, check_context_value, check_description, check_label, check_title

UNSAFE = {chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]}
C1_CSI = "\u009b31m"
NASTY = [C1_CSI + "red", "\x1b[2J\x1b[Hcleared", "bell\x07", "over\rwritten", "\x9d0;window title\x9c",
         "fake\n  gate review: passed by human:lead", "del\x7f", "nul\x00byte", "next-line\x85", "tab\tok"]


def _clean(text: str) -> bool:
    return not (set(text) & UNSAFE)


# ----------------------------------------------------------------------------- input

@settings(max_examples=400, deadline=None)
@given(st.text())
def test_no_checked_text_field_lets_a_control_character_through(text: str) -> None:
    for check, multiline in ((check_title, False), (check_actor, False), (check_description, True)):
        try:
            got = check(text)
        except UsageError:
            continue
        allowed = {"\t", "\n", "\r"} if multiline else set()
        assert not (set(got) & (UNSAFE | {"\n", "\r", "\t"}) - allowed), (check.__name__, got)
    try:
        lab = check_label("ns:" + text)
    except UsageError:
        pass
    else:
        assert _clean(lab)
    try:
        v = check_context_value("k", {"a": [text], text: 1})
    except UsageError:
        pass
    else:
        assert _clean(json.dumps(v, ensure_ascii=False).replace("\\n", "").replace("\\t", "").replace("\\r", ""))


@pytest.mark.parametrize("args", [
    ["issue", "create", "-t", "x" + C1_CSI],
    ["issue", "create", "-t", "ok", "-d", "line\n\x9bthen"],
    ["issue", "create", "-t", "ok", "--context", "note=\x1b[31mred"],
    ["issue", "create", "-t", "ok", "--context", 'tags=["\\u009b"]'],
    ["issue", "create", "-t", "ok", "--label", "ns:a\x85b"],
    ["--by", "agent:\x9b", "issue", "create", "-t", "ok"],
    ["registry", "add", "lint", "-t", "Lint\x9b"],
])
def test_the_cli_refuses_control_characters(jit: Jit, repo: Path, args: list[str]) -> None:
    before = ref_snapshot(repo)
    r = jit(*args, "--json")
    assert r.exit_code == 2, (r.stdout, r.stderr)
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "INVALID_ARGUMENT" and "control character U+" in err["message"], err
    assert err["hint"]
    r = jit(*args)
    assert r.exit_code == 2 and r.stderr.startswith("error: ") and "hint: " in r.stderr
    assert _clean(r.stdout + r.stderr)  # the refusal itself prints no raw control either
    assert ref_snapshot(repo) == before


def test_reasons_and_updates_are_checked_too(jit: Jit, repo: Path) -> None:
    iid = jit("issue", "create", "-q", "-t", "A", "--gate", "review").stdout.strip()
    assert jit("issue", "claim", iid, "agent:w").exit_code == 0
    before = ref_snapshot(repo)
    for args in (["gate", "fail", iid, "review", "--reason", "no\x9b"], ["issue", "release", iid, "why\x9b"],
                 ["issue", "update", iid, "-t", "t\x9b"], ["issue", "update", iid, "--context", "k=\x90"],
                 ["gate", "pass", iid, "review", "--by", "human:\x9b"], ["issue", "assign", iid, "a\x9b"]):
        r = jit(*args)
        assert r.exit_code == 2 and "control character" in r.stderr, (args, r.stderr)
    assert ref_snapshot(repo) == before


def test_a_gate_line_in_an_import_is_checked(tracker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from gitjit.app.exchange import import_file
    from gitjit.core.errors import ValidationError

    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"gate": {"key": "ok", "title": "a\u009btitle"}}) + "\n")
    with pytest.raises(ValidationError, match="control character U\\+009B"):
        import_file(tracker, str(f))


# ----------------------------------------------------------------------------- output

@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escape_leaves_nothing_a_terminal_obeys(text: str) -> None:
    out = escape(text)
    assert _clean(out)
    assert out == text or any(c in UNSAFE for c in text)
    buf = io.StringIO()
    SafeStream(buf).write(text)
    assert buf.getvalue() == out


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_escaped_json_is_the_same_json(value: object) -> None:
    from gitjit.core.jsontext import dumps

    for text in (dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, ensure_ascii=False, indent=2)):
        out = escape(text)
        assert _clean(out) and json.loads(out) == value


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), max_size=5))
def test_pieces_written_past_the_text_layer_are_escaped_as_the_stream_would(pieces: list[str]) -> None:
    """``write_pieces`` (the JSON output's writer) sends UTF-8 bytes below the text layer: the same
    bytes a ``SafeStream`` writes, for any text; what UTF-8 cannot encode goes through the stream."""
    pieces = ["head ", *pieces, "\ud800 lone", "tail\n"]

    def through(write: object) -> tuple[bytes, str]:
        raw = io.BytesIO()
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace", write_through=False)
        text.write("before ")  # held by the text layer: goes first
        write(SafeStream(text), pieces)  # type: ignore[operator]
        text.flush()
        return raw.getvalue(), raw.getvalue().decode("utf-8")

    def one_by_one(stream: SafeStream, ps: list[str]) -> None:
        for p in ps:
            stream.write(p)

    got, text = through(write_pieces)
    assert got == through(one_by_one)[0]
    assert _clean(text)


def test_safe_streams_restore_what_they_wrapped() -> None:
    out, err = sys.stdout, sys.stderr
    with safe_streams():
        assert isinstance(sys.stdout, SafeStream) and isinstance(sys.stderr, SafeStream)
        with safe_streams():  # nested: wrapped once
            assert sys.stdout._stream is out  # type: ignore[attr-defined]
        devnull = open(os.devnull, "w")
        sys.stdout = devnull  # what a closed pipe makes the CLI do
    assert sys.stdout is devnull and sys.stderr is err
    sys.stdout = out
    devnull.close()


def _write_raw(repo: Path, iid: str, events: list[dict[str, object]]) -> None:
    """An issue whose events bypassed every input check: stored by hand, by an older version, or
    pulled before this one refused them."""
    evs = [Event.from_json({"id": secrets.token_hex(16), "issue_id": iid, "clock": n,
                                 "timestamp": f"2026-01-01T00:00:{n:02d}.000000", "actor": "agent:a", **e})
           for n, e in enumerate(events, 1)]
    doc = serialize_events(evs)
    (repo / ".git" / "doc").write_bytes(doc)
    blob = git("hash-object", "-w", ".git/doc", cwd=repo).stdout.strip()
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    c = git("commit-tree", tree, "-m", "by hand", cwd=repo).stdout.strip()
    git("update-ref", f"refs/jit/issues/{iid}", c, cwd=repo)


def _hostile_issue(repo: Path, iid: str, text: str) -> None:
    _write_raw(repo, iid, [
        {"type": "issue_created", "title": "T " + text, "description": "D " + text, "priority": "high",
         "labels": ["ns:" + text.replace(" ", "_")], "context": {"k": text, text: [text]}, "gates": ["review"]},
        {"type": "gate_failed", "gate_key": "review", "by": "ci:" + text, "reason": "R " + text},
        {"type": "issue_claimed", "assignee": "agent:" + text, "nonce": "0" * 32, "actor": "agent:" + text},
    ])


HUMAN = [["issue", "show", "{id}"], ["issue", "list"], ["query", "all"], ["query", "assignee", "agent:x"],
         ["status"], ["graph", "show"], ["graph", "roots"], ["graph", "export", "-f", "dot"],
         ["graph", "export", "-f", "mermaid"], ["events", "tail", "-n", "50"], ["events", "query", "--issue", "{id}"],
         ["issue", "search", "T"], ["export"]]


def test_stored_control_characters_are_escaped_by_every_command(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    assert run_jit("init", cwd=repo).returncode == 0
    ids = []
    for n, text in enumerate(NASTY):
        iid = f"{n:012x}"
        _hostile_issue(repo, iid, text)
        ids.append(iid)
    light = [sys.executable, "-c", "import sys; from gitjit.cli import main; raise SystemExit(main(sys.argv[1:]))"]
    for args in HUMAN:
        for iid in ids[:2]:
            a = [x.replace("{id}", iid) for x in args]
            for cmd in ([sys.executable, "-m", "gitjit", *a], [*light, *a]):  # the full CLI, the light path
                p = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120)
                assert p.returncode == 0, (a, p.stderr)
                assert _clean(p.stdout) and _clean(p.stderr), (a, [c for c in p.stdout + p.stderr if c in UNSAFE])
                assert "\n  gate review: passed by human:lead" not in p.stdout  # no line break came from data
    # --json: escaped, still the same data
    for iid, text in zip(ids, NASTY):
        p = run_jit("issue", "show", iid, "--json", cwd=repo)
        assert p.returncode == 0 and _clean(p.stdout)
        d = json.loads(p.stdout)
        assert d["title"] == "T " + text and d["context"] == {"k": text, text: [text]}
        assert d["gates"][0]["reason"] == "R " + text and d["assignee"] == "agent:" + text
    p = run_jit("issue", "show", ids[0], cwd=repo)
    assert "T \\u009b31mred" in p.stdout  # shown, as text


def test_jit_dispatch_escapes_stored_control_characters(tmp_path: Path) -> None:
    """``jit-dispatch``'s human output (``agents`` lists the titles its agents hold) goes through
    the same escaping as ``jit``'s: a title holding ESC and C1 sequences is printed as text."""
    from dispatchlib import agent_cmd, write_config

    repo = make_repo(tmp_path / "repo")
    assert run_jit("init", cwd=repo).returncode == 0
    iid = "0123456789ab"
    title = "T \x1b]0;owned\x07 \u009b31mred \x9d0;t\x9c"
    _write_raw(repo, iid, [
        {"type": "issue_created", "title": title, "priority": "high"},
        {"type": "issue_claimed", "assignee": "agent:w@elsewhere", "nonce": "0" * 32},
    ])
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[{"id": "w", "command": agent_cmd()}])
    for cmd in ([sys.executable, "-m", "gitjit.cli.dispatch", "agents", "--config", str(cfg)],
                [sys.executable, "-m", "gitjit", "dispatch", "agents", "--config", str(cfg)]):
        p = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == 0, p.stderr
        assert iid[:8] in p.stdout and _clean(p.stdout) and _clean(p.stderr), p.stdout
        assert "T \\u001b]0;owned\\u0007 \\u009b31mred \\u009d0;t\\u009c" in p.stdout


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=40))
def test_any_stored_text_is_printed_without_controls(tmp_path_factory, text: str) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path_factory.mktemp("r"))
    iid = secrets.token_hex(6)
    _hostile_issue(repo, iid, text)
    jit = Jit(repo)
    for args in (["issue", "show", iid], ["events", "query", "--issue", iid], ["graph", "show"], ["status"]):
        r = jit(*args)
        assert r.exit_code == 0, (args, r.stderr)
        assert _clean(r.stdout) and _clean(r.stderr), args
    r = jit("issue", "show", iid, "--json")
    assert _clean(r.stdout) and json.loads(r.stdout)["title"] == "T " + text


# ----------------------------------------------------------------------------- remotes

def test_a_pull_refuses_new_remote_events_with_control_characters(tmp_path: Path) -> None:
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a, "agent:a")
    x = ta.create_issue("victim")["id"]
    y = ta.create_issue("bystander")["id"]
    ta.push("origin")
    tracker(b).pull("origin")
    # the attacker rewrites x on the hub with a new event whose title is a CSI sequence
    ref = f"refs/jit/issues/{x}"
    tip = git("--git-dir", str(hub), "rev-parse", ref, cwd=hub).stdout.strip()
    doc = git("--git-dir", str(hub), "cat-file", "blob", f"{tip}:events.jsonl", cwd=hub).stdout.encode()
    evs = parse_events(doc)
    bad = Event.from_json({"id": secrets.token_hex(16), "type": "issue_updated", "issue_id": x,
                                "clock": max(e.clock for e in evs) + 1, "timestamp": "2026-01-01T00:00:00",
                                "actor": "agent:mallory", "changes": {"title": C1_CSI + "pwned"}})
    (tmp_path / "doc").write_bytes(serialize_events([*evs, bad]))
    blob = git("--git-dir", str(hub), "hash-object", "-w", str(tmp_path / "doc"), cwd=hub).stdout.strip()
    tree = git("--git-dir", str(hub), "mktree", cwd=hub, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    c = git("--git-dir", str(hub), "commit-tree", tree, "-p", tip, "-m", "evil", cwd=hub).stdout.strip()
    git("--git-dir", str(hub), "update-ref", ref, c, cwd=hub)
    # and a new issue whose actor carries ESC
    z = "eeeeeeeeeeee"
    zdoc = serialize_events([Event.from_json({"id": secrets.token_hex(16), "type": "issue_created", "issue_id": z,
                                                   "clock": 1, "timestamp": "2026-01-01T00:00:00",
                                                   "actor": "agent:\x1b]0;x\x07", "title": "looks fine"})])
    (tmp_path / "zdoc").write_bytes(zdoc)
    blob = git("--git-dir", str(hub), "hash-object", "-w", str(tmp_path / "zdoc"), cwd=hub).stdout.strip()
    tree = git("--git-dir", str(hub), "mktree", cwd=hub, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    c = git("--git-dir", str(hub), "commit-tree", tree, "-m", "evil", cwd=hub).stdout.strip()
    git("--git-dir", str(hub), "update-ref", f"refs/jit/issues/{z}", c, cwd=hub)
    ta.update_issue(y, title="honest change")
    ta.push("origin")

    r = Jit(b)("pull", "origin", "--json")
    assert r.exit_code == 0, r.stderr
    res = json.loads(r.stdout)
    assert {s["ref"] for s in res["skipped"]} >= {ref, f"refs/jit/issues/{z}"}
    assert "holds control character U+009B" in r.stderr and "holds control character U+001B" in r.stderr
    assert _clean(r.stderr)
    tb = tracker(b)
    assert tb.show(x)["title"] == "victim" and tb.show(y)["title"] == "honest change"
    assert z not in {i["id"] for i in tb.query("all")["issues"]}
    # pulling again changes nothing and says so again; the local copy stays usable
    assert Jit(b)("pull", "origin").exit_code == 0
    assert Jit(b)("issue", "update", x, "-t", "still mine").exit_code == 0


def test_an_event_made_here_passes_the_remote_check(tracker) -> None:  # type: ignore[no-untyped-def]
    """What this version writes (tabs and newlines where text may hold them) is never refused."""
    iid = tracker.create_issue("T\u00e9", description="a\tb\r\nc", context={"k": "x\ny", "l": ["\t"]},
                               labels=["ns:v"], gates=["g"])["id"]
    tracker.update_issue(iid, description="two\nlines", context={"m": {"n": "o\tp"}})
    tracker.gate_set(iid, "g", False, reason="line one\nline two")
    for e in tracker.store.load("refs/jit/issues/", iid).events:
        assert event_text_problem(e) is None, e


# ----------------------------------------------------------------------------- commit signatures

@settings(max_examples=300, deadline=None)
@given(actor=st.text(min_size=1, max_size=60), email=st.one_of(st.none(), st.text(max_size=30)))
def test_every_accepted_actor_makes_a_signature_git_takes(actor: str, email: str | None) -> None:
    """An actor is free text (``agent:<b>x</b>`` once ended a claim in an internal error: git
    forbids angle brackets in a commit's author name); whatever the checks accept must give a
    name and email libgit2 takes, and the event keeps the actor whole."""
    import pygit2

    from gitjit.core.model import signature_of

    try:
        actor = check_actor(actor)
    except UsageError:
        return
    name, mail = signature_of(actor, email)
    sig = pygit2.Signature(name, mail)
    assert sig.name and sig.email


@pytest.mark.parametrize("actor", ["agent:<b>bold</b>", "<>", ":.;", "x >y", "bob <bob@x>"])
def test_odd_actors_claim_and_keep_their_name(jit: Jit, repo: Path, actor: str) -> None:
    iid = jit.json("issue", "create", "-t", "odd actors")["id"]
    r = jit("issue", "claim", iid, actor)
    assert r.exit_code == 0, r.output
    assert jit.json("issue", "show", iid)["assignee"] == actor
