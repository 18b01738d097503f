"""The seed's later commands: ``issue reject``, ``issue breakdown``, ``query available``, ``gate
define``, ``--schema``, ``validate``, ``snapshot export|verify`` and ``doc add|list|check-links|
archive``; in-process through main(argv), against real repositories."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from conftest import Jit, git, ref_snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core.docs import check_doc_path, fold_documents, markdown_links
from gitjit.core.errors import UsageError


def new(jit: Jit, *args: str) -> str:
    r = jit("issue", "create", "-q", *args)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    return r.stdout.strip()


def fail(jit: Jit, *args: str, code: int, err: str) -> dict:  # type: ignore[type-arg]
    """Run a command that must be refused: the exit code, the JSON error, and no ref changed."""
    before = ref_snapshot(jit.repo)
    r = jit(*args, "--json")
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    e = json.loads(r.stdout)["error"]
    assert e["code"] == err, e
    assert e["message"]
    assert ref_snapshot(jit.repo) == before, "a refused command wrote"
    return e  # type: ignore[no-any-return]


def commit_all(repo: Path, msg: str = "work") -> str:
    git("add", "-A", cwd=repo)
    git("commit", "-qm", msg, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


# ----------------------------------------------------------------------------- issue reject

def test_reject_with_a_one_word_reason_labels_and_unblocks(jit: Jit) -> None:
    a, b = new(jit, "-t", "A"), new(jit, "-t", "B")
    assert jit("dep", "add", a, b).exit_code == 0
    assert jit.json("issue", "show", a)["state"] == "open"
    d = jit.json("issue", "reject", b[:6], "--reason", "duplicate")
    assert d["id"] == b and d["state"] == "rejected" and "resolution:duplicate" in d["labels"]
    assert d["blocked_reasons"] == []
    # rejected work no longer holds anyone up: the dependent is ready at once
    assert jit.json("issue", "show", a)["state"] == "ready"
    ev = [e for e in jit.json("events", "query", "--issue", b) if e["type"] == "issue_state_changed"
          and not e.get("derived")]
    assert ev[-1]["to"] == "rejected" and ev[-1]["reason"] == "duplicate"
    # human and quiet forms
    c = new(jit, "-t", "C")
    r = jit("issue", "reject", c)
    assert r.exit_code == 0 and r.stdout == f"Rejected issue {c}\n"
    assert jit("issue", "reject", c, "-q").stdout == c + "\n"
    assert jit.json("query", "state", "rejected")["count"] == 2
    assert jit.json("status")["rejected"] == 2


def test_reject_with_free_text_keeps_the_reason_on_the_event_only(jit: Jit) -> None:
    a = new(jit, "-t", "A", "-l", "team:x")
    d = jit.json("issue", "reject", a, "--reason", "superseded by\tthe new parser")
    assert d["state"] == "rejected" and d["labels"] == ["team:x"]
    ev = jit.json("events", "query", "--issue", a, "--event-type", "issue_state_changed")
    assert ev[-1]["reason"] == "superseded by\tthe new parser"
    # rejecting again writes nothing
    before = ref_snapshot(jit.repo)
    assert jit.json("issue", "reject", a)["state"] == "rejected"
    assert ref_snapshot(jit.repo) == before
    # a done issue may be rejected (as in the seed), an in-progress one too
    b = new(jit, "-t", "B")
    assert jit("issue", "update", b, "--state", "done").exit_code == 0
    assert jit.json("issue", "reject", b, "--reason", "obsolete")["state"] == "rejected"
    c = new(jit, "-t", "C")
    assert jit("issue", "claim", c, "agent:w").exit_code == 0
    assert jit.json("issue", "reject", c)["state"] == "rejected"
    assert jit.json("issue", "show", c)["assignee"] == "agent:w"  # kept, as in the seed
    fail(jit, "issue", "claim", a, "agent:v", code=4, err="BLOCKED")  # finished work is not claimed


@pytest.mark.parametrize("reason, what", [("", "empty"), ("   ", "empty"), ("bad\x1b[31m", "control"),
                                          ("x" * 2001, "limit")])
def test_reject_refuses_a_bad_reason(jit: Jit, reason: str, what: str) -> None:
    a = new(jit, "-t", "A")
    e = fail(jit, "issue", "reject", a, "--reason", reason, code=2, err="INVALID_ARGUMENT")
    assert "reason" in e["message"] and what in e["message"].replace("characters", "limit")
    assert jit.json("issue", "show", a)["state"] == "ready"


def test_reject_an_unknown_issue(jit: Jit) -> None:
    new(jit, "-t", "A")
    e = fail(jit, "issue", "reject", "ffffffff", "--reason", "x", code=3, err="NOT_FOUND")
    assert "ffffffff" in e["message"]


# ----------------------------------------------------------------------------- issue breakdown

def test_breakdown_inherits_and_rewires(jit: Jit) -> None:
    assert jit("gate", "define", "review", "-t", "Review").exit_code == 0
    dep1, dep2 = new(jit, "-t", "Dep 1"), new(jit, "-t", "Dep 2")
    story = new(jit, "-t", "Story", "-p", "high", "--gate", "review", "-l", "type:story", "-l", "epic:auth")
    assert jit("dep", "add", story, dep1, dep2).exit_code == 0
    d = jit.json("issue", "breakdown", story[:6], "--subtask", "Login endpoint", "--description", "POST /login",
                 "--subtask", "Hashing", "--desc", "argon2")
    assert d["parent_id"] == story and d["count"] == 2 and len(d["subtask_ids"]) == 2
    assert [i["id"] for i in d["issues"]] == d["subtask_ids"]
    for it, (title, desc) in zip(d["issues"], [("Login endpoint", "POST /login"), ("Hashing", "argon2")]):
        assert (it["title"], it["description"], it["priority"]) == (title, desc, "high")
        assert sorted(it["labels"]) == ["epic:auth", "type:task"]
        assert [g["key"] for g in it["gates"]] == ["review"] and it["gates"][0]["status"] == "pending"
        assert sorted(it["dependencies"]) == sorted([dep1, dep2]) and it["state"] == "open"
    parent = jit.json("issue", "show", story)
    assert sorted(parent["dependencies"]) == sorted(d["subtask_ids"]) and d["parent_state"] == "open"
    # the old dependencies still come first: finishing them makes the subtasks ready, not the parent
    for x in (dep1, dep2):
        assert jit("issue", "update", x, "--state", "done").exit_code == 0
    ready = [i["id"] for i in jit.json("query", "available")["issues"]]
    assert set(d["subtask_ids"]) <= set(ready) and story not in ready


def test_breakdown_output_forms_and_no_type_label(jit: Jit) -> None:
    a = new(jit, "-t", "A", "-l", "team:x")
    r = jit("issue", "breakdown", a, "--subtask", "One", "--subtask", "Two")
    assert r.exit_code == 0
    ids = [line.split()[0] for line in r.stdout.splitlines()]
    assert len(ids) == 2 and "Broke" in r.stderr
    for i in ids:
        assert jit.json("issue", "show", i)["labels"] == ["team:x"]  # no type label made up
    r = jit("issue", "breakdown", a, "--subtask", "Three", "-q")
    assert r.exit_code == 0 and len(r.stdout.split()) == 1
    three = r.stdout.strip()
    # as in the seed: the new subtask takes over the parent's dependencies (the first two)
    assert jit.json("issue", "show", a)["dependencies"] == [three]
    assert sorted(jit.json("issue", "show", three)["dependencies"]) == sorted(ids)


def test_breakdown_refuses_bad_input(jit: Jit) -> None:
    a = new(jit, "-t", "A")
    fail(jit, "issue", "breakdown", "abcdef12", "--subtask", "x", code=3, err="NOT_FOUND")
    e = fail(jit, "issue", "breakdown", a, "--subtask", "x", "--subtask", "y", "--description", "only one",
             code=2, err="INVALID_ARGUMENT")
    assert "description" in e["message"]
    fail(jit, "issue", "breakdown", a, "--subtask", "", code=2, err="INVALID_ARGUMENT")
    fail(jit, "issue", "breakdown", a, "--subtask", "two\nlines", code=2, err="INVALID_ARGUMENT")
    fail(jit, "issue", "breakdown", a, code=2, err="INVALID_ARGUMENT")  # --subtask is required
    assert jit("issue", "update", a, "--state", "done").exit_code == 0
    fail(jit, "issue", "breakdown", a, "--subtask", "late", code=4, err="BLOCKED")
    assert jit.json("query", "all")["count"] == 1


# ----------------------------------------------------------------------------- query available, gate define, --schema

def test_query_available_is_query_ready(jit: Jit) -> None:
    a, b = new(jit, "-t", "A", "-p", "critical"), new(jit, "-t", "B")
    c = new(jit, "-t", "C")
    assert jit("dep", "add", c, a).exit_code == 0
    assert jit.json("query", "available") == jit.json("query", "ready")
    assert [i["id"] for i in jit.json("query", "available")["issues"]] == [a, b]
    assert jit("query", "available").stdout == jit("query", "ready").stdout
    assert jit("query", "available", "-q").stdout == f"{a}\n{b}\n"


def test_gate_define_is_registry_add(jit: Jit) -> None:
    d = jit.json("gate", "define", "tests", "-t", "Unit tests", "-d", "all green", "--auto",
                 "--checker-command", "true")
    assert (d["key"], d["title"], d["description"], d["mode"], d["stage"]) == (
        "tests", "Unit tests", "all green", "auto", "postcheck")
    assert jit.json("registry", "show", "tests") == d
    d = jit.json("gate", "define", "design", "-t", "Design", "--stage", "precheck", "-m", "manual")
    assert (d["mode"], d["stage"]) == ("manual", "precheck")
    assert [g["key"] for g in jit.json("registry", "list")["gates"]] == ["design", "tests"]
    fail(jit, "gate", "define", "tests", "-t", "Again", code=6, err="ALREADY_EXISTS")
    fail(jit, "gate", "define", "Bad Key", "-t", "x", code=2, err="INVALID_ARGUMENT")
    fail(jit, "gate", "define", "x", "-t", "x", "--auto", "--mode", "manual", code=2, err="INVALID_ARGUMENT")
    fail(jit, "gate", "define", "x", code=2, err="INVALID_ARGUMENT")  # -t is required
    # an issue requiring it, and gate run using the command
    a = new(jit, "-t", "A", "--gate", "tests")
    assert jit.json("gate", "run", a, "tests")["status"] == "passed"


def test_top_level_schema_flag(jit: Jit) -> None:
    r = jit("--schema")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == jit.json("schema")
    names = {s["name"] for s in json.loads(r.stdout)["schemas"]}
    assert {"issue-breakdown", "doc-added", "validate", "snapshot-written", "snapshot-verified"} <= names


# ----------------------------------------------------------------------------- validate

def test_validate_a_healthy_repository(jit: Jit) -> None:
    a, b = new(jit, "-t", "A"), new(jit, "-t", "B")
    assert jit("dep", "add", a, b).exit_code == 0
    r = jit("validate", "--json")
    assert r.exit_code == 0, r.stdout
    d = json.loads(r.stdout)
    assert d["valid"] and d["errors"] == 0 and d["checked"]["issues"] == 2
    r = jit("validate")
    assert r.exit_code == 0 and "valid: 0 error(s)" in r.stdout
    assert jit("validate", "--strict").exit_code == 0


def test_validate_reports_data_warnings_and_writes_nothing(jit: Jit) -> None:
    a, b = new(jit, "-t", "A", "--gate", "nodef"), new(jit, "-t", "B")
    assert jit("dep", "add", a, b).exit_code == 0
    assert jit("issue", "delete", b).exit_code == 0
    before = ref_snapshot(jit.repo)
    r = jit("validate", "--json")
    assert r.exit_code == 0
    d = json.loads(r.stdout)
    codes = {p["code"] for p in d["problems"] if p["check"] == "data"}
    assert {"dependency_on_deleted", "undefined_gate"} <= codes and d["warnings"] >= 2 and d["valid"]
    r = jit("validate", "--strict", "--json")
    assert r.exit_code == 4 and json.loads(r.stdout)["valid"]  # warnings fail it only under --strict
    assert ref_snapshot(jit.repo) == before


def test_validate_fails_on_an_unreadable_ref_and_repairs_nothing(jit: Jit) -> None:
    a = new(jit, "-t", "A")
    repo = jit.repo
    ref = f"refs/jit/issues/{a}"
    good = git("rev-parse", ref, cwd=repo).stdout.strip()
    scratch = repo / ".git" / "scratch"
    scratch.write_bytes(b"not json\n")
    blob = git("hash-object", "-w", str(scratch), cwd=repo).stdout.strip()
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\tevents.jsonl\n").stdout.strip()
    bad = git("commit-tree", tree, "-p", good, "-m", "bad", cwd=repo).stdout.strip()
    git("update-ref", ref, bad, cwd=repo)
    before = ref_snapshot(repo)
    r = jit("validate", "--json")
    assert r.exit_code == 4
    d = json.loads(r.stdout)
    assert not d["valid"] and d["errors"] >= 1
    assert any(p["code"] == "unreadable_ref" and p["subject"] == ref for p in d["problems"])
    assert ref_snapshot(repo) == before  # doctor --fix would have quarantined it; validate does not
    r = jit("validate")
    assert r.exit_code == 4 and "NOT valid" in r.stdout


# ----------------------------------------------------------------------------- snapshot

def _setup_tracker(jit: Jit) -> tuple[str, str]:
    (jit.repo / "docs").mkdir()
    (jit.repo / "docs" / "design.md").write_text("# Design\n")
    commit_all(jit.repo)
    assert jit("gate", "define", "review", "-t", "Review").exit_code == 0
    a, b = new(jit, "-t", "A", "--gate", "review"), new(jit, "-t", "B")
    assert jit("dep", "add", a, b).exit_code == 0
    assert jit("doc", "add", a, "docs/design.md").exit_code == 0
    gone = new(jit, "-t", "Gone")
    assert jit("issue", "delete", gone).exit_code == 0
    return a, b


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_snapshot_export_dir_is_complete_and_verifies(jit: Jit, tmp_path: Path) -> None:
    a, b = _setup_tracker(jit)
    out = tmp_path / "snap"
    d = jit.json("snapshot", "export", "--out", str(out))
    assert d["format"] == "dir" and d["counts"] == {"issues": 2, "deleted_issues": 1, "gates": 1, "events": d[
        "counts"]["events"], "refs": 4, "documents": 1}
    files = _files(out)
    manifest = json.loads(files.pop("manifest.json"))
    assert hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest() == d["manifest_sha256"]
    assert manifest["format"] == "gitjit-snapshot" and manifest["version"] == 1
    assert {f["path"] for f in manifest["files"]} == set(files)
    for f in manifest["files"]:
        assert hashlib.sha256(files[f["path"]]).hexdigest() == f["sha256"] and len(files[f["path"]]) == f["bytes"]
    # the refs' commit ids, and each event log byte for byte as stored at that commit
    refs = json.loads(files["refs.json"])["refs"]
    assert refs == {k: v for k, v in ref_snapshot(jit.repo).items() if k.startswith("refs/jit/")}
    for ref, tip in refs.items():
        kind, key = ref.split("/")[2:]
        stored = git("cat-file", "blob", f"{tip}:events.jsonl", cwd=jit.repo).stdout.encode()
        assert files[f"events/{kind}/{key}.jsonl"] == stored
    listed = {i["id"]: i for i in jit.json("query", "all")["issues"]}
    assert json.loads(files[f"issues/{a}.json"]) == listed[a] and json.loads(files[f"issues/{b}.json"]) == listed[b]
    assert json.loads(files["gates/review.json"])["title"] == "Review"
    assert files["documents/docs/design.md"] == b"# Design\n"
    assert manifest["head"] == git("rev-parse", "HEAD", cwd=jit.repo).stdout.strip()
    v = jit.json("snapshot", "verify", str(out))
    assert v["ok"] and v["problems"] == [] and v["files"] == d["files"] and v["refs"] == 4
    assert jit("snapshot", "verify", str(out)).stdout.startswith(f"{out}: OK")


def test_snapshot_tar_and_tampering(jit: Jit, tmp_path: Path) -> None:
    a, _ = _setup_tracker(jit)
    out = tmp_path / "snap.tar"
    d = jit.json("snapshot", "export", "--out", str(out), "--format", "tar")
    assert d["format"] == "tar" and tarfile.is_tarfile(out)
    assert jit.json("snapshot", "verify", str(out))["ok"]
    # an existing output is refused (store and file unchanged), --force replaces it
    before = out.read_bytes()
    fail(jit, "snapshot", "export", "--out", str(out), "--format", "tar", code=6, err="ALREADY_EXISTS")
    assert out.read_bytes() == before
    assert jit.json("snapshot", "export", "--out", str(out), "--format", "tar", "--force")["path"] == str(out)
    # a changed file, an extra file, a missing one: each is named, exit 4
    snap = tmp_path / "dir"
    jit.json("snapshot", "export", "--out", str(snap))
    (snap / "issues" / f"{a}.json").write_text("{}\n")
    (snap / "extra.txt").write_text("x")
    (snap / "refs.json").unlink()
    r = jit("snapshot", "verify", str(snap), "--json")
    assert r.exit_code == 4
    probs = json.loads(r.stdout)["problems"]
    assert f"issues/{a}.json: checksum mismatch (the file was changed)" in probs
    assert "extra.txt: not listed in the manifest" in probs and "refs.json: missing" in probs
    # not a snapshot at all
    fail(jit, "snapshot", "verify", str(tmp_path / "nothing"), code=3, err="NOT_FOUND")
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"\x00" * 10 + b"not a tar")
    r = jit("snapshot", "verify", str(garbage), "--json")
    assert r.exit_code == 4


def test_snapshot_verify_reads_a_hostile_tar_without_extracting(jit: Jit, tmp_path: Path) -> None:
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tf:
        data = json.dumps({"format": "gitjit-snapshot", "version": 1, "files": [
            {"path": "../escape.txt", "sha256": hashlib.sha256(b"x").hexdigest(), "bytes": 1}]}).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("../escape.txt")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
        ti = tarfile.TarInfo("link")
        ti.type, ti.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(ti)
    cwd = os.getcwd()
    r = jit("snapshot", "verify", str(evil), "--json")
    assert r.exit_code == 4
    assert "link: not listed in the manifest" in json.loads(r.stdout)["problems"]
    assert not (tmp_path.parent / "escape.txt").exists() and os.getcwd() == cwd


def test_snapshot_bad_options(jit: Jit, tmp_path: Path) -> None:
    new(jit, "-t", "A")
    fail(jit, "snapshot", "export", "--out", str(tmp_path / "no" / "such" / "dir"), code=3, err="NOT_FOUND")
    fail(jit, "snapshot", "export", "--format", "zip", code=2, err="INVALID_ARGUMENT")


# ----------------------------------------------------------------------------- doc

@pytest.fixture
def docrepo(jit: Jit) -> Jit:
    d = jit.repo / "docs"
    d.mkdir()
    (d / "design.md").write_text("# Design\nSee [the API](api.md), [gone](missing.md#x), "
                                 "[web](https://example.invalid/x), [up](../../outside.md).\n"
                                 "```\n[in code](nope.md)\n```\n")
    (d / "api.md").write_text("# API\n")
    commit_all(jit.repo)
    return jit


def test_doc_add_list_and_the_commit_seen(docrepo: Jit) -> None:
    jit = docrepo
    head = git("rev-parse", "HEAD", cwd=jit.repo).stdout.strip()
    a = new(jit, "-t", "A")
    d = jit.json("doc", "add", a[:5], "./docs//design.md", "--label", "Design", "--doc-type", "design")
    assert d["document"]["path"] == "docs/design.md" and d["document"]["commit"] == head
    assert (d["document"]["label"], d["document"]["doc_type"]) == ("Design", "design")
    # again: nothing written
    before = ref_snapshot(jit.repo)
    assert jit.json("doc", "add", a, "docs/design.md", "--title", "Design", "--doc-type", "design")["documents"] \
        == d["documents"]
    assert ref_snapshot(jit.repo) == before
    # a file not committed yet: recorded without a commit, with a warning
    (jit.repo / "docs" / "new.md").write_text("new\n")
    r = jit("doc", "add", a, "docs/new.md")
    assert r.exit_code == 0 and "not committed yet" in r.stderr and "(not committed yet)" in r.stdout
    # --commit: a revision that holds the file
    first = head
    (jit.repo / "docs" / "design.md").write_text("# Design v2\n")
    commit_all(jit.repo, "v2")
    assert jit.json("doc", "add", a, "docs/design.md", "-c", first[:10])["document"]["commit"] == first
    fail(jit, "doc", "add", a, "docs/new.md", "--commit", first, code=3, err="NOT_FOUND")
    fail(jit, "doc", "add", a, "docs/design.md", "--commit", "nosuchrev", code=3, err="NOT_FOUND")
    lst = jit.json("doc", "list", a)
    assert lst["count"] == 2 and [x["path"] for x in lst["documents"]] == ["docs/design.md", "docs/new.md"]
    assert jit("doc", "list", a, "-q").stdout == "docs/design.md\ndocs/new.md\n"
    assert "docs/design.md" in jit("document", "list", a).stdout  # the seed's alias
    # the references travel as events on the issue
    types = [e["type"] for e in jit.json("events", "query", "--issue", a)]
    assert types.count("document_added") == 3


@pytest.mark.parametrize("path, code, err", [
    ("../outside.md", 2, "INVALID_ARGUMENT"),
    ("docs/../../outside.md", 2, "INVALID_ARGUMENT"),
    ("/etc/passwd", 2, "INVALID_ARGUMENT"),
    ("C:/x.md", 2, "INVALID_ARGUMENT"),
    ("docs\\design.md", 2, "INVALID_ARGUMENT"),
    (".git/config", 2, "INVALID_ARGUMENT"),
    ("docs/\x1b[31mred.md", 2, "INVALID_ARGUMENT"),
    ("docs/line\nbreak.md", 2, "INVALID_ARGUMENT"),
    ("", 2, "INVALID_ARGUMENT"),
    (".", 2, "INVALID_ARGUMENT"),
    ("docs/missing.md", 3, "NOT_FOUND"),
    ("docs", 3, "NOT_FOUND"),
])
def test_doc_add_refuses_bad_paths(docrepo: Jit, path: str, code: int, err: str) -> None:
    a = new(docrepo, "-t", "A")
    fail(docrepo, "doc", "add", a, path, code=code, err=err)
    assert docrepo.json("doc", "list", a)["count"] == 0


def test_doc_add_refuses_a_symlink_out_of_the_repository(docrepo: Jit, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("secret\n")
    (docrepo.repo / "docs" / "leak.md").symlink_to(secret)
    (docrepo.repo / "outdir").symlink_to(tmp_path)
    a = new(docrepo, "-t", "A")
    e = fail(docrepo, "doc", "add", a, "docs/leak.md", code=2, err="INVALID_ARGUMENT")
    assert "outside the repository" in e["message"]
    fail(docrepo, "doc", "add", a, "outdir/secret.md", code=2, err="INVALID_ARGUMENT")
    fail(docrepo, "doc", "add", "abcdef", "docs/design.md", code=3, err="NOT_FOUND")


def test_doc_check_links(docrepo: Jit) -> None:
    jit = docrepo
    a, b = new(jit, "-t", "A"), new(jit, "-t", "B")
    assert jit("doc", "add", a, "docs/design.md").exit_code == 0
    assert jit("doc", "add", b, "docs/api.md").exit_code == 0
    d = jit.json("doc", "check-links")
    assert d["valid"] and d["issues"] == 2 and d["documents"] == 2 and d["links"] == 3
    assert sorted((p["code"], p["link"]) for p in d["problems"]) == [
        ("broken_link", "missing.md"), ("link_outside_repository", "../../outside.md")]
    r = jit("doc", "check-links", "--scope", f"issue:{b}", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["problems"] == []
    (jit.repo / "docs" / "api.md").unlink()
    r = jit("doc", "check-links", "--json")
    assert r.exit_code == 4
    d = json.loads(r.stdout)
    assert not d["valid"] and {p["code"] for p in d["problems"]} >= {"missing_document", "broken_link"}
    r = jit("doc", "check-links")
    assert r.exit_code == 4 and "error: docs/api.md" in r.stdout
    # validate names the missing document too, as a warning
    v = jit.json("validate")
    assert any(p["code"] == "missing_document" for p in v["problems"])
    fail(jit, "doc", "check-links", "--scope", "label:x", code=2, err="INVALID_ARGUMENT")
    fail(jit, "doc", "check-links", "--scope", "issue:ffffffff", code=3, err="NOT_FOUND")


def test_doc_archive(docrepo: Jit) -> None:
    jit = docrepo
    a, b = new(jit, "-t", "A"), new(jit, "-t", "B")
    for i in (a, b):
        assert jit("doc", "add", i, "docs/design.md").exit_code == 0
    src = jit.repo / "docs" / "design.md"
    # unfinished issues reference it
    e = fail(jit, "doc", "archive", "docs/design.md", "--type", "features", code=4, err="BLOCKED")
    assert len(e["details"]["unfinished"]) == 2 and src.exists()
    assert jit("issue", "update", a, "--state", "done").exit_code == 0
    assert jit("issue", "reject", b).exit_code == 0
    dry = jit.json("doc", "archive", "docs/design.md", "--type", "features", "--dry-run")
    assert dry["destination"] == "dev/archive/features/design.md" and not dry["moved"] and src.exists()
    assert sorted(dry["issues_updated"]) == sorted([a, b])
    d = jit.json("doc", "archive", "docs/design.md", "--type", "features")
    assert d["moved"] and not src.exists() and (jit.repo / "dev/archive/features/design.md").read_text().startswith(
        "# Design")
    for i in (a, b):
        doc = jit.json("doc", "list", i)["documents"][0]
        assert doc["path"] == "dev/archive/features/design.md" and doc["archived_from"] == "docs/design.md"
    # the destination exists: refused, nothing moved
    (jit.repo / "docs" / "design.md").write_text("again\n")
    fail(jit, "doc", "archive", "docs/design.md", "--type", "features", code=6, err="ALREADY_EXISTS")
    assert (jit.repo / "docs" / "design.md").exists()
    fail(jit, "doc", "archive", "docs/design.md", "--type", "Bad/Cat", code=2, err="INVALID_ARGUMENT")
    fail(jit, "doc", "archive", "docs/none.md", "--type", "x", code=3, err="NOT_FOUND")
    fail(jit, "doc", "archive", "../x.md", "--type", "x", code=2, err="INVALID_ARGUMENT")
    # --force with an unfinished issue, and the configured archive directory
    c = new(jit, "-t", "C")
    assert jit("doc", "add", c, "docs/api.md").exit_code == 0
    assert jit("config", "set", "doc-archive", "old").exit_code == 0
    fail(jit, "doc", "archive", "docs/api.md", "--type", "x", code=4, err="BLOCKED")
    r = jit("doc", "archive", "docs/api.md", "--type", "x", "--force")
    assert r.exit_code == 0 and r.stdout == "Moved docs/api.md to old/x/api.md (1 issue(s) updated)\n"


def test_doc_archive_refuses_an_archive_directory_leading_out(docrepo: Jit, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere"
    out.mkdir()
    (docrepo.repo / "dev").mkdir()
    (docrepo.repo / "dev" / "archive").symlink_to(out)
    fail(docrepo, "doc", "archive", "docs/api.md", "--type", "x", code=2, err="INVALID_ARGUMENT")
    assert (docrepo.repo / "docs" / "api.md").exists() and list(out.iterdir()) == []


# ----------------------------------------------------------------------------- properties

_SEGMENT = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=12)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_SEGMENT, st.sampled_from(["..", ".", "", ".git", "a", "b"])), max_size=6),
       st.booleans())
def test_check_doc_path_keeps_paths_inside(parts: list[str], absolute: bool) -> None:
    path = ("/" if absolute else "") + "/".join(parts)
    try:
        out = check_doc_path(path)
    except UsageError as e:
        assert e.message
        return
    assert not out.startswith("/") and "\\" not in out and out not in ("", ".")
    segs = out.split("/")
    assert ".." not in segs and "." not in segs and "" not in segs and ".git" not in segs
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert check_doc_path(out) == out  # normalised: a stored path reads back the same
    # joined onto a directory, it stays under it
    base = "/repo/top"
    assert os.path.normpath(os.path.join(base, out)).startswith(base + "/")


@settings(max_examples=300)
@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9_/.-]{0,15}", fullmatch=True), st.booleans()), max_size=5),
       st.text(max_size=60))
def test_markdown_links_finds_relative_links_and_only_those(links: list[tuple[str, bool]], noise: str) -> None:
    text = noise.replace("(", " ").replace("[", " ") + "\n"
    for target, image in links:
        text += f"{'!' if image else ''}[x]({target}) and [web](https://example.invalid/{target})\n"
    got = markdown_links(text)
    assert len(got) == len(set(got))
    for g in got:
        assert "://" not in g and not g.startswith(("#", "/"))
    for target, _ in links:
        if target.split("#")[0].split("?")[0]:
            assert target.split("#")[0].split("?")[0] in got


def test_fold_documents_ignores_hostile_events() -> None:
    from gitjit.core.event import Event

    def ev(n: int, type_: str, **kw: object) -> Event:
        return Event.build(id=f"{n:032x}", type=type_, issue_id="a" * 12, clock=n,
                           timestamp="2026-12-07T00:00:00.000000+00:00", actor="x", **kw)

    evs = [ev(1, "document_added", path="a.md", label=5), ev(2, "document_added", path=None),
           ev(3, "document_archived", path="missing.md", destination="z.md"),
           ev(4, "document_added", path="b.md", commit="c" * 40),
           ev(5, "document_added", path="../../etc/passwd"), ev(6, "document_added", path="x/../y.md"),
           ev(7, "document_removed", path="b.md"), ev(8, "document_archived", path="a.md", destination=7),
           ev(9, "document_archived", path="a.md", destination="/tmp/out.md")]
    docs = fold_documents(evs)
    # hostile paths and destinations are skipped: a.md stays where it was, b.md was removed
    assert [d["path"] for d in docs] == ["a.md"] and docs[0]["label"] is None
    docs = fold_documents(evs[:4] + [ev(10, "document_archived", path="a.md", destination="old/a.md")])
    assert [(d["path"], d["archived_from"]) for d in docs] == [("b.md", None), ("old/a.md", "a.md")]


def test_snapshot_reads_one_listing_of_the_refs(tracker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A write that lands after the refs were listed is not in the snapshot, and every event log
    in it is the one stored at the commit refs.json names (not the ref's newer tip)."""
    from gitjit.app.snapshot import export_snapshot, verify_snapshot
    from gitjit.app.tracker import Tracker

    a = tracker.create_issue("A")["id"]
    other = Tracker(tracker.git.workdir, actor="agent:other")
    real_tips = tracker.git.tips
    late: dict[str, str] = {}

    def tips_then_write(prefix: str) -> dict[str, str]:
        got = real_tips(prefix)
        if not late:  # another process writes right after the listing
            late["new"] = other.create_issue("Late")["id"]
            other.update_issue(a, title="A, renamed meanwhile")
        return got

    tracker.git.tips = tips_then_write  # type: ignore[method-assign]
    try:
        out = export_snapshot(tracker, out=str(tmp_path / "snap"))
    finally:
        tracker.git.tips = real_tips  # type: ignore[method-assign]
    snap = tmp_path / "snap"
    refs = json.loads((snap / "refs.json").read_text())["refs"]
    assert f"refs/jit/issues/{late['new']}" not in refs and out["counts"]["issues"] == 1
    assert json.loads((snap / "issues" / f"{a}.json").read_text())["title"] == "A"
    stored = git("cat-file", "blob", f"{refs[f'refs/jit/issues/{a}']}:events.jsonl", cwd=tracker.git.workdir)
    assert (snap / "events" / "issues" / f"{a}.jsonl").read_text() == stored.stdout
    assert git("rev-parse", f"refs/jit/issues/{a}", cwd=tracker.git.workdir).stdout.strip() != refs[
        f"refs/jit/issues/{a}"]
    assert verify_snapshot(str(snap))["ok"]


def test_doc_paths_with_spaces_and_non_ascii_work(docrepo: Jit) -> None:
    jit = docrepo
    name = "docs/my design – ü.md"
    (jit.repo / name).write_text("# ü\n[api](api.md) [sp](my%20design%20%E2%80%93%20%C3%BC.md)\n")
    commit_all(jit.repo)
    a = new(jit, "-t", "A")
    d = jit.json("doc", "add", a, name)
    assert d["document"]["path"] == name and d["document"]["commit"]
    links = jit.json("doc", "check-links", "--scope", f"issue:{a}")
    assert links["valid"] and links["links"] == 2 and links["problems"] == []
    # a file whose name holds a newline exists on disk, but is never taken as a document
    (jit.repo / "docs" / "evil\nname.md").write_text("x")
    fail(jit, "doc", "add", a, "docs/evil\nname.md", code=2, err="INVALID_ARGUMENT")
