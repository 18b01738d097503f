"""gitjit: a git-native Just-In-Time issue tracker for AI agents.

The library entry point is ``gitjit.app.tracker.Tracker``; the command line is ``gitjit.cli``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

__version__ = "0.1.0"
__all__ = ["__version__"]

#: True in jit's own command-line processes (set by their entry points): see gitjit/git/__init__.py
cli_process = False
#: called (once per wait) with a sentence naming the process this one waits for, when it waits for
#: another's long write to the index (gitjit/store/index.py); the CLI sets it to print to stderr
on_long_wait: Callable[[str], None] | None = None
