"""Tracker.batch(): many new issues staged by ordinary calls and published at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import make_repo, ref_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.app.tracker import Tracker
from gitjit.core.errors import CycleError, GitjitError, NotFoundError, UsageError, ValidationError

_FIELDS = ("title", "description", "priority", "labels", "context", "state", "assignee")


def _view(t: Tracker, iid: str, names: dict[str, str]) -> dict[str, Any]:
    """An issue's shown fields, with ids replaced by stable names so two repositories compare."""
    s = t.show(iid)
    out = {k: s[k] for k in _FIELDS}
    out["dependencies"] = sorted(names.get(d, d) for d in s["dependencies"])
    out["gates"] = sorted(g["key"] for g in s["gates"])
    return out


def test_a_batch_publishes_its_issues_at_once(tracker: Tracker, repo: Path) -> None:
    existing = tracker.create_issue("Existing work")
    other = Tracker(repo, actor="agent:other")
    before = ref_snapshot(repo)
    with tracker.batch() as b:
        epic = b.create_issue("Authentication", priority="high", gates=["review"], labels=["epic:auth"],
                              context={"area": "auth"})
        model = b.create_issue("User model", depends_on=[existing["id"][:6]])  # an existing issue, by prefix
        assert b.add_dependency(epic["id"], [model["id"]]) == {"from_id": epic["id"], "added": [model["id"]],
                                                                "already_exist": []}
        assert epic["staged"] and model["id"] in b and len(b) == 2
        # nothing is visible, to this process or another, before the block ends
        assert ref_snapshot(repo) == before
        assert epic["id"] not in other.board().all and epic["id"] not in tracker.board().all
    assert b.result is not None and b.result["count"] == 2 and b.result["ids"] == [epic["id"], model["id"]]
    shown = other.show(epic["id"])
    assert shown["title"] == "Authentication" and shown["priority"] == "high" and shown["labels"] == ["epic:auth"]
    assert shown["dependencies"] == [model["id"]] and [g["key"] for g in shown["gates"]] == ["review"]
    assert other.show(model["id"])["dependencies"] == [existing["id"]]
    assert other.board().states[model["id"]] == "open"  # waits for the existing issue
    assert set(other.board().ready()) == {existing["id"]}
    assert {e.type for e in other.all_events() if e.issue_id == epic["id"]} == {"issue_created", "dependency_added"}
    with pytest.raises(UsageError, match="already committed"):
        b.create_issue("too late")


def test_an_exception_in_the_block_writes_nothing(tracker: Tracker, repo: Path) -> None:
    tracker.create_issue("Existing")
    before = ref_snapshot(repo)
    with pytest.raises(RuntimeError), tracker.batch() as b:
        b.create_issue("one")
        b.create_issue("two")
        raise RuntimeError("the planner changed its mind")
    assert ref_snapshot(repo) == before and len(b) == 0
    assert [s["title"] for s in tracker.query("all")["issues"]] == ["Existing"]


def test_bad_calls_are_refused_at_the_call_and_the_batch_goes_on(tracker: Tracker, repo: Path) -> None:
    existing = tracker.create_issue("Existing")
    before = ref_snapshot(repo)
    with tracker.batch() as b:
        a = b.create_issue("A")
        with pytest.raises(GitjitError):
            b.create_issue("   ")  # empty title
        with pytest.raises(GitjitError):
            b.create_issue("bad priority", priority="urgent-ish")
        with pytest.raises(NotFoundError, match="neither in this batch"):
            b.create_issue("dangling", depends_on=["ffffffffffff"])
        c = b.create_issue("C", depends_on=[a["id"]])
        with pytest.raises(CycleError, match="cycle"):
            b.add_dependency(a["id"], [c["id"]])
        with pytest.raises(CycleError):
            b.add_dependency(a["id"], [a["id"]])
        with pytest.raises(UsageError, match="not one this batch creates"):
            b.add_dependency(existing["id"], [a["id"]])
        assert b.add_dependency(c["id"], [a["id"]])["already_exist"] == [a["id"]]
        with pytest.raises(UsageError, match="list of issue ids"):
            b.create_issue("one string, not a list", depends_on=a["id"])
        with pytest.raises(UsageError, match="list of issue ids"):
            b.add_dependency(c["id"], a["id"])
        assert ref_snapshot(repo) == before
        assert [x["title"] for x in b.issues()] == ["A", "C"]
    b2 = tracker.board()
    assert b2.states[c["id"]] == "open" and b2.states[a["id"]] == "ready" and len(b2.all) == 3


def test_a_commit_that_no_longer_fits_writes_nothing_and_stays_open(tracker: Tracker, repo: Path) -> None:
    """A dependency target deleted (by another process) between the call and the commit: the whole
    batch is refused, nothing is written, and it can be fixed or discarded."""
    target = tracker.create_issue("Target")
    b = tracker.batch()
    b.create_issue("depends on a doomed issue", depends_on=[target["id"]])
    b.create_issue("innocent bystander")
    Tracker(repo, actor="agent:other").delete_issue(target["id"])
    before = ref_snapshot(repo)
    with pytest.raises(ValidationError, match="nothing was imported"):
        b.commit()
    assert ref_snapshot(repo) == before
    b.discard()
    with pytest.raises(UsageError):
        b.commit()
    assert ref_snapshot(repo) == before


def test_an_empty_batch_writes_nothing(tracker: Tracker, repo: Path) -> None:
    before = ref_snapshot(repo)
    with tracker.batch() as b:
        pass
    assert b.result == {"count": 0, "ids": []} and ref_snapshot(repo) == before


def test_batches_beside_single_writers_in_other_processes(tracker: Tracker, repo: Path) -> None:
    """A batch commit (packed-refs or one ref transaction) while another process creates issues one
    by one: every issue of both lands, none twice."""
    code = ("import sys; from gitjit.app.tracker import Tracker\n"
            "t = Tracker(sys.argv[1], actor='agent:single')\n"
            "for i in range(40): t.create_issue(f'single {i}')\n")
    p = subprocess.Popen([sys.executable, "-c", code, str(repo)])
    ids: list[str] = []
    for k in range(4):
        with tracker.batch() as b:
            for i in range(30 if k % 2 else 120):  # both the small (update-ref) and large (packed-refs) paths
                ids.append(b.create_issue(f"batch {k}.{i}")["id"])
    assert p.wait(timeout=120) == 0
    board = Tracker(repo).board()
    titles = sorted(s.title for s in board.all.values())
    assert len(titles) == 40 + len(ids) and len(set(titles)) == len(titles)
    assert set(ids) <= set(board.all)
    fsck = subprocess.run(["git", "fsck", "--no-progress"], cwd=repo, capture_output=True, text=True, check=False)
    assert fsck.returncode == 0, fsck.stderr


# one op: ("create", title, priority, [indexes of earlier issues it depends on]) or ("dep", i, j): i depends on j
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.text("abcdefgh ", min_size=1, max_size=8).filter(str.strip),
                  st.sampled_from(["low", "normal", "high", "critical"]),
                  st.lists(st.integers(0, 6), max_size=3)),
        st.tuples(st.just("dep"), st.integers(0, 6), st.integers(0, 6)),
    ),
    min_size=1, max_size=14,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_a_batch_leaves_what_the_same_calls_leave_one_by_one(tmp_path_factory: pytest.TempPathFactory,
                                                              ops: list[tuple[Any, ...]]) -> None:
    """Property: the issues, fields, dependencies and effective states after a batch equal those
    after the same calls made one at a time (ids differ; compared by creation order), and a call
    refused in one is refused in the other."""
    base = tmp_path_factory.mktemp("prop")
    one = Tracker(make_repo(base / "one"), actor="agent:p")
    one.init()
    many = Tracker(make_repo(base / "many"), actor="agent:p")
    many.init()
    ids_one: list[str] = []
    ids_many: list[str] = []
    with many.batch() as b:
        for op in ops:
            if op[0] == "create":
                _, title, prio, deps = op
                d1 = [ids_one[i] for i in deps if i < len(ids_one)]
                d2 = [ids_many[i] for i in deps if i < len(ids_many)]
                ids_many.append(b.create_issue(title, priority=prio, depends_on=d2)["id"])
                x = one.create_issue(title, priority=prio)
                if d1:
                    one.add_dependency(x["id"], d1)
                ids_one.append(x["id"])
            else:
                _, i, j = op
                if i >= len(ids_one) or j >= len(ids_one):
                    continue
                r1: Any
                r2: Any
                try:
                    r1 = sorted(one.add_dependency(ids_one[i], [ids_one[j]])["added"])
                except CycleError:
                    r1 = "cycle"
                try:
                    r2 = sorted(b.add_dependency(ids_many[i], [ids_many[j]])["added"])
                except CycleError:
                    r2 = "cycle"
                assert (r1 == "cycle") == (r2 == "cycle")
    n1 = {iid: f"#{k}" for k, iid in enumerate(ids_one)}
    n2 = {iid: f"#{k}" for k, iid in enumerate(ids_many)}
    assert [_view(one, i, n1) for i in ids_one] == [_view(many, i, n2) for i in ids_many]
    assert sorted(n1[i] for i in one.board().ready()) == sorted(n2[i] for i in many.board().ready())


def test_the_readme_library_snippets_run(tmp_path: Path) -> None:
    """README.md's ```python blocks, in order, against a fresh repository: they stay true."""
    import re

    from conftest import ROOT

    repo = make_repo(tmp_path / "readme")
    Tracker(repo).init()
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    assert len(blocks) >= 2
    code = "\n".join(blocks).replace('"/path/to/repo"', repr(str(repo)))
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 (our own README)
    t = scope["t"]
    assert t.board().states[scope["impl"]["id"]] == "open" and scope["mine"]["id"] in t.board().all
    assert t.show(scope["impl"]["id"])["dependencies"] == [scope["api"]["id"]]
