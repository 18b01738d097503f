"""`jit graph export --format dot|mermaid`: valid for any title, one id form, nodes coloured by state
(issue 31, item 18). The DOT output is read back by Graphviz itself (`dot -Tsvg`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

#: the fill colour of each state in both pictures (gitjit.cli.graph.STATE_COLOURS)
COLOURS = {"open": "#f8d7da", "ready": "#cfe2ff", "in_progress": "#fff3cd", "done": "#d1e7dd",
           "rejected": "#e2e3e5", "archived": "#f8f9fa"}

#: titles that broke or bent the pictures: a trailing backslash closed no string in DOT, `\n`,
#: `\N` and `\G` are DOT label escapes, `#35;` and `<b>` were decoded or taken as HTML by mermaid
HOSTILE = [
    "ends in a backslash \\", 'a "quoted" word', 'backslash quote \\"', "two \\\\ backslashes",
    "not a newline \\n nor a node name \\N or graph \\G", "<b>bold</b> & <script>x</script>", "#35; and #quot; and #",
    "a ; b { c } -> d -- e", "%% not a comment", "`markdown` *stars* _under_", "Über naïve 日本語 😀",
    "[brackets] (parens) |pipes|", "'single' quotes", "end",
]


def _import(jit, tmp_path: Path, recs: list[dict[str, object]]) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    r = jit("import", str(f))
    assert r.exit_code == 0, r.stderr


@pytest.fixture
def hostile(jit, tmp_path: Path):  # type: ignore[no-untyped-def]
    """One issue per hostile title, all sharing the first 8 characters of their id, in a chain, in
    every state the picture colours."""
    recs: list[dict[str, object]] = []
    states = ["done", "open", "in_progress", "rejected", "archived", "open"]
    for n, title in enumerate(HOSTILE):
        rec: dict[str, object] = {"id": f"abcdef12{n:04x}", "title": title, "state": states[n % len(states)]}
        if rec["state"] == "in_progress":
            rec["assignee"] = "agent:w"
        if n:
            rec["depends_on"] = [f"abcdef12{n - 1:04x}"]
        recs.append(rec)
    _import(jit, tmp_path, recs)
    return {f"abcdef12{n:04x}": t for n, t in enumerate(HOSTILE)}


def test_dot_is_valid_and_shows_every_title_literally(jit, hostile: dict[str, str], tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("dot") is None:
        pytest.skip("Graphviz is not installed (apt-get install graphviz)")
    out = tmp_path / "g.dot"
    assert jit("graph", "export", "--format", "dot", "-o", str(out)).exit_code == 0
    p = subprocess.run(["dot", "-Tsvg", str(out)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "Warning" not in p.stderr and "Error" not in p.stderr, p.stderr
    svg = ET.fromstring(p.stdout)
    ns = "{http://www.w3.org/2000/svg}"
    nodes = [g for g in svg.iter(f"{ns}g") if g.get("class") == "node"]
    assert len(nodes) == len(hostile)  # no two issues merged
    shown: dict[str, tuple[list[str], str]] = {}
    for g in nodes:
        iid = g.find(f"{ns}title").text  # type: ignore[union-attr]
        texts = [t.text or "" for t in g.iter(f"{ns}text")]
        fill = next(g.iter(f"{ns}path")).get("fill")  # inside the tooltip's link
        shown[iid] = (texts, fill)  # type: ignore[index,assignment]
    states = {n["id"]: n["state"] for n in jit.json("graph", "export")["nodes"]}
    for iid, title in hostile.items():
        texts, fill = shown[iid]
        # Graphviz draws "\n"-separated label lines as separate texts, spaces as no-break spaces
        assert [t.replace("\xa0", " ") for t in texts] == [f"{iid[:8]} [{states[iid]}]", title], (iid, texts)
        assert fill == COLOURS[states[iid]]
    assert len(set(states.values())) >= 5  # done, ready/open, in_progress, rejected, archived all drawn
    edges = [g for g in svg.iter(f"{ns}g") if g.get("class") == "edge"]
    assert len(edges) == len(hostile) - 1


def test_mermaid_uses_one_full_id_form_and_colours_by_state(jit, hostile: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    mm = jit("graph", "export", "--format", "mermaid").stdout
    lines = mm.splitlines()
    assert lines[0] == "graph LR"
    defs = {m[1]: m for line in lines if (m := re.fullmatch(r'  (i[0-9a-f]{12})\["([^"]*)"\]:::(\w+)', line))}
    edges = [m.groups() for line in lines if (m := re.fullmatch(r"  (i[0-9a-f]{12}) --> (i[0-9a-f]{12})", line))]
    classes = {m[1]: m[2] for line in lines
               if (m := re.fullmatch(r"  classDef (\w+) fill:(#[0-9a-f]{6}),stroke:#555555", line))}
    assert classes == COLOURS
    assert len(lines) == 1 + len(classes) + len(defs) + len(edges)  # nothing else, nothing unparsed
    assert set(defs) == {"i" + i for i in hostile}  # 8-character prefixes shared, every issue its own node
    assert {a for e in edges for a in e} <= set(defs) and len(edges) == len(hostile) - 1
    states = {n["id"]: n["state"] for n in jit.json("graph", "export")["nodes"]}
    for iid, title in hostile.items():
        m = defs["i" + iid]
        assert m[3] == states[iid] and m[3] in classes
        decoded = re.sub(r"#(\d+);", lambda x: chr(int(x[1])), m[2])
        assert decoded == f"{title} ({states[iid]})"


_KEEP = re.compile(r"[A-Za-z0-9 \-_.,:/()\[\]+=@!?'*]|#\d+;")


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_mermaid_label_holds_only_safe_text_and_decodes_back(text: str) -> None:
    from gitjit.cli.graph import mermaid_label

    label = mermaid_label(text)
    rest = _KEEP.sub("", label)
    # what is left is printable non-ASCII text, never a quote, '#', '<', '>', '&', '%', ';', '`' or a control
    assert all(ord(c) > 0xA0 and c.isprintable() for c in rest), rest
    assert '"' not in label and "<" not in label and ">" not in label and "&" not in label
    assert re.sub(r"#(\d+);", lambda m: chr(int(m[1])), label) == text


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_dot_string_never_ends_the_string_early(text: str) -> None:
    from gitjit.cli.graph import dot_string

    s = dot_string(text)
    # inside a DOT quoted string a quote ends it unless a backslash escapes it; escapes come in pairs
    i = 0
    out = []
    while i < len(s):
        if s[i] == "\\":
            assert i + 1 < len(s) and s[i + 1] in '\\"', s  # only \\ and \" are written
            out.append(s[i + 1])
            i += 2
            continue
        assert s[i] != '"'
        out.append(s[i])
        i += 1
    # what the label shows: the text itself, each control character as visible \uXXXX text
    expected = "".join(f"\\u{ord(c):04x}" if ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in "\u2028\u2029" else c
                       for c in text)
    assert "".join(out) == expected
