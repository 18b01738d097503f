"""The pre-dispatch: the hot commands parsed without importing click.

Importing click costs ~17 ms, two thirds of a whole ``jit query ready --json`` at 100 issues
(~25 ms of CPU with it answered from the index). So ``gitjit.cli.main`` first offers the words
to ``dispatch`` here, which parses them against ``SPEC`` (gitjit/cli/spec.py: the same commands'
parameters, generated from their click definitions) and runs the command's action
(gitjit/cli/actions.py), the very function its click command runs. It accepts only what it
parses exactly as click would; for anything else (help, a typo, a missing value, an option it
does not know, a value click would convert or refuse differently) it answers None before doing
anything, and click takes the words as given: its parsing and its messages are the reference.
"""

from __future__ import annotations

from typing import Any

from .spec import SPEC

__all__ = ["dispatch", "parse"]


class _Decline(Exception):
    """Let click parse these words."""


def parse(args: list[str]) -> tuple[dict[str, Any], str, dict[str, Any]] | None:
    """``(root settings, command, parameters)`` as click would parse ``args``, or None."""
    try:
        return _parse(args)
    except _Decline:
        return None


def _parse(args: list[str]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    if any("\ud800" <= ch <= "\udfff" for a in args for ch in a):
        raise _Decline  # bytes that are not UTF-8: the full CLI explains
    root: dict[str, Any] = {}
    i = _options(args, 0, SPEC["root"], root, stop_at_word=True)
    words: list[str] = []
    cmd = None
    while i < len(args):
        a = args[i]
        if a.startswith("-"):
            raise _Decline  # an option between group and command words: click's business
        words.append(SPEC["aliases"].get(a, a) if not words else a)
        i += 1
        key = " ".join(words)
        if key in SPEC["commands"]:
            cmd = SPEC["commands"][key]
            break
        if not any(k.startswith(key + " ") for k in SPEC["commands"]):
            raise _Decline
    if cmd is None:
        raise _Decline
    params: dict[str, Any] = {}
    _command(args[i:], cmd, params, root)
    return {**root}, key, params


def _options(args: list[str], i: int, specs: list[dict[str, Any]], out: dict[str, Any], *, stop_at_word: bool) -> int:
    """Root options up to the first word."""
    while i < len(args) and args[i].startswith("-") and args[i] != "-":
        j = _one_option(args, i, specs, out, {})
        if j is None:
            raise _Decline
        i = j
    return i


def _find(token: str, specs: list[dict[str, Any]]) -> tuple[dict[str, Any], str | None, bool] | None:
    """The option ``token`` names, its attached value (``--opt=v``, ``-ov``), and whether it is the
    secondary (``--no-x``) form."""
    name, eq, val = token.partition("=")
    for p in specs:
        if p["kind"] != "option":
            continue
        if name in p["opts"]:
            return p, (val if eq else None), False
        if name in p["secondary"] and not eq:
            return p, None, True
    if not token.startswith("--") and len(token) > 2:
        short = token[:2]
        for p in specs:
            if p["kind"] == "option" and short in p["opts"] and not p["flag"]:
                return p, token[2:], False
    return None


def _one_option(args: list[str], i: int, specs: list[dict[str, Any]], out: dict[str, Any],
                sets: dict[str, Any]) -> int | None:
    got = _find(args[i], specs)
    if got is None:
        return None
    p, val, secondary = got
    if p["flag"]:
        if val is not None:
            raise _Decline  # --flag=value: click's error
        value: Any = not secondary
    else:
        if p["nargs"] != 1:
            raise _Decline
        if val is None:
            if i + 1 >= len(args):
                raise _Decline  # "requires an argument"
            i += 1
            val = args[i]
        value = _convert(val, p["type"])
    if "sets" in p:
        if p["sets"] not in ("json", "quiet"):
            raise _Decline
        if value:
            sets[p["sets"]] = True
    elif p["multiple"]:
        out.setdefault(p["name"], []).append(value)
    else:
        out[p["name"]] = value  # the last of a repeated option wins, as with click
    return i + 1


def _convert(val: str, t: Any) -> Any:
    if t in ("str", "raw"):
        return val
    if isinstance(t, dict) and "choice" in t:
        for c in t["choice"]:
            if c == val or (not t["case_sensitive"] and c.lower() == val.lower()):
                return c
        raise _Decline
    if isinstance(t, dict) and ("int" in t or "float" in t):
        lo, hi = t["int"] if "int" in t else t["float"]
        try:
            n: Any = int(val.strip()) if "int" in t else float(val.strip())
        except ValueError:
            raise _Decline from None
        if (lo is not None and n < lo) or (hi is not None and n > hi):
            raise _Decline
        return n
    raise _Decline


def _command(args: list[str], cmd: dict[str, Any], params: dict[str, Any], root: dict[str, Any]) -> None:
    specs = cmd["params"]
    positional: list[str] = []
    sets: dict[str, Any] = {}
    i = 0
    rest_raw = False
    while i < len(args):
        a = args[i]
        if rest_raw:
            positional.append(a)
            i += 1
            continue
        if a == "--":
            rest_raw = True
            i += 1
            continue
        if a in SPEC["help_opts"]:
            raise _Decline
        if a.startswith("-") and a != "-":
            j = _one_option(args, i, specs, params, sets)
            if j is None:
                if not cmd["ignore_unknown_options"]:
                    raise _Decline  # "No such option"
                positional.append(a)
                i += 1
            else:
                i = j
            continue
        positional.append(a)
        i += 1
    arguments = [p for p in specs if p["kind"] == "argument"]
    for p in arguments:
        if p["nargs"] == -1:
            n_after = sum(1 for q in arguments[arguments.index(p) + 1:])
            take = positional[:len(positional) - n_after] if n_after else positional
            if p["required"] and not take:
                raise _Decline
            params[p["name"]] = tuple(_convert(v, p["type"]) for v in take)
            positional = positional[len(take):]
        elif p["nargs"] == 1:
            if not positional:
                if p["required"]:
                    raise _Decline  # "Missing argument"
                params[p["name"]] = None
                continue
            params[p["name"]] = _convert(positional.pop(0), p["type"])
        else:
            raise _Decline
    if positional:
        raise _Decline  # "Got unexpected extra argument"
    for p in specs:
        if p["kind"] != "option" or "sets" in p or p["name"] in params:
            if p["kind"] == "option" and p["multiple"] and p["name"] in params:
                params[p["name"]] = tuple(params[p["name"]])
            continue
        if p["required"] or p["default"] == "unknown":
            raise _Decline
        params[p["name"]] = () if p["multiple"] else p["default"]
    root.update({f"cmd_{k}": v for k, v in sets.items()})


def dispatch(args: list[str]) -> int | None:
    """Run ``args`` if they are a hot command click would parse the same way; None otherwise
    (nothing was done or printed)."""
    if args in ([o] for o in SPEC["version_opts"]):
        from .. import __version__
        from .io import echo

        echo(f"jit, version {__version__}")
        return 0
    got = parse(args)
    if got is None:
        return None
    root, key, params = got
    from ..core.errors import GitjitError
    from . import actions
    from .io import Env, report_crash, report_error, use_env, wants_json

    e = use_env(Env())
    for name, attr in SPEC["root_env"].items():
        if root.get(name):
            setattr(e, attr, root[name])
    if root.get("cmd_json"):
        e.json = True
    if root.get("cmd_quiet"):
        e.quiet = True
    cmd = SPEC["commands"][key]
    try:
        rv = getattr(actions, cmd["action"])(**cmd["fixed"], **params)
        return rv if isinstance(rv, int) else 0
    except GitjitError as err:
        return report_error(err, wants_json(args))
    except (KeyboardInterrupt, Exception) as err:  # noqa: BLE001 - reported as click's path reports it
        return report_crash(err, wants_json(args))
