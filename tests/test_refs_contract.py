"""One contract for refs with compare-and-swap, run against the real ``GitRepo`` (libgit2 on a
repository in tmp_path) and its in-memory twin ``MemoryRefs`` (gitjit/git/refs.py), the way
dulwich runs one suite against its ``DiskRefsContainer`` and ``DictRefsContainer``: create-only
(``add_if_new``), compare-and-swap (``set_if_equals``), compare-and-delete (``remove_if_equals``),
the locked read-modify-write, lock behaviour, listing by prefix, names git refuses. A hypothesis
property then drives both with the same random operations and compares every outcome."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import git, make_repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.git.refs import BadRef, BadRefName, CasFailed, MemoryRefs, RefLocked, Refs


@dataclass
class Backend:
    name: str
    refs: Refs
    targets: list[str]  # four object ids the refs may point at
    hold_lock: Callable[[str], AbstractContextManager[None]]  # another writer holding the ref's lock
    make_symbolic: Callable[[str, str], None]
    reopen: Callable[[], Refs]  # another handle on the same refs (another process, for the real one)


def _git_backend(root: Path) -> Backend:
    from gitjit.git.repo import GitRepo

    repo = make_repo(root)
    g = GitRepo(str(repo / ".git"))
    targets = [g.write_commit({"f": str(k).encode()}, [], f"c{k}", author=("a", "a@example.invalid"))
               for k in range(4)]

    @contextmanager
    def hold_lock(ref: str) -> Iterator[None]:
        path = Path(g.common_dir) / (ref + ".lock")
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        try:
            yield
        finally:
            path.unlink()

    def make_symbolic(ref: str, target: str) -> None:
        git("symbolic-ref", ref, target, cwd=repo)

    return Backend("git", g, targets, hold_lock, make_symbolic, lambda: GitRepo(str(repo / ".git")))


def _memory_backend() -> Backend:
    m = MemoryRefs()
    targets = [f"{k:x}" * 40 for k in range(10, 14)]
    return Backend("memory", m, targets, m.locked, m.set_symbolic, lambda: m)


@pytest.fixture(params=["git", "memory"])
def b(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return _git_backend(tmp_path / "repo") if request.param == "git" else _memory_backend()


A, B = "refs/jit/issues/aaaaaaaaaaaa", "refs/jit/issues/bbbbbbbbbbbb"


# ---------------------------------------------------------------------------------- add_if_new

def test_create_only(b: Backend) -> None:
    x, y = b.targets[:2]
    assert b.refs.tip(A) is None
    b.refs.create_ref(A, x, "m")
    assert b.refs.tip(A) == x
    with pytest.raises(CasFailed):
        b.refs.create_ref(A, y, "m")
    assert b.refs.tip(A) == x  # untouched


def test_swap_with_no_expected_value_is_a_create(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.swap_ref(A, None, x, "m")
    assert b.refs.tip(A) == x
    with pytest.raises(CasFailed):
        b.refs.swap_ref(A, None, y, "m")


# ---------------------------------------------------------------------------------- set_if_equals

def test_compare_and_swap(b: Backend) -> None:
    x, y, z = b.targets[:3]
    b.refs.create_ref(A, x, "m")
    b.refs.swap_ref(A, x, y, "m")
    assert b.refs.tip(A) == y
    with pytest.raises(CasFailed):
        b.refs.swap_ref(A, x, z, "m")  # it moved since x was read
    assert b.refs.tip(A) == y
    with pytest.raises(CasFailed):
        b.refs.swap_ref(B, x, z, "m")  # absent: nothing to compare with
    assert b.refs.tip(B) is None
    b.refs.swap_ref(A, y, y, "m")  # to where it is: allowed
    assert b.refs.tip(A) == y


# ---------------------------------------------------------------------------------- remove_if_equals

def test_compare_and_delete(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.create_ref(A, x, "m")
    with pytest.raises(CasFailed):
        b.refs.delete_ref(A, y)
    assert b.refs.tip(A) == x
    b.refs.delete_ref(A, x)
    assert b.refs.tip(A) is None and A not in b.refs.tips("refs/")
    with pytest.raises(CasFailed):
        b.refs.delete_ref(A, x)  # gone already
    b.refs.create_ref(A, y, "m")  # and can be created again
    assert b.refs.tip(A) == y


# ---------------------------------------------------------------------------------- locked writes

def test_write_locked_reads_under_the_lock_and_writes_what_make_returns(b: Backend) -> None:
    x, y = b.targets[:2]
    seen: list[str | None] = []
    assert b.refs.write_locked(A, lambda tip: seen.append(tip) or x, "m") == x  # a create
    assert b.refs.write_locked(A, lambda tip: seen.append(tip) or y, "m") == y
    assert seen == [None, x] and b.refs.tip(A) == y
    assert b.refs.write_locked(A, lambda tip: None, "m") == y  # None: nothing written, the tip returned
    assert b.refs.write_locked(B, lambda tip: None, "m") is None and b.refs.tip(B) is None
    assert b.refs.tip(A) == y


def test_write_locked_holds_the_ref_locked_while_make_runs(b: Backend) -> None:
    x, y, z = b.targets[:3]
    b.refs.create_ref(A, x, "m")
    other = b.reopen()

    def make(tip: str | None) -> str:
        with pytest.raises(RefLocked):
            other.swap_ref(A, x, z, "m")  # another writer cannot move it meanwhile
        with pytest.raises(RefLocked):
            other.write_locked(A, lambda t: z, "m")
        other.create_ref(B, z, "m")  # other refs are not locked
        return y

    assert b.refs.write_locked(A, make, "m") == y
    assert b.refs.tip(A) == y and b.refs.tip(B) == z
    other.swap_ref(A, y, z, "m")  # released afterwards
    assert b.refs.tip(A) == z


def test_an_error_in_make_writes_nothing_and_releases_the_lock(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.create_ref(A, x, "m")

    class Refusal(Exception):
        pass

    def make(tip: str | None) -> str:
        raise Refusal("no")

    with pytest.raises(Refusal):  # the caller's own exception, untouched
        b.refs.write_locked(A, make, "m")
    assert b.refs.tip(A) == x
    b.refs.swap_ref(A, x, y, "m")
    assert b.refs.tip(A) == y


def test_a_held_lock_refuses_every_write_at_once_and_hides_nothing(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.create_ref(A, x, "m")
    with b.hold_lock(A):
        assert b.refs.tip(A) == x and b.refs.tips("refs/jit/") == {A: x}  # reads go on
        with pytest.raises(RefLocked):
            b.refs.swap_ref(A, x, y, "m")
        with pytest.raises(RefLocked):
            b.refs.delete_ref(A, x)
        with pytest.raises(RefLocked):
            b.refs.write_locked(A, lambda t: y, "m")
        with pytest.raises(CasFailed):
            b.refs.swap_ref(A, y, x, "m")  # a stale expected value is reported as such first
    with b.hold_lock(B):
        with pytest.raises(RefLocked):
            b.refs.create_ref(B, x, "m")  # a create takes the lock before it looks
        b.refs.swap_ref(A, x, y, "m")  # another ref's lock does not matter
    assert b.refs.tip(A) == y and b.refs.tip(B) is None
    b.refs.create_ref(B, x, "m")  # released
    assert b.refs.tip(B) == x


def test_symbolic_refs_are_not_data(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.create_ref(A, x, "m")
    b.make_symbolic(B, A)
    assert b.refs.tip(B) is None and B not in b.refs.tips("refs/jit/")
    with pytest.raises(BadRef):
        b.refs.write_locked(B, lambda t: y, "m")
    with pytest.raises(CasFailed):
        b.refs.create_ref(B, y, "m")
    with pytest.raises(CasFailed):
        b.refs.swap_ref(B, x, y, "m")
    assert b.refs.tip(A) == x


# ---------------------------------------------------------------------------------- listing

def test_listing_by_prefix(b: Backend) -> None:
    x, y, z = b.targets[:3]
    names = {A: x, B: y, "refs/jit/gates/review": z, "refs/jit-remotes/origin/issues/aaaaaaaaaaaa": x,
             "refs/jit/issuesx/cccccccccccc": y}
    for n, t in names.items():
        b.refs.create_ref(n, t, "m")
    assert b.refs.tips("refs/jit/issues/") == {A: x, B: y}
    assert b.refs.tips("refs/jit/") == {k: v for k, v in names.items() if k.startswith("refs/jit/")}
    assert set(b.refs.tips("refs/jit")) == {k for k in names if k.startswith("refs/jit")}
    assert b.refs.tips("refs/nothing/") == {}
    b.refs.delete_ref(B, y)
    assert b.refs.tips("refs/jit/issues/") == {A: x}


def test_listing_sees_packed_and_loose_refs_alike(b: Backend) -> None:
    x, y = b.targets[:2]
    b.refs.create_ref(A, x, "m")
    pack = getattr(b.refs, "pack_refs", None)
    if pack is not None:
        pack()
    b.refs.create_ref(B, y, "m")  # loose beside the packed one
    b.refs.swap_ref(A, x, y, "m")  # a loose value shadowing the packed one
    assert b.refs.tips("refs/jit/issues/") == {A: y, B: y}
    b.refs.delete_ref(A, y)
    assert b.refs.tips("refs/jit/issues/") == {B: y}


# ---------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("name", ["refs/jit/a..b", "refs/jit/x.lock", "refs/jit/", "HEADX", "refs/jit/sp ace",
                                  "refs/jit/ok/", "refs/jit//x", "refs/jit/.hidden", "refs/jit/a@{1}",
                                  "refs/jit/star*", "refs/jit/q?", "refs/jit/col:on", "refs/jit/dot.",
                                  "refs/jit/back\\slash", "refs/jit/tab\there", "refs/jit/[x"])
def test_names_git_refuses_are_refused_before_anything_is_written(b: Backend, name: str) -> None:
    """libgit2's transaction wrote any name it was given: ``refs/jit/a..b`` was created, could
    not be read back (tip None), and a second create silently overwrote it."""
    x = b.targets[0]
    before = b.refs.tips("refs/")
    for write in (lambda: b.refs.create_ref(name, x, "m"), lambda: b.refs.swap_ref(name, x, x, "m"),
                  lambda: b.refs.delete_ref(name, x), lambda: b.refs.write_locked(name, lambda t: x, "m")):
        with pytest.raises(BadRefName):
            write()
    assert b.refs.tips("refs/") == before and b.refs.tip(name) is None


def test_a_target_that_is_not_an_object_id(b: Backend) -> None:
    """pygit2 pads a short hex id with zeros: ``abc`` wrote a ref to ``abc000...``, an object that
    does not exist, after which git itself failed on the repository (``fatal: missing object``)."""
    x = b.targets[0]
    for bad in ("z" * 40, "abc", "", x[:39]):
        with pytest.raises(ValueError):
            b.refs.create_ref(A, bad, "m")
        assert b.refs.tip(A) is None
    b.refs.create_ref(A, x, "m")
    for bad in ("abc", x + "0"):
        with pytest.raises(ValueError):
            b.refs.swap_ref(A, x, bad, "m")
        with pytest.raises(ValueError):
            b.refs.write_locked(A, lambda tip: bad, "m")  # noqa: B023 - called at once
    assert b.refs.tips("refs/") == {A: x}
    b.refs.swap_ref(A, x, b.targets[1], "m")  # the lock was released


# ---------------------------------------------------------------------------------- races

def test_racing_creators_one_wins(b: Backend) -> None:
    """Eight threads, each with its own handle, create the same refs: exactly one wins each, the
    others are told (CasFailed, or RefLocked while the winner holds the lock)."""
    names = [f"refs/jit/issues/{k:012x}" for k in range(40)]
    wins: dict[str, list[int]] = {n: [] for n in names}
    start = threading.Barrier(8)

    def racer(k: int) -> None:
        refs = b.reopen()
        start.wait()
        for n in names:
            try:
                refs.create_ref(n, b.targets[k % 4], "m")
                wins[n].append(k)
            except (CasFailed, RefLocked):
                pass

    threads = [threading.Thread(target=racer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(len(w) == 1 for w in wins.values()), wins
    assert b.refs.tips("refs/jit/issues/") == {n: b.targets[w[0] % 4] for n, w in wins.items()}


# ---------------------------------------------------------------------------------- the twin is the model

_OPS = st.lists(st.tuples(st.sampled_from(["create", "swap", "delete", "write", "write-none", "lock-swap"]),
                          st.sampled_from([A, B, "refs/jit/gates/g"]),
                          st.sampled_from([None, 0, 1, 2, 3]), st.integers(0, 3)), min_size=1, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
def test_the_twin_behaves_like_the_repository(tmp_path_factory: pytest.TempPathFactory,
                                              ops: list[tuple[str, str, int | None, int]]) -> None:
    """The same random operations on a real repository and on ``MemoryRefs``: the same outcome
    (done, CasFailed, RefLocked) at every step and the same refs after it."""
    real = _git_backend(tmp_path_factory.mktemp("model") / "repo")
    twin = _memory_backend()

    def apply(bk: Backend, op: str, ref: str, exp: int | None, new: int) -> str:
        t = bk.targets
        expected = None if exp is None else t[exp]
        try:
            if op == "create":
                bk.refs.create_ref(ref, t[new], "m")
            elif op == "swap":
                bk.refs.swap_ref(ref, expected, t[new], "m")
            elif op == "delete":
                bk.refs.delete_ref(ref, t[exp or 0])
            elif op == "write":
                got = bk.refs.write_locked(ref, lambda tip: t[new], "m")
                assert got == t[new]
            elif op == "write-none":
                got = bk.refs.write_locked(ref, lambda tip: None, "m")
                return f"left {None if got is None else t.index(got)}"
            else:
                with bk.hold_lock(ref):
                    bk.refs.swap_ref(ref, expected, t[new], "m")
        except (CasFailed, RefLocked) as e:
            return type(e).__name__
        return "done"

    def state(bk: Backend) -> dict[str, int]:
        return {k: bk.targets.index(v) for k, v in bk.refs.tips("refs/").items()}

    for op in ops:
        assert apply(real, *op) == apply(twin, *op), op
        assert state(real) == state(twin), op
