"""``jit prime``: the start-of-session card, in a repository with issues, one without ``jit init``,
and outside any repository; its size limit; and the pre-dispatch answering it from the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import Jit, git, make_repo, ref_snapshot, run_jit

from gitjit.core import prime as card
from gitjit.core.model import LIMITS


def _create(jit: Jit, title: str, priority: str = "normal") -> str:
    r = jit("issue", "create", "-q", "-t", title, "-p", priority)
    assert r.exit_code == 0, r.output
    return r.stdout.strip()


def test_card_lists_own_claims_and_the_ready_queue_in_claim_order(jit: Jit) -> None:
    ids = [_create(jit, f"Task {n}", "high" if n % 2 else "normal") for n in range(8)]
    other = _create(jit, "Held by someone else")
    assert jit("issue", "claim", other, "agent:other").exit_code == 0
    mine = jit.json("issue", "claim-next", "agent:w1", actor="agent:w1")["id"]

    data = jit.json("prime", actor="agent:w1")
    assert data["initialized"] is True and data["actor"] == "agent:w1"
    assert [c["id"] for c in data["claims"]] == [mine] and data["claims_count"] == 1
    assert data["claims"][0]["state"] == "in_progress"
    ready = jit.json("query", "ready")["issues"]
    assert data["ready_count"] == len(ready) == 7
    assert [i["id"] for i in data["ready"]] == [i["id"] for i in ready[:5]]
    assert [(i["short_id"], i["priority"], i["title"]) for i in data["ready"]] == [
        (i["id"][:8], i["priority"], i["title"]) for i in ready[:5]]
    assert data["workflow"][0] == "ID=$(jit issue claim-next agent:w1)"
    assert [(e["code"], e["name"]) for e in data["exit_codes"]] == [(7, "ALREADY_CLAIMED"), (8, "NO_WORK"),
                                                                    (9, "BUSY")]
    assert data["start"] == []
    assert set(ids) >= {i["id"] for i in data["ready"]}

    text = jit("prime", actor="agent:w1").stdout
    assert "You act as: agent:w1" in text
    assert "You hold 1 unfinished issue:" in text and mine[:8] in text
    assert "Ready: 7 issues (first 5):" in text
    for i in data["ready"]:
        assert f"{i['short_id']}  {i['priority']:<8}  {i['title']}" in text
    for code in ("7 ALREADY_CLAIMED", "8 NO_WORK", "9 BUSY"):
        assert code in text
    assert "jit issue release $ID REASON" in text
    assert len(text.encode()) < 2048


def test_limit_and_quiet(jit: Jit) -> None:
    for n in range(4):
        _create(jit, f"T{n}")
    data = jit.json("prime", "-n", "2")
    assert data["ready_count"] == 4 and len(data["ready"]) == 2
    assert jit("prime", "-q").stdout == "4\n"
    assert jit("prime", "--limit", "11").exit_code == 2


def test_empty_tracker_says_nothing_is_ready(jit: Jit) -> None:
    text = jit("prime").stdout
    assert "You hold no issues." in text and "Ready: none" in text


def test_without_jit_init_it_says_how_to_start_and_writes_nothing(repo: Path) -> None:
    before = ref_snapshot(repo)
    j = Jit(repo)
    r = j("prime")
    assert r.exit_code == 0, r.output
    assert "jit is not set up in this repository yet" in r.stdout and "  jit init" in r.stdout
    data = j.json("prime")
    assert data["initialized"] is False and data["start"][0] == "jit init"
    assert data["ready"] == [] and data["claims"] == [] and data["ready_count"] == 0
    assert ref_snapshot(repo) == before
    assert git("config", "--get", "jit.version", cwd=repo, check=False).returncode == 1
    assert not list((repo / ".git").glob("jit*")), "prime created files in the git dir"


def test_outside_a_repository_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    r = run_jit("prime", cwd=tmp_path / "plain", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.returncode == 3
    assert "not a git repository" in r.stderr and "jit init" in r.stderr
    r = run_jit("prime", "--json", cwd=tmp_path / "plain", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.returncode == 3 and json.loads(r.stdout)["error"]["code"] == "NOT_FOUND"


def test_actor_defaults_to_the_git_identity(repo: Path) -> None:
    git("config", "user.name", "Ada", cwd=repo)
    git("config", "user.email", "ada@example.com", cwd=repo)
    r = run_jit("init", cwd=repo)
    assert r.returncode == 0, r.stderr
    r = run_jit("prime", "--json", cwd=repo)
    data = json.loads(r.stdout)
    assert data["actor"] == "Ada <ada@example.com>"
    assert data["workflow"][0] == "ID=$(jit issue claim-next 'Ada <ada@example.com>')"
    by = json.loads(run_jit("--by", "agent:x", "prime", "--json", cwd=repo).stdout)
    assert by["actor"] == "agent:x"


def _worst(actor: str, title: str) -> dict:
    items = [{"id": f"{n:012x}", "short_id": f"{n:08x}", "priority": "critical", "state": "in_progress",
              "title": title} for n in range(card.SHOWN)]
    return {**card.not_initialized(actor), "initialized": True, "claims": items, "claims_count": 999,
            "ready": items, "ready_count": 99999, "start": []}


@pytest.mark.parametrize("ch", ["x", "é", "€", "𝄞", "字"])
def test_the_card_stays_under_2_kb_whatever_the_titles_and_actor(ch: str) -> None:
    actor = (ch * LIMITS["actor"])
    for a in (actor, "agent:w1"):
        text = card.card_text(_worst(a, ch * LIMITS["title"]))
        assert len(text.encode()) <= card.CARD_LIMIT, (ch, len(text.encode()))
        assert "Ready: 99999 issues (first 5):" in text


def test_a_long_actor_is_left_to_jit_actor_in_the_command() -> None:
    text = card.card_text(_worst("agent:" + "n" * 150, "T"))
    assert 'ID=$(jit issue claim-next "$JIT_ACTOR")' in text


def test_served_by_the_pre_dispatch_from_the_index(jit: Jit, repo: Path) -> None:
    """A whole ``jit prime`` process neither imports click nor opens the repository with pygit2
    once the index is fresh."""
    _create(jit, "One")
    jit.json("query", "ready")  # the index in step
    code = ("import sys, runpy; sys.argv=['jit','prime','--json']\n"
            "from gitjit.cli import main\n"
            "rc = main(['prime','--json'])\n"
            "print('MODS', 'click' in sys.modules, 'pygit2' in sys.modules, file=sys.stderr)\n"
            "raise SystemExit(rc)\n")
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code], check=False, cwd=repo, capture_output=True, text=True,
                       env={**os.environ, "JIT_ACTOR": "agent:w1"})
    assert r.returncode == 0, r.stderr
    assert "MODS False False" in r.stderr
    assert json.loads(r.stdout)["ready_count"] == 1


def test_prime_in_a_linked_worktree(jit: Jit, repo: Path, tmp_path: Path) -> None:
    _create(jit, "Shared")
    git("commit", "-q", "--allow-empty", "-m", "root", cwd=repo)
    wt = tmp_path / "wt"
    git("worktree", "add", "-q", str(wt), cwd=repo)
    r = run_jit("prime", "--json", cwd=wt)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ready_count"] == 1


def test_bare_repository(tmp_path: Path) -> None:
    bare = make_repo(tmp_path / "b.git", bare=True)
    r = run_jit("prime", "--json", cwd=bare)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["initialized"] is False


def test_jit_version_set_in_an_included_file_counts(repo: Path) -> None:
    (repo / ".git" / "extra.cfg").write_text("[jit]\n\tversion = 1\n")
    git("config", "include.path", "extra.cfg", cwd=repo)
    r = run_jit("prime", "--json", cwd=repo, env={"JIT_ACTOR": "agent:w1"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["initialized"] is True


def test_local_config_sets_is_sure_only_of_a_plain_setting(tmp_path: Path) -> None:
    from gitjit.git.localconfig import local_config_sets

    cfg = tmp_path / "config"
    for text, want in [("[core]\n\tbare = false\n[jit]\n\tversion = 1\n", True), ("[JIT]\nVersion=1\n", True),
                       ("[jit \"x\"]\n\tversion = 1\n", False), ("[jit]\n\tversion =\n", False),
                       ("[core]\n\tversion = 1\n", False), ("", False)]:
        cfg.write_text(text)
        assert local_config_sets(tmp_path, "jit", "version") is want, text
    assert local_config_sets(tmp_path / "missing", "jit", "version") is False


@pytest.mark.parametrize("s", ["agent:w1", "Ada <a@b>", "it's", "", "a b", "$(x)", "ü", "a\"b"])
def test_quote_is_shlex_quote(s: str) -> None:
    import shlex

    assert card._quote(s) == shlex.quote(s)


def test_finished_issues_are_not_claims(jit: Jit) -> None:
    a, b, c = (_create(jit, t) for t in ("A", "B", "C"))
    for i in (a, b, c):
        assert jit("issue", "claim", i, "agent:w1").exit_code == 0
    assert jit("issue", "update", a, "--state", "done").exit_code == 0
    assert jit("issue", "update", b, "--state", "archived").exit_code == 0
    data = jit.json("prime", actor="agent:w1")
    assert [i["id"] for i in data["claims"]] == [c] and data["claims_count"] == 1
    assert jit.json("prime", actor="agent:w2")["claims"] == []


def test_the_index_and_the_full_fold_give_the_same_card(jit: Jit, repo: Path) -> None:
    from gitjit.app.reader import open_reader
    from gitjit.app.tracker import Tracker

    ids = [_create(jit, f"T{n}", ("low", "normal", "high", "critical")[n % 4]) for n in range(9)]
    assert jit("dep", "add", ids[0], ids[1]).exit_code == 0
    for i in ids[2:5]:
        assert jit("issue", "claim", i, "agent:w1").exit_code == 0
    assert jit("issue", "update", ids[2], "--state", "done").exit_code == 0
    jit.json("query", "ready")  # the index in step
    reader = open_reader(str(repo))
    assert reader is not None
    with reader:
        via_index = card.card_data(reader, actor="agent:w1")
    t = Tracker(repo, actor="agent:w1")
    t.use_index = False
    assert card.card_data(t, actor="agent:w1") == via_index
    assert via_index["claims_count"] == 2 and via_index["ready_count"] == 5
