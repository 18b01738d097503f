"""Document references: issues that point at design documents in the repository (``jit doc``).

Pure: the checks of a document path as a user types it, the fold of an issue's document events
into its list of references, and the relative links a Markdown document holds. The Tracker
(gitjit/app/docs.py) checks the paths against the working tree and stores the references as
events on the issue's own ref: ``document_added``, ``document_removed`` and ``document_archived``
(docs/storage-format.md). Older versions of gitjit skip these events in their fold.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from typing import Any

from .errors import UsageError
from .event import Event
from .model import utc_ts

__all__ = [
    "DOC_EVENTS",
    "DOC_PATH_LIMIT",
    "check_category",
    "check_doc_path",
    "check_doc_text",
    "fold_documents",
    "markdown_links",
]

#: the event types this module folds
DOC_EVENTS = ("document_added", "document_removed", "document_archived")
#: characters of a document path (git itself takes 4,096 on most systems)
DOC_PATH_LIMIT = 1024
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def check_doc_path(path: str) -> str:
    """A document path as stored: relative to the top of the working tree, ``/``-separated,
    normalised (``./a//b`` is ``a/b``). Refused: an empty path, an absolute one (``/x``,
    ``C:/x``), one that leaves the repository (``../x``, ``a/../../x``), one inside ``.git``,
    backslashes (a Windows separator that would name another file elsewhere), control
    characters, and paths over ``DOC_PATH_LIMIT`` characters. Raises ``UsageError``."""
    if not isinstance(path, str) or not path.strip():
        raise UsageError("document path is empty", hint="give a path relative to the top of the repository")
    if any("\ud800" <= c <= "\udfff" for c in path):
        raise UsageError("document path is not valid UTF-8", hint="rename the file or pass its path as UTF-8")
    m = _CONTROL.search(path)
    if m:
        raise UsageError(f"document path contains control character U+{ord(m.group()):04X}",
                         hint="rename the file: jit does not track paths with control characters")
    if len(path) > DOC_PATH_LIMIT:
        raise UsageError(f"document path is {len(path)} characters; the limit is {DOC_PATH_LIMIT}")
    if "\\" in path:
        raise UsageError(f"document path {path!r} contains a backslash", hint="separate directories with '/'")
    if path.startswith("/") or re.match(r"^[A-Za-z]:", path):
        raise UsageError(f"document path {path!r} is absolute",
                         hint="give it relative to the top of the repository, e.g. docs/design.md")
    norm = posixpath.normpath(path)
    if norm == "." or norm.startswith("../") or norm == "..":
        raise UsageError(f"document path {path!r} is outside the repository",
                         hint="documents must live inside the repository's working tree")
    if ".git" in norm.split("/"):
        raise UsageError(f"document path {path!r} is inside .git", hint="point at a file of the working tree")
    return norm


def check_doc_text(kind: str, value: str, limit: int = 200) -> str:
    """A label or document type: one line, not empty, at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{kind} is empty")
    m = _CONTROL.search(value)
    if m:
        raise UsageError(f"{kind} contains control character U+{ord(m.group()):04X}")
    if len(value) > limit:
        raise UsageError(f"{kind} is {len(value)} characters; the limit is {limit}")
    return value


def check_category(category: str) -> str:
    """An archive category (``doc archive --type``): it becomes a directory name."""
    if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
        raise UsageError(f"archive category {category!r} is not valid",
                         hint="use lowercase letters, digits, '.', '_' or '-' (e.g. features, bug-fixes)")
    return category


def fold_documents(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The document references an issue's events leave, in the order they were first added: each
    ``{path, commit, label, doc_type, added_by, added_at, archived_from}``. Adding a path again
    replaces its reference (a newer commit, label or type); ``document_archived`` moves it to its
    destination. Events in ``(clock, id)`` order, as the issue's fold reads them; an event whose
    path is not one ``check_doc_path`` would store (``../x``, a control character) is skipped."""
    docs: dict[str, dict[str, Any]] = {}
    for e in sorted(events, key=Event.sort_key):
        if e.type not in DOC_EVENTS or e.derived:
            continue
        path = _stored_path(e.extra.get("path"))
        if path is None:
            continue
        if e.type == "document_added":
            old = docs.get(path)
            label, doc_type = e.extra.get("label"), e.extra.get("doc_type")
            docs[path] = {
                "path": path, "commit": e.commit, "label": label if isinstance(label, str) else None,
                "doc_type": doc_type if isinstance(doc_type, str) else None,
                "added_by": e.actor, "added_at": utc_ts(e.timestamp),
                "archived_from": old["archived_from"] if old else None,
            }
        elif e.type == "document_removed":
            docs.pop(path, None)
        else:
            dest = _stored_path(e.extra.get("destination"))
            old = docs.get(path)
            if old is not None and dest is not None:
                del docs[path]
                docs[dest] = {**old, "path": dest, "commit": e.commit, "archived_from": path}
    return list(docs.values())


def _stored_path(v: object) -> str | None:
    """A path read from an event: as ``check_doc_path`` would have stored it, else None (an event
    written by hand or by a hostile clone is skipped, never followed out of the repository)."""
    if not isinstance(v, str):
        return None
    try:
        return v if check_doc_path(v) == v else None
    except UsageError:
        return None


#: ``[text](target)`` and ``![alt](target "title")``; reference definitions ``[x]: target``
_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_REFDEF = re.compile(r"^\s{0,3}\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+.*)?$", re.MULTILINE)
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def markdown_links(text: str) -> list[str]:
    """The relative link targets of a Markdown document, in order, without duplicates: links
    and images, inline or by reference, outside fenced code blocks. URLs with a scheme
    (``https:``, ``mailto:``), fragments alone (``#usage``) and absolute paths are left out; a
    target's fragment and query are cut (``b.md#x`` is ``b.md``); ``%20`` and friends are decoded."""
    body = _FENCE.sub("", text)
    out: dict[str, None] = {}
    for m in list(_INLINE.finditer(body)) + list(_REFDEF.finditer(body)):
        target = m.group(1)
        if not target or target.startswith(("#", "/")) or _SCHEME.match(target):
            continue
        target = _unquote(target.split("#", 1)[0].split("?", 1)[0])
        if target:
            out[target] = None
    return list(out)


_PERCENT = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def _unquote(s: str) -> str:
    """``%20`` and friends decoded as UTF-8 (what ``urllib.parse.unquote`` does, without the I/O module)."""
    return _PERCENT.sub(lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8", "replace"), s)
