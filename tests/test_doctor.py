"""``jit doctor`` / ``jit fsck``: each kind of damage is reported with its fix, and ``--fix``
repairs it without losing a readable event (bad refs are parked under refs/jit-quarantine/)."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot

from gitjit.core.fold import parse_events, serialize_events
from gitjit.core.model import LIMITS


def blob(repo: Path, data: bytes) -> str:
    p = repo / ".git" / "scratch"
    p.write_bytes(data)
    try:
        return git("hash-object", "-w", str(p), cwd=repo).stdout.strip()
    finally:
        p.unlink()


def commit(repo: Path, data: bytes, *parents: str, name: str = "events.jsonl") -> str:
    b = blob(repo, data)
    tree = git("mktree", cwd=repo, input=f"100644 blob {b}\t{name}\n").stdout.strip()
    args = [x for p in parents for x in ("-p", p)]
    return git("commit-tree", tree, *args, "-m", "hand-made", cwd=repo).stdout.strip()


def doc(repo: Path, ref: str) -> bytes:
    return git("cat-file", "blob", f"{ref}:events.jsonl", cwd=repo).stdout.encode()


def ids(data: bytes) -> set[str]:
    return {e.id for e in parse_events(data)}


def run(jit: Jit, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    r = jit("doctor", *args, "--json")
    return r.exit_code, json.loads(r.stdout)


def codes(report: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {p["subject"]: p["code"] for p in report["problems"]}


@pytest.fixture
def three(jit: Jit) -> list[str]:
    out = []
    for t in ("one", "two", "three"):
        out.append(jit("issue", "create", "-q", "-t", t).stdout.strip())
    jit("issue", "update", out[0], "--context", "k=1")
    jit("issue", "update", out[0], "--context", "k=2")
    return out


def test_a_healthy_repository_passes(jit: Jit, three: list[str]) -> None:
    code, rep = run(jit)
    assert code == 0 and rep["ok"] and rep["problems"] == []
    assert rep["checked"]["issues"] == 3 and rep["checked"]["events"] >= 5
    assert rep["merge_driver"]["registered"] and rep["invalid_refs"] == []
    r = jit("fsck")  # the alias
    assert r.exit_code == 0 and "No errors found." in r.stdout
    code, rep = run(jit, "--full")
    assert code == 0 and rep["checked"]["commits"] == 5


def test_garbage_on_top_of_a_history_is_quarantined_and_the_history_restored(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    ref = f"refs/jit/issues/{three[0]}"
    good = git("rev-parse", ref, cwd=repo).stdout.strip()
    before = doc(repo, ref)
    bad = commit(repo, b"this is not json\n", good)
    git("update-ref", ref, bad, cwd=repo)
    code, rep = run(jit)
    assert code == 4 and not rep["ok"]
    p = next(p for p in rep["problems"] if p["subject"] == ref)
    assert p["code"] == "unreadable_ref" and "line 1 is not JSON" in p["message"]
    assert p["fix"].startswith("jit doctor --fix") and p["severity"] == "error"
    assert rep["invalid_refs"] == [{"ref": ref, "scope": "local", "reason": p["message"]}]
    # the human form names the fix too
    human = jit("doctor")
    assert human.exit_code == 4 and f"ERROR: {ref}:" in human.stdout and "fix: jit doctor --fix" in human.stdout
    code, rep = run(jit, "--fix")
    assert code == 0 and rep["repaired"] == 1 and rep["remaining_errors"] == []
    assert git("rev-parse", ref, cwd=repo).stdout.strip() == good
    assert doc(repo, ref) == before
    parked = git("for-each-ref", "--format=%(refname) %(objectname)", "refs/jit-quarantine/", cwd=repo).stdout.split()
    assert parked[0].startswith(f"refs/jit-quarantine/issues/{three[0]}/") and parked[1] == bad
    assert git("fsck", "--no-dangling", cwd=repo).returncode == 0
    # idempotent: nothing left to repair, the quarantine is reported as information
    code, rep = run(jit, "--fix")
    assert code == 0 and rep["repaired"] == 0 and codes(rep) == {"refs/jit-quarantine/": "quarantined"}


@pytest.mark.parametrize("kind", ["blob", "tree", "missing"])
def test_a_ref_to_a_non_commit_is_restored_from_its_reflog(jit: Jit, three: list[str], kind: str) -> None:
    repo = jit.repo
    ref = f"refs/jit/issues/{three[0]}"
    before = doc(repo, ref)
    good = git("rev-parse", ref, cwd=repo).stdout.strip()
    if kind == "blob":
        target = blob(repo, b"hello")
    elif kind == "tree":
        target = git("rev-parse", f"{ref}^{{tree}}", cwd=repo).stdout.strip()
    else:
        target = "1" * 40
    if kind == "missing":  # git refuses to point a ref at a missing object: write the file as damage would
        (repo / ".git" / ref).write_text(target + "\n")
    else:
        git("update-ref", ref, target, cwd=repo)
    code, rep = run(jit)
    p = next(p for p in rep["problems"] if p["subject"] == ref)
    assert code == 4 and p["code"] == ("missing_object" if kind == "missing" else "not_a_commit")
    code, rep = run(jit, "--fix")
    assert code == 0, rep
    assert git("rev-parse", ref, cwd=repo).stdout.strip() == good and doc(repo, ref) == before
    log = (repo / ".git" / "jit" / "doctor.log").read_text()
    assert target in log
    assert git("fsck", "--no-dangling", cwd=repo).returncode == 0


def test_two_readable_histories_under_a_bad_tip_are_united(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    ref = f"refs/jit/issues/{three[1]}"
    base = git("rev-parse", ref, cwd=repo).stdout.strip()
    jit("issue", "update", three[1], "-t", "side a")
    a = git("rev-parse", ref, cwd=repo).stdout.strip()
    git("update-ref", ref, base, cwd=repo)
    jit("issue", "update", three[1], "--context", "side=b")
    b = git("rev-parse", ref, cwd=repo).stdout.strip()
    want = ids(git("cat-file", "blob", f"{a}:events.jsonl", cwd=repo).stdout.encode()) | ids(doc(repo, ref))
    bad = commit(repo, b"\xff\xfe not utf-8", a, b)
    git("update-ref", ref, bad, cwd=repo)
    code, rep = run(jit, "--fix")
    assert code == 0
    assert ids(doc(repo, ref)) == want
    assert sorted(git("rev-list", "--parents", "-n1", ref, cwd=repo).stdout.split()[1:]) == sorted([a, b])
    shown = jit.json("issue", "show", three[1])
    assert shown["title"] == "side a" and shown["context"]["side"] == "b"


def test_a_ref_with_no_readable_history_is_parked_and_removed(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    ref = "refs/jit/issues/0123456789ab"
    bad = commit(repo, b'{"not": "an event"}\n')
    git("update-ref", ref, bad, cwd=repo)
    code, rep = run(jit, "--fix")
    assert code == 0
    assert git("rev-parse", "-q", "--verify", ref, cwd=repo, check=False).returncode != 0
    assert git("for-each-ref", "--format=%(objectname)", "refs/jit-quarantine/", cwd=repo).stdout.strip() == bad
    p = next(p for p in rep["problems"] if p["subject"] == ref)
    assert "no readable history to restore" in p["repaired"]


def test_names_symbolic_refs_and_clock_leaps(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    git("symbolic-ref", "refs/jit/issues/aaaaaaaaaaaa", "refs/heads/main", cwd=repo)
    good = git("rev-parse", f"refs/jit/issues/{three[2]}", cwd=repo).stdout.strip()
    git("update-ref", "refs/jit/issues/NOT-AN-ID", good, cwd=repo)
    # a hand-made event whose clock leaps a billion ahead (a hostile clock freezes later edits)
    ref = f"refs/jit/issues/{three[1]}"
    evs = parse_events(doc(repo, ref))
    leap = dataclasses.replace(evs[-1], id="f" * 32, clock=evs[-1].clock + 1_000_000_000)
    git("update-ref", ref, commit(repo, serialize_events([*evs, leap]), git("rev-parse", ref, cwd=repo)
                                  .stdout.strip()), cwd=repo)
    code, rep = run(jit)
    got = codes(rep)
    assert code == 4
    assert got["refs/jit/issues/aaaaaaaaaaaa"] == "symbolic_ref"
    assert got["refs/jit/issues/NOT-AN-ID"] == "bad_ref_name"
    assert got[ref] == "invalid_document"
    msg = next(p["message"] for p in rep["problems"] if p["subject"] == ref)
    assert "clock leaps" in msg and str(LIMITS["clock_jump"]) in msg
    code, rep = run(jit, "--fix")
    assert code == 0, rep
    assert set(ref_snapshot(repo)) >= {f"refs/jit/issues/{i}" for i in three}
    assert "refs/jit/issues/aaaaaaaaaaaa" not in ref_snapshot(repo)
    assert f"f{'f' * 31}" not in doc(repo, ref).decode()
    assert jit("issue", "update", three[1], "-t", "editable again").exit_code == 0


def test_a_non_canonical_log_is_rewritten_with_the_same_events(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    ref = f"refs/jit/issues/{three[0]}"
    lines = doc(repo, ref).decode().splitlines(keepends=True)
    messy = "".join(reversed(lines)) + lines[0]  # reversed, and one duplicate line
    git("update-ref", ref, commit(repo, messy.encode(), git("rev-parse", ref, cwd=repo).stdout.strip()), cwd=repo)
    code, rep = run(jit)
    assert code == 0 and codes(rep)[ref] == "noncanonical"  # a warning: it reads fine
    code, rep = run(jit, "--fix")
    assert code == 0 and doc(repo, ref) == "".join(lines).encode()


def test_setup_problems(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    git("config", "--unset", "merge.jit.driver", cwd=repo)
    git("config", "core.logAllRefUpdates", "true", cwd=repo)
    code, rep = run(jit)
    assert code == 4
    p = {x["code"]: x for x in rep["problems"]}
    assert p["merge_driver"]["fix"] == "jit init" and p["no_reflog"]["severity"] == "warning"
    code, rep = run(jit, "--fix")
    assert code == 0 and rep["merge_driver"]["registered"]
    assert git("config", "core.logAllRefUpdates", cwd=repo).stdout.strip() == "always"
    git("config", "merge.jit.driver", "/nonexistent/python -m gitjit merge-driver %O %A %B %P", cwd=repo)
    code, rep = run(jit)
    assert code == 4 and codes(rep)["merge.jit.driver"] == "merge_driver_missing"
    code, rep = run(jit, "--fix")
    assert code == 0 and "/nonexistent" not in git("config", "merge.jit.driver", cwd=repo).stdout


def test_locks(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    stale = repo / ".git" / f"refs/jit/issues/{three[0]}.lock"
    stale.write_text("")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    young = repo / ".git" / f"refs/jit/issues/{three[1]}.lock"
    young.write_text("")
    orphan = repo / ".git" / "refs/jit/issues/bbbbbbbbbbbb.lock"  # a create killed mid-write
    orphan.write_text("")
    os.utime(orphan, (old, old))
    code, rep = run(jit)
    got = {p["subject"]: p for p in rep["problems"]}
    assert code == 4
    assert got[f"refs/jit/issues/{three[0]}.lock"]["code"] == "stale_lock"
    assert got[f"refs/jit/issues/{three[0]}.lock"]["severity"] == "error"
    assert got[f"refs/jit/issues/{three[1]}.lock"]["code"] == "young_lock"
    assert "does not exist" in got["refs/jit/issues/bbbbbbbbbbbb.lock"]["message"]
    assert got["refs/jit/issues/bbbbbbbbbbbb.lock"]["severity"] == "warning"
    code, rep = run(jit, "--fix")
    assert code == 0 and not stale.exists() and not orphan.exists() and young.exists()


def test_an_invalid_remote_tracking_ref_is_a_warning(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    git("update-ref", "refs/jit-remotes/origin/issues/cccccccccccc", commit(repo, b"junk\n"), cwd=repo)
    code, rep = run(jit)
    assert code == 0
    p = next(p for p in rep["problems"] if p["check"] == "remote-refs")
    assert p["severity"] == "warning" and "git push origin :refs/jit/issues/cccccccccccc" in p["fix"]
    assert rep["invalid_refs"][0]["scope"] == "remote:origin"
    # a tracking ref of an issue this clone has, at another commit than the local ref: checked too
    git("update-ref", f"refs/jit-remotes/origin/issues/{three[0]}", commit(repo, b"junk\n"), cwd=repo)
    code, rep = run(jit)
    assert code == 0 and {f"refs/jit-remotes/origin/issues/{three[0]}", "refs/jit-remotes/origin/issues/cccccccccccc"} \
        == {p["subject"] for p in rep["problems"] if p["check"] == "remote-refs"}


def test_each_document_is_read_once(jit: Jit, three: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The refs' documents are read in one stream, and a tracking ref at the commit its local ref
    is at is not read again (a synced clone of 100,000 issues: 114-124 s, then 26.6 s)."""
    from gitjit.app.doctor import diagnose
    from gitjit.git import GitRepo

    repo = jit.repo
    for i in three:  # as after a sync: every tracking ref where the local ref is
        git("update-ref", f"refs/jit-remotes/origin/issues/{i}", f"refs/jit/issues/{i}", cwd=repo)
    one: list[str] = []
    many: list[str] = []
    read_file, read_files = GitRepo.read_file, GitRepo.read_files
    monkeypatch.setattr(GitRepo, "read_file", lambda self, c, n: one.append(c) or read_file(self, c, n))
    monkeypatch.setattr(GitRepo, "read_files", lambda self, cs, n: many.extend(cs) or read_files(self, cs, n))
    rep = diagnose(GitRepo(repo))
    assert rep["checked"]["tracking_refs"] == 3 and rep["checked"]["issues"] == 3
    assert not [p for p in rep["problems"] if p["check"] != "setup"]  # (this fixture skips 'jit init')
    assert one == []
    assert sorted(many) == sorted(git("rev-parse", *(f"refs/jit/issues/{i}" for i in three), cwd=repo).stdout.split())


def test_a_write_between_the_checks_is_not_a_stale_index(jit: Jit, three: list[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The index is compared with a fold of every ref as it is then: a ref written after the refs
    were checked (an agent at work) is read again, not taken from the earlier check."""
    from gitjit.app.doctor import Doctor, diagnose
    from gitjit.app.tracker import Tracker
    from gitjit.git import GitRepo

    repo = jit.repo
    assert jit("issue", "list").exit_code == 0  # the index is built
    check_tracking = Doctor.check_tracking

    def meanwhile(self: Doctor) -> None:
        check_tracking(self)
        Tracker(repo, actor="agent:busy").update_issue(three[2], title="renamed meanwhile")

    monkeypatch.setattr(Doctor, "check_tracking", meanwhile)
    rep = diagnose(GitRepo(repo))
    assert not [p for p in rep["problems"] if p["check"] != "setup"], rep["problems"]
    assert Tracker(repo).show(three[2])["title"] == "renamed meanwhile"


def test_full_walk_finds_a_commit_that_dropped_events(jit: Jit, three: list[str]) -> None:
    repo = jit.repo
    ref = f"refs/jit/issues/{three[0]}"
    tip = git("rev-parse", ref, cwd=repo).stdout.strip()
    first_line = doc(repo, ref).decode().splitlines(keepends=True)[0]
    git("update-ref", ref, commit(repo, first_line.encode(), tip), cwd=repo)  # readable, but history shrank
    code, rep = run(jit)
    assert code == 0  # the tip alone reads fine
    code, rep = run(jit, "--full")
    assert code == 0 and "broken_history" in {p["code"] for p in rep["problems"]}
    assert any("lost event" in p["message"] for p in rep["problems"])


def test_an_index_that_disagrees_with_the_refs_is_rebuilt(jit: Jit, three: list[str]) -> None:
    assert jit("issue", "list").exit_code == 0  # builds the index
    db = jit.repo / ".git" / "jit" / "index.sqlite3"
    if not db.exists():
        pytest.skip("the index is switched off here")
    from gitjit.store import index as ixm  # white-box: make the cache lie while every ref tip stays put

    ix = ixm.Index(db.parent.parent)
    ix.open()
    con = ix.c
    row = con.execute("SELECT dlen, body FROM docs WHERE id=?", (three[1],)).fetchone()
    d = json.loads(ix.body_doc(*row))  # compressed with the state, against samples of the issues' JSON and states
    d["title"] = "tampered"
    con.execute("UPDATE docs SET dlen=?, body=? WHERE id=?",
                (*ix.pack_body(json.dumps(d, indent=2, ensure_ascii=False), ix.body_state(*row)), three[1]))
    ix.close()
    titles = {i["id"]: i["title"] for i in jit.json("issue", "list")["issues"]}
    assert titles[three[1]] == "tampered"  # the cache really lies now
    code, rep = run(jit)
    p = next(p for p in rep["problems"] if p["check"] == "index")
    assert code == 4 and p["code"] == "index_stale" and three[1] in p["message"] and "title" in p["message"]
    code, rep = run(jit, "--fix")
    assert code == 0 and "rebuilt the index" in next(p["repaired"] for p in rep["problems"] if p["check"] == "index")
    assert {i["id"]: i["title"] for i in jit.json("issue", "list")["issues"]}[three[1]] == "two"


def test_installed_hooks_are_checked(jit: Jit, three: list[str]) -> None:
    assert run(jit)[1]["problems"] == []  # no hooks installed: nothing to say
    assert jit("hooks", "install").exit_code == 0
    shim = jit.repo / ".git" / "hooks" / "pre-push"
    shim.write_text(shim.read_text() + "\n# edited by hand\n")
    code, rep = run(jit)
    p = next(p for p in rep["problems"] if p["check"] == "hooks")
    assert code == 0 and p["code"] == "hooks_outdated" and "pre-push" in p["message"] and p["fix"] == "jit hooks install"
    code, rep = run(jit, "--fix")
    assert code == 0 and not [p for p in run(jit)[1]["problems"] if p["check"] == "hooks"]


def test_housekeeping_leftovers(jit: Jit, three: list[str]) -> None:
    """A killed large push's staging refs (a live one's are left alone) and a ``gc.log`` that
    stops git's automatic gc are reported; ``--fix`` removes the dead stages only."""
    import subprocess

    repo = jit.repo
    tip = git("rev-parse", f"refs/jit/issues/{three[0]}", cwd=repo).stdout.strip()
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"refs/jit-push/{gone.pid}-deadbeef0000/issues/{three[0]}"
    live = f"refs/jit-push/{os.getpid()}-0123456789ab/issues/{three[0]}"
    git("update-ref", dead, tip, cwd=repo)
    git("update-ref", live, tip, cwd=repo)
    (repo / ".git" / "gc.log").write_text("warning: There are too many unreachable loose objects\n")
    code, rep = run(jit)
    got = {p["code"]: p for p in rep["problems"]}
    assert code == 0 and rep["ok"]  # warnings: nothing is wrong with the data
    assert got["stale_push_stage"]["details"]["refs"] == [dead] and got["stale_push_stage"]["repairable"]
    assert "too many unreachable" in got["gc_refused"]["message"] and "git gc" in got["gc_refused"]["fix"]
    code, rep = run(jit, "--fix")
    assert code == 0
    left = git("for-each-ref", "--format=%(refname)", "refs/jit-push/", cwd=repo).stdout.split()
    assert left == [live]
    assert (repo / ".git" / "gc.log").exists()  # jit does not decide for the user what git gc should do
    _code, rep = run(jit)
    assert "stale_push_stage" not in codes(rep).values()
