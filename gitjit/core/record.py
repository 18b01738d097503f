"""``Record``: the base of gitjit's model classes (``gitjit.core.model``), without pydantic.

Why: importing pydantic and building the models cost ~130 ms of every write command's
~290 ms process. ``Record`` keeps the subset of pydantic's BaseModel API gitjit uses:
``Cls(**kw)``, ``model_validate``, ``model_validate_json``, ``model_dump(mode, by_alias,
exclude_none)``, ``model_dump_json``, ``model_copy(update, deep)``, ``model_extra``, ``==``,
``repr``. Pure: no I/O.

Fields are annotations (strings, thanks to ``from __future__ import annotations``) parsed once
at class creation: ``str``, ``int``, ``bool``, ``Any``, ``list[T]``, ``dict[str, T]``, enums,
other records, each optionally ``| None``. Defaults are values or ``Field(default_factory=...)``
(called per instance: a mutable default is never shared); ``Field(alias=...)`` names the key a
field is read from first (its own name is accepted when the alias is absent) and written
under with ``by_alias=True``.

Validation (constructor and ``model_validate``) is STRICT on JSON types, because events are
written back byte for byte and a coerced value would silently change a stored document: a str
field takes a str (a str Enum member becomes its plain value), an int field an int (not a
bool, not "5", not 5.0), a bool field a bool, a list a list, a dict a dict with str keys.
Every problem is reported in one ``ModelError`` (a ``ValueError``). ``model_copy`` does NOT
validate, as in pydantic.

Frozen records (``class X(Record, frozen=True)``) keep their fields in ``__dict__``, filled in
one step (fast to build) and refuse assignment; mutable ones use ``__slots__`` (fast to
assign, and a misspelt attribute is refused). ``extra="allow"`` keeps unknown input keys
(``model_extra``, also readable as attributes); the default ignores them.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Callable, ClassVar

if TYPE_CHECKING:
    from typing import Self

try:
    from typing import dataclass_transform
except ImportError:  # Python 3.10: only type checkers use it
    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:  # type: ignore[no-redef,misc]
        return lambda c: c

__all__ = ["Record", "ModelError", "Field", "field_check"]


class ModelError(ValueError):
    """A record's input broke its schema. ``errors()`` lists ``{"loc": (field, ...), "msg", "type"}``
    in field order, the shape of pydantic's ``ValidationError.errors()``."""

    def __init__(self, title: str, errors: list[dict[str, Any]]) -> None:
        self.title = title
        self._errors = errors
        lines = [f"{len(errors)} validation error{'s' if len(errors) != 1 else ''} for {title}"]
        for e in errors:
            lines += [".".join(str(x) for x in e["loc"]) or "(input)", f"  {e['msg']}"]
        super().__init__("\n".join(lines))

    def errors(self) -> list[dict[str, Any]]:
        return [dict(e) for e in self._errors]

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.title, self._errors))


class _Bad(Exception):
    """Internal: a value failed a field's converter; ``errs`` is a list of (loc suffix, msg, type)."""

    def __init__(self, msg: str = "", typ: str = "value_error",
                 errs: list[tuple[tuple[Any, ...], str, str]] | None = None) -> None:
        super().__init__(msg)
        self.errs = errs if errs is not None else [((), msg, typ)]


_REQUIRED: Any = type("_Required", (), {"__repr__": lambda self: "<required>"})()
_INVALID: Any = type("_Invalid", (), {"__repr__": lambda self: "<invalid>"})()


class _FieldInfo:
    __slots__ = ("default", "default_factory", "alias")

    def __init__(self, default: Any, default_factory: Callable[[], Any] | None, alias: str | None) -> None:
        self.default, self.default_factory, self.alias = default, default_factory, alias


def Field(default: Any = _REQUIRED, *, default_factory: Callable[[], Any] | None = None,  # noqa: N802
          alias: str | None = None) -> Any:
    """A field's default, default factory (called per instance: never shared) or JSON alias."""
    return _FieldInfo(default, default_factory, alias)


class _Check:
    __slots__ = ("names", "fn")

    def __init__(self, names: tuple[str, ...], fn: Callable[[Any], Any]) -> None:
        self.names, self.fn = names, fn


def field_check(*names: str) -> Callable[[Any], Any]:
    """Decorate a static method ``(value) -> value`` run after the type check of ``names``;
    a ``ValueError`` it raises becomes that field's ``ModelError`` message."""
    def deco(fn: Any) -> Any:
        return _Check(names, fn.__func__ if isinstance(fn, staticmethod) else fn)
    return deco


_str_only = {str}.issuperset  # _str_only(map(type, xs)): every x is exactly a str


def _conv_str(v: Any) -> str:
    if isinstance(v, str):
        return str.__str__(v)  # a str Enum member -> its plain value, as pydantic did
    raise _Bad("Input should be a valid string", "string_type")


def _conv_int(v: Any) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return int(v)
    raise _Bad("Input should be a valid integer", "int_type")


def _conv_bool(v: Any) -> bool:
    if v is True or v is False:
        return v  # type: ignore[no-any-return]
    raise _Bad("Input should be a valid boolean", "bool_type")


def _conv_any(v: Any) -> Any:
    return v


# ``kind`` tells the code generator (``_fast``) which inline test accepts a value as it is
for _c, _k in ((_conv_str, "str"), (_conv_int, "int"), (_conv_bool, "bool"), (_conv_any, "any")):
    _c.kind = (_k,)  # type: ignore[union-attr]
del _c, _k


def _list_of(conv: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    def conv_list(v: Any) -> list[Any]:
        if not isinstance(v, list):
            raise _Bad("Input should be a valid list", "list_type")
        if conv is _conv_str and _str_only(map(type, v)):
            return v[:]  # a copy: the caller's list is never shared
        out, errs = [], []
        for i, x in enumerate(v):
            try:
                out.append(conv(x))
            except _Bad as b:
                errs += [((i, *loc), m, t) for loc, m, t in b.errs]
        if errs:
            raise _Bad(errs=errs)
        return out
    conv_list.kind = ("list", conv)  # type: ignore[attr-defined]
    return conv_list


def _dict_of(conv: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    def conv_dict(v: Any) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise _Bad("Input should be a valid dictionary", "dict_type")
        if _str_only(map(type, v)) and (
                conv is _conv_any or (conv is _conv_str and _str_only(map(type, v.values())))):
            return v.copy()
        out, errs = {}, []
        for k, x in v.items():
            if not isinstance(k, str):
                errs.append(((k, "[key]"), "Input should be a valid string", "string_type"))
                continue
            try:
                out[str.__str__(k)] = conv(x)
            except _Bad as b:
                errs += [((k, *loc), m, t) for loc, m, t in b.errs]
        if errs:
            raise _Bad(errs=errs)
        return out
    conv_dict.kind = ("dict", conv)  # type: ignore[attr-defined]
    return conv_dict


def _enum_of(cls: type[Enum]) -> Callable[[Any], Enum]:
    by_value = {m.value: m for m in cls}
    values = [repr(v) for v in by_value]
    msg = "Input should be " + (f"{', '.join(values[:-1])} or {values[-1]}" if len(values) > 1 else values[0])

    def conv_enum(v: Any) -> Enum:
        if type(v) is cls:
            return v  # type: ignore[no-any-return]
        if isinstance(v, str) and v in by_value:
            return by_value[v]
        raise _Bad(msg, "enum")
    conv_enum.kind = ("enum", cls, by_value)  # type: ignore[attr-defined]
    return conv_enum


def _record_of(cls: type[Record]) -> Callable[[Any], Record]:
    def conv_record(v: Any) -> Record:
        if isinstance(v, cls):
            return v
        if not isinstance(v, dict):
            raise _Bad(f"Input should be a valid dictionary or instance of {cls.__name__}", "model_type")
        try:
            return cls.model_validate(v)
        except ModelError as e:
            raise _Bad(errs=[(x["loc"], x["msg"], x["type"]) for x in e._errors]) from None
    conv_record.kind = ("record", cls)  # type: ignore[attr-defined]
    return conv_record


_SIMPLE = {"str": _conv_str, "int": _conv_int, "bool": _conv_bool, "Any": _conv_any}


def _converter(t: str, scope: dict[str, Any]) -> Callable[[Any], Any]:
    """The converter for one annotation (without ``| None``), e.g. ``dict[str, GateState]``."""
    t = t.strip()
    if t in _SIMPLE:
        return _SIMPLE[t]
    if t.startswith("list[") and t.endswith("]"):
        return _list_of(_converter(t[5:-1], scope))
    if t.startswith("dict[") and t.endswith("]"):
        key, _, value = t[5:-1].partition(",")
        if key.strip() == "str":
            return _dict_of(_converter(value, scope))
    obj = scope.get(t)
    if isinstance(obj, type) and issubclass(obj, Enum):
        return _enum_of(obj)
    if isinstance(obj, type) and issubclass(obj, Record):
        return _record_of(obj)
    raise TypeError(f"unsupported field type {t!r}")


def _fast(conv: Any, i: int) -> tuple[str, str, dict[str, Any], bool]:
    """Inline code for field ``i``: (test on ``x`` that accepts it, the value to store, names the
    code needs, whether computing the value may raise ModelError). A value failing the test (or
    raising) goes through the converter, which converts or reports it: the inline code only has
    to be exact, never complete."""
    kind, *arg = conv.kind
    if kind in ("str", "int"):
        return f"type(x) is {kind}", "x", {}, False
    if kind == "bool":
        return "(x is True or x is False)", "x", {}, False
    if kind == "any":
        return "x is not _M", "x", {}, False
    if kind == "enum":  # a member, or the value as a str (from JSON)
        return (f"(type(x) is _E{i} or (type(x) is str and type(x := _V{i}.get(x, x)) is _E{i}))", "x",
                {f"_E{i}": arg[0], f"_V{i}": arg[1]}, False)
    if kind == "record":
        return "type(x) is dict", f"_V{i}(x)", {f"_V{i}": arg[0].model_validate}, True
    inner, *iarg = arg[0].kind
    test = f"(type(x) is {kind} and "
    if kind == "list" and inner == "str":
        return test + "_str_only(map(type, x)))", "x[:]", {}, False
    if kind == "dict" and inner in ("any", "str"):
        vals = " and _str_only(map(type, x.values()))" if inner == "str" else ""
        return test + f"_str_only(map(type, x)){vals})", "x.copy()", {}, False
    if inner == "record":  # nested records (from JSON: dicts), e.g. IssueState.gates
        names = {f"_R{i}": iarg[0], f"_V{i}": iarg[0].model_validate}
        if kind == "list":
            return test[:-5] + ")", f"[v if type(v) is _R{i} else _V{i}(v) for v in x]", names, True
        return (test + "_str_only(map(type, x)))",
                f"{{k: v if type(v) is _R{i} else _V{i}(v) for k, v in x.items()}}", names, True)
    return test + "not x)", "[]" if kind == "list" else "{}", {}, False


class _Spec:
    """What a record class knows about its fields (one per class, built at class creation)."""

    __slots__ = ("title", "frozen", "keep_extra", "names", "keys", "aliases", "plain", "nested", "fieldset",
                 "getter", "as_dict", "build", "fill")

    def __init__(self, title: str, frozen: bool, keep_extra: bool, fields: list[tuple[str, str, _FieldInfo]],
                 checks: dict[str, Callable[[Any], Any]], scope: dict[str, Any]) -> None:
        self.title, self.frozen, self.keep_extra = title, frozen, keep_extra
        self.names = tuple(n for n, _, _ in fields)
        self.keys = tuple(f.alias or n for n, _, f in fields)  # names under by_alias
        self.aliases = {n: f.alias for n, _, f in fields if f.alias}
        self.fieldset = frozenset(self.names)
        self.getter: Callable[[Any], tuple[Any, ...]] = (
            attrgetter(*self.names) if len(self.names) > 1 else (lambda o: (getattr(o, self.names[0]),)))
        convs = []
        for name, ann, f in fields:
            optional = ann.replace(" ", "").endswith("|None")
            convs.append((_converter(ann.rsplit("|", 1)[0] if optional else ann, scope), optional))
            if f.default_factory is None and isinstance(f.default, (list, dict, set)):
                raise TypeError(f"{title}.{name}: a mutable default needs Field(default_factory=...)")
        # containers, enums and nested records are converted by model_dump; scalars as they are
        kinds = [getattr(c, "kind") for c, _ in convs]
        self.plain = tuple(n for n, k in zip(self.names, kinds) if k[0] not in ("str", "int", "bool"))
        # fields holding records, for model_dump_json: (name, "record" | "list" | "dict")
        self.nested = tuple((n, k[0]) for n, k in zip(self.names, kinds)
                            if k[0] == "record" or (k[0] in ("list", "dict") and k[1].kind[0] == "record"))
        if frozen:
            self.build = self._sparse(fields, convs, checks)
            self.fill, self.as_dict = _fill_frozen, _dict_frozen
        else:
            self.build, self.fill, self.as_dict = self._generate(fields, convs, checks)

    def _sparse(self, fields: list[tuple[str, str, _FieldInfo]], convs: list[tuple[Any, bool]],
                checks: dict[str, Callable[[Any], Any]]) -> Callable[[Any, dict[str, Any]], None]:
        """``build`` for frozen records (events): start from a copy of the defaults and visit only
        the keys present. An event sets ~10 of its 29 fields; the dense code of ``_generate``
        would look every field up and build a 29-key dict literal, which is slower."""
        defaults: dict[str, Any] = {}
        fast: dict[str, type] = {}     # key -> the exact type stored as it is (str, int)
        specs: dict[str, tuple[int, str, Any, bool, str | None]] = {}
        required, checked = [], []
        for i, ((name, _, f), (conv, optional)) in enumerate(zip(fields, convs)):
            if f.default_factory is not None:
                raise TypeError(f"{self.title}.{name}: frozen records take no default_factory")
            defaults[name] = f.default
            if f.default is _REQUIRED:
                required.append((i, name, f.alias or name))
            if name in checks:
                checked.append((i, name, f.alias or name, checks[name]))
            if f.alias:  # the alias first; the field's own name only when the alias is absent
                specs[f.alias] = (i, name, conv, optional, None)
            elif conv.kind[0] in ("str", "int"):
                fast[name] = str if conv.kind[0] == "str" else int
            specs[name] = (i, name, conv, optional, f.alias)
        title, keep_extra, setattr_ = self.title, self.keep_extra, object.__setattr__

        def build(o: Any, data: dict[str, Any]) -> None:
            vals = defaults.copy()
            slow = None
            get = fast.get
            for k, x in data.items():
                if get(k) is type(x):  # the common case: an exact str or int
                    vals[k] = x
                elif slow is None:
                    slow = [k]
                else:
                    slow.append(k)
            extra = errs = None
            for k in slow or ():
                x = data[k]
                s = specs.get(k)
                # unknown, or a field's own name while its alias is present too
                if s is None or (s[4] is not None and s[4] in data):
                    if keep_extra:
                        extra = {k: x} if extra is None else {**extra, k: x}
                    continue
                i, name, conv, optional, _ = s
                if x is None and optional:
                    vals[name] = None
                    continue
                try:
                    vals[name] = conv(x)
                except _Bad as b:
                    errs = (errs or []) + [(i, (k, *loc), m, t) for loc, m, t in b.errs]
                    vals[name] = _INVALID  # reported: neither checked nor "Field required"
            for i, name, key, check in checked:
                x = vals[name]
                if x is not None and x is not _INVALID and x is not _REQUIRED:
                    try:
                        vals[name] = check(x)
                    except (ValueError, AssertionError) as e:
                        errs = (errs or []) + [(i, (key,), str(e), "value_error")]
            for i, name, key in required:
                if vals[name] is _REQUIRED:
                    errs = (errs or []) + [(i, (key,), "Field required", "missing")]
            if errs:
                errs.sort(key=lambda e: e[0])
                raise ModelError(title, [{"loc": loc, "msg": m, "type": t} for _, loc, m, t in errs])
            setattr_(o, "__dict__", vals)
            setattr_(o, "_extra", extra)
        return build

    def _generate(self, fields: list[tuple[str, str, _FieldInfo]], convs: list[tuple[Any, bool]],
                  checks: dict[str, Callable[[Any], Any]]) -> tuple[Any, Any, Any]:
        """For mutable (slotted) records: generate ``build(o, data)`` (validate a dict into ``o``)
        and ``fill(o, values, extra)`` (no validation), as dataclasses does: one inline test a
        field, the converters only for values that need converting or reporting. Several times
        faster than a loop over field specs."""
        env: dict[str, Any] = {"_M": _REQUIRED, "_str_only": _str_only, "ModelError": ModelError}
        slow_specs = []
        src = ["def build(o, data):", "    g = data.get", "    errs = []", "    shadow = False"]
        for i, ((name, _, f), (conv, optional)) in enumerate(zip(fields, convs)):
            key = f.alias or name
            required = f.default is _REQUIRED and f.default_factory is None
            check = checks.get(name)
            slow_specs.append((key, conv, optional, check, required))
            if required or f.default_factory is not None:
                missing = "_M"
            elif f.default is None or type(f.default) in (str, int, bool):
                missing = repr(f.default)  # a constant in the generated code
            else:
                missing = f"_D{i}"
                env[missing] = f.default
            if f.alias:  # the alias first; the field's own name only when the alias is absent
                src += [f"    x = g({f.alias!r}, _M)", "    if x is _M:",
                        f"        x = g({name!r}, {missing})",
                        f"    elif {name!r} in data:", "        shadow = True"]
            else:
                src.append(f"    x = g({name!r}, {missing})")
            test, accept, names, guarded = _fast(conv, i)
            env.update(names)
            first = []  # (condition, value) tried before the type test
            if f.default_factory is not None:
                fac = f.default_factory
                env[f"_F{i}"] = fac
                first.append(("x is _M", "[]" if fac is list else "{}" if fac is dict else f"_F{i}()"))
            if optional:
                first.append(("x is None", "None"))
            if not guarded and check is None:  # one expression: less code to compile at import
                value = f"{accept} if {test} else _slow({i}, x, errs)"
                for cond, val in reversed(first):
                    value = f"{val} if {cond} else ({value})"
                src.append(f"    f{i} = {value}")
                continue
            branch = "if"
            for cond, val in first:
                src += [f"    {branch} {cond}:", f"        f{i} = {val}"]
                branch = "elif"
            src += [f"    {branch} {test}:"]
            if guarded:  # a nested record failed: the converter reports where
                src += ["        try:", f"            f{i} = {accept}", "        except ModelError:",
                        f"            f{i} = _slow({i}, x, errs)"]
            else:
                src += [f"        f{i} = {accept}"]
            if check is not None:
                env[f"_C{i}"] = check
                src += ["        try:", f"            f{i} = _C{i}(f{i})",
                        "        except (ValueError, AssertionError) as e:",
                        f"            f{i} = _fail({i}, e, errs)"]
            src += ["    else:", f"        f{i} = _slow({i}, x, errs)"]
        keys = frozenset(self.keys) | self.fieldset
        shadowed = {n: f.alias for n, _, f in fields if f.alias}
        if self.keep_extra:
            env["_KEYS"] = keys
            env["_extras"] = lambda data: {k: v for k, v in data.items() if k not in keys
                                           or (k in shadowed and shadowed[k] in data)} or None
            src += ["    extra = _extras(data) if shadow or not (data.keys() <= _KEYS) else None"]
        else:
            src += ["    extra = None"]
        src += ["    if errs:", "        _raise(errs)"]
        src += [f"    o.{n} = f{i}" for i, n in enumerate(self.names)] + ["    o._extra = extra"]
        # fill: from complete, already valid values (model_copy, unpickling); as_dict: the fields in order
        src += ["", "def fill(o, v, extra):", *(f"    o.{n} = v[{n!r}]" for n in self.names),
                "    o._extra = extra"]
        src += ["", "def as_dict(o):", "    return {" + ", ".join(f"{n!r}: o.{n}" for n in self.names) + "}"]

        def slow(i: int, x: Any, errs: list[Any]) -> Any:
            key, conv, optional, check, required = slow_specs[i]
            if x is _REQUIRED:
                errs.append((i, (key,), "Field required", "missing"))
                return None
            try:
                x = conv(x)
            except _Bad as b:
                errs += [(i, (key, *loc), m, t) for loc, m, t in b.errs]
                return None
            if check is not None:
                try:
                    return check(x)
                except (ValueError, AssertionError) as e:
                    return fail(i, e, errs)
            return x

        def fail(i: int, e: Exception, errs: list[Any]) -> None:
            errs.append((i, (slow_specs[i][0],), str(e), "value_error"))

        def raise_(errs: list[Any]) -> None:
            errs.sort(key=lambda e: e[0])
            raise ModelError(self.title, [{"loc": loc, "msg": m, "type": t} for _, loc, m, t in errs])

        env.update(_slow=slow, _fail=fail, _raise=raise_)
        exec("\n".join(src), env)  # noqa: S102 - source built above from identifiers and repr()s only
        return env["build"], env["fill"], env["as_dict"]


def _fill_frozen(o: Any, values: dict[str, Any], extra: dict[str, Any] | None) -> None:
    object.__setattr__(o, "__dict__", values)
    object.__setattr__(o, "_extra", extra)


def _dict_frozen(o: Any) -> dict[str, Any]:
    return o.__dict__.copy()  # type: ignore[no-any-return]  # built in declaration order, never changed


def _plain(v: Any, json_mode: bool) -> Any:
    """A value as model_dump returns it: containers copied, records as dicts, enums as values in JSON mode."""
    t = type(v)
    if t is dict:
        return {k: _plain(x, json_mode) for k, x in v.items()}
    if t is list or t is tuple:
        return [_plain(x, json_mode) for x in v]
    if isinstance(v, Record):
        return v.model_dump(mode="json" if json_mode else "python")
    if json_mode and isinstance(v, Enum):
        return v.value
    return v


def _json_value(v: Any) -> Any:
    return v._json_dict() if isinstance(v, Record) else v


def _json_default(o: Any) -> Any:
    if isinstance(o, Record):
        return o._json_dict()
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


#: compact separators and raw UTF-8, like pydantic's model_dump_json; str Enums encode as their value
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _frozen_setattr(self: Any, name: str, value: Any) -> None:
    raise ModelError(type(self).__name__, [{"loc": (name,), "msg": "Instance is frozen",
                                            "type": "frozen_instance"}])


def _frozen_delattr(self: Any, name: str) -> None:
    _frozen_setattr(self, name, None)


def _frozen_hash(self: Any) -> int:
    return hash((type(self), self._rec.getter(self)))  # TypeError when a field holds a list, as pydantic


def _extra_getattr(self: Any, name: str) -> Any:
    """Unknown fields kept from the input read as attributes too (``e.closes``)."""
    x = object.__getattribute__(self, "_extra") if name != "_extra" else None
    if x and name in x:
        return x[name]
    raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


def _restore(cls: type[Record], values: tuple[Any, ...], extra: dict[str, Any] | None) -> Record:
    o = object.__new__(cls)
    cls._rec.fill(o, dict(zip(cls._rec.names, values)), extra)
    return o


@dataclass_transform(kw_only_default=True, field_specifiers=(Field,))
class _RecordMeta(type):
    """Builds a record class from its annotations: ``class X(Record, frozen=True, extra="allow")``."""

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, Any],
                frozen: bool = False, extra: str = "ignore") -> _RecordMeta:
        if not bases:  # Record itself
            return super().__new__(mcls, name, bases, ns)
        if bases != (Record,) or extra not in ("ignore", "allow"):
            raise TypeError("a record derives from Record only; extra is 'ignore' or 'allow'")
        ann = ns.get("__annotations__")
        if ann is None and "__annotate__" in ns:  # Python 3.14+: annotations are evaluated lazily
            ann = ns["__annotate__"](1)
        fields, checks = [], {}
        for fname, tp in (ann or {}).items():
            if str(tp).startswith("ClassVar"):
                continue
            default = ns.pop(fname, _REQUIRED)
            fields.append((fname, str(tp), default if isinstance(default, _FieldInfo) else
                           _FieldInfo(default, None, None)))
        for key, val in list(ns.items()):
            if isinstance(val, _Check):
                checks.update(dict.fromkeys(val.names, val.fn))
                ns[key] = staticmethod(val.fn)
        ns["__slots__"] = ("__dict__", "_extra") if frozen else (*(n for n, _, _ in fields), "_extra")
        if frozen:
            ns.update(__setattr__=_frozen_setattr, __delattr__=_frozen_delattr, __hash__=_frozen_hash)
        if extra == "allow":
            ns["__getattr__"] = _extra_getattr
        cls = super().__new__(mcls, name, bases, ns)
        scope = vars(sys.modules[ns["__module__"]])
        cls._rec = _Spec(name, frozen, extra == "allow", fields, checks, scope)  # type: ignore[attr-defined]
        return cls


class Record(metaclass=_RecordMeta):
    """Base of the model classes; see the module docstring for the contract."""

    __slots__ = ()
    _rec: ClassVar[_Spec]
    if TYPE_CHECKING:  # not a field: the keys kept by extra="allow" (a plain annotation would be one)
        @property
        def _extra(self) -> dict[str, Any] | None: ...

    def __init__(self, /, **data: Any) -> None:
        self._rec.build(self, data)

    @classmethod
    def model_validate(cls, obj: Any) -> Self:
        """A record from a dict (an instance of the class is returned as it is). Raises ModelError."""
        if type(obj) is not dict:
            if isinstance(obj, cls):
                return obj
            if not isinstance(obj, dict):
                msg = f"Input should be a valid dictionary or instance of {cls.__name__}"
                raise ModelError(cls.__name__, [{"loc": (), "msg": msg, "type": "model_type"}])
        o = object.__new__(cls)
        cls._rec.build(o, obj)
        return o

    @classmethod
    def model_validate_json(cls, data: str | bytes | bytearray) -> Self:
        """``model_validate(json.loads(data))``; malformed JSON is a ModelError too."""
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as e:
            raise ModelError(cls.__name__, [{"loc": (), "msg": f"Invalid JSON: {e}",
                                             "type": "json_invalid"}]) from None
        return cls.model_validate(obj)

    @property
    def model_extra(self) -> dict[str, Any] | None:
        """Keys the class does not declare, kept from the input (``{}`` if none); None unless
        the class keeps extras (``extra="allow"``)."""
        if not self._rec.keep_extra:
            return None
        if self._extra is None:
            object.__setattr__(self, "_extra", {})  # the live dict, as pydantic's
        return self._extra

    def model_dump(self, *, mode: str = "python", by_alias: bool = False,
                   exclude_none: bool = False) -> dict[str, Any]:
        """Fields in declaration order, then extras. Containers are copied, nested records become
        dicts; ``mode="json"`` also turns enums into their values."""
        if mode not in ("python", "json"):
            raise ValueError(f"mode must be 'python' or 'json', not {mode!r}")
        jm = mode == "json"
        rec = self._rec
        if exclude_none:
            out = {k: v for k, v in rec.as_dict(self).items() if v is not None}
        else:
            out = rec.as_dict(self)
        for name in rec.plain:
            v = out.get(name)
            if v is not None:
                out[name] = _plain(v, jm)
        if by_alias and rec.aliases and not rec.aliases.keys().isdisjoint(out):
            out = {rec.aliases.get(k, k): v for k, v in out.items()}
        for k, v in (self._extra or {}).items():
            if v is not None or not exclude_none:
                out[k] = _plain(v, jm)
        return out

    def _json_dict(self) -> dict[str, Any]:
        """The fields for the JSON encoder: nested records as dicts, the rest as it is."""
        rec = self._rec
        d = rec.as_dict(self)
        for name, how in rec.nested:
            v = d[name]
            if v:
                d[name] = (_json_value(v) if how == "record" else [_json_value(x) for x in v] if how == "list"
                           else {k: _json_value(x) for k, x in v.items()})
        if self._extra:
            d.update(self._extra)
        return d

    def model_dump_json(self, *, by_alias: bool = False, exclude_none: bool = False) -> str:
        """Compact JSON (``{"a":1}``), UTF-8 kept as is, keys in declaration order then extras."""
        if by_alias or exclude_none:
            return _ENCODER.encode(self.model_dump(mode="json", by_alias=by_alias, exclude_none=exclude_none))
        return _ENCODER.encode(self._json_dict())

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (shallow unless ``deep``) with ``update`` applied by field name, NOT validated
        (as in pydantic); unknown names become extras where extras are kept."""
        rec = self._rec
        vals = rec.as_dict(self)
        extra = dict(self._extra) if self._extra is not None else None
        if deep:
            import copy

            vals, extra = copy.deepcopy((vals, extra))
        for k, v in (update or {}).items():
            if k in rec.fieldset:
                vals[k] = v
            elif rec.keep_extra:
                extra = {**(extra or {}), k: v}
            else:
                raise ValueError(f"{rec.title} has no field {k!r}")
        o = object.__new__(type(self))
        rec.fill(o, vals, extra)
        return o

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        if self._rec.frozen:
            if self.__dict__ != other.__dict__:
                return False
        elif self._rec.getter(self) != self._rec.getter(other):
            return False
        return (self._extra or {}) == (other._extra or {})  # type: ignore[attr-defined]

    # mutable records are unhashable; frozen ones hash their fields (``_frozen_hash``)
    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self._rec.getter(self), self._extra))

    def _items(self) -> list[tuple[str, Any]]:
        return [*self._rec.as_dict(self).items(), *(self._extra or {}).items()]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._items())})"

    def __str__(self) -> str:
        return " ".join(f"{k}={v!r}" for k, v in self._items())
