"""The index's encodings read back exactly, whatever they hold (gitjit/store/index.py).

An issue's JSON and state share one compressed stream (``Index.pack_body``), read whole or only
its JSON; a ref's tip is kept as its object id's bytes (``tip_key``); ``issue search`` looks for
its text in each state's JSON text before parsing it (``search_hit``), which must never miss an
issue ``Board.search`` finds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gitjit.core import jsontext
from gitjit.core.model import compact_json
from gitjit.store.index import Index, search_hit, search_quick, tip_key, tip_text, ts_key, ts_text

#: every code point a JSON text can hold in UTF-8 (no lone surrogates), the odd ones often
ODD = "\"\\\n\t\x00\x1f\u2028\u2029\ufeff\ufffd\u212a\u0130\u03a3\u03c3\u03c2\u0301\u202e\U0001f600ß"
texts = st.text(st.one_of(st.characters(exclude_categories=("Cs",)), st.sampled_from(ODD)), max_size=300)


def _index(tmp: Path, samples: list[str]) -> Index:
    ix = Index(tmp)
    ix.open(create=True)
    ix.begin()
    ix.set_sample(samples)
    ix.set_sample(samples[::-1], "zdocs")
    ix.commit()
    return ix


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=st.one_of(st.none(), texts), state=texts, samples=st.lists(texts, max_size=4))
def test_a_body_gives_back_its_json_and_its_state(tmp_path: Path, doc: str | None, state: str,
                                                  samples: list[str]) -> None:
    ix = _index(tmp_path / "a", samples)
    try:
        dlen, body = ix.pack_body(doc, state)
        assert ix.body_doc(dlen, body) == doc
        assert ix.body_state(dlen, body) == state
        if doc is not None:
            assert ix._unpack_all([(dlen, body)]) == [doc]  # the listing's path
        # another process's index (other samples) reads the same stream after reading them again
        other = _index(tmp_path / "b", [*samples, "other"])
        other.begin()
        other.set_sample(ix.sample())
        other.set_sample(ix.sample("zdocs"), "zdocs")
        other.commit()
        assert other.body_state(dlen, body) == state
        other.close()
    finally:
        ix.close()
        for p in (tmp_path / "a", tmp_path / "b"):
            for f in p.rglob("*"):
                if f.is_file():
                    f.unlink()


@given(st.one_of(st.text(max_size=70), st.binary(min_size=20, max_size=20).map(bytes.hex),
                 st.binary(min_size=32, max_size=32).map(bytes.hex), st.text("0123456789abcdefABCDEF", max_size=64)))
def test_a_tip_reads_back_as_it_was(tip: str) -> None:
    assert tip_text(tip_key(tip)) == tip


def _exact(t: str, fields: dict) -> bool:
    return t in fields["title"].lower() or t in fields["description"].lower() \
        or any(t in lab.lower() for lab in fields["labels"])


@settings(max_examples=600, deadline=None)
@given(title=texts, description=texts, labels=st.lists(texts, max_size=3), cut=st.tuples(st.integers(0, 400), st.integers(0, 20)),
       where=st.integers(0, 4), query=texts, upper=st.booleans())
def test_the_search_finds_what_the_fields_hold(title: str, description: str, labels: list[str],
                                               cut: tuple[int, int], where: int, query: str, upper: bool) -> None:
    fields = {"id": "abc", "title": title, "description": description, "priority": "normal",
              "labels": labels, "context": {"k": title}}
    # a piece of one field (so that most examples are found), or any text
    source = [title, description, *labels, query][min(where, 2 + len(labels))]
    q = source[cut[0]:cut[0] + cut[1]] if source is not query else query
    q = q.upper() if upper else q
    t = q.lower()
    want = _exact(t, fields)
    # the state's compact JSON and the JSON as ``issue show --json`` prints it
    for text in (compact_json(fields), jsontext.dumps(fields)):
        assert search_hit(t, text.encode("utf-8"), search_quick(t)) == want


@given(t=st.text(st.sampled_from(ODD + "ab"), min_size=1, max_size=6))
def test_texts_the_json_writes_otherwise_are_tested_field_by_field(t: str) -> None:
    fields = {"title": "x" + t + "y", "description": t, "labels": [t + "Σ"]}
    q = t.lower()
    assume(any(ch in q for ch in '"\\\u03c3\u03c2') or any(ch < " " for ch in q))
    assert not search_quick(q)
    assert search_hit(q, compact_json(fields).encode("utf-8"), False) == _exact(q, fields) is True


@given(st.datetimes(timezones=st.just(UTC)), st.booleans())
def test_a_time_reads_back_as_isoformat_writes_it(when: datetime, naive: bool) -> None:
    """The issue rows keep their times as ``ts_key`` integers; ``ts_text`` gives back the
    canonical text (``utc_ts``'s: UTC, microseconds, ``+00:00``) for every instant."""
    text = when.isoformat(timespec="microseconds")
    key = ts_key(text)
    assert isinstance(key, int) and ts_text(key) == text
    assert ts_key(text[:-6] if naive else text + " ") == (text[:-6] if naive else text + " ")  # other forms stay text
