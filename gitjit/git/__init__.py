"""The only code that touches git: repositories, objects, refs with compare-and-swap, the one
``git`` subprocess runner, ref files, housekeeping. pygit2 is imported here and nowhere else, and
only by the modules that need it (``repo``, ``raw``): the names below load on first use (PEP 562),
so that ``gitjit.git.files``, ``discover``, ``light`` and the runner (``run``) can be used without it."""

from __future__ import annotations

from ._pygit2 import skip_ca_bundle

# no typing at run time: the light read path imports this package (gitjit.git.files, .discover)
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = ["GitRepo", "CasFailed", "RefLocked", "BadRef", "open_repo", "skip_ca_bundle"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import repo

        return getattr(repo, name)
    raise AttributeError(f"module 'gitjit.git' has no attribute {name!r}")
