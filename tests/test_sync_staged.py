"""The sharing tests again, with every push going through ``push_staged`` (one glob refspec over
refs staged under ``refs/jit-push/<nonce>/``, fast-forward only), which real pushes use from
``STAGED_PUSH_MIN`` refs on. The imported tests are collected again here, under this module's
fixture."""

from __future__ import annotations

import pytest
from test_hostile_remote import *  # noqa: F401,F403
from test_sync_basics import *  # noqa: F401,F403
from test_sync_conflicts import *  # noqa: F401,F403
from test_sync_hostile import *  # noqa: F401,F403
from test_sync_property import *  # noqa: F401,F403

import gitjit.store.sync as sync

del test_push_goes_out_in_atomic_batches  # noqa: F821 - counts push_batch calls; the staged twin is below


@pytest.fixture(autouse=True)
def _every_push_staged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync, "STAGED_PUSH_MIN", 1)


def test_staged_pushes_go_out_in_batches_and_leave_no_staging_refs(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from conftest import git
    from synclib import hub_and_clones, jit_tips, tracker

    hub, (a, b) = hub_and_clones(tmp_path, 2)
    monkeypatch.setattr(sync, "STAGED_PUSH_BATCH", 3)
    calls: list[int] = []
    orig = sync.Syncer.push_staged

    def spy(self, remote, updates):  # type: ignore[no-untyped-def]
        calls.append(len(updates))
        return orig(self, remote, updates)

    monkeypatch.setattr(sync.Syncer, "push_staged", spy)
    t = tracker(a)
    ids = [t.create_issue(f"t{n}")["id"] for n in range(7)]
    assert t.push()["count"] == 7
    assert calls == [3, 3, 1]
    assert jit_tips(hub) == jit_tips(a, "refs/jit/")
    assert not git("for-each-ref", "refs/jit-push/", cwd=a).stdout.strip()
    assert {f"refs/jit/issues/{i}" for i in ids} <= set(jit_tips(hub))


def test_a_staged_push_never_replaces_what_it_has_not_merged(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Fast-forward only: a tip that does not contain the hub's is refused, then merged and pushed."""
    from synclib import event_sets, hub_and_clones, tracker

    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a, "agent:a")
    ids = [ta.create_issue(f"t{n}")["id"] for n in range(4)]
    ta.push()
    tb = tracker(b, "agent:b")
    tb.pull()
    tb.update_issue(ids[0], title="from b")
    tb.push()  # the hub moves on; a has not seen it
    for i in ids:
        ta.update_issue(i, description="from a")
    got = ta.push()
    assert got["count"] == 4 and got["rounds"] >= 2  # refused once, merged, pushed again
    tb.pull()
    assert event_sets(a) == event_sets(b)
    assert tracker(b).show(ids[0])["title"] == "from b"
    assert tracker(b).show(ids[0])["description"] == "from a"


def test_a_large_push_drops_the_stages_of_dead_pushers_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A push killed between staging and cleanup leaves ``refs/jit-push/<pid>-<nonce>/…``; the next
    staged push deletes those whose process is gone and leaves a live process's stage alone."""
    import os
    import subprocess

    from conftest import git
    from synclib import hub_and_clones, tracker

    hub, (a, b) = hub_and_clones(tmp_path, 2)
    t = tracker(a)
    iid = t.create_issue("one")["id"]
    tip = git("rev-parse", f"refs/jit/issues/{iid}", cwd=a).stdout.strip()
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"refs/jit-push/{gone.pid}-deadbeef0000/issues/{iid}"
    live = f"refs/jit-push/{os.getpid()}-0123456789ab/issues/{iid}"
    git("update-ref", dead, tip, cwd=a)
    git("update-ref", live, tip, cwd=a)
    assert t.push()["count"] == 1  # STAGED_PUSH_MIN is 1 here: a staged push
    left = git("for-each-ref", "--format=%(refname)", "refs/jit-push/", cwd=a).stdout.split()
    assert left == [live]
