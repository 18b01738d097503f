"""``gitjit.core.jsontext.dumps`` writes exactly what ``json.dumps(obj, indent=2, ensure_ascii=False)``
writes (the CLI's JSON output and the index's stored issue JSON go through it), and fails where
json fails."""

from __future__ import annotations

import enum
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitjit.core.jsontext import RawList, chunks, dumps, loads_many

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
                    st.text())
keys = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.tuples(inner, inner), st.dictionaries(keys, inner, max_size=5)), max_leaves=40)


def ref(obj: object) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(values)
def test_same_text_as_json_dumps(obj: object) -> None:
    assert dumps(obj) == ref(obj)


class Colour(str, enum.Enum):
    red = "red"


class Level(enum.IntEnum):
    high = 3


def test_subclasses_and_special_values_print_as_json_prints_them() -> None:
    obj = {"c": Colour.red, "l": Level.high, "f": [math.inf, -math.inf, 1e300, -0.0], "u": "é\u2028\x00\"\\",
           Level.high: 1, 2.5: None, True: False, None: [], "e": {}, "t": ()}
    assert dumps(obj) == ref(obj)
    assert math.isnan(json.loads(dumps([math.nan]))[0])


def test_what_json_refuses_is_refused_the_same_way() -> None:
    with pytest.raises(TypeError):
        dumps({"x": {1, 2}})
    with pytest.raises(TypeError):
        dumps({(1, 2): 3})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError):
        dumps(loop)


@settings(max_examples=200, deadline=None)
@given(st.lists(values, max_size=6))
def test_loads_many_reads_each_text_as_json_loads_would(objs: list[object]) -> None:
    texts = [dumps(o) for o in objs]
    # NaN is never equal to itself: compare the texts they print back to
    assert [ref(o) for o in loads_many(texts)] == [ref(json.loads(t)) for t in texts]


def test_loads_many_keeps_one_value_per_text() -> None:
    assert loads_many([]) == []
    assert loads_many(['{"a": [1, 2]}', "null", '"x"', "[]"]) == [{"a": [1, 2]}, None, "x", []]
    with pytest.raises(json.JSONDecodeError):
        loads_many(['{"a": 1'])
    with pytest.raises(json.JSONDecodeError):  # two halves of one value are not two values
        loads_many(["[1", "2]"])


# ------------------------------------------------------------------ stored documents, in pieces

# a stored document is the text of a parsed document: one whose keys are distinct once printed
# ({'false': None, False: None} prints "false" twice, and no stored document does)
docs_lists = st.lists(values.map(dumps).filter(lambda t: dumps(json.loads(t)) == t), max_size=7)
extra = st.dictionaries(st.text(max_size=6), values, max_size=3)


@settings(max_examples=300, deadline=None)
@given(docs_lists, extra, st.integers(1, 4))
def test_a_rawlist_prints_as_its_parsed_documents_would(texts: list[str], more: dict[str, object], size: int) -> None:
    """A listing's stored documents (``RawList``) print as the parsed documents print, wherever
    they stand, and ``chunks`` gives the same text in pieces, a ``size`` of documents a piece."""
    parsed = [json.loads(t) for t in texts]
    obj = {**more, "issues": RawList(texts), "count": len(texts)}
    want = ref({**more, "issues": parsed, "count": len(texts)})
    assert dumps(obj) == want
    assert dumps([RawList(texts), {"k": RawList(texts)}]) == ref([parsed, {"k": parsed}])
    pieces = list(chunks(obj, size))
    assert "".join(pieces) == want
    assert len(pieces) >= len(texts) // size  # written as it is made, not as one text


@given(values)
def test_chunks_of_anything_else_is_dumps(obj: object) -> None:
    assert "".join(chunks(obj)) == ref(obj)
