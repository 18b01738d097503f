"""The jit merge driver run by git itself gives byte-for-byte what `jit sync` writes.

Two clones diverge on one issue. `jit pull` writes a merge commit; git's own merges of the same
two tips (`git merge-tree --write-tree`, in a working clone and in a bare hub, and a real
`git merge` in a scratch worktree) must produce the very same tree object, which, trees being
content-addressed, means the identical events.jsonl."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git
from synclib import hub_and_clones, jit_tips, make_clone, make_hub, tracker

from gitjit.app.tracker import Tracker


def diverge(base: Path) -> tuple[Path, Path, Path, str, str, str]:
    hub, (a, b) = hub_and_clones(base, 2)
    iid = tracker(a).create_issue("shared", gates=["review"])["id"]
    tracker(a).push()
    tracker(b).pull()
    tracker(a, "agent:a").update_issue(iid, title="from a", labels_add=["team:a"])
    tracker(a, "agent:a").claim(iid, "agent:a")
    tracker(b, "agent:b").update_issue(iid, priority="critical", context={"k": "v"})
    tracker(b, "agent:b").gate_set(iid, "review", True)
    ref = f"refs/jit/issues/{iid}"
    # bring B's tip into A's object store (as tracking ref) without reconciling yet
    git("remote", "add", "peer", str(b), cwd=a)
    tracker(a)._syncer().fetch("peer")
    return hub, a, b, ref, jit_tips(a)[ref], jit_tips(b)[ref]


def tree_of(repo: Path, rev: str) -> str:
    return git("rev-parse", f"{rev}^{{tree}}", cwd=repo).stdout.strip()


def test_merge_tree_and_git_merge_match_jit_sync(tmp_path: Path) -> None:
    base = tmp_path / "it's a dir"  # driver paths must survive quoting
    base.mkdir()
    hub, a, b, ref, ours, theirs = diverge(base)

    # git merge-tree, in the clone jit init registered the driver in
    r = git("merge-tree", "--write-tree", ours, theirs, cwd=a, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    git_tree = r.stdout.splitlines()[0]

    # a real `git merge` in a scratch worktree
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=a)
    wt = base / "scratch worktree"
    git("worktree", "add", "-q", "--detach", str(wt), ours, cwd=a)
    r = git("merge", "--no-edit", "-q", theirs, cwd=wt, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    merged_tree = tree_of(wt, "HEAD")

    # jit's own reconcile of the same pair
    res = tracker(a).pull("peer", fetch=False)
    assert res["merged"] == [ref]
    jit_tree = tree_of(a, jit_tips(a)[ref])

    assert git_tree == merged_tree == jit_tree
    # ...and the content is the union: both sides' edits are in it
    st = tracker(a).show(ref.rsplit("/", 1)[1])
    assert (st["title"], st["priority"], st["assignee"], st["gates"][0]["status"]) == \
        ("from a", "critical", "agent:a", "passed")

    # the same in a bare hub once `jit init` registered the driver there ($GIT_DIR/info/attributes)
    git("push", "-q", str(hub), f"{ours}:refs/tmp/ours", f"{theirs}:refs/tmp/theirs", cwd=a)
    r = git("merge-tree", "--write-tree", "refs/tmp/ours", "refs/tmp/theirs", cwd=hub, check=False)
    assert r.returncode != 0 or r.stdout.splitlines()[0] != jit_tree  # without the driver: git's text merge
    Tracker(hub).init()
    r = git("merge-tree", "--write-tree", "refs/tmp/ours", "refs/tmp/theirs", cwd=hub, check=False)
    assert r.returncode == 0 and r.stdout.splitlines()[0] == jit_tree


def test_git_merge_of_an_unreadable_side_is_a_conflict_not_a_silent_drop(tmp_path: Path) -> None:
    hub, a, b, ref, ours, theirs = diverge(tmp_path)
    # a commit whose events.jsonl is garbage, child of B's tip
    blob = git("hash-object", "-w", "--stdin", cwd=a, input="{garbage\n").stdout.strip()
    tree = git("mktree", cwd=a, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    bad = git("commit-tree", tree, "-p", theirs, "-m", "bad", cwd=a).stdout.strip()
    r = git("merge-tree", "--write-tree", ours, bad, cwd=a, check=False)
    assert r.returncode == 1
    assert "jit merge-driver" in r.stderr + r.stdout or "CONFLICT" in r.stdout


@pytest.mark.parametrize("order", ["ab", "ba"])
def test_the_driver_is_symmetric(tmp_path: Path, order: str) -> None:
    """Whichever side git calls "ours", the result is the same tree."""
    _, a, _, _, ours, theirs = diverge(tmp_path)
    x, y = (ours, theirs) if order == "ab" else (theirs, ours)
    r1 = git("merge-tree", "--write-tree", x, y, cwd=a).stdout.splitlines()[0]
    r2 = git("merge-tree", "--write-tree", y, x, cwd=a).stdout.splitlines()[0]
    assert r1 == r2


def test_driver_registration_survives_a_fresh_clone_with_init(tmp_path: Path) -> None:
    hub = make_hub(tmp_path / "hub.git")
    c = make_clone(tmp_path / "c", str(hub))
    attrs = (c / ".git" / "info" / "attributes").read_text()
    assert "events.jsonl merge=jit" in attrs.splitlines()
    drv = git("config", "merge.jit.driver", cwd=c).stdout.strip()
    assert drv.endswith("-m gitjit merge-driver %O %A %B %P")
