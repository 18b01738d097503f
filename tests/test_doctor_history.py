"""`jit doctor --full` walks each issue's history in time linear in its depth and in bounded
memory (issue 31, item 13): 1,000 commits of one issue took 64 s and 910 MB, 5,000 more than
454 s and 11.5 GB, because every commit's whole log was parsed and all of them kept.

The findings are those of the former walk, which this file keeps as the oracle: hypothesis
builds histories (appends, merges, reorders, reformatted, changed, dropped and unreadable logs)
and both must report the same problems."""

from __future__ import annotations

import dataclasses
import json
import secrets
import tracemalloc
from pathlib import Path

import pytest
from conftest import make_repo, run_jit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app import doctor as doctor_mod
from gitjit.app.doctor import verify_history
from gitjit.core.event import Event
from gitjit.core.fold import parse_events, serialize_events
from gitjit.git import GitRepo
from gitjit.store.entities import DOC

AUTHOR = ("test", "test@example.invalid")
IID = "0123456789ab"


def old_verify_history(git: GitRepo, tip: str, *, where: str, limit: int = 100_000) -> tuple[int, list[str]]:
    """The walk doctor used before (quadratic): every commit's log parsed whole, all kept."""
    cache: dict[str, dict[str, Event] | None] = {}

    def events(c: str) -> dict[str, Event] | None:
        if c not in cache:
            try:
                cache[c] = {e.id: e for e in parse_events(git.read_file(c, DOC), where=where)}
            except Exception:  # noqa: BLE001
                cache[c] = None
        return cache[c]

    problems: list[str] = []
    seen: set[str] = set()
    todo = [tip]
    while todo and len(seen) < limit:
        c = todo.pop()
        if c in seen:
            continue
        seen.add(c)
        mine = events(c)
        parents = git.parents(c)
        todo.extend(parents)
        if mine is None:
            problems.append(f"{where}: commit {c[:12]} has no readable {DOC}")
            continue
        union: dict[str, Event] = {}
        for p in parents:
            theirs = events(p)
            if theirs is None:
                continue
            for eid, e in theirs.items():
                if eid not in mine:
                    problems.append(f"{where}: commit {c[:12]} lost event {eid} ({e.type}) of parent {p[:12]}")
                elif mine[eid] != e:
                    problems.append(f"{where}: commit {c[:12]} changed event {eid} of parent {p[:12]}")
                union[eid] = e
        if len(parents) > 1:
            extra = [e for eid, e in mine.items() if eid not in union]
            if len({e.actor for e in extra}) > 1:
                problems.append(f"{where}: merge {c[:12]} adds events by several actors beyond its parents")
    return len(seen), problems


def _event(clock: int, actor: str = "agent:a", note: str = "") -> Event:
    return Event.from_json({"id": secrets.token_hex(16), "type": "issue_updated" if clock > 1 else "issue_created",
                                 "issue_id": IID, "clock": clock, "timestamp": f"2026-01-01T00:00:{clock % 60:02d}",
                                 "actor": actor, "title": "t" if clock == 1 else None,
                                 "changes": {"context_set": {"n": note or str(clock)}} if clock > 1 else None})


# one step of a history: what the new commit's log is, made from its parent(s)
STEPS = st.sampled_from(["append", "append", "append", "same", "reorder", "reformat", "change", "drop", "garbage",
                         "merge", "merge2", "blank", "dup", "dupsame"])


@st.composite
def histories(draw):  # type: ignore[no-untyped-def]
    return draw(st.lists(st.tuples(STEPS, st.integers(0, 50)), min_size=1, max_size=14))


def _build(git: GitRepo, plan: list[tuple[str, int]]) -> str:
    """Commits following ``plan`` (each step picks a parent among the commits so far by its number);
    returns a tip that reaches them all (a final merge when the plan branched)."""
    commits: list[tuple[str, list[Event] | None, bytes]] = []
    clock = 1
    first = [_event(1)]
    doc = serialize_events(first)
    commits.append((git.write_commit({DOC: doc}, [], "c0", author=AUTHOR), first, doc))
    for kind, pick in plan:
        c, evs, doc = commits[pick % len(commits)]
        parents = [c]
        base = list(evs or [])
        clock += 1
        if kind == "append":
            new = base + [_event(clock)]
            data = serialize_events(new)
        elif kind == "same":
            new, data = base, doc
        elif kind == "reorder":  # same events, lines in another order
            new = base
            data = b"".join(line + b"\n" for line in reversed(serialize_events(base).splitlines()))
        elif kind == "reformat":  # same events, spaced JSON
            new = base
            data = b"".join(json.dumps(e.to_json(), indent=None, separators=(", ", ": ")).encode() + b"\n"
                            for e in base)
        elif kind == "change" and base:
            e = base[-1]
            new = base[:-1] + [dataclasses.replace(e, actor="agent:forger")]
            data = serialize_events(new)
        elif kind == "drop" and base:
            new = base[:-1]
            data = serialize_events(new)
        elif kind in ("dup", "dupsame") and base:  # a second line with an id already there (a forgery)
            e = base[-1]
            twin = dataclasses.replace(e, actor="agent:twin") if kind == "dup" else e
            new = base[:-1] + [twin]
            data = serialize_events(base) + (twin.to_line() + "\n").encode()
        elif kind == "garbage":
            new, data = None, b"{not json\n"
        elif kind == "blank":
            new = base
            data = (doc or b"") + b"\n\n"
        elif kind in ("merge", "merge2") and len(commits) > 1:
            c2, evs2, _ = commits[(pick + 1) % len(commits)]
            if c2 == c:
                continue
            parents = [c, c2]
            union = {e.id: e for e in [*base, *(evs2 or [])]}
            extra = [_event(clock, "agent:m")] + ([_event(clock, "agent:n")] if kind == "merge2" else [])
            new = list(union.values()) + extra
            data = serialize_events(new)
        else:
            continue
        commits.append((git.write_commit({DOC: data}, parents, f"c{len(commits)}", author=AUTHOR), new, data))
    heads = [c for c, _, _ in commits]
    # one tip above every commit: a merge of all, holding the last log (its own findings included)
    return git.write_commit({DOC: commits[-1][2]}, heads, "tip", author=AUTHOR)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=histories())
def test_the_linear_walk_finds_what_the_full_one_found(tmp_path_factory, plan) -> None:  # type: ignore[no-untyped-def]
    git = GitRepo(make_repo(tmp_path_factory.mktemp("h")))
    tip = _build(git, plan)
    n_old, old = old_verify_history(git, tip, where="refs/jit/issues/x")
    n_new, new = verify_history(git, tip, where="refs/jit/issues/x")
    assert n_new == n_old
    assert sorted(new) == sorted(old)


def test_each_finding_is_still_made(tmp_path: Path) -> None:
    git = GitRepo(make_repo(tmp_path / "r"))
    e1, e2, e3 = _event(1), _event(2), _event(3)
    a = git.write_commit({DOC: serialize_events([e1])}, [], "a", author=AUTHOR)
    b = git.write_commit({DOC: serialize_events([e1, e2])}, [a], "b", author=AUTHOR)
    lost = git.write_commit({DOC: serialize_events([e1])}, [b], "lost", author=AUTHOR)
    changed = git.write_commit({DOC: serialize_events([e1, dataclasses.replace(e2, actor="x")])}, [b], "chg",
                               author=AUTHOR)
    bad = git.write_commit({DOC: b"nope\n"}, [b], "bad", author=AUTHOR)
    merge = git.write_commit({DOC: serialize_events([e1, e2, e3, _event(4, "agent:other")])}, [lost, changed, bad],
                             "m", author=AUTHOR)
    n, problems = verify_history(git, merge, where="R")
    assert n == 6
    assert set(problems) == {
        f"R: commit {lost[:12]} lost event {e2.id} (issue_updated) of parent {b[:12]}",
        f"R: commit {changed[:12]} changed event {e2.id} of parent {b[:12]}",
        f"R: commit {bad[:12]} has no readable {DOC}",
        f"R: commit {merge[:12]} changed event {e2.id} of parent {changed[:12]}",
        f"R: merge {merge[:12]} adds events by several actors beyond its parents",
    }


def test_a_deep_history_is_parsed_once_and_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 commits, each appending one event: the walk parses each event once (the former one
    parsed ~500,000 lines, each commit's log whole), and holds about one log at a time."""
    from bench.bench_doctor import build_history

    repo = tmp_path / "repo"
    iid = build_history(repo, 1000)
    git = GitRepo(repo)
    tip = git.tip(f"refs/jit/issues/{iid}")
    assert tip is not None
    final = git.read_file(tip, DOC)
    parsed: list[int] = []
    real = doctor_mod.parse_events

    def counting(blob: bytes, **kw):  # type: ignore[no-untyped-def]
        parsed.append(len(blob))
        return real(blob, **kw)

    monkeypatch.setattr(doctor_mod, "parse_events", counting)
    tracemalloc.start()
    n, problems = verify_history(git, tip, where="R")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert (n, problems) == (1000, [])
    assert sum(parsed) <= len(final) + 1000, (sum(parsed), len(final))  # each line once (and a separator)
    assert peak < 8 * len(final) + (4 << 20), (peak, len(final))  # about one log, not a thousand


def test_doctor_full_on_a_deep_history(tmp_path: Path) -> None:
    from bench.bench_doctor import build_history

    repo = tmp_path / "repo"
    build_history(repo, 2000)
    r = run_jit("doctor", "--full", "--json", cwd=repo, timeout=300)
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["checked"]["commits"] == 2000 and rep["errors"] == 0
    assert not [p for p in rep["problems"] if p["check"] == "history"]
