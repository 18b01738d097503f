"""The only package that imports pygit2: opening repositories, objects, refs with compare-and-swap."""

from .repo import GitRepo, CasFailed, RefLocked, BadRef, open_repo

__all__ = ["GitRepo", "CasFailed", "RefLocked", "BadRef", "open_repo"]
