"""``jit serve``: the local web board, a thin adapter over the Tracker (docs/board.md).

Starlette and uvicorn come with the optional extra ``gitjit[board]``; ``require()`` says how to
install them when they are missing. The page, its script and its style are files of this package
(``static/``): nothing is fetched from the network.
"""

from __future__ import annotations

from ..core.errors import UsageError

__all__ = ["INSTALL_HINT", "require"]

INSTALL_HINT = "pip install 'gitjit[board]'"


def require() -> None:
    """Raise a UsageError naming the extra when Starlette or uvicorn is missing."""
    missing = []
    for mod in ("starlette", "uvicorn"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise UsageError(f"jit serve needs {' and '.join(missing)}, which are not installed",
                         hint=f"install the web board's extra: {INSTALL_HINT}")
