"""gitjit's library API: ``Tracker`` and the errors it raises.

This is the stable import for programs that use gitjit as a library::

    from gitjit.api import Tracker, GitjitError

    t = Tracker("path/to/repo", actor="agent:ci")
    issue = t.claim_next()

The implementation lives in ``gitjit.app`` (the use cases), over ``gitjit.store`` and
``gitjit.git``; docs/design.md draws the layers.
"""

from __future__ import annotations

from .app.prime import prime
from .app.tracker import Tracker
from .core.board import event_json
from .core.errors import (
    AlreadyClaimedError,
    AlreadyExistsError,
    AmbiguousIdError,
    BlockedError,
    BusyError,
    CycleError,
    ExternalError,
    GitjitError,
    NotFoundError,
    NoWorkError,
    UsageError,
    ValidationError,
)
from .core.prime import card_text as prime_text
from .core.rules import parse_filter

__all__ = [
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
    "Tracker",
    "UsageError",
    "ValidationError",
    "event_json",
    "parse_filter",
    "prime",
    "prime_text",
]
