"""``jit setup claude|codex|cursor|agents-md``: the marked block and the settings entries it writes,
never touching what the user wrote, idempotent, and undone exactly by ``--remove``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tomlkit
from conftest import Jit, make_repo, run_jit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gitjit.core import agentsetup as ed
from gitjit.core.errors import UsageError

BODY = "## gitjit\n\n- use it\n"


# ---------------------------------------------------------------------------------- the block, pure

@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_setup_then_remove_gives_back_any_text(text: str) -> None:
    if "BEGIN gitjit" in text or "END gitjit" in text:
        with pytest.raises(UsageError):
            ed.put_block(text, BODY)
        return
    once = ed.put_block(text, BODY)
    assert ed.put_block(once, BODY) == once  # run twice: the same text
    assert ed.find_block(once) is not None
    assert ed.remove_block(once) == text
    assert once.startswith(text)  # the user's text comes first, untouched


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80), st.text(max_size=80), st.sampled_from(["\n", "\r\n"]))
def test_a_block_between_user_text_is_replaced_in_place(before: str, after: str, eol: str) -> None:
    if any(t in s for t in ("BEGIN gitjit", "END gitjit") for s in (before, after)):
        return
    old = ed._block("old body", eol)
    text = before + ("" if not before or before.endswith("\n") else eol) + old + eol + after
    new = ed.put_block(text, BODY)
    start, end = ed.find_block(new)  # type: ignore[misc]
    assert new[:start] == text[:text.index(ed.BEGIN)]
    assert new[end:] == eol + after
    assert "old body" not in new and "- use it" in new


def test_crlf_files_keep_crlf() -> None:
    text = "# Notes\r\n\r\nkeep me\r\n"
    once = ed.put_block(text, BODY)
    assert once.startswith(text)
    block = once[len(text):]
    assert "\n" not in block.replace("\r\n", "")  # every line of the block ends with CRLF
    assert ed.remove_block(once) == text


@pytest.mark.parametrize("damaged, what", [
    (f"a\n{ed.BEGIN}\nbody\n", "BEGIN gitjit marker without its END"),
    (f"a\nbody\n{ed.END}\n", "END gitjit marker without its BEGIN"),
    (f"{ed.END}\nx\n{ed.BEGIN}\n", "END gitjit marker before its BEGIN"),
    (f"{ed.BEGIN}\n{ed.END}\n{ed.BEGIN}\n{ed.END}\n", "more than one gitjit block"),
    (f"<!-- BEGIN gitjit (edited) -->\nx\n{ed.END}\n", "damaged gitjit marker line"),
])
def test_damaged_markers_are_refused(damaged: str, what: str) -> None:
    for fn in (lambda t: ed.put_block(t, BODY, name="AGENTS.md"), lambda t: ed.remove_block(t, name="AGENTS.md")):
        with pytest.raises(UsageError) as e:
            fn(damaged)
        assert what in e.value.message and "AGENTS.md" in e.value.message
        assert "nothing was changed" in (e.value.hint or "")


# ---------------------------------------------------------------------------------- JSON, pure

def test_hooks_merge_and_remove_only_ours() -> None:
    user = {"model": "x", "hooks": {"SessionStart": [{"matcher": "startup", "hooks": [
        {"type": "command", "command": "echo hi"}]}], "PreToolUse": [{"matcher": "Bash", "hooks": [
            {"type": "command", "command": "guard"}]}]}}
    data, changed = ed.add_hook(user, "SessionStart", "jit prime", name="s")
    assert changed and data["hooks"]["SessionStart"][0] == user["hooks"]["SessionStart"][0]
    assert data["hooks"]["SessionStart"][1] == {"hooks": [{"type": "command", "command": "jit prime"}]}
    again, changed = ed.add_hook(data, "SessionStart", "jit prime", name="s")
    assert not changed and again == data
    back, changed = ed.remove_hook(data, "SessionStart", "jit prime")
    assert changed and back == user
    assert user["hooks"]["SessionStart"][0]["hooks"] == [{"type": "command", "command": "echo hi"}]  # not mutated


def test_server_entry_of_the_users_is_kept() -> None:
    mine = {"mcpServers": {"gitjit": {"command": "/opt/jit", "args": ["mcp", "--x"]}}}
    assert ed.add_server(mine, name="m") == (mine, "kept")
    assert ed.remove_server(mine) == (mine, "kept")
    added, what = ed.add_server({"mcpServers": {"other": {"command": "o"}}}, name="m")
    assert what == "added" and list(added["mcpServers"]) == ["other", "gitjit"]
    assert ed.remove_server(added)[0] == {"mcpServers": {"other": {"command": "o"}}}


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                     max_leaves=12)
_group = st.fixed_dictionaries({"hooks": st.lists(st.fixed_dictionaries(
    {"type": st.just("command"), "command": st.text(max_size=10).filter(lambda c: c != "jit prime")}), max_size=2)},
    optional={"matcher": st.text(max_size=8)})
_settings = st.dictionaries(st.text(max_size=6).filter(lambda k: k != "hooks"), _json, max_size=3).flatmap(
    lambda base: st.one_of(st.just(base), st.dictionaries(
        st.sampled_from(["SessionStart", "PreCompact", "PreToolUse"]), st.lists(_group, min_size=1, max_size=2),
        max_size=3).map(lambda hooks: {**base, "hooks": hooks})))


@settings(max_examples=300, deadline=None)
@given(_settings)
def test_hooks_added_then_removed_give_back_any_settings(data: dict) -> None:
    text = ed.dump_json(data)
    out = data
    for event in ("SessionStart", "PreCompact"):
        out, changed = ed.add_hook(out, event, "jit prime", name="s")
        assert changed
    assert ed.add_hook(out, "SessionStart", "jit prime", name="s")[1] is False
    back = out
    for event in ("SessionStart", "PreCompact"):
        back, _ = ed.remove_hook(back, event, "jit prime")
    # an empty "hooks" object the user had goes with ours: the one thing not given back
    expected = {k: v for k, v in data.items() if k != "hooks"} if data.get("hooks") == {} else data
    assert back == expected
    assert ed.dump_json(back) == (text if expected is data else ed.dump_json(expected))  # key order too


def test_json_written_back_in_its_own_indentation(repo: Path) -> None:
    j = Jit(repo)
    (repo / ".mcp.json").write_text('{\n\t"mcpServers": {\n\t\t"x": {\n\t\t\t"command": "x"\n\t\t}\n\t}\n}\n')
    before = (repo / ".mcp.json").read_text()
    assert j("setup", "claude").exit_code == 0
    assert '\n\t\t"gitjit": {' in (repo / ".mcp.json").read_text()
    assert j("setup", "claude", "--remove").exit_code == 0
    assert (repo / ".mcp.json").read_text() == before


# ---------------------------------------------------------------------------------- the command

def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.relative_to(root).parts}


def test_claude_setup_writes_block_hooks_and_server_and_remove_restores(repo: Path) -> None:
    j = Jit(repo)
    user_md = "# Project rules\r\n\r\nBe kind.\r\n"
    (repo / "CLAUDE.md").write_bytes(user_md.encode())
    (repo / ".claude").mkdir()
    settings_json = {"permissions": {"allow": ["Bash(ls:*)"]},
                     "hooks": {"PreCompact": [{"matcher": "auto", "hooks": [{"type": "command", "command": "save"}]}]}}
    (repo / ".claude" / "settings.json").write_text(json.dumps(settings_json))
    before = _files(repo)

    out = j.json("setup", "claude")
    assert {f["path"]: f["change"] for f in out["files"]} == {
        "CLAUDE.md": "updated", ".claude/settings.json": "updated", ".mcp.json": "created"}
    md = (repo / "CLAUDE.md").read_bytes().decode()
    assert md.startswith(user_md) and ed.BEGIN + "\r\n" in md and "jit prime" in md
    s = json.loads((repo / ".claude" / "settings.json").read_text())
    assert s["permissions"] == settings_json["permissions"]
    assert s["hooks"]["PreCompact"][0] == settings_json["hooks"]["PreCompact"][0]
    for event in ("SessionStart", "PreCompact"):
        assert {"hooks": [{"type": "command", "command": "jit prime"}]} in s["hooks"][event]
    assert json.loads((repo / ".mcp.json").read_text()) == {"mcpServers": {"gitjit": {"command": "jit",
                                                                                      "args": ["mcp"]}}}
    after = _files(repo)
    again = j.json("setup", "claude")
    assert {f["change"] for f in again["files"]} == {"unchanged"} and _files(repo) == after

    gone = j.json("setup", "claude", "--remove")
    assert {f["path"]: f["change"] for f in gone["files"]} == {
        "CLAUDE.md": "updated", ".claude/settings.json": "updated", ".mcp.json": "deleted"}
    assert (repo / "CLAUDE.md").read_bytes() == before["CLAUDE.md"]
    assert json.loads((repo / ".claude" / "settings.json").read_text()) == settings_json
    assert not (repo / ".mcp.json").exists()
    assert j.json("setup", "claude", "--remove")["files"][0]["change"] == "unchanged"


def test_files_setup_created_are_deleted_by_remove(repo: Path) -> None:
    j = Jit(repo)
    before = _files(repo)
    for target in ("claude", "codex", "cursor", "agents-md"):
        assert j("setup", target).exit_code == 0
    assert (repo / ".cursor" / "rules" / "gitjit.mdc").read_text().startswith("---\ndescription:")
    assert "alwaysApply: true" in (repo / ".cursor" / "rules" / "gitjit.mdc").read_text()
    assert json.loads((repo / ".cursor" / "mcp.json").read_text())["mcpServers"]["gitjit"]["args"] == ["mcp"]
    toml = tomlkit.parse((repo / ".codex" / "config.toml").read_text()).unwrap()
    assert toml == {"mcp_servers": {"gitjit": {"command": "jit", "args": ["mcp"]}}}
    for target in ("claude", "codex", "cursor", "agents-md"):
        assert j("setup", target, "--remove").exit_code == 0
    assert _files(repo) == before
    assert sorted(p.name for p in repo.iterdir()) == [".git"]  # the folders setup made went too


def test_codex_toml_keeps_the_users_settings(repo: Path) -> None:
    j = Jit(repo)
    (repo / ".codex").mkdir()
    user = '# my settings\nmodel = "o4"\n\n[mcp_servers.other]\ncommand = "other"  # mine\n'
    (repo / ".codex" / "config.toml").write_text(user)
    assert j("setup", "codex").exit_code == 0
    got = tomlkit.parse((repo / ".codex" / "config.toml").read_text()).unwrap()
    assert got["model"] == "o4" and got["mcp_servers"]["other"] == {"command": "other"}
    assert got["mcp_servers"]["gitjit"] == {"command": "jit", "args": ["mcp"]}
    assert j("setup", "codex", "--remove").exit_code == 0
    assert (repo / ".codex" / "config.toml").read_text() == user


@pytest.mark.parametrize("path, content, what", [
    (".claude/settings.json", "{\"hooks\": [", "not valid JSON"),
    (".claude/settings.json", "[1, 2]", "does not hold a JSON object"),
    (".claude/settings.json", "{\"hooks\": []}", "'hooks' is not a JSON object"),
    (".mcp.json", "{,}", "not valid JSON"),
    ("CLAUDE.md", f"mine\n{ed.BEGIN}\nhalf\n", "without its END"),
])
def test_a_file_it_cannot_edit_safely_stops_everything(repo: Path, path: str, content: str, what: str) -> None:
    j = Jit(repo)
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(content)
    (repo / "CLAUDE.md").exists() or (repo / "CLAUDE.md").write_text("user text\n")
    before = _files(repo)
    r = j("setup", "claude")
    assert r.exit_code == 2, r.output
    assert what in r.stderr and "nothing was changed" in r.stderr
    assert _files(repo) == before
    # --remove refuses what it cannot read; a file that merely has nothing of gitjit's stays as it is
    r = j("setup", "claude", "--remove")
    assert r.exit_code in (0, 2) and (r.exit_code == 0 or what in r.stderr), r.output
    assert _files(repo) == before
    r = j("setup", "claude", "--json")
    assert r.exit_code == 2 and json.loads(r.stdout)["error"]["code"] == "INVALID_ARGUMENT"


def test_a_users_own_cursor_rule_file_is_not_overwritten(repo: Path) -> None:
    j = Jit(repo)
    rule = repo / ".cursor" / "rules" / "gitjit.mdc"
    rule.parent.mkdir(parents=True)
    rule.write_text("---\nalwaysApply: false\n---\nmy own\n")
    r = j("setup", "cursor")
    assert r.exit_code == 2 and "was not written by jit setup" in r.stderr
    assert rule.read_text() == "---\nalwaysApply: false\n---\nmy own\n"
    assert not (repo / ".cursor" / "mcp.json").exists()


def test_dry_run_and_no_mcp(repo: Path) -> None:
    j = Jit(repo)
    before = _files(repo)
    out = j.json("setup", "claude", "--dry-run")
    assert out["dry_run"] and {f["change"] for f in out["files"]} == {"created"}
    assert _files(repo) == before
    r = j("setup", "claude", "--dry-run")
    assert "CLAUDE.md: would be created" in r.stdout
    out = j.json("setup", "claude", "--no-mcp")
    assert [f["path"] for f in out["files"]] == ["CLAUDE.md", ".claude/settings.json"]
    assert "MCP:" not in (repo / "CLAUDE.md").read_text()
    assert not (repo / ".mcp.json").exists()


def test_from_a_subdirectory_it_writes_at_the_top(repo: Path) -> None:
    (repo / "src" / "pkg").mkdir(parents=True)
    r = run_jit("setup", "agents-md", cwd=repo / "src" / "pkg")
    assert r.returncode == 0, r.stderr
    assert ed.BEGIN in (repo / "AGENTS.md").read_text()


def test_bare_repository_and_outside_a_repository(tmp_path: Path) -> None:
    bare = make_repo(tmp_path / "b.git", bare=True)
    r = run_jit("setup", "claude", cwd=bare)
    assert r.returncode == 2 and "bare" in r.stderr
    (tmp_path / "plain").mkdir()
    r = run_jit("setup", "claude", cwd=tmp_path / "plain", env={"GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert r.returncode == 3 and "not a git repository" in r.stderr
    assert not (tmp_path / "plain" / "CLAUDE.md").exists()


def test_a_symlinked_instructions_file_is_edited_through_the_link(repo: Path) -> None:
    j = Jit(repo)
    (repo / "CLAUDE.md").write_text("shared rules\n")
    (repo / "AGENTS.md").symlink_to("CLAUDE.md")
    assert j("setup", "claude", "--no-mcp").exit_code == 0
    assert j.json("setup", "agents-md", "--no-mcp")["files"][0]["change"] == "unchanged"  # the same block
    assert (repo / "AGENTS.md").is_symlink()
    assert (repo / "CLAUDE.md").read_text().count(ed.BEGIN) == 1
    assert j("setup", "agents-md", "--remove").exit_code == 0
    assert (repo / "AGENTS.md").is_symlink() and (repo / "CLAUDE.md").read_text() == "shared rules\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=120).filter(
    lambda t: "BEGIN gitjit" not in t and "END gitjit" not in t))
def test_files_on_disk_come_back_byte_for_byte(repo: Path, text: str) -> None:
    from gitjit.app.agentsetup import setup

    for name in ("CLAUDE.md", "AGENTS.md"):
        (repo / name).write_bytes(text.encode())
    setup("claude", repo=str(repo))
    setup("codex", repo=str(repo))
    setup("claude", repo=str(repo), remove=True)
    setup("codex", repo=str(repo), remove=True)
    for name in ("CLAUDE.md", "AGENTS.md"):
        if text:
            assert (repo / name).read_bytes() == text.encode()
        else:
            assert not (repo / name).exists()  # an empty file is left empty by removal: deleted
