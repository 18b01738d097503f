"""Noticing, cheaply, that a plain ``git fetch`` / ``git pull`` ran since jit last merged what they bring.

With the refspec ``jit init --remote R`` adds, a plain ``git fetch``/``git pull`` moves the
remote-tracking refs ``refs/jit-remotes/R/*``, but nothing merges them into ``refs/jit/*``
when git runs no hook: a ``git pull`` that merges nothing ("Already up to date") runs no
``post-merge``, and a ``git fetch`` none at all. So the next jit command merges them
(``Tracker.catch_up``), and the index reader (``gitjit.app.reader``) hands over to it.

How it knows, without listing a ref: git writes ``FETCH_HEAD`` (per work tree: ``<common>/FETCH_HEAD``
and ``<common>/worktrees/<name>/FETCH_HEAD``) on every fetch and pull, after their ref updates
(the file is closed last), while jit's own fetches pass ``--no-write-fetch-head``. The ``stat``
of those files is compared with the one recorded when jit last merged; a signature taken within
a clock tick of a write is not recorded (``settled``), so the next command looks again.

Why not git's ``reference-transaction`` hook: git 2.39 runs a fetch's ref updates as one
transaction per ref (unless ``--atomic``), so the hook would start twice per fetched ref,
200,000 processes for a 100,000-issue fetch; and a plain ``git fetch`` still deserves the merge.

Standard library only: the light read path imports this.
"""

from __future__ import annotations

import json
import os
import time

__all__ = ["STATE_FILE", "fetch_signature", "fetched_since", "read_state", "settled", "write_state"]

#: shared with the hooks' own reconciling (gitjit/hooks.py): ``fetch_head`` is this module's key
STATE_FILE = os.path.join("jit", "hooks-state.json")
#: a file written this recently may be written again within the same mtime tick
_RACY_NS = 20_000_000
_COARSE_RACY_NS = 2_000_000_000


def fetch_signature(common: str | os.PathLike[str]) -> list[list[object]]:
    """``[name, inode, size, mtime_ns]`` of every ``FETCH_HEAD`` in the repository (the main work
    tree's and each linked work tree's), sorted; empty when nothing was ever fetched."""
    common = os.fspath(common)
    names = ["FETCH_HEAD"]
    try:
        names += [os.path.join("worktrees", w, "FETCH_HEAD") for w in sorted(os.listdir(os.path.join(common, "worktrees")))]
    except OSError:
        pass
    sig: list[list[object]] = []
    for name in names:
        try:
            st = os.stat(os.path.join(common, name))
        except OSError:
            continue
        sig.append([name, st.st_ino, st.st_size, st.st_mtime_ns])
    return sig


def settled(sig: list[list[object]], now_ns: int | None = None) -> bool:
    """True when no file in ``sig`` was written so recently that a later write could leave the same
    stat (mtimes that are whole seconds suggest a coarse file system clock: a wider margin)."""
    now = time.time_ns() if now_ns is None else now_ns
    for _name, _ino, _size, mtime in sig:
        m = int(mtime)  # type: ignore[call-overload]
        margin = _COARSE_RACY_NS if m % 1_000_000_000 == 0 else _RACY_NS
        if now - m < margin:
            return False
    return True


def read_state(common: str | os.PathLike[str], name: str = STATE_FILE) -> dict[str, object]:
    try:
        with open(os.path.join(os.fspath(common), name), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_state(common: str | os.PathLike[str], state: dict[str, object], name: str = STATE_FILE) -> None:
    """Replace the state file atomically (readers never see half of it); best effort."""
    path = os.path.join(os.fspath(common), name)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def fetched_since(common: str | os.PathLike[str]) -> bool:
    """Did a ``git fetch``/``git pull`` that may have brought jit refs run since jit last merged
    what they bring? Only a remote with jit's refspec brings them, and ``jit init --remote``
    writes that into the repository's own config file: without it there, no."""
    if fetch_signature(common) == read_state(common).get("fetch_head", []):
        return False
    try:
        with open(os.path.join(os.fspath(common), "config"), "rb") as f:
            return b"refs/jit-remotes/" in f.read()
    except OSError:
        return True
