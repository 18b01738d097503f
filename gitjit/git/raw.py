"""Forensic reads and repair writes for ``jit doctor``: refs as they really are on disk.

``GitRepo`` shows the store what a healthy ref looks like (direct refs, commits carrying
``events.jsonl``). Doctor must also see what is *wrong*: symbolic refs, refs to blobs, trees,
tags or missing objects, the reflog of a ref, and it must park a bad ref under a quarantine
name whatever it points at. Kept apart from ``repo.py`` so the write path stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import _pygit2

_pygit2.prepare()
import pygit2  # after prepare: see gitjit/git/_pygit2.py

from .repo import GitRepo, odb_retry

__all__ = [
    "RawRef",
    "commit_signature",
    "drop_ref",
    "list_refs",
    "object_kind",
    "park_ref",
    "reflog_targets",
    "write_signed_commit",
]


@dataclass(frozen=True)
class RawRef:
    name: str
    target: str          # object id, or the target ref name of a symbolic ref
    symbolic: bool


def list_refs(git: GitRepo, prefix: str) -> list[RawRef]:
    out: list[RawRef] = []
    for name in git.repo.references:
        if not name.startswith(prefix):
            continue
        try:
            ref = git.repo.references.get(name)
        except (pygit2.GitError, ValueError) as e:
            out.append(RawRef(name, f"unreadable: {e}", True))
            continue
        if ref is None:
            continue
        sym = ref.type == pygit2.enums.ReferenceType.SYMBOLIC
        out.append(RawRef(name, str(ref.target), sym))
    return sorted(out, key=lambda r: r.name)


def object_kind(git: GitRepo, hexid: str) -> str | None:
    """``commit`` / ``tree`` / ``blob`` / ``tag``, or None if the object is missing or unreadable."""
    try:
        obj = git.repo.get(hexid)
    except (ValueError, pygit2.GitError):
        return None
    return None if obj is None else obj.type_str


def reflog_targets(git: GitRepo, refname: str, *, limit: int = 200) -> list[str]:
    """Values the ref held, newest first (from its reflog; ``jit init`` turns reflogs on)."""
    out: list[str] = []
    try:
        ref = git.repo.references.get(refname)
        entries = ref.log() if ref is not None else []
        for ent in entries:
            for oid in (ent.oid_new, ent.oid_old):
                h = str(oid)
                if h != "0" * 40 and h not in out:
                    out.append(h)
            if len(out) >= limit:
                break
    except (pygit2.GitError, ValueError, KeyError, OSError):
        pass
    return out


def park_ref(git: GitRepo, refname: str, target: str, message: str) -> bool:
    """Create ``refname`` -> ``target`` (any existing object), create-only. False if the object is
    missing (a ref cannot name a missing object) or the name is taken."""
    try:
        git.repo.create_reference(refname, pygit2.Oid(hex=target), force=False, message=message)
        return True
    except (pygit2.GitError, ValueError, KeyError, OSError):
        return False


def drop_ref(git: GitRepo, refname: str, expected: str) -> bool:
    """Delete ``refname`` if it still has ``expected`` as its (direct or symbolic) target."""
    try:
        ref = git.repo.references.get(refname)
        if ref is None or str(ref.target) != expected:
            return False
        ref.delete()
        return True
    except (pygit2.GitError, ValueError, KeyError, OSError):
        return False


def write_signed_commit(git: GitRepo, files: dict[str, bytes], parents: list[str], message: str, *,
                        author: tuple[str, str], sign: Callable[[bytes], bytes]) -> str:
    """Like ``GitRepo.write_commit`` (touches no ref), with a ``gpgsig`` header made by ``sign``
    over the commit's text: what ``git commit -S`` writes, so ``git verify-commit`` can check it."""
    def tree() -> pygit2.Oid:
        tb = git.repo.TreeBuilder()
        for name, data in sorted(files.items()):
            blob = git.repo.create_blob(data)
            git.check_written(blob)
            tb.insert(name, blob, pygit2.enums.FileMode.BLOB)
        tree = tb.write()
        git.check_written(tree)
        return tree

    sig = pygit2.Signature(author[0], author[1])
    # pygit2 returns the commit's text here (its stubs say Oid)
    content: str = git.repo.create_commit_string(sig, sig, message, odb_retry(tree),  # type: ignore[assignment]
                                                 [pygit2.Oid(hex=p) for p in parents])
    signature = sign(content.encode()).decode()
    def commit() -> pygit2.Oid:
        oid = git.repo.create_commit_with_signature(content, signature)
        git.check_written(oid)
        return oid

    return str(odb_retry(commit))


def commit_signature(git: GitRepo, hexid: str) -> tuple[bytes, bytes] | None:
    """(signature, signed payload) of a signed commit; None when it carries no signature."""
    try:
        c = git.repo.get(hexid)
    except (ValueError, pygit2.GitError):
        return None
    if not isinstance(c, pygit2.Commit):
        return None
    sig, payload = c.gpg_signature
    return (sig, payload) if sig else None
