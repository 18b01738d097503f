"""Document references (``jit doc add|list|check-links|archive``): issues that point at design
documents in the repository, checked against the working tree and recorded, as events on the
issue's own ref, with the commit they were seen at. A mixin of ``Tracker``.

The paths are checked twice: as text (``gitjit.core.docs.check_doc_path``: relative, inside the
repository, no control characters) and on disk (the real path, symbolic links followed, must stay
inside the working tree). ``doc archive`` is the one command of gitjit that writes to the
working tree: it moves the document there (the user commits the move).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.board import Board
from ..core.docs import check_category, check_doc_path, check_doc_text, fold_documents, markdown_links
from ..core.errors import AlreadyExistsError, BlockedError, NotFoundError, UsageError
from ..core.fold import fold_issue
from ..core.model import IssueState
from ..core.refs import ISSUES
from .base import Spec, TrackerBase

__all__ = ["ARCHIVE_DIR", "MARKDOWN", "DocOps"]

#: where ``doc archive`` moves documents when ``jit config set doc-archive DIR`` is not set (the seed's)
ARCHIVE_DIR = "dev/archive"
#: documents whose relative links ``doc check-links`` follows
MARKDOWN = (".md", ".markdown", ".mdx")


class DocOps(TrackerBase):
    """``Tracker.doc_add``, ``doc_list``, ``doc_check_links`` and ``doc_archive``."""

    # ------------------------------------------------------------------ the working tree

    def _top(self) -> Path:
        top = self.git.workdir
        if top is None:
            raise UsageError("this repository has no working tree (it is bare)",
                             hint="run jit doc in a clone with a working tree")
        return Path(os.path.realpath(top))

    def _inside(self, top: Path, path: str) -> Path:
        """The file ``path`` names in the working tree, its symbolic links followed; refused when
        that leaves the working tree."""
        real = Path(os.path.realpath(top / path))
        if real != top and top not in real.parents:
            raise UsageError(f"document path {path!r} leads outside the repository (through a symbolic link)",
                             hint="documents must live inside the repository's working tree")
        if ".git" in real.relative_to(top).parts:
            raise UsageError(f"document path {path!r} leads into .git", hint="point at a file of the working tree")
        return real

    def _commit_of(self, path: str, commit: str | None) -> str | None:
        if commit is not None:
            full = self.git.resolve_commit(commit)
            if full is None:
                raise NotFoundError(f"no commit {commit!r} in this repository", hint="give a commit id or a branch",
                                    details={"commit": commit})
            if self.git.path_kind(full, path) != "blob":
                raise NotFoundError(f"{path} is not a file in commit {full[:12]}",
                                    hint="check the path, or leave out --commit to record HEAD",
                                    details={"commit": full, "path": path})
            return full
        head = self.git.resolve_commit("HEAD")
        if head is None or self.git.path_kind(head, path) != "blob":
            self.store.warn(f"{path} is not committed yet: recorded without a commit "
                            f"(add it again after committing to record the commit)")
            return None
        return head

    # ------------------------------------------------------------------ add, list

    def doc_add(self, prefix: str, path: str, *, commit: str | None = None, label: str | None = None,
                doc_type: str | None = None, by: str | None = None) -> dict[str, Any]:
        """Point issue ``prefix`` at the document ``path`` (relative to the top of the working tree),
        recording the commit it was seen at: ``commit`` (which must hold the file), else ``HEAD``
        when the file is committed there, else none. Adding the same reference again writes nothing;
        adding a path again with another commit, label or type replaces its reference."""
        norm = check_doc_path(path)
        label = check_doc_text("label", label) if label is not None else None
        doc_type = check_doc_text("document type", doc_type, 64) if doc_type is not None else None
        board = self.board()
        iid = self.resolve(prefix, board)
        if commit is None or self.git.workdir is not None:
            real = self._inside(self._top(), norm)
            if not real.is_file():
                raise NotFoundError(f"{norm} is not a file in the working tree" if not real.exists()
                                    else f"{norm} is a directory, not a document",
                                    hint="give the path of a file, relative to the top of the repository",
                                    details={"path": norm})
        seen = self._commit_of(norm, commit)
        spec: Spec = {"type": "document_added", "path": norm, "commit": seen,
                      **({"label": label} if label is not None else {}),
                      **({"doc_type": doc_type} if doc_type is not None else {})}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            cur = next((d for d in self._docs(iid) if d["path"] == norm), None)
            if cur is not None and (cur["commit"], cur["label"], cur["doc_type"]) == (seen, label, doc_type):
                return []
            return [spec]

        self._write_issue(iid, fn, by=by, what="doc-add", board=board)
        docs = self._docs(iid)
        return {"issue_id": iid, "document": next(d for d in docs if d["path"] == norm), "documents": docs}

    def _docs(self, iid: str) -> list[dict[str, Any]]:
        ld = self.store.load(ISSUES, iid)
        return fold_documents(ld.events) if ld is not None else []

    def doc_list(self, prefix: str) -> dict[str, Any]:
        iid = self.resolve(prefix)
        docs = self._docs(iid)
        return {"issue_id": iid, "documents": docs, "count": len(docs)}

    def _all_docs(self, scope: str) -> dict[str, list[dict[str, Any]]]:
        """``{issue id: its references}`` of the issues in ``scope`` (``all`` or ``issue:ID``) that
        hold any, deleted issues left out."""
        if scope == "all":
            out = {}
            for key, ld in sorted(self.store.load_all(ISSUES).items()):
                if any(e.type.startswith("document_") for e in ld.events) and not fold_issue(key, ld.events).deleted:
                    docs = fold_documents(ld.events)
                    if docs:
                        out[key] = docs
            return out
        kind, sep, rest = scope.partition(":")
        if kind != "issue" or not sep or not rest:
            raise UsageError(f"unknown scope {scope!r}", hint="use all or issue:ID")
        iid = self.resolve(rest)
        return {iid: self._docs(iid)}

    # ------------------------------------------------------------------ check-links

    def doc_check_links(self, *, scope: str = "all") -> dict[str, Any]:
        """Check every document reference in ``scope`` against the working tree: the file must be
        there (an error otherwise), its recorded commit must still be in the object store (a
        warning), and in a Markdown document each relative link must name a file or directory
        inside the repository (a warning). ``valid`` is false when an error was found."""
        top = self._top()
        problems: list[dict[str, Any]] = []
        refs = self._all_docs(scope)
        checked_links = 0

        def problem(iid: str, path: str, severity: str, code: str, message: str, link: str | None = None) -> None:
            problems.append({"issue_id": iid, "path": path, "severity": severity, "code": code,
                             "message": message, "link": link})

        for iid, docs in refs.items():
            for d in docs:
                path = d["path"]
                try:
                    real = self._inside(top, path)
                except UsageError as e:
                    problem(iid, path, "error", "outside_repository", e.message)
                    continue
                if not real.is_file():
                    problem(iid, path, "error", "missing_document",
                            f"{path} is not in the working tree" if not real.exists() else f"{path} is not a file")
                    continue
                if d["commit"] is not None and not self.git.has_object(d["commit"]):
                    problem(iid, path, "warning", "unknown_commit",
                            f"the recorded commit {d['commit'][:12]} is not in this repository")
                if not path.lower().endswith(MARKDOWN):
                    continue
                try:
                    text = real.read_text(encoding="utf-8", errors="replace")
                except OSError as e:
                    problem(iid, path, "error", "unreadable_document", f"cannot read {path}: {e.strerror}")
                    continue
                base = path.rsplit("/", 1)[0] if "/" in path else ""
                for link in markdown_links(text):
                    checked_links += 1
                    target = os.path.normpath(os.path.join(base, link)) if base else os.path.normpath(link)
                    if target == ".." or target.startswith("../"):
                        problem(iid, path, "warning", "link_outside_repository",
                                f"link {link!r} points outside the repository", link)
                        continue
                    try:
                        t = self._inside(top, target)
                    except UsageError:
                        problem(iid, path, "warning", "link_outside_repository",
                                f"link {link!r} leads outside the repository", link)
                        continue
                    if not t.exists():
                        problem(iid, path, "warning", "broken_link", f"link {link!r} names no file", link)
        errors = sum(p["severity"] == "error" for p in problems)
        return {"valid": errors == 0, "scope": scope, "issues": len(refs),
                "documents": sum(len(v) for v in refs.values()), "links": checked_links,
                "errors": errors, "warnings": len(problems) - errors, "problems": problems}

    # ------------------------------------------------------------------ archive

    def doc_archive(self, path: str, *, category: str, dry_run: bool = False, force: bool = False,
                    by: str | None = None) -> dict[str, Any]:
        """Move the document ``path`` to ``<archive dir>/<category>/<file name>`` in the working tree
        (``jit config set doc-archive DIR``, default ``dev/archive``) and record the move on every
        issue that references it (``document_archived``). Refused while an unfinished issue
        references it (``force`` archives anyway) and when the destination exists (never
        overwritten). ``dry_run`` says what would happen and changes nothing."""
        norm = check_doc_path(path)
        category = check_category(category)
        root = check_doc_path(self.git.config_get("jit.doc-archive") or ARCHIVE_DIR)
        dest = check_doc_path(f"{root}/{category}/{norm.rsplit('/', 1)[-1]}")
        if dest == norm:
            raise UsageError(f"{norm} is archived already", hint="nothing to do")
        top = self._top()
        src = self._inside(top, norm)
        if os.path.islink(top / norm) or not src.is_file():
            raise NotFoundError(f"{norm} is not a file in the working tree", details={"path": norm},
                                hint="give the path of a document, relative to the top of the repository")
        target = self._inside(top, dest)
        if target.exists() or os.path.lexists(top / dest):
            raise AlreadyExistsError(f"{dest} exists already", details={"destination": dest},
                                     hint="archive it under another category, or move the existing file away")
        users: list[str] = []
        unfinished: list[dict[str, str]] = []
        b = self.board()
        for iid, docs in self._all_docs("all").items():
            if any(d["path"] == norm for d in docs):
                users.append(iid)
                state = b.states.get(iid, "open")
                if state not in ("done", "rejected", "archived"):
                    unfinished.append({"issue_id": iid, "state": state})
        if unfinished and not force:
            raise BlockedError(f"{len(unfinished)} unfinished issue(s) reference {norm}: "
                               + ", ".join(f"{u['issue_id'][:8]} ({u['state']})" for u in unfinished[:5]),
                               hint="finish them first, or archive anyway with --force",
                               details={"path": norm, "unfinished": unfinished})
        out = {"source": norm, "destination": dest, "category": category, "dry_run": dry_run,
               "moved": False, "issues_updated": users}
        if dry_run:
            return out
        target.parent.mkdir(parents=True, exist_ok=True)
        self._inside(top, os.path.dirname(dest))  # a directory swapped for a link meanwhile
        os.rename(src, target)
        out["moved"] = True
        spec: Spec = {"type": "document_archived", "path": norm, "destination": dest, "category": category}

        def fn(st: IssueState, b: Board) -> list[Spec]:
            return [spec]

        for iid in users:
            self._write_issue(iid, fn, by=by, what="doc-archive")
        return out
