"""What a ``jit`` process writes to its stdout and stderr never drives the terminal.

Titles, descriptions, actors, reasons, context values and event fields are text that anyone who
can push to a shared repository chose. A control character in one of them, printed raw, is an
instruction to the terminal: ESC and CSI (``\\x1b[``, or the single C1 character ``\\x9b``) move
the cursor, recolour, retitle the window or rewrite what was printed; CR overwrites a line. Input
checks refuse them (``gitjit.core.model``), pulls refuse new events carrying them (``gitjit.store.
sync``), but data written before, or by hand, is still data: so the front door (``gitjit.cli.
main``, and ``jit-dispatch``'s) routes both streams through ``safe_streams``, which writes every C0
control but tab and newline, DEL and every C1 control as the six characters ``\\uXXXX``. JSON
output (``gitjit.cli.io.write_json``) takes a faster way to the same bytes: ``write_pieces``.

The same text is a valid JSON escape of the same character, and in JSON output a raw control
character can only stand inside a string (json escapes C0 itself; it leaves DEL and C1 raw), so
``--json`` output stays valid JSON holding the same values. Standard library only: the pre-dispatch
(gitjit/cli/light.py) must not import click.
"""

from __future__ import annotations

import re
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - every jit process imports this module: no typing at run time
    from collections.abc import Iterable
    from typing import Any

__all__ = ["UNSAFE", "SafeStream", "escape", "safe_streams", "write_pieces"]

#: C0 controls except tab and newline, DEL, C1 controls
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _sub(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def escape(text: str) -> str:
    """``text`` with each unsafe character written as ``\\uXXXX``."""
    return UNSAFE.sub(_sub, text) if UNSAFE.search(text) else text


class SafeStream:
    """A text stream that escapes what it is given (``escape``) and passes everything else
    (``flush``, ``isatty``, ``encoding``, ``buffer``...) to the stream it wraps."""

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: Any) -> int:
        if isinstance(text, str) and UNSAFE.search(text):
            text = UNSAFE.sub(_sub, text)
        return self._stream.write(text)  # type: ignore[no-any-return]

    def write_trusted(self, text: str) -> int:
        """Write ``text`` as it is: for gitjit's own colour codes around text already escaped
        (``gitjit.cli.io.paint``), never for text from elsewhere."""
        return self._stream.write(text)  # type: ignore[no-any-return]

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


#: every byte of UTF-8 text that is safe whatever stands around it: printable ASCII, tab, newline
_SAFE_BYTES = bytes(b for b in range(256) if b in (9, 10) or 0x20 <= b < 0x7F)


def write_pieces(stream: Any, pieces: Iterable[str]) -> None:
    """Write the texts ``pieces`` to ``stream`` as ``stream.write`` would, one after another, and
    flush. To a ``SafeStream`` over a UTF-8 text stream, each piece goes to the byte stream below
    once encoded, the search for unsafe characters done on those bytes (``bytes.translate``: 95 MB
    in ~20 ms; the regular expression took ~180): ``issue list --json`` at 100,000 issues writes
    95 MB. A piece holding anything but printable ASCII, tab and newline is escaped (``escape``)
    as the stream would have; one that UTF-8 cannot encode (a lone surrogate) goes through the
    stream itself."""
    raw: Any = stream._stream if isinstance(stream, SafeStream) else None
    buf = getattr(raw, "buffer", None)
    if buf is None or (getattr(raw, "encoding", None) or "").lower().replace("_", "-") not in ("utf-8", "utf8"):
        for p in pieces:
            stream.write(p)
        stream.flush()
        return
    raw.flush()  # what the text layer holds goes first
    for p in pieces:
        try:
            b = p.encode("utf-8")
        except UnicodeEncodeError:
            stream.write(p)
            raw.flush()
            continue
        if b.translate(None, _SAFE_BYTES):
            b = escape(p).encode("utf-8")
        buf.write(b)
    raw.flush()


class safe_streams:  # lower case: used as a function, ``with safe_streams(): ...``
    """``sys.stdout`` and ``sys.stderr`` wrapped in ``SafeStream`` for the block (once: nested
    uses keep the outer wrapping). A stream the block replaces (a closed pipe's stdout becomes
    ``/dev/null``) is left as the block set it. (A class, not ``contextlib``: one import less
    for every ``jit`` process.)"""

    def __enter__(self) -> None:
        self._wrapped = []
        for name in ("stdout", "stderr"):
            cur = getattr(sys, name)
            if cur is not None and not isinstance(cur, SafeStream):
                safe = SafeStream(cur)
                setattr(sys, name, safe)
                self._wrapped.append((name, cur, safe))

    def __exit__(self, *exc: object) -> None:
        for name, cur, safe in self._wrapped:
            if getattr(sys, name) is safe:
                setattr(sys, name, cur)
