"""A remote we do not trust: malformed refs, enormous blobs, clocks a billion ahead, histories
force-pushed to drop events. The clone keeps every event it has, skips what is invalid (it stays
in the remote-tracking namespace, never merged, listed by ``jit doctor``), says so, and the
next push puts the dropped events back on the hub.

The attacker has push rights to the hub, so these tests write the hub's refs and objects
directly with git plumbing, as ``git push --force`` from anywhere could.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot
from synclib import event_sets, hub_and_clones, jit_tips, tracker

from gitjit.core.event import Event
from gitjit.core.fold import parse_events, serialize_events
from gitjit.core.model import LIMITS


def hub_git(hub: Path, *args: str, input: str | None = None) -> str:
    return git("--git-dir", str(hub), *args, cwd=hub, input=input).stdout.strip()


def hub_blob(hub: Path, data: bytes, scratch: Path) -> str:
    scratch.write_bytes(data)
    return hub_git(hub, "hash-object", "-w", str(scratch))


def hub_commit(hub: Path, data: bytes, scratch: Path, *parents: str, name: str = "events.jsonl") -> str:
    b = hub_blob(hub, data, scratch)
    tree = hub_git(hub, "mktree", input=f"100644 blob {b}\t{name}\n")
    return hub_git(hub, "commit-tree", tree, *[x for p in parents for x in ("-p", p)], "-m", "evil")


@pytest.fixture
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a, "agent:a")
    ta.registry_add("review", title="Review")
    x = ta.create_issue("shared", gates=["review"])["id"]
    ta.update_issue(x, context={"step": 1})
    ta.update_issue(x, context={"step": 2})
    y = ta.create_issue("other")["id"]
    ta.push("origin")
    tracker(b).pull("origin")
    return hub, a, b, x, y, tmp_path / "scratch"


def pull(clone: Path) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    r = Jit(clone)("pull", "origin", "--json")
    return r.exit_code, json.loads(r.stdout), r.stderr


def test_malformed_refs_are_skipped_named_and_never_merged(world) -> None:  # type: ignore[no-untyped-def]
    hub, a, b, x, y, scratch = world
    mine = event_sets(b)
    tip_x = hub_git(hub, "rev-parse", f"refs/jit/issues/{x}")
    good_doc = hub_git(hub, "cat-file", "blob", f"refs/jit/issues/{y}:events.jsonl").encode() + b"\n"
    evil = {
        f"refs/jit/issues/{x}": hub_commit(hub, b"{not json\n", scratch, tip_x),       # garbage on real history
        "refs/jit/issues/eeeeeeeeeeee": hub_blob(hub, good_doc, scratch),             # a blob, not a commit
        "refs/jit/issues/NOT-AN-ID": hub_commit(hub, good_doc, scratch),              # a bad name
        "refs/jit/issues/ffffffffffff": hub_commit(hub, good_doc, scratch),           # names issue y
        "refs/jit/gates/review": hub_git(hub, "mktree", input=""),                     # an empty tree
    }
    for ref, target in evil.items():
        hub_git(hub, "update-ref", ref, target)
    # and one honest change the victim should still get
    tracker(a, "agent:a").update_issue(y, title="honest change")
    tracker(a).push("origin")
    code, res, err = pull(b)
    assert code == 0, err
    for ref in evil:
        assert ref.replace("refs/jit/", "") in err, (ref, err)  # each one named in a warning
    assert {s["ref"].replace("refs/jit-remotes/origin/", "refs/jit/") for s in res["skipped"]} >= set(evil) - {
        "refs/jit/issues/NOT-AN-ID"} or res["skipped"]
    after = event_sets(b)
    for ref, ids in mine.items():
        assert set(ids) <= set(after[ref])  # nothing the clone had is lost
    assert "refs/jit/issues/eeeeeeeeeeee" not in after and "refs/jit/issues/ffffffffffff" not in after
    assert tracker(b).show(y)["title"] == "honest change"
    # doctor lists what the remote offers as warnings (local data is fine)
    d = Jit(b)("doctor", "--json")
    rep = json.loads(d.stdout)
    assert d.exit_code == 0 and {p["subject"] for p in rep["problems"] if p["check"] == "remote-refs"} >= {
        f"refs/jit-remotes/origin/issues/{x}", "refs/jit-remotes/origin/issues/ffffffffffff"}
    # a push never overwrites a remote copy it could not merge (it may hold events someone needs);
    # it says so, and the fix doctor gives (delete it on the hub, push again) restores the issue
    Jit(b)("issue", "update", x, "-t", "edited after the attack")
    r = Jit(b)("push", "origin")
    assert r.exit_code == 0 and f"not pushing refs/jit/issues/{x}" in r.stderr
    fix = next(p["fix"] for p in rep["problems"] if p["subject"] == f"refs/jit-remotes/origin/issues/{x}")
    assert f"git push origin :refs/jit/issues/{x}" in fix
    assert "then 'jit sync origin' puts this clone's copy back" in fix
    git("push", "origin", f":refs/jit/issues/{x}", cwd=b)
    assert Jit(b)("sync", "origin").exit_code == 0
    hub_doc = parse_events(hub_git(hub, "cat-file", "blob", f"refs/jit/issues/{x}:events.jsonl").encode())
    assert {e.id for e in hub_doc} == set(event_sets(b)[f"refs/jit/issues/{x}"])
    tracker(a).pull("origin")
    assert tracker(a).show(x)["title"] == "edited after the attack"
    assert git("fsck", "--no-dangling", cwd=b).returncode == 0


def test_an_enormous_blob_is_skipped(world) -> None:  # type: ignore[no-untyped-def]
    hub, a, b, x, y, scratch = world
    big = (b'{"v":1}\n' * (3 * LIMITS["events_blob"] // 8))  # 12 MiB
    hub_git(hub, "update-ref", "refs/jit/issues/bbbbbbbbbbbb", hub_commit(hub, big, scratch))
    before = event_sets(b)
    t0 = time.monotonic()
    code, res, err = pull(b)
    assert code == 0 and time.monotonic() - t0 < 60
    assert "over the" in err and "bbbbbbbbbbbb" in err
    assert event_sets(b) == before
    assert Jit(b)("issue", "list").exit_code == 0


def test_a_clock_a_billion_ahead_is_refused(world) -> None:  # type: ignore[no-untyped-def]
    hub, a, b, x, y, scratch = world
    ref = f"refs/jit/issues/{x}"
    tip = hub_git(hub, "rev-parse", ref)
    evs = parse_events(hub_git(hub, "cat-file", "blob", f"{ref}:events.jsonl").encode() + b"\n")
    leap = Event.build(**{**evs[-1].to_json(), "id": "e" * 32, "clock": evs[-1].clock + 1_000_000_000,
                          "type": "issue_updated", "changes": {"title": "hijacked"}})
    hub_git(hub, "update-ref", ref, hub_commit(hub, serialize_events([*evs, leap]), scratch, tip))
    # a brand-new issue whose first clock sits just under 2**53: every later edit would overflow
    first = Event.build(**{**evs[0].to_json(), "id": "d" * 32, "clock": 2**53 - 2, "issue_id": "cccccccccccc"})
    hub_git(hub, "update-ref", "refs/jit/issues/cccccccccccc", hub_commit(hub, serialize_events([first]), scratch))
    code, res, err = pull(b)
    assert code == 0 and "clock leaps" in err
    assert tracker(b).show(x)["title"] == "shared"
    assert "refs/jit/issues/cccccccccccc" not in jit_tips(b)
    # the issue stays writable here; the poisoned copy on the hub is left for its owner to remove
    assert Jit(b)("issue", "update", x, "-t", "still mine").exit_code == 0
    assert tracker(b).show(x)["title"] == "still mine"
    assert "not pushing" in Jit(b)("push", "origin").stderr


@pytest.mark.parametrize("how", ["reset to an ancestor", "rewritten history", "deleted"])
def test_a_force_push_that_drops_events_is_reported_and_undone(world, how: str) -> None:  # type: ignore[no-untyped-def]
    hub, a, b, x, y, scratch = world
    ref = f"refs/jit/issues/{x}"
    had = set(event_sets(b)[ref])
    assert len(had) >= 3
    root = hub_git(hub, "rev-list", "--max-parents=0", ref)
    kept = len(parse_events(hub_git(hub, "cat-file", "blob", f"{root}:events.jsonl").encode()))
    if how == "reset to an ancestor":
        hub_git(hub, "update-ref", ref, root)
    elif how == "rewritten history":
        first = hub_git(hub, "cat-file", "blob", f"{root}:events.jsonl").encode() + b"\n"
        hub_git(hub, "update-ref", ref, hub_commit(hub, first, scratch))  # unrelated root, fewer events
    else:
        hub_git(hub, "update-ref", "-d", ref)
    code, res, err = pull(b)
    assert code == 0
    assert set(event_sets(b)[ref]) == had  # the clone keeps every event
    rw = {r["ref"]: r for r in res["rewritten"]}
    assert ref in rw, res
    assert ("deleted" if how == "deleted" else "rewritten (force-pushed)") in err
    if how != "deleted":
        lost = len(had) - kept
        assert rw[ref]["dropped_events"] == lost and f"no longer holds {lost} event(s)" in err
    # the next push restores the events on the hub, and every clone converges again
    assert Jit(b)("push", "origin").exit_code == 0
    hub_ids = {e.id for e in parse_events(hub_git(hub, "cat-file", "blob", f"{ref}:events.jsonl").encode())}
    assert hub_ids == had
    tracker(a).pull("origin")
    assert event_sets(a)[ref] == event_sets(b)[ref]


def test_nothing_from_the_remote_runs(world) -> None:  # type: ignore[no-untyped-def]
    """A gate definition from the hub carrying a 'command' field stays data: gate run finds no command."""
    hub, a, b, x, y, scratch = world
    ref = "refs/jit/gates/review"
    tip = hub_git(hub, "rev-parse", ref)
    evs = parse_events(hub_git(hub, "cat-file", "blob", f"{ref}:events.jsonl").encode() + b"\n")
    marker = scratch.parent / "pwned"
    cmd = f"touch {marker}"
    upd = Event.build(**{**evs[-1].to_json(), "id": "c" * 32, "clock": evs[-1].clock + 1,
                         "type": "gate_definition_updated", "command": cmd, "mode": "auto"})
    hub_git(hub, "update-ref", ref, hub_commit(hub, serialize_events([*evs, upd]), scratch, tip))
    assert pull(b)[0] == 0
    shown = Jit(b).json("registry", "show", "review")
    assert shown["mode"] == "auto" and shown["command"] is None
    r = Jit(b)("gate", "run", x, "review")
    assert r.exit_code == 3 and "no checker command" in r.stderr
    assert not marker.exists()
    snap = ref_snapshot(b)
    assert all(not k.startswith("refs/heads/") for k in snap)


def test_a_forged_gate_pass_is_shown_as_such_and_not_counted(world) -> None:  # type: ignore[no-untyped-def]
    """The hub gains a gate_passed event by an agent the local policy does not allow for 'review'."""
    hub, a, b, x, y, scratch = world
    git("config", "jit-gate.review.allow", "human:*", cwd=b)  # local, hand-written policy
    ref = f"refs/jit/issues/{x}"
    tip = hub_git(hub, "rev-parse", ref)
    evs = parse_events(hub_git(hub, "cat-file", "blob", f"{ref}:events.jsonl").encode() + b"\n")
    forged = Event.build(**{**evs[-1].to_json(), "id": "b" * 32, "clock": evs[-1].clock + 1, "type": "gate_passed",
                            "gate_key": "review", "by": "agent:mallory", "actor": "agent:mallory",
                            "changes": None, "fields": None})
    hub_git(hub, "update-ref", ref, hub_commit(hub, serialize_events([*evs, forged]), scratch, tip))
    assert pull(b)[0] == 0  # a well-formed event: it is merged (nothing in it can be proven false)
    gate = next(g for g in Jit(b).json("issue", "show", x)["gates"] if g["key"] == "review")
    assert gate["status"] == "passed" and gate["by"] == "agent:mallory"
    assert gate["trusted"] is False and "may not pass gate 'review'" in gate["note"]
    r = Jit(b)("issue", "update", x, "--state", "done")
    assert r.exit_code == 4 and "agent:mallory, who may not pass gate 'review'" in r.stderr
    rep = json.loads(Jit(b)("doctor", "--json").stdout)
    assert any(p["code"] == "untrusted_gate_pass" and p["subject"] == ref for p in rep["problems"])
    # here, nobody outside the policy can record a pass either
    r = Jit(b)("gate", "pass", x, "review", "--by", "agent:mallory")
    assert r.exit_code == 4 and "under the local policy (git config jit-gate.review.allow = human:*)" in r.stderr
    # an allowed passer settles it
    assert Jit(b)("gate", "pass", x, "review", "--by", "human:carol").exit_code == 0
    assert Jit(b).json("issue", "show", x)["gates"][0]["trusted"] is True
    assert Jit(b)("issue", "update", x, "--state", "done").exit_code == 0


def test_what_the_policy_cannot_see(world) -> None:  # type: ignore[no-untyped-def]
    """Names are not authenticated: a forger who writes an allowed name passes the policy. This test
    pins that documented limit (docs/reliability.md) so nobody mistakes the policy for authentication."""
    hub, a, b, x, y, scratch = world
    (b / "jit.toml").write_text('[gates.review]\nallow = ["human:*"]\n')
    ref = f"refs/jit/issues/{x}"
    tip = hub_git(hub, "rev-parse", ref)
    evs = parse_events(hub_git(hub, "cat-file", "blob", f"{ref}:events.jsonl").encode() + b"\n")
    forged = Event.build(**{**evs[-1].to_json(), "id": "a" * 32, "clock": evs[-1].clock + 1, "type": "gate_passed",
                            "gate_key": "review", "by": "human:alice", "actor": "human:alice",
                            "changes": None, "fields": None})
    hub_git(hub, "update-ref", ref, hub_commit(hub, serialize_events([*evs, forged]), scratch, tip))
    assert pull(b)[0] == 0
    gate = Jit(b).json("issue", "show", x)["gates"][0]
    assert gate["by"] == "human:alice" and gate["trusted"] is True  # indistinguishable from Alice's own pass


def _key(tmp: Path, name: str) -> tuple[Path, str]:
    import subprocess

    k = tmp / f"{name}_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(k)], check=True)
    return k, (tmp / f"{name}_ed25519.pub").read_text().strip()


@pytest.mark.skipif(__import__("shutil").which("ssh-keygen") is None, reason="needs ssh-keygen")
@pytest.mark.parametrize("forgery", ["unsigned", "signed by another key"])
def test_signed_gate_passes(world, tmp_path: Path, forgery: str) -> None:  # type: ignore[no-untyped-def]
    """With jit-gate.review.signed, a pass counts only if its commit carries an SSH signature that
    gpg.ssh.allowedSignersFile accepts for the passer's name: the forged name no longer suffices."""
    from synclib import make_clone

    hub, a, b, x, y, scratch = world
    alice_key, alice_pub = _key(tmp_path, "alice")
    mallory_key, _ = _key(tmp_path, "mallory")
    signers = tmp_path / "allowed_signers"
    signers.write_text(f"human:alice {alice_pub}\n")
    for k, v in {"jit-gate.review.signed": "true", "jit-gate.review.allow": "human:*",
                 "gpg.ssh.allowedSignersFile": str(signers)}.items():
        git("config", k, v, cwd=b)
    # the forger: a clone that writes Alice's name (signed with its own key, or not at all)
    m = make_clone(tmp_path / "mallory", str(hub))
    if forgery == "signed by another key":
        git("config", "jit.signingKey", str(mallory_key), cwd=m)
    Jit(m)("pull", "origin")
    assert Jit(m)("gate", "pass", x, "review", "--by", "human:alice").exit_code == 0
    assert Jit(m)("push", "origin").exit_code == 0
    assert pull(b)[0] == 0
    gate = Jit(b).json("issue", "show", x)["gates"][0]
    assert gate["by"] == "human:alice" and gate["trusted"] is False
    assert ("is not signed" if forgery == "unsigned" else "is not one") in gate["note"], gate["note"]
    r = Jit(b)("issue", "update", x, "--state", "done")
    assert r.exit_code == 4 and "jit-gate.review.signed" in r.stderr
    assert any(p["code"] == "untrusted_gate_pass" for p in json.loads(Jit(b)("doctor", "--json").stdout)["problems"])
    # b has no key: it may not record a pass that would not count
    r = Jit(b)("gate", "pass", x, "review", "--by", "human:bob")
    assert r.exit_code == 4 and "jit.signingKey" in r.stderr
    # Alice, with her key, passes it for real; git itself agrees the commit is hers
    git("config", "jit.signingKey", str(alice_key), cwd=a)
    Jit(a)("pull", "origin")
    assert Jit(a)("gate", "pass", x, "review", "--by", "human:alice").exit_code == 0
    assert Jit(a)("push", "origin").exit_code == 0
    assert pull(b)[0] == 0
    gate = Jit(b).json("issue", "show", x)["gates"][0]
    assert gate["trusted"] is True and gate["note"] is None, gate
    tip = git("rev-parse", f"refs/jit/issues/{x}", cwd=a).stdout.strip()
    v = git("-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit", tip, cwd=a,
            check=False)
    assert v.returncode == 0 and 'Good "git" signature for human:alice' in v.stderr, v.stderr
    assert Jit(b)("issue", "update", x, "--state", "done").exit_code == 0
