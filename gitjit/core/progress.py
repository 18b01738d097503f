"""Progress of long work (an import, an export, an index rebuild, a doctor's check, a pull of
many refs): the library reports it through a ``Progress`` callback it is given, and never prints;
a front end decides whether and how to show it (the CLI: gitjit/cli/progress.py).

``progress(stage, done, total)``: ``stage`` names the step in a few words ("reading refs"),
``done`` counts what is finished, ``total`` is how many there are (None: unknown). It is called
for every item: throttling is the renderer's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

__all__ = ["Progress", "counted"]

T = TypeVar("T")

Progress = Callable[[str, int, "int | None"], None]


def counted(items: Iterable[T], progress: Progress | None, stage: str, total: int | None = None) -> Iterator[T]:
    """``items``, reporting to ``progress`` (if any) as each one is taken: 0 first, then 1 as the
    first is handed out, and so on (the last report is ``total`` as the last item is handed out)."""
    if progress is None:
        yield from items
        return
    progress(stage, 0, total)
    for n, x in enumerate(items, 1):
        progress(stage, n, total)
        yield x
