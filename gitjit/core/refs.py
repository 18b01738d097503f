"""The names gitjit gives things in git, defined once.

Every ref gitjit writes lives under ``refs/jit/`` (the tracker itself) or one of the namespaces
beside it that a clone keeps for itself (tracking refs of remotes, quarantined documents, refs
staged for one push). docs/storage-format.md describes each.
"""

from __future__ import annotations

__all__ = [
    "DOC",
    "GATES",
    "ISSUES",
    "LOCAL",
    "PREFIXES",
    "QUARANTINE",
    "STAGE_PREFIX",
    "TRACKING",
    "gate_ref",
    "issue_ref",
    "refspec_for",
]

#: everything the tracker shares: ``refs/jit/issues/<id>`` and ``refs/jit/gates/<key>``
LOCAL = "refs/jit/"
ISSUES = "refs/jit/issues/"
GATES = "refs/jit/gates/"
#: the kinds of entity, in the order every listing uses
PREFIXES = (ISSUES, GATES)
#: ``refs/jit-remotes/<remote>/issues/<id>``: what a fetch brought from a remote, not yet reconciled
TRACKING = "refs/jit-remotes/"
#: documents ``jit doctor`` set aside because they failed validation
QUARANTINE = "refs/jit-quarantine/"
#: where a large push stages its tips: ``<prefix><pid>-<nonce>/issues/<id>``
STAGE_PREFIX = "refs/jit-push/"
#: the one file in every entity commit's tree: the whole event log, canonical JSON lines
DOC = "events.jsonl"


def issue_ref(iid: str) -> str:
    return ISSUES + iid


def gate_ref(key: str) -> str:
    return GATES + key


def refspec_for(remote: str) -> str:
    """The fetch refspec that mirrors a remote's jit refs into our tracking namespace."""
    return f"+{LOCAL}*:{TRACKING}{remote}/*"
