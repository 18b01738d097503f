"""Refs behind a small interface whose writes are compare-and-swap, and its in-memory twin.

``Refs`` is what the store asks of refs (``GitRepo`` implements it on a real repository through
libgit2, gitjit/git/repo.py); ``MemoryRefs`` keeps the same contract in a dict, for tests and
tools that need refs without a repository. One contract test suite runs against both
(tests/test_refs_contract.py), the way dulwich tests its ``RefsContainer`` and
``DictRefsContainer``. In dulwich's words:

============================  ========================================================
dulwich                       here
============================  ========================================================
``add_if_new(name, new)``     ``create_ref(name, new, message)``
``set_if_equals(name, o, n)`` ``swap_ref(name, o, n, message)`` (``o`` None: create)
``remove_if_equals(name, o)`` ``delete_ref(name, o)``
``refs[name]``                ``tip(name)`` (None when absent or symbolic)
``as_dict(prefix)``           ``tips(prefix)`` (direct refs only)
============================  ========================================================

plus ``write_locked(name, make, message)``: lock the ref, read it under the lock, write what
``make(tip)`` returns (None: nothing) and release, so nobody can move it between the read and the
write (the local write path). A compare that fails raises ``CasFailed``; a ref whose lock another
writer holds raises ``RefLocked`` at once (libgit2 does not wait for a lock, unlike git's 100 ms),
so the caller can back off and retry; a symbolic ref met by ``write_locked`` raises ``BadRef``;
a name git would refuse raises ``BadRefName`` before anything is written; a target that is not
an object id raises ``ValueError``. No pygit2 here: the exceptions are importable without it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Protocol

from ..core.errors import UsageError

__all__ = ["BadRef", "BadRefName", "CasFailed", "MemoryRefs", "RefLocked", "Refs", "check_ref_name", "check_target"]


class CasFailed(Exception):
    """The ref was not where the caller read it (moved, created or deleted meanwhile)."""


class RefLocked(Exception):
    """Another writer holds the ref's lock file right now."""


class BadRef(Exception):
    """A ref whose target is not a commit carrying the expected file (hostile or corrupt data)."""


class BadRefName(UsageError):
    """A ref name git would refuse (git-check-ref-format(1)); nothing was written."""


#: characters git-check-ref-format(1) refuses anywhere in a name: controls, DEL, space, ~ ^ : ? * [ \
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


def check_ref_name(name: str) -> None:
    """Refuse (``BadRefName``) a name ``git check-ref-format`` refuses, or one outside ``refs/``:
    libgit2's transactions write any name they are given, and a ref git cannot read back is one
    nobody can see or delete (a second create of it silently overwrote the first)."""
    if not name.startswith("refs/") or name.endswith(("/", ".")) or "//" in name or ".." in name \
            or "@{" in name or _BAD_CHARS.search(name):
        raise BadRefName(f"invalid ref name {name!r}", hint="see git-check-ref-format(1)")
    for part in name.split("/"):
        if part.startswith(".") or part.endswith(".lock"):
            raise BadRefName(f"invalid ref name {name!r}", hint="see git-check-ref-format(1)")


_HEX40 = re.compile(r"[0-9a-fA-F]{40}")


def check_target(target: str) -> None:
    """Refuse (``ValueError``) a target that is not 40 hex digits: pygit2 pads a short one with
    zeros (``Oid(hex="abc")`` is ``abc000...``), which wrote a ref to an object that does not
    exist and made git itself fail on the repository (``fatal: missing object``)."""
    if not isinstance(target, str) or not _HEX40.fullmatch(target):
        raise ValueError(f"not an object id: {target!r}")


class Refs(Protocol):
    """Refs with compare-and-swap writes (see the module docstring for the contract)."""

    def tip(self, refname: str) -> str | None: ...

    def tips(self, prefix: str) -> dict[str, str]: ...

    def create_ref(self, refname: str, target: str, message: str) -> None: ...

    def swap_ref(self, refname: str, expected: str | None, target: str, message: str) -> None: ...

    def delete_ref(self, refname: str, expected: str) -> None: ...

    def write_locked(self, refname: str, make: Callable[[str | None], str | None], message: str) -> str | None: ...


class MemoryRefs:
    """``Refs`` in a dict: the twin of ``GitRepo``'s refs, thread-safe. ``locked(name)`` plays
    another writer holding the ref's lock; ``set_symbolic`` makes a symbolic ref (which the
    interface itself never writes). Reflog messages are accepted and dropped."""

    def __init__(self, refs: Mapping[str, str] | None = None) -> None:
        self._refs: dict[str, str] = {}
        self._symbolic: dict[str, str] = {}
        self._locks: set[str] = set()
        self._mutex = threading.Lock()
        for name, target in (refs or {}).items():
            check_ref_name(name)
            check_target(target)
            self._refs[name] = target

    # ------------------------------------------------------------------ reading

    def tip(self, refname: str) -> str | None:
        return self._refs.get(refname)

    def tips(self, prefix: str) -> dict[str, str]:
        with self._mutex:
            return {k: v for k, v in self._refs.items() if k.startswith(prefix)}

    # ------------------------------------------------------------------ compare-and-swap

    def create_ref(self, refname: str, target: str, message: str) -> None:
        check_ref_name(refname)
        check_target(target)
        with self._mutex:
            if refname in self._locks:  # GitRepo takes the lock first, then looks
                raise RefLocked(refname)
            if refname in self._refs or refname in self._symbolic:
                raise CasFailed(refname)
            self._refs[refname] = target

    def swap_ref(self, refname: str, expected: str | None, target: str, message: str) -> None:
        if expected is None:
            self.create_ref(refname, target, message)
            return
        check_ref_name(refname)
        check_target(target)
        with self._mutex:
            if self._refs.get(refname) != expected:  # GitRepo looks first, then locks
                raise CasFailed(refname)
            if refname in self._locks:
                raise RefLocked(refname)
            self._refs[refname] = target

    def delete_ref(self, refname: str, expected: str) -> None:
        check_ref_name(refname)
        with self._mutex:
            if self._refs.get(refname) != expected:
                raise CasFailed(refname)
            if refname in self._locks:
                raise RefLocked(refname)
            del self._refs[refname]

    def write_locked(self, refname: str, make: Callable[[str | None], str | None], message: str) -> str | None:
        check_ref_name(refname)
        with self._mutex:
            if refname in self._locks:
                raise RefLocked(refname)
            self._locks.add(refname)
        try:
            if refname in self._symbolic:
                raise BadRef(f"{refname} is a symbolic ref")
            tip = self._refs.get(refname)
            new = make(tip)
            if new is None:
                return tip
            check_target(new)
            with self._mutex:
                self._refs[refname] = new
            return new
        finally:
            with self._mutex:
                self._locks.discard(refname)

    # ------------------------------------------------------------------ for tests

    @contextmanager
    def locked(self, refname: str) -> Iterator[None]:
        """Hold ``refname``'s lock as another writer would (``RefLocked`` if it is held already)."""
        with self._mutex:
            if refname in self._locks:
                raise RefLocked(refname)
            self._locks.add(refname)
        try:
            yield
        finally:
            with self._mutex:
                self._locks.discard(refname)

    def set_symbolic(self, refname: str, target: str) -> None:
        with self._mutex:
            self._refs.pop(refname, None)
            self._symbolic[refname] = target
