"""Progress of long work on stderr, for a person at a terminal: one line, rewritten in place
(``\\r``), at most ten times a second, cleared when the work ends. Nothing when stderr is not a
terminal, nor under ``--json`` or ``-q``: a script's streams get only the result. The library
reports (gitjit/core/progress.py); this renders. Standard library only.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from .io import env
from .termsafe import escape

__all__ = ["Meter", "meter"]


class Meter:
    """A ``Progress`` callback drawing ``LABEL: STAGE DONE/TOTAL (PCT%)`` on ``stream``."""

    def __init__(self, label: str, stream: Any, *, every: float = 0.1) -> None:
        self.label, self.stream, self.every = label, stream, every
        self._last = 0.0
        self._width = 0
        self._pending: tuple[str, int, int | None] | None = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self._width and now - self._last < self.every and done != total:
            self._pending = (stage, done, total)
            return
        self._last = now
        self._pending = None
        pct = f" ({done * 100 // total}%)" if total else ""
        self._draw(escape(f"{self.label}: {stage} {done}/{total if total is not None else '?'}{pct}"))

    def _draw(self, text: str) -> None:
        pad = " " * max(0, self._width - len(text))
        self._width = len(text)
        write = getattr(self.stream, "write_trusted", self.stream.write)  # its \r is ours (termsafe)
        write("\r" + text + pad)
        self.stream.flush()

    def close(self) -> None:
        """Clear the line (the command's own output follows)."""
        if self._width:
            write = getattr(self.stream, "write_trusted", self.stream.write)
            write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0


class meter:  # lower case: used as a function, ``with meter("import") as progress: ...``
    """A ``Meter`` on stderr if a person is watching it (stderr a terminal, no ``--json``, no
    ``-q``), else None; cleared at the end of the block, even on an error."""

    def __init__(self, label: str) -> None:
        e = env()
        on = not e.json and not e.quiet
        try:
            on = on and sys.stderr.isatty()
        except (AttributeError, ValueError, OSError):
            on = False
        self.m = Meter(label, sys.stderr) if on else None

    def __enter__(self) -> Meter | None:
        return self.m

    def __exit__(self, *exc: object) -> None:
        if self.m is not None:
            self.m.close()
