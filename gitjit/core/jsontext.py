"""JSON text exactly as ``json.dumps(obj, indent=2, ensure_ascii=False)`` writes it, several times faster.

The standard library has a C encoder only for compact output: with ``indent`` every value goes
through the pure-Python encoder's nested generators. The index stores each issue's JSON as the
CLI prints it (so the index reader can print it unchanged), and every write re-renders the
issue and its dependents: at 100,000 issues that rendering was the largest part of a claim's
index update. Here strings go through the same C string encoder json uses
(``json.encoder.encode_basestring``) and the structure is built with list appends.

Same output byte for byte (``tests/test_jsontext.py`` checks it against ``json.dumps`` with
hypothesis). Anything this does not know (a type ``json`` would reject, or one a ``default``
would have to convert) falls back to ``json.dumps`` itself, so errors are json's own too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import encode_basestring
from typing import Any

_float_repr = float.__repr__
_int_repr = int.__repr__
_INF = float("inf")


class _Unknown(Exception):
    pass


class Raw(str):
    """A JSON value already written as ``dumps`` writes it (an issue's JSON as the index stores
    it): ``dumps`` puts it in place as it is, indented to where it stands."""

    __slots__ = ()


class RawList(list):  # type: ignore[type-arg]
    """A list of JSON values already written (plain ``str``s, each as ``Raw`` would be): a listing's
    stored issue documents, put in place without wrapping 100,000 strings one by one."""

    __slots__ = ()


def _float(o: float) -> str:
    if o != o:  # noqa: PLR0124 - NaN, the one value unequal to itself (without importing math)
        return "NaN"
    if o == _INF:
        return "Infinity"
    if o == -_INF:
        return "-Infinity"
    return _float_repr(o)


def _key(k: Any) -> str:
    if isinstance(k, str):
        return encode_basestring(k)
    if k is True:
        return '"true"'
    if k is False:
        return '"false"'
    if k is None:
        return '"null"'
    if isinstance(k, int):
        return '"' + _int_repr(k) + '"'
    if isinstance(k, float):
        return '"' + _float(k) + '"'
    raise _Unknown


def _scalar(o: Any) -> str:
    if isinstance(o, str):
        return encode_basestring(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if isinstance(o, int):
        return _int_repr(o)
    if isinstance(o, float):
        return _float(o)
    raise _Unknown


def _enc(o: Any, out: list[str], nl: str) -> None:
    """Append the text of ``o`` to ``out``; ``nl`` is a newline plus the current indentation."""
    t = type(o)
    if t is str:
        out.append(encode_basestring(o))
    elif t is Raw:
        out.append(o.replace("\n", nl))
    elif t is dict or (t is not list and t is not tuple and isinstance(o, dict)):
        if not o:
            out.append("{}")
            return
        inner = nl + "  "
        first = True
        for k, v in o.items():
            out.append(("{" if first else ",") + inner + (encode_basestring(k) if type(k) is str else _key(k)) + ": ")
            first = False
            tv = type(v)
            if tv is str:
                out.append(encode_basestring(v))
            elif tv is Raw:
                out.append(v.replace("\n", inner))
            elif tv is dict or tv is list or tv is tuple or isinstance(v, (dict, list, tuple)):
                _enc(v, out, inner)
            else:
                out.append(_scalar(v))
        out.append(nl + "}")
    elif t is RawList:
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        out.append("[" + ("\n" + ",\n".join(o)).replace("\n", inner) + nl + "]")
    elif t is list or t is tuple or isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        inner = nl + "  "
        sep = "[" + inner
        for v in o:
            tv = type(v)
            if tv is str:
                out.append(sep + encode_basestring(v))
            elif tv is Raw:
                out.append(sep + v.replace("\n", inner))
            else:
                out.append(sep)
                if tv is dict or tv is list or tv is tuple or isinstance(v, (dict, list, tuple)):
                    _enc(v, out, inner)
                else:
                    out.append(_scalar(v))
            sep = "," + inner
        out.append(nl + "]")
    else:
        out.append(_scalar(o))


def dumps(obj: Any) -> str:
    """``json.dumps(obj, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    try:
        _enc(obj, out, "\n")
    except (_Unknown, RecursionError):
        return json.dumps(obj, indent=2, ensure_ascii=False)  # json's own result, or its own error
    return "".join(out)


def chunks(obj: Any, size: int = 1000) -> Iterator[str]:
    """``dumps(obj)`` in pieces: an object's ``RawList`` values ``size`` documents a piece, so that
    a listing of 100,000 issues (95 MB of JSON) is written as it is made, never held whole."""
    if type(obj) is not dict or not obj or not any(type(v) is RawList for v in obj.values()) \
            or not all(type(k) is str for k in obj):
        yield dumps(obj)
        return
    sep = "{"
    for k, v in obj.items():
        head = sep + "\n  " + encode_basestring(k) + ": "
        sep = ","
        if type(v) is not RawList or not v:
            yield head + dumps(v).replace("\n", "\n  ")
            continue
        yield head + "["
        for n in range(0, len(v), size):
            yield (("\n" if n == 0 else ",\n") + ",\n".join(v[n:n + size])).replace("\n", "\n    ")
        yield "\n  ]"
    yield "\n}"


def loads_many(texts: list[str]) -> list[Any]:
    """``[json.loads(t) for t in texts]`` in one call: each text must be one complete JSON value
    (the index's stored documents are). One parse of the joined array skips a Python call and a
    decoder set-up per text: 6,337 issue documents in ~50 ms instead of ~79 (a ready listing at
    100,000 issues)."""
    if not texts:
        return []
    out = json.loads("[" + ",".join(texts) + "]")
    if len(out) != len(texts):  # texts that are pieces of values ('[1', '2]'): read them one by one
        return [json.loads(t) for t in texts]
    return out  # type: ignore[no-any-return]
