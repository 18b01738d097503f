"""Issues, gates and events on refs/jit/*, sync with remotes, and the index.

The names below are loaded on first use (PEP 562), so that ``gitjit.store.index`` can be
imported by the fast read path without pulling in pygit2 and the model through ``entities``."""

from typing import Any

__all__ = ["EntityStore", "Loaded", "ISSUES", "GATES", "DOC", "retrying"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import entities

        return getattr(entities, name)
    raise AttributeError(f"module 'gitjit.store' has no attribute {name!r}")
