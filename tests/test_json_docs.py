"""docs/json.md against the schemas of record (``jit schema``).

Every schema is named in the document (``Schema: `NAME```), the first JSON example after a name
validates against that schema (so its keys are the schema's keys: the models refuse any other and
require theirs), every other JSON block in the document is JSON, and every key a table describes
is a key of the schema of its section.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gitjit.schema.base import PydanticError
from gitjit.schema.catalog import SCHEMAS, adapter, json_schema

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"
TEXT = DOC.read_text()
MARK = re.compile(r"Schema: `([a-z-]+)`")
BLOCK = re.compile(r"^```json\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _sections() -> list[tuple[str, str]]:
    """(heading, body) of each ``##`` section."""
    parts = re.split(r"^(##+ .*)$", TEXT, flags=re.MULTILINE)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def _examples() -> list[tuple[str, str]]:
    """(schema name, the first JSON block after its marker, before the next marker or heading)."""
    out = []
    for _, body in _sections():
        marks = [(m.start(), m.group(1)) for m in re.finditer(r"^Schema: `([a-z-]+)`\s*$", body, re.MULTILINE)]
        for n, (at, name) in enumerate(marks):
            end = marks[n + 1][0] if n + 1 < len(marks) else len(body)
            m = BLOCK.search(body, at, end)
            if m is not None:
                out.append((name, m.group(1)))
    return out


def _parse(block: str) -> list[Any]:
    """One JSON document, or one per line (the fragments a section lists one per line)."""
    try:
        return [json.loads(block)]
    except ValueError:
        return [json.loads(line) for line in block.splitlines() if line.strip()]


def test_every_schema_is_named_in_the_document() -> None:
    named = set(MARK.findall(TEXT))
    assert not named - set(SCHEMAS), f"docs/json.md names schemas that do not exist: {sorted(named - set(SCHEMAS))}"
    assert not set(SCHEMAS) - named, f"docs/json.md does not describe: {sorted(set(SCHEMAS) - named)}"


@pytest.mark.parametrize("name, block", _examples(), ids=[n for n, _ in _examples()])
def test_each_example_validates_against_its_schema(name: str, block: str) -> None:
    (doc,) = _parse(block)
    try:
        adapter(name).validate_python(doc)
    except PydanticError as e:
        raise AssertionError(f"the example of `{name}` in docs/json.md does not match the schema:\n{e}") from None


def test_every_json_block_is_json() -> None:
    blocks = BLOCK.findall(TEXT)
    assert len(blocks) > 30
    for b in blocks:
        assert _parse(b), b


def _keys(schema: dict[str, Any]) -> set[str]:
    """Every property name anywhere in a JSON Schema."""
    out: set[str] = set()

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            out.update((x.get("properties") or {}).keys())
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(schema)
    return out


def test_the_keys_a_table_describes_are_the_schemas_keys() -> None:
    checked = 0
    for heading, body in _sections():
        names = MARK.findall(body)
        tables = re.findall(r"^\| key \|.*\n((?:\|.*\n)+)", body, re.MULTILINE)  # the tables of keys and meanings
        rows = [r for t in tables for r in re.findall(r"^\| `([a-z_]+)`(?:, `([a-z_]+)`)? \|", t, re.MULTILINE)]
        if not names or not rows:
            continue
        known = set().union(*(_keys(json_schema(n)) for n in names))
        for row in rows:
            for key in filter(None, row):
                assert key in known, f"{heading}: the table describes `{key}`, which no schema of the section has"
                checked += 1
    assert checked >= 10
