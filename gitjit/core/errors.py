"""Every error gitjit raises on purpose, under one root.

The hierarchy (exit code in brackets; the CLI maps each class to its code and
prints ``{"error": {"code", "message", "details", "hint"}}`` under ``--json``)::

    GitjitError [1]
    ├── UsageError [2]            bad argument, bad value, over a size limit
    │   └── AmbiguousIdError [2]  an id prefix matches several issues
    ├── NotFoundError [3]         issue, gate, repository, remote
    ├── BlockedError [4]          a transition refused: dependencies or gates unfinished
    │   ├── CycleError [4]        a dependency would close a cycle
    │   ├── ValidationError [4]   an import file or a stored document breaks the schema
    │   └── UntrustedError [4]    a checker command of a jit.toml this clone has not trusted
    ├── AlreadyExistsError [6]    registry key, id
    ├── AlreadyClaimedError [7]   someone else holds the issue
    ├── NoWorkError [8]           claim-next found nothing it could claim
    ├── BusyError [9]             a ref stayed locked / kept moving through every retry
    └── ExternalError [10]        git, network, a gate checker that could not run

The library never exits the process: it raises, and only ``gitjit.cli`` turns
an error into an exit code.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "EXIT_CODES",
    "AlreadyClaimedError",
    "AlreadyExistsError",
    "AmbiguousIdError",
    "BlockedError",
    "BusyError",
    "CycleError",
    "ExternalError",
    "GitjitError",
    "NoWorkError",
    "NotFoundError",
    "UntrustedError",
    "UsageError",
    "ValidationError",
]


class GitjitError(Exception):
    """Root of gitjit's errors. ``code`` is a stable machine name, ``exit_code`` the process status."""

    exit_code = 1
    code = "ERROR"

    def __init__(self, message: str, *, hint: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}


class UsageError(GitjitError):
    exit_code = 2
    code = "INVALID_ARGUMENT"


class AmbiguousIdError(UsageError):
    code = "AMBIGUOUS_ID"


class NotFoundError(GitjitError):
    exit_code = 3
    code = "NOT_FOUND"


class BlockedError(GitjitError):
    exit_code = 4
    code = "BLOCKED"


class CycleError(BlockedError):
    code = "CYCLE_DETECTED"


class ValidationError(BlockedError):
    code = "VALIDATION_FAILED"


class UntrustedError(BlockedError):
    code = "UNTRUSTED_CONFIG"


class AlreadyExistsError(GitjitError):
    exit_code = 6
    code = "ALREADY_EXISTS"


class AlreadyClaimedError(GitjitError):
    exit_code = 7
    code = "ALREADY_CLAIMED"


class NoWorkError(GitjitError):
    exit_code = 8
    code = "NO_WORK"


class BusyError(GitjitError):
    exit_code = 9
    code = "BUSY"


class ExternalError(GitjitError):
    exit_code = 10
    code = "EXTERNAL_FAILURE"


#: code -> (exit status, meaning); docs/cli.md prints this table and a test keeps them equal.
EXIT_CODES: dict[int, str] = {
    0: "success",
    1: "unexpected error",
    2: "usage: bad argument or value, ambiguous id prefix, size limit",
    3: "not found: issue, gate, repository or remote",
    4: "blocked: unfinished dependencies or gates, a dependency cycle, invalid data",
    6: "already exists",
    7: "already claimed by another agent",
    8: "no work: claim-next found no ready issue it could claim",
    9: "busy: the ref stayed locked or kept moving through every retry",
    10: "external failure: git, the network, a gate checker",
}
