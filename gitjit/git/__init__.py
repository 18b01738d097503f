"""The only code that touches git: repository discovery (``discover``, ``light``), objects and refs
(``repo``; the refs' compare-and-swap contract and its in-memory twin in ``refs``), the one ``git``
subprocess runner (``run``), ref files (``files``), bulk writes (``packwrite``), housekeeping.
pygit2 is imported here and nowhere else, and only by the modules that need it (``repo``,
``raw``): the names below load on first use (PEP 562), so that ``files``, ``discover``,
``light``, ``refs`` and the runner can be used without it."""

from __future__ import annotations

from ._pygit2 import skip_ca_bundle

# no typing at run time: the light read path imports this package (gitjit.git.files, .discover)
TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

__all__ = [
    "BadRef",
    "BadRefName",
    "CasFailed",
    "GitRepo",
    "RefLocked",
    "find_git_dirs",
    "find_repository",
    "init_repository",
    "open_repo",
    "skip_ca_bundle",
]
#: the names that need no pygit2 (gitjit/git/refs.py)
_REFS = frozenset({"CasFailed", "RefLocked", "BadRef", "BadRefName"})


def __getattr__(name: str) -> Any:
    if name in _REFS:
        from . import refs

        return getattr(refs, name)
    if name in ("find_git_dirs", "find_repository", "init_repository"):
        from . import discover

        return getattr(discover, name)
    if name in __all__:
        from . import repo

        return getattr(repo, name)
    raise AttributeError(f"module 'gitjit.git' has no attribute {name!r}")
