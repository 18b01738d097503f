"""The command line's plumbing that needs no click: the context every command reads (``Env``),
printing (``echo``, ``emit``), error reporting, and turning argument words into library values.

Both ways into a command use it: the click commands (gitjit/cli/*.py) and the pre-dispatch of the
hot commands (gitjit/cli/light.py), which run the same actions (gitjit/cli/actions.py). The CLI is
the only layer that reads the environment, prints, or picks exit codes.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, TypeVar

from ..core.errors import GitjitError, UsageError
from .termsafe import escape, write_pieces

T = TypeVar("T")


def echo(text: str = "", *, err: bool = False, painted: bool = False) -> None:
    """``click.echo`` for text: one line, flushed (the order of stdout and stderr is kept).
    ``painted``: ``text`` came from ``paint``/``line`` (escaped, then coloured by us), so its colour
    codes pass the stream's escaping (gitjit/cli/termsafe.py). On stderr, an ``error:``,
    ``warning:`` or ``hint:`` line gets its word coloured when ``colour(err=True)``."""
    stream = sys.stderr if err else sys.stdout
    if err and not painted and text.startswith(_LEADS) and colour(err=True):
        lead, _, rest = text.partition(": ")
        text, painted = paint(lead + ":", _LEADS_SGR[lead]) + " " + escape(rest), True
    if painted:
        getattr(stream, "write_trusted", stream.write)(text + "\n")
    else:
        stream.write(text + "\n")
    stream.flush()


# ---------------------------------------------------------------------------------------- colour

_LEADS = ("error: ", "warning: ", "hint: ")
_LEADS_SGR = {"error": "1;31", "warning": "33", "hint": "36"}
#: SGR codes of what a person reads in colour (states, priorities); none for what stays plain
STYLES = {
    "open": "34", "ready": "32", "in_progress": "33", "done": "2", "rejected": "2;31", "archived": "2",
    "critical": "1;31", "high": "31", "normal": "", "low": "2",
    "passed": "32", "failed": "31", "pending": "33",
}


def colour(*, err: bool = False) -> bool:
    """Whether to colour what goes to stdout (``err``: stderr): never under ``--json`` or
    ``--no-color`` or with ``NO_COLOR`` set (any non-empty value, no-color.org); always with
    ``FORCE_COLOR`` set (but not to 0); otherwise when the stream is a terminal (not ``TERM=dumb``)."""
    e = env()
    if e.json or e.no_color or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR", "") not in ("", "0"):
        return True
    try:
        return bool((sys.stderr if err else sys.stdout).isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError, OSError):
        return False


def paint(text: str, sgr: str) -> str:
    """``text`` escaped (gitjit/cli/termsafe.py), then wrapped in the SGR ``sgr`` (print it with
    ``echo(..., painted=True)``)."""
    text = escape(text)
    return f"\x1b[{sgr}m{text}\x1b[0m" if sgr else text


def line(parts: list[tuple[str, str | None]], on: bool) -> str:
    """A line from ``(text, style)`` parts (style: a key of ``STYLES``, or None): with ``on``,
    every part escaped and the styled ones coloured (print with ``echo(..., painted=True)``);
    without, the plain text."""
    if not on:
        return "".join(t for t, _ in parts)
    out = []
    for text, style in parts:
        if style:
            word = text.rstrip(" ")  # the padding of a column stays outside the colour
            out.append(paint(word, STYLES.get(style, "")) + text[len(word):])
        else:
            out.append(escape(text))
    return "".join(out)


class Env:
    """What every command needs: where the repository is, who acts, and how to print."""

    def __init__(self) -> None:
        self.repo: str | None = os.environ.get("JIT_REPO") or None
        self.actor: str | None = os.environ.get("JIT_ACTOR") or None
        self.json = os.environ.get("JIT_JSON", "") not in ("", "0")  # same test as wants_json()
        self.quiet = os.environ.get("JIT_QUIET", "") not in ("", "0")
        self.no_color = False  # --no-color (NO_COLOR is read where colour is decided: ``colour``)
        self._tracker: Any = None
        self._warnings: list[str] = []

    @property
    def tracker(self) -> Any:
        """The repository's Tracker, first caught up with what a plain ``git fetch``/``git pull``
        brought since the last jit command (``Tracker.catch_up``: a stat when nothing was)."""
        if self._tracker is None:
            self.tracker_as_is.catch_up()
        return self._tracker

    @property
    def tracker_as_is(self) -> Any:
        """The Tracker without catching up: for ``jit doctor`` (it reports the store as it finds
        it) and ``jit pull/push/sync`` (they merge what was fetched themselves, and say so)."""
        if self._tracker is None:
            from ..app.tracker import Tracker

            # a command that waits for another process's rebuild of the index says why it is slow
            self._tracker = Tracker(self.repo, actor=self.actor,
                                    on_wait=lambda text: echo(f"jit: {text}", err=True))
        return self._tracker

    def read(self, answer: Callable[[Any], T], *, listing: bool = False) -> T:
        """Answer a read-only question (``answer`` is given a ``gitjit.core.reads.Reads``): from the
        index as it stands, without loading pygit2, when it can answer exactly as the Tracker would
        (gitjit/app/reader.py); from the Tracker otherwise. ``listing``: under ``--json``, issues'
        stored JSON may be printed as it is, unparsed."""
        if self._tracker is None:
            from ..app.reader import Stale, open_reader

            reader = open_reader(self.repo)
            if reader is not None:
                with reader:
                    if listing and self.json:
                        reader.raw_listings()
                    try:
                        out = answer(reader)
                    except Stale:
                        pass
                    else:
                        self._warnings = reader.warnings
                        return out
        return answer(self.tracker)

    def flush_warnings(self) -> None:
        for w in self._warnings:
            echo(f"warning: {w}", err=True)
        self._warnings = []
        if self._tracker is not None:
            for w in self._tracker.warnings:
                echo(f"warning: {w}", err=True)
            self._tracker.warnings.clear()


_current: ContextVar[Env] = ContextVar("gitjit_cli_env")


def env() -> Env:
    """The running command's context (``use_env`` set it; a fresh one from the environment if none)."""
    try:
        return _current.get()
    except LookupError:
        e = Env()
        _current.set(e)
        return e


def use_env(e: Env) -> Env:
    """Make ``e`` the running command's context."""
    _current.set(e)
    return e


def dump(obj: Any) -> str:
    from ..core.jsontext import dumps

    return dumps(obj)


def write_json(data: Any) -> None:
    """Print ``data`` as JSON (``dump``'s text and a newline) as it is made: a listing of 100,000
    issues is 95 MB, written a thousand issues at a time (``jsontext.chunks``) and escaped on its
    way out (``termsafe.write_pieces``), never held whole."""
    from ..core.jsontext import chunks

    def pieces() -> Any:
        yield from chunks(data)
        yield "\n"

    write_pieces(sys.stdout, pieces())


def emit(data: Any, human: Callable[[], None] | str | None = None, *,
         quiet: str | Callable[[], str] | None = None) -> None:
    """Print ``data`` as JSON under --json; else the quiet value under -q; else the human form."""
    e = env()
    e.flush_warnings()
    if e.json:
        write_json(data)
    elif e.quiet and quiet is not None:
        echo(quiet() if callable(quiet) else quiet)
    elif callable(human):
        human()
    elif human is not None:
        echo(human)


def ids(listing: dict[str, Any]) -> str:
    """The ``-q`` form of a listing: its issues' ids, one a line."""
    return "\n".join(i["id"] for i in listing["issues"])


def report_error(err: GitjitError, as_json: bool) -> int:
    # the message may quote input holding undecodable bytes (surrogates): escape them, never crash
    def safe(s: str) -> str:
        return s.encode("utf-8", "backslashreplace").decode("utf-8")

    if as_json:
        echo(safe(dump({"error": err.to_dict()})))
    else:
        echo(safe(f"error: {err.message}"), err=True)
        if err.hint:
            echo(safe(f"hint: {err.hint}"), err=True)
    return err.exit_code


def wants_json(argv: list[str]) -> bool:
    return "--json" in argv or os.environ.get("JIT_JSON", "") not in ("", "0")


def stdout_is_closed() -> bool:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, OSError):
        return True
    return False


# ---------------------------------------------------------------------------------- argument values

def parse_kv(values: Sequence[str], what: str = "--context") -> dict[str, Any]:
    """``k=v`` pairs; a value that parses as a JSON array, object, number, boolean or null is stored
    as that JSON value (``tags=["build","test"]``), anything else as the string."""
    out: dict[str, Any] = {}
    for item in values:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise UsageError(f"{what} {item!r} is not key=value", hint=f"e.g. {what} tags='[\"build\"]'")
        val: Any = v
        s = v.strip()
        if s[:1] in "[{" or s in ("true", "false", "null") or _is_number(s):
            try:
                val = json.loads(s)
            except (ValueError, RecursionError):
                val = v
        out[k.strip()] = val
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return bool(s) and s.lower() not in ("nan", "inf", "-inf", "infinity", "+inf")


def captured_create_output(words: list[str] | tuple[str, ...]) -> bool:
    """Whether ``words`` hold ``jit issue create``'s human output where an id belongs: a word
    "Created" followed by "issue:", or one word starting "Created issue:" (the quoted capture)."""
    for i, w in enumerate(words):
        t = w.strip().lower()
        if t.startswith("created issue:") or (t == "created" and i + 1 < len(words)
                                              and words[i + 1].strip().lower() == "issue:"):
            return True
    return False


def split_commas(values: Sequence[str]) -> list[str]:
    return [p.strip() for v in values for p in v.split(",") if p.strip()]


def report_crash(e: BaseException, as_json: bool) -> int:
    """The last line of defence of a ``jit`` process (and of ``jit-dispatch``): an interrupt exits 130, a closed stdout quietly 0, a GitjitError is
    reported as such, and anything else as an internal error, never a traceback (unless
    ``JIT_DEBUG`` asks for it)."""
    if isinstance(e, KeyboardInterrupt):
        return 130
    if isinstance(e, BrokenPipeError):
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout for the rest of the process
        except OSError:
            pass
        return 0
    if isinstance(e, GitjitError):
        return report_error(e, as_json)
    if os.environ.get("JIT_DEBUG"):
        raise e
    err = GitjitError(f"internal error: {type(e).__name__}: {e}",
                      hint="this is a bug in gitjit; rerun with JIT_DEBUG=1 for the traceback")
    return report_error(err, as_json)
