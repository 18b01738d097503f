"""What every model of record shares: strict JSON types, and one way to word a validation error."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic import ValidationError as PydanticError

__all__ = ["Open", "PydanticError", "Shape", "describe", "first_problem", "problems"]


class Shape(BaseModel):
    """A JSON object of known keys: strict JSON types (``"5"`` is not ``5``), no other key."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class Open(BaseModel):
    """A JSON object that may carry keys this version does not know (kept in ``model_extra``)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True, defer_build=True)


def _msg(e: Any) -> str:
    # a field check's ValueError reads "Value error, <what>": the core words its checks without it
    return str(e["msg"]).removeprefix("Value error, ")


def problems(err: PydanticError) -> list[tuple[tuple[Any, ...], str]]:
    """Every problem as ``(loc, message)``, in the order pydantic found them (field order)."""
    return [(tuple(e["loc"]), _msg(e)) for e in err.errors()]


def first_problem(err: PydanticError) -> str:
    """``"labels.1: Input should be a valid string"``: the first problem, as the core words it."""
    loc, msg = problems(err)[0]
    return f"{'.'.join(str(x) for x in loc) or '(input)'}: {msg}"


#: what pydantic puts in a ``loc`` to say which member of a union failed (not a key of the input)
_UNION_TAG = re.compile(r"^(str|int|float|bool|list\[.*\]|dict\[.*\]|literal\[.*\]|function-.*|constrained-.*|"
                        r"[A-Z][A-Za-z]*)$")


def describe(err: PydanticError) -> str:
    """One line for a person: the most specific problem (a union's members each report one; the
    deepest is the member that matched the input's kind), where it is, and what is wrong. A message
    that names its field already (``title is required``) is not prefixed again."""
    best = max(err.errors(), key=lambda e: len(e["loc"]))
    loc = [str(x) for x in best["loc"] if not (isinstance(x, str) and _UNION_TAG.match(x))]
    msg = _msg(best)
    where = ".".join(loc)
    if not where or msg.startswith((loc[-1] + " ", where + " ")):
        return msg
    return f"{where}: {msg}"
