"""A small interface over pygit2: what the store needs and nothing more.

Writes are compare-and-swap (cf. dulwich's ``set_if_equals`` / ``add_if_new``):

* ``create_ref`` is create-only. It does NOT use ``create_reference(force=False)``: libgit2
  1.9 checks "already exists" *before* taking ``<ref>.lock`` and then writes with no old-value
  check, so two racing creators can both succeed and the later one silently overwrites the
  earlier (measured: 467 double wins in 1,500 names raced by 8 processes;
  tests/test_concurrency.py keeps a regression test). Instead it locks the ref in a
  ``repo.transaction()``, reads it under that lock, and sets it only if still absent.
* ``swap_ref`` moves a ref only if it still points where the caller read it: pygit2's
  ``Reference.set_target`` passes the value the ``Reference`` object saw as libgit2's
  ``current_id`` and fails with ``GIT_EMODIFIED`` under the ref's ``.lock`` if it moved.
* A held ``<ref>.lock`` raises at once (libgit2 has no lock wait, unlike git's 100 ms),
  surfaced here as ``RefLocked`` so the caller can back off and retry. See ``_classify``
  for the exact exception types and messages pygit2 1.21 / libgit2 1.9.7 produce.

Nothing here touches the working tree, the index or HEAD.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from . import _pygit2

_pygit2.prepare()
import pygit2  # after prepare: see gitjit/git/_pygit2.py

from ..core.errors import ExternalError, UsageError
from . import run as _run
from .refs import BadRef, BadRefName, CasFailed, RefLocked, check_ref_name, check_target

if TYPE_CHECKING:
    import subprocess

__all__ = [
    "ZERO",
    "BadRef",
    "BadRefName",
    "CasFailed",
    "GitRepo",
    "ObjectVanished",
    "RefLocked",
    "odb_retry",
    "open_repo",
]

T = TypeVar("T")

ZERO = "0" * 40
#: from this many blobs on, ``read_files`` reads them through ``git cat-file --batch``
BULK_READ_MIN = 200
_BLOB = pygit2.enums.FileMode.BLOB if hasattr(pygit2, "enums") else pygit2.GIT_FILEMODE_BLOB


class _Refused(Exception):
    """Carries an exception raised by a ``write_locked`` caller out of the transaction untouched."""


def open_repo(path: str | os.PathLike[str] | None = None) -> GitRepo:
    """Open the repository git would use in ``path`` (default: the current directory, where
    ``GIT_DIR`` and the other variables of the environment count as they do for git; a path the
    user named wins over them). ``gitjit.git.discover`` finds it, libgit2 opens it."""
    from .discover import discover

    return GitRepo(discover(path, repo_env=path is None).git_dir)


def _is_lock_error(e: Exception) -> bool:
    """Another writer holds ``<ref>.lock``. libgit2 (filebuf.c) reports it two ways, and pygit2
    raises ``OSError`` from the Reference API but ``GitError`` from the transaction API:

    * ``failed to lock file '<ref>.lock' for writing`` (GIT_ELOCKED): the lock existed already;
    * ``failed to create locked file '<ref>.lock': File exists``: the lock appeared between
      libgit2's existence check and its O_EXCL open. This is the usual form under real
      contention. Other errnos under the same prefix (permissions, missing directory) are real
      failures and must not be retried for 20 s.
    """
    msg = str(e)
    if "failed to lock file" in msg:
        return True
    return "failed to create locked file" in msg and "File exists" in msg


def _is_cas_error(e: Exception) -> bool:
    """The ref was not what the caller expected: moved (GIT_EMODIFIED), created meanwhile
    (GIT_EEXISTS -> ``AlreadyExistsError``) or deleted meanwhile (GIT_ENOTFOUND -> pygit2's
    ``NotFoundError``, a ``KeyError``)."""
    if isinstance(e, (pygit2.AlreadyExistsError, KeyError)):
        return True
    return "old reference value does not match" in str(e)


class ObjectVanished(OSError):
    """libgit2 reported an object written that is not in the object database."""


def odb_retry(write: Callable[[], T]) -> T:
    """Run an object write again when its fan-out directory vanished under it.

    libgit2 writes a loose object to a temporary file, creates ``objects/xx/`` and renames the
    file into it; ``git prune`` (run by ``git gc``, which jit itself starts:
    gitjit/git/housekeeping.py) removes the fan-out directories it finds empty, and when that
    lands between the two steps the rename fails with ENOENT ("failed to rename lockfile to ...:
    No such file or directory"). Worse, libgit2 1.9 then falls back to a streaming write that can
    report success without leaving the object anywhere (measured: a commit id returned, the ref
    moved to it, the object missing), so writers check what they wrote (``GitRepo.check_written``)
    and raise ``ObjectVanished``. git retries the same race in its own ``finalize_object_file``;
    libgit2 does not, so we do (tests/test_concurrency.py runs writers beside a ``git gc`` loop).
    Objects are content-addressed, so writing one again is harmless."""
    for attempt in range(10):
        try:
            return write()
        except (OSError, pygit2.GitError) as e:
            if attempt == 9 or not (isinstance(e, ObjectVanished) or "No such file or directory" in str(e)):
                raise
            time.sleep(0.001 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class GitRepo:
    def __init__(self, git_path: str):
        cfg_path = Path(git_path) / "config"
        common = Path(git_path)
        cd = common / "commondir"
        if cd.exists():
            common = (common / cd.read_text().strip()).resolve()
            cfg_path = common / "config"
        # libgit2 1.9 cannot open reftable repositories; say so instead of failing obscurely.
        if cfg_path.exists():
            text = cfg_path.read_text(errors="replace").lower()
            if "refstorage" in text and "reftable" in text:
                raise UsageError(
                    "this repository stores refs as reftable, which libgit2 (and so gitjit) cannot read yet",
                    hint="use a repository with the files ref backend (git init --ref-format=files)",
                )
            if "objectformat" in text and "sha256" in text:
                raise UsageError("SHA-256 repositories are not supported yet")
        self.common_dir = common
        try:
            pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, True)  # see "Durability" below
            self.repo = pygit2.Repository(git_path)
        except pygit2.GitError as e:
            raise ExternalError(f"cannot open repository at {git_path}: {e}") from None
        # Durability (docs/reliability.md): libgit2 does not fsync by default, so a power loss right
        # after a write could leave a ref naming an object that never reached the disk. We fsync
        # objects and refs before their rename unless `git config jit.fsync false` (a few ms a write).
        # libgit2 reads this process-wide option when it sets up a repository's object and ref
        # backends, so it is set before opening, and the repository is reopened to turn it off.
        if (self.config_get("jit.fsync") or "true").strip().lower() in ("false", "no", "off", "0"):
            pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, False)
            self.repo = pygit2.Repository(git_path)
            self.__dict__.pop("_cfg", None)
        self.git_dir = Path(self.repo.path)
        self.workdir = Path(self.repo.workdir) if self.repo.workdir else None
        self.is_bare = self.repo.is_bare

    # ------------------------------------------------------------------ config

    def config_get(self, key: str) -> str | None:
        snap = self._config_snap()
        got = snap[3]  # the values read from this snapshot so far
        try:
            return got[key]  # type: ignore[no-any-return]
        except KeyError:
            pass
        try:
            v = snap[2][key]
        except KeyError:
            v = None
        got[key] = v
        return v  # type: ignore[no-any-return]

    def _config_snap(self) -> tuple[Any, ...]:
        """A snapshot of the configuration, taken again when the repository's config file changed
        (one stat) or a second has passed (the user's and system files): every read through
        libgit2 stats all four files, and a claim reads four keys. The values read from it are
        kept with it: through pygit2, a read of a snapshot still cost ~0.05 ms, and a claim
        attempt read six (its author, the hub, whether the repository is set up)."""
        path = self.__dict__.get("_cfg_path")
        if path is None:
            path = self.__dict__["_cfg_path"] = os.path.join(self.common_dir, "config")
        try:
            st = os.stat(path)
            sig: tuple[int, ...] = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            sig = ()
        now = time.monotonic()
        snap = self.__dict__.get("_cfg")
        if snap is None or snap[0] != sig or now - snap[1] > 1.0:
            snap = (sig, now, self.repo.config.snapshot(), {})
            self.__dict__["_cfg"] = snap
        return snap  # type: ignore[no-any-return]

    def config_get_all(self, key: str) -> list[str]:
        try:
            return [v for v in self.repo.config.get_multivar(key) if v is not None]
        except (KeyError, pygit2.GitError):
            return []

    def config_set(self, key: str, value: str | bool) -> None:
        self.__dict__.pop("_cfg", None)
        self.repo.config[key] = value

    def config_unset(self, key: str) -> None:
        self.__dict__.pop("_cfg", None)
        try:
            del self.repo.config[key]
        except (KeyError, pygit2.GitError):
            pass

    def config_add_multivar(self, key: str, value: str) -> None:
        self.__dict__.pop("_cfg", None)
        if value not in self.config_get_all(key):
            self.repo.config.set_multivar(key, "^$", value)

    def config_remove_multivar(self, key: str, value: str) -> bool:
        """Remove every ``key`` entry equal to ``value``; True if one was there."""
        self.__dict__.pop("_cfg", None)
        if value not in self.config_get_all(key):
            return False
        import re

        self.repo.config.delete_multivar(key, "^" + re.escape(value) + "$")
        return True

    def remote_names(self) -> list[str]:
        return sorted(n for n in self.repo.remotes.names() if n is not None)

    def identity(self) -> tuple[str | None, str | None]:
        return self.config_get("user.name"), self.config_get("user.email")

    # ------------------------------------------------------------------ refs

    def tips(self, prefix: str) -> dict[str, str]:
        """``{refname: target-hex}`` of every direct ref under ``prefix``.

        pygit2 has no prefix iterator (its iterator filters only all/branches/tags), so this
        lists every ref, as libgit2 resolves it (a loose ref shadows its packed value; one whose
        file cannot be read is left out, as libgit2's iterator does); symbolic refs are skipped
        (a jit ref is never symbolic). One call that builds the reference objects in C: looking
        each name up again from Python took 2.4 s at 100,000 issues with their tracking refs,
        against 0.3 s (packed refs), and a sync called it five times."""
        direct = pygit2.enums.ReferenceType.DIRECT
        return {r.name: str(r.target) for r in self.repo.listall_reference_objects()
                if r.name.startswith(prefix) and r.type == direct}

    def ref_tips(self, prefix: str, *more: str) -> dict[str, str]:
        """``tips(prefix)`` (and of the ``more`` prefixes) read from the ref files themselves (gitjit.git.packedrefs.read_tips):
        the loose files under ``prefix`` and the matching lines of ``packed-refs``, without
        building a reference object for every ref of the repository (1.4 s through libgit2 at
        100,000 issues with their tracking refs; ~0.2 s this way)."""
        from .packedrefs import Unsupported, read_tips

        try:
            return read_tips(self.common_dir, prefix, *more)
        except Unsupported:
            out = self.tips(prefix)
            for pre in more:
                out.update(self.tips(pre))
            return out

    def reflog_identity(self) -> str:
        """``Name <email>`` as git writes it into reflog lines: the committer from the environment
        or ``user.name``/``user.email``, else a fixed one."""
        name = os.environ.get("GIT_COMMITTER_NAME") or self.config_get("user.name") or "gitjit"
        email = os.environ.get("GIT_COMMITTER_EMAIL") or self.config_get("user.email") or "gitjit@localhost"
        clean = str.maketrans({"<": "", ">": "", "\n": " ", "\t": " "})
        return f"{name.translate(clean).strip() or 'gitjit'} <{email.translate(clean).strip()}>"

    def move_refs(self, updates: list[tuple[str, str | None, str | None]], message: str | None, *,
                  durable: bool, wait: float = 1.0) -> set[str]:
        """Move many refs in one compare-and-swap transaction written as one ``packed-refs``
        (gitjit.git.packedrefs.update: ``old`` None = must not exist, ``packedrefs.ANY`` = not
        compared; ``new`` None = delete). ``message``: reflog lines as git would write them
        (``core.logAllRefUpdates``); None: none. ``durable``: fsync ``packed-refs``. Annotated tags
        get their peel lines. Returns the refs a concurrent writer raced (for the caller to look at
        again); ``CasFailed``/``RefLocked``/``packedrefs.Unsupported``: nothing moved."""
        from .packedrefs import update

        peeled: dict[str, str] = {}
        # the object's type from its header alone (pygit2 releases after 1.19.0); reading the object is the
        # fallback (a commit is a few hundred bytes)
        header = getattr(self.repo.odb, "read_header", None)
        for new in {n for _r, _o, n in updates if n is not None}:
            try:
                if header is not None:
                    kind = header(new)[0]
                else:
                    obj = self.repo.get(new)
                    if obj is None:
                        continue
                    kind = obj.type
            except (KeyError, ValueError, pygit2.GitError):
                continue
            if kind == pygit2.enums.ObjectType.TAG:
                tag = self.repo.get(new)
                try:
                    if tag is not None:
                        peeled[new] = str(tag.peel(None).id)
                except (KeyError, ValueError, pygit2.GitError):
                    continue
        log_mode = (self.config_get("core.logAllRefUpdates") or "").strip().lower()
        return update(self.common_dir, updates, peeled=peeled,
                      reflog=None if message is None or log_mode in ("false", "no", "off", "0")
                      else (self.reflog_identity(), message),
                      log_all=log_mode == "always", fsync=durable, wait=wait)

    def tip(self, refname: str) -> str | None:
        try:
            ref = self.repo.references.get(refname)
        except (pygit2.GitError, ValueError):
            return None
        if ref is None or ref.type != pygit2.enums.ReferenceType.DIRECT:
            return None
        return str(ref.target)

    def create_ref(self, refname: str, target: str, message: str) -> None:
        """Create ``refname`` only if it does not exist: lock, look, set, all under the lock."""
        check_ref_name(refname)  # libgit2's transaction would write any name (gitjit/git/refs.py)
        check_target(target)  # and pygit2 pads a short id with zeros
        oid = pygit2.Oid(hex=target)
        try:
            with self.repo.transaction() as tx:
                tx.lock_ref(refname)
                # read the real ref file while we hold its lock: nobody can create it meanwhile
                if self.repo.references.get(refname) is not None:
                    raise CasFailed(refname)
                tx.set_target(refname, oid, message=message)
        except CasFailed:
            raise
        except (OSError, pygit2.GitError, KeyError, ValueError) as e:
            self._classify(e, refname, None, target)

    def swap_ref(self, refname: str, expected: str | None, target: str, message: str) -> None:
        """Point ``refname`` at ``target`` iff it currently points at ``expected`` (None: absent)."""
        if expected is None:
            self.create_ref(refname, target, message)
            return
        check_ref_name(refname)
        check_target(target)
        try:
            ref = self.repo.references.get(refname)
            if ref is None or str(ref.target) != expected:
                raise CasFailed(refname)
            ref.set_target(pygit2.Oid(hex=target), message)
        except CasFailed:
            raise
        except (OSError, pygit2.GitError, KeyError, ValueError) as e:
            self._classify(e, refname, expected, target)

    def _unsynced(self) -> pygit2.Repository:
        """This repository opened again with libgit2's fsync off (the option is read when a
        repository is opened): for ref writes that only take what a remote already holds."""
        repo = self.__dict__.get("_nofsync")
        if repo is None:
            pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, False)
            try:
                repo = pygit2.Repository(self.git_dir)
            finally:  # as the constructor left it
                pygit2.option(pygit2.enums.Option.ENABLE_FSYNC_GITDIR, self._fsync_on())
            self.__dict__["_nofsync"] = repo
        return repo

    def _fsync_on(self) -> bool:
        return (self.config_get("jit.fsync") or "true").strip().lower() not in ("false", "no", "off", "0")

    def swap_many(self, updates: list[tuple[str, str | None, str]], message: str, *, durable: bool = True) -> None:
        """Move several refs, each only if it still points where the caller read it (``None``:
        absent): one libgit2 transaction that locks each, checks it under its lock and writes it,
        without a ``git`` process. Not atomic across the refs (libgit2 commits them one by one),
        so callers use it where each update stands alone. ``durable=False``: without fsync, for
        refs that only take what a remote already holds. ``CasFailed``/``RefLocked`` otherwise."""
        for name, _old, target in updates:
            check_ref_name(name)
            check_target(target)
        repo = self.repo if durable else self._unsynced()
        try:
            with repo.transaction() as tx:
                for name, old, target in updates:
                    tx.lock_ref(name)
                    cur = repo.references.get(name)
                    if (str(cur.target) if cur is not None else None) != old:
                        raise CasFailed(name)
                    tx.set_target(name, pygit2.Oid(hex=target), message=message)
        except CasFailed:
            raise
        except (OSError, pygit2.GitError, KeyError, ValueError) as e:
            if _is_lock_error(e):
                raise RefLocked(updates[0][0]) from None
            raise

    def set_cached(self, pairs: list[tuple[str, str]], message: str) -> None:
        """Point each ref at its target whatever it held: for refs that only cache what a remote
        holds (remote-tracking refs), never for the refs of record. One libgit2 transaction (each
        ref locked, then all written) without fsync, so a few refs cost no ``git`` process.
        ``RefLocked`` if another writer holds one of them."""
        for name, target in pairs:
            check_ref_name(name)
            check_target(target)
        repo = self._unsynced()
        try:
            with repo.transaction() as tx:
                for name, target in pairs:
                    tx.lock_ref(name)
                    tx.set_target(name, pygit2.Oid(hex=target), message=message)
        except (OSError, pygit2.GitError, KeyError, ValueError) as e:
            if _is_lock_error(e):
                raise RefLocked(pairs[0][0]) from None
            raise

    def write_locked(self, refname: str, make: Callable[[str | None], str | None], message: str) -> str | None:
        """Lock ``refname``, read its tip under the lock, and point it at ``make(tip)``.

        The local write path (``EntityStore.append``). Unlike the optimistic ``swap_ref``, nobody
        else can move the ref between the read and the write, so a writer that would lose a race
        never builds a commit for nothing, and a held lock is reported before any work is done
        (``RefLocked``: ``claim_next`` then moves on to its next candidate). ``make`` returns the
        new commit, or None to leave the ref alone; if it raises, the lock is released and
        nothing is written. A transaction also skips libgit2's check of the new name against
        every packed ref (``reference_path_available``), ~1 ms per write at 100,000 refs.
        Returns the tip the ref was left at."""
        check_ref_name(refname)
        try:
            with self.repo.transaction() as tx:
                for attempt in range(10):
                    try:
                        tx.lock_ref(refname)
                        break
                    except Exception as e:  # pygit2 raises its own NotFoundError here
                        # `git pack-refs --prune` removes directories it emptied (refs/jit/issues
                        # with them), and libgit2's transaction does not create the lock file's
                        # directory; a pack running right now may remove it again before we lock
                        if "No such file or directory" not in str(e) or attempt == 9:
                            raise
                        os.makedirs(os.path.dirname(os.path.join(self.common_dir, refname)), exist_ok=True)
                ref = self.repo.references.get(refname)  # the ref file itself, read under our lock
                if ref is not None and ref.type != pygit2.enums.ReferenceType.DIRECT:
                    raise BadRef(f"{refname} is a symbolic ref")
                tip = str(ref.target) if ref is not None else None
                try:
                    new = make(tip)
                    if new is not None:
                        check_target(new)
                except BaseException as e:  # noqa: BLE001 - the caller's own refusal: not a libgit2 failure
                    raise _Refused(e) from None
                if new is None:
                    return tip
                # the reflog entry's identity comes from the repository's config: pygit2 1.21's
                # Transaction.set_target cannot pass a Signature (it hands cffi a bytes object)
                tx.set_target(refname, pygit2.Oid(hex=new), message=message)
            return new
        except _Refused as r:
            raise r.args[0] from None
        except (OSError, pygit2.GitError, ValueError) as e:
            if _is_lock_error(e) or (self.common_dir / (refname + ".lock")).exists():
                raise RefLocked(refname) from None
            raise

    def delete_ref(self, refname: str, expected: str) -> None:
        check_ref_name(refname)
        try:
            ref = self.repo.references.get(refname)
            if ref is None or str(ref.target) != expected:
                raise CasFailed(refname)
            ref.delete()
        except CasFailed:
            raise
        except (OSError, pygit2.GitError, KeyError, ValueError) as e:
            self._classify(e, refname, expected, None)

    def _classify(self, e: Exception, refname: str, expected: str | None, target: str | None) -> None:
        """Turn a failed ref write into RefLocked / CasFailed / success, or re-raise it.

        The known messages decide first. An unknown one (another libgit2 version's wording) is
        judged by what is on disk, which is safe because a failed write changed nothing: if the
        ref already points at ``target`` the write did land (report success); if it moved away
        from ``expected`` we lost a race (CasFailed: the caller re-reads and retries); if the
        lock file is there, someone holds it (RefLocked); otherwise it is a real error."""
        if _is_lock_error(e):
            raise RefLocked(refname) from None
        if _is_cas_error(e):
            raise CasFailed(refname) from None
        now = self.tip(refname)
        if target is not None and now == target:
            return
        if now != expected:
            raise CasFailed(refname) from None
        if (self.common_dir / (refname + ".lock")).exists():
            raise RefLocked(refname) from None
        raise e

    def pack_refs(self) -> None:
        self.repo.references.compress()

    # ------------------------------------------------------------------ objects

    def read_file(self, commit_hex: str, name: str) -> bytes:
        """The blob ``name`` at the root of the tree of commit ``commit_hex``. ``BadRef`` if the
        object is missing, not a commit, or the tree has no such blob."""
        blob = self.repo.get(self.file_id(commit_hex, name))
        if not isinstance(blob, pygit2.Blob):
            raise BadRef(f"{name} in {commit_hex[:12]} is not a file")
        return blob.data

    def file_id(self, commit_hex: str, name: str) -> str:
        """The id of the entry ``name`` at the root of the tree of commit ``commit_hex`` (a cheap
        read: the commit and its tree). ``BadRef`` as for ``read_file``."""
        try:
            obj = self.repo.get(commit_hex)
        except (ValueError, pygit2.GitError) as e:
            raise BadRef(f"cannot read object {commit_hex}: {e}") from None
        if obj is None:
            raise BadRef(f"object {commit_hex} is missing")
        if not isinstance(obj, pygit2.Commit):
            raise BadRef(f"points at a {obj.type_str}, not a commit")
        try:
            entry = obj.tree[name]
        except KeyError:
            raise BadRef(f"commit {commit_hex[:12]} has no {name}") from None
        if entry.type_str != "blob":
            raise BadRef(f"{name} in {commit_hex[:12]} is not a file")
        return str(entry.id)

    def read_files(self, commit_hexes: list[str], name: str) -> Generator[bytes | BadRef, None, None]:
        """``read_file`` of many commits, in order: the data, or the ``BadRef`` to raise for it.

        For many commits the blobs are read by one ``git cat-file --batch`` process, fed by a
        thread, while the caller works on the ones already read. libgit2 1.9 takes ~140 us to
        read one of these blobs from a pack with delta chains up to 50 deep across issues (what
        fast-import wrote for imports before they ran it with --depth=0, and git gc keeps), git
        ~45 us, and in another process: at 100,000 issues it was a quarter of a cold index rebuild. The commits and trees are still read here (~10 us each,
        with ``read_file``'s exact errors). If git cannot be run, or does not report a blob,
        libgit2 reads it (and gives the error)."""
        ids: list[str | BadRef] = []
        for c in commit_hexes:
            try:
                ids.append(self.file_id(c, name))
            except BadRef as e:
                ids.append(e)
        want = [i for i in ids if isinstance(i, str)]
        cat = _CatFile.start(self.git_dir, want) if len(want) >= BULK_READ_MIN else None
        try:
            for c, i in zip(commit_hexes, ids):
                if isinstance(i, BadRef):
                    yield i
                    continue
                data = cat.next(i) if cat is not None else None
                if data is None:
                    blob = self.repo.get(i)
                    if not isinstance(blob, pygit2.Blob):
                        yield BadRef(f"{name} in {c[:12]} is not a file")
                        continue
                    data = blob.data
                yield data
        finally:
            if cat is not None:
                cat.close()

    def parents(self, commit_hex: str) -> list[str]:
        c = self.repo.get(commit_hex)
        return [str(p) for p in c.parent_ids] if isinstance(c, pygit2.Commit) else []

    def commit_time(self, commit_hex: str) -> int:
        c = self.repo.get(commit_hex)
        return int(c.commit_time) if isinstance(c, pygit2.Commit) else 0

    def write_commit(
        self,
        files: dict[str, bytes],
        parents: list[str],
        message: str,
        *,
        author: tuple[str, str],
        committer: tuple[str, str] | None = None,
        time: int | None = None,
    ) -> str:
        """Write blobs, a flat tree and a commit; touch no ref. Returns the commit id."""
        return odb_retry(lambda: self._write_commit(files, parents, message, author, committer, time))

    def _write_commit(self, files: dict[str, bytes], parents: list[str], message: str,
                      author: tuple[str, str],
                      committer: tuple[str, str] | None, time: int | None) -> str:
        tb = self.repo.TreeBuilder()
        for name, data in sorted(files.items()):
            blob = self.repo.create_blob(data)
            self.check_written(blob)
            tb.insert(name, blob, _BLOB)
        tree = tb.write()
        if time is None:
            a = pygit2.Signature(author[0], author[1])
            c = pygit2.Signature(*(committer or author))
        else:
            a = pygit2.Signature(author[0], author[1], time, 0)
            c = pygit2.Signature(*(committer or author), time, 0)
        oid = self.repo.create_commit(None, a, c, message, tree, [pygit2.Oid(hex=p) for p in parents])
        self.check_written(tree, oid)
        return str(oid)

    def check_written(self, *oids: pygit2.Oid) -> None:
        """Raise ``ObjectVanished`` unless every object is really there (see ``odb_retry``): a
        ``stat`` of the loose file, and the object database only when that fails (a write of an
        object that already existed in a pack leaves no loose file)."""
        objects = os.path.join(self.common_dir, "objects")
        for oid in oids:
            h = str(oid)
            if not os.path.exists(os.path.join(objects, h[:2], h[2:])) and not self.repo.odb.exists(oid):
                raise ObjectVanished(f"object {h} was reported written but is not in the object database")

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True if ``ancestor`` is ``descendant`` or reachable from it (pygit2's descendant_of is strict)."""
        if ancestor == descendant:
            return True
        try:
            return bool(self.repo.descendant_of(pygit2.Oid(hex=descendant), pygit2.Oid(hex=ancestor)))
        except (pygit2.GitError, ValueError, KeyError):
            return False

    def has_object(self, hexid: str) -> bool:
        try:
            return hexid in self.repo
        except (ValueError, pygit2.GitError):
            return False

    def resolve_commit(self, rev: str) -> str | None:
        """The full id of the commit ``rev`` names (an id, a prefix, a branch, ``HEAD~2``), or None
        when it names nothing or something that is not a commit (an unborn ``HEAD`` included)."""
        try:
            obj = self.repo.revparse_single(rev)
            commit = obj.peel(pygit2.Commit)
        except (KeyError, ValueError, pygit2.GitError, pygit2.InvalidSpecError):
            return None
        return str(commit.id)

    def path_kind(self, commit_hex: str, path: str) -> str | None:
        """``"blob"`` or ``"tree"`` for the entry at ``path`` (``/``-separated, relative to the top)
        in the tree of commit ``commit_hex``; None when the commit has no such entry."""
        try:
            obj = self.repo.get(commit_hex)
            if not isinstance(obj, pygit2.Commit):
                return None
            entry = obj.tree[path]
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return str(entry.type_str)

    def read_path(self, commit_hex: str, path: str) -> bytes | None:
        """The blob at ``path`` in the tree of commit ``commit_hex``; None when there is no such file."""
        try:
            obj = self.repo.get(commit_hex)
            if not isinstance(obj, pygit2.Commit):
                return None
            blob = self.repo.get(obj.tree[path].id)
        except (KeyError, ValueError, pygit2.GitError):
            return None
        return blob.data if isinstance(blob, pygit2.Blob) else None


class _CatFile:
    """``git cat-file --batch --buffer`` reading a known list of objects, fed by a thread."""

    def __init__(self, proc: subprocess.Popen[bytes], oids: list[str]) -> None:
        self.proc = proc
        self.oids = oids
        self.broken = False
        assert proc.stdin is not None and proc.stdout is not None
        self.out = proc.stdout
        self.feeder = threading.Thread(target=self._feed, args=(proc.stdin,), name="jit-cat-file", daemon=True)
        self.feeder.start()

    @classmethod
    def start(cls, git_dir: Path, oids: list[str]) -> _CatFile | None:
        try:
            # the environment scrubbed (gitjit/git/run.py) and replace refs ignored: git must read
            # the very objects libgit2 would; a partial clone must not go to the network for a blob
            proc = _run.popen(["--no-replace-objects", "cat-file", "--batch", "--buffer"], git_dir=git_dir,
                              env={"GIT_NO_LAZY_FETCH": "1"}, stdin=_run.PIPE)
        except ExternalError:
            return None
        return cls(proc, oids)

    def _feed(self, stdin: IO[bytes]) -> None:
        try:
            for k in range(0, len(self.oids), 512):
                stdin.write("".join(o + "\n" for o in self.oids[k:k + 512]).encode("ascii"))
        except (OSError, ValueError):
            pass  # git went away, or the reader stopped early: the reader sees to it
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def next(self, oid: str) -> bytes | None:
        """The content of the next object, which must be ``oid``; None if git does not report it
        as a blob, or once anything looked wrong (the caller then reads with libgit2)."""
        if self.broken:
            return None
        try:
            head = self.out.readline().split()
            if len(head) == 3 and head[0] == oid.encode("ascii"):
                size = int(head[2])
                data = self.out.read(size + 1)
                if len(data) == size + 1 and data[-1:] == b"\n":
                    return data[:-1] if head[1] == b"blob" else None
            elif len(head) == 2 and head[0] == oid.encode("ascii") and head[1] == b"missing":
                return None
        except (OSError, ValueError):
            pass
        self.broken = True  # out of step with the requests: stop trusting the stream
        return None

    def close(self) -> None:
        self.proc.kill()
        self.out.close()
        self.proc.wait()
        self.feeder.join()
