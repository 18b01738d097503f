"""The ``--json`` shapes of the seed's later commands: ``issue breakdown``, ``doc …``,
``snapshot …`` and ``validate`` (``issue reject`` prints the issue object, ``query available``
the issue list, ``gate define`` the gate definition)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Shape
from .commands import Problem
from .outputs import EffectiveState, Id, IssueList, Time

__all__ = [
    "DocAdded",
    "DocArchived",
    "DocLinkProblem",
    "DocLinks",
    "DocList",
    "DocReference",
    "IssueBreakdown",
    "SnapshotCounts",
    "SnapshotVerified",
    "SnapshotWritten",
    "Validate",
]


class IssueBreakdown(IssueList):
    """``issue breakdown ID --subtask T...``: the new subtasks (an issue list), and the parent."""

    parent_id: Id
    subtask_ids: list[Id] = Field(description="the subtasks, in the order of the --subtask options")
    parent_state: EffectiveState | None = Field(description="the parent's effective state after the breakdown")


class DocReference(Shape):
    path: str = Field(description="relative to the top of the working tree, '/'-separated")
    commit: str | None = Field(description="the commit the document was seen at (null: not committed then)")
    label: str | None
    doc_type: str | None
    added_by: str
    added_at: Time
    archived_from: str | None = Field(description="where it was before doc archive moved it")


class DocAdded(Shape):
    """``doc add ID PATH``: the reference written and every reference of the issue."""

    issue_id: Id
    document: DocReference
    documents: list[DocReference]


class DocList(Shape):
    """``doc list ID``."""

    issue_id: Id
    documents: list[DocReference]
    count: int


class DocLinkProblem(Shape):
    issue_id: Id
    path: str
    severity: Literal["error", "warning"]
    code: str = Field(description="missing_document, outside_repository, unreadable_document, unknown_commit, "
                      "broken_link or link_outside_repository")
    message: str
    link: str | None = Field(description="the link concerned, for the link codes")


class DocLinks(Shape):
    """``doc check-links`` (exit 4 when ``valid`` is false)."""

    valid: bool = Field(description="no error: every document is in the working tree")
    scope: str
    issues: int = Field(description="issues whose documents were checked")
    documents: int
    links: int = Field(description="relative links followed in Markdown documents")
    errors: int
    warnings: int
    problems: list[DocLinkProblem]


class DocArchived(Shape):
    """``doc archive PATH --type CATEGORY``."""

    source: str
    destination: str
    category: str
    dry_run: bool
    moved: bool = Field(description="false under --dry-run")
    issues_updated: list[Id] = Field(description="the issues that reference the document")


class SnapshotCounts(Shape):
    issues: int
    deleted_issues: int
    gates: int
    events: int
    refs: int
    documents: int


class SnapshotWritten(Shape):
    """``snapshot export``."""

    path: str
    format: Literal["dir", "tar"]
    created_at: Time
    files: int = Field(description="files written, the manifest included")
    counts: SnapshotCounts
    manifest_sha256: str = Field(description="SHA-256 of manifest.json, to check it was not replaced")


class SnapshotVerified(Shape):
    """``snapshot verify PATH`` (exit 4 when ``ok`` is false)."""

    ok: bool
    path: str
    format: Literal["dir", "tar"]
    files: int = Field(description="files the manifest lists, the manifest included")
    events: int
    refs: int
    problems: list[str]


class Validate(Shape):
    """``validate`` (exit 4 when ``valid`` is false): doctor's checks without repairs, and the data's."""

    valid: bool = Field(description="no error found (warnings do not count)")
    errors: int
    warnings: int
    checked: dict[str, int] = Field(description="what was looked at: refs, issues, gates, events, documents, ...")
    problems: list[Problem] = Field(description="doctor's problem shape; check is 'data' for the data's own checks")
