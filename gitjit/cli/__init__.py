"""The ``jit`` / ``git-jit`` command line: the one front door, a thin adapter over ``gitjit.api``.

``main(argv) -> int`` is the entry point of ``jit``, ``git-jit`` and ``python -m gitjit``. It
never raises: a GitjitError becomes its documented exit code and message (or ``{"error": ...}``
under ``--json``); anything unexpected is reported in one line (set ``JIT_DEBUG=1`` for the
traceback) with exit 1.

Every command is defined once, with click (gitjit/cli/root.py and the command modules). The hot
ones (the reads agents run most, the three writes every agent makes, the commit hooks) are
parsed first by the pre-dispatch (gitjit/cli/light.py) from a description generated from those
same definitions, so that they run without importing click; anything it does not parse exactly
as click would goes to click.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    # whatever the data holds, nothing printed drives the terminal (gitjit/cli/termsafe.py)
    from .termsafe import safe_streams

    with safe_streams():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from ..git import skip_ca_bundle

    skip_ca_bundle()  # pygit2 loads without its TLS bundle in jit's processes (gitjit/git/_pygit2.py)
    from .light import dispatch

    rv = dispatch(args)
    if rv is not None:
        return rv
    from .root import click_main

    return click_main(args)


def __getattr__(name: str) -> Any:
    """The click side's names (``cli``, ``LazyGroup``, ...), loaded on first use."""
    if name in ("cli", "LazyGroup", "ROOT_ENV", "click_main"):
        from . import root

        return getattr(root, name)
    raise AttributeError(f"module 'gitjit.cli' has no attribute {name!r}")
