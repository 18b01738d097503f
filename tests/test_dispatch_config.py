"""dispatch.toml: loading, errors that name file/line/field, and edits that keep comments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gitjit.dispatch.config import DispatchConfigError, add_agent, load_config, remove_agent

SEED_001 = """\
poll_interval_secs = 30

[[agents]]
id = "copilot-1"
type = "github-copilot"
capacity = 3
tags = ["rust", "python"]
command = "copilot-agent"

[[agents]]
id = "ci-runner-1"
type = "github-actions"
max_concurrent = 5
command = "ci-agent"
tags = ["build", "test"]
"""


def dispatch_cli(*args: str, cwd: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from gitjit.cli.dispatch import main

    class M:
        name = "jit-dispatch"

        def main(self, args=None, **kw):  # type: ignore[no-untyped-def]
            raise SystemExit(main(list(args or [])))

    runner = CliRunner()
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return runner.invoke(M(), list(args), env=env, catch_exceptions=False)  # type: ignore[arg-type]
    finally:
        os.chdir(old)


def test_seed_001_file_loads_with_capacity_alias_and_the_current_repo(tmp_path: Path, repo: Path) -> None:
    p = tmp_path / "dispatch.toml"
    p.write_text(SEED_001)
    cfg = load_config(p, default_repo=str(repo))
    assert [a.id for a in cfg.agents] == ["copilot-1", "ci-runner-1"]
    assert [a.max_concurrent for a in cfg.agents] == [3, 5]
    assert cfg.agents[0].tags == ("rust", "python")
    assert cfg.agents[0].command == ("copilot-agent",)
    assert cfg.poll_interval_secs == 30
    assert len(cfg.repos) == 1 and cfg.repos[0].path == repo.resolve() and cfg.repos[0].hub is None
    assert cfg.agents[0].assignee(cfg.id) == f"github-copilot:copilot-1@{cfg.id}"


def test_repos_url_get_a_cache_clone_and_origin_as_hub(tmp_path: Path) -> None:
    p = tmp_path / "dispatch.toml"
    p.write_text('[[repos]]\nurl = "https://example.invalid/team/backend.git"\n\n[[repos]]\npath = "front"\n'
                 'hub = "upstream"\nname = "web"\n')
    cfg = load_config(p)
    backend, web = cfg.repos
    assert backend.name == "backend" and backend.hub == "origin"
    assert backend.path == cfg.state_dir / "repos" / "backend"
    assert web.name == "web" and web.hub == "upstream" and web.path == tmp_path / "front"


@pytest.mark.parametrize("text, line, field, words", [
    ("poll_interval_secs = 0\n", 1, "poll_interval_secs", "must be a number > 0"),
    ("# c\n\n[[agents]]\nid = \"a\"\ncommand = \"x\"\nmax_concurrent = 0\n", 6, "agents[0].max_concurrent",
     "integer >= 1"),
    ("[[agents]]\nid = \"a\"\ncommand = \"x\"\n\n[[agents]]\nid = \"b\"\ncommand = \"y\"\ntagz = [\"a\"]\n", 8,
     "agents[1].tagz", "unknown key"),
    ("[[agents]]\nid = \"a\"\ncommand = \"x\"\n\n[[agents]]\nid = \"a\"\ncommand = \"y\"\n", 6, "agents[1].id",
     "used twice"),
    ("[[agents]]\nid = \"a\"\ncommand = \"x\"\ncapacity = 2\nmax_concurrent = 2\n", 4, "agents[0].capacity",
     "not both"),
    ("[[agents]]\nid = \"a\"\n", 1, "agents[0]", "missing command"),
    ("[[agents]]\nid = \"a b\"\ncommand = \"x\"\n", 2, "agents[0].id", "not valid"),
    ("[[agents]]\nid = \"a\"\ncommand = \"x\"\nrepos = [\"nope\"]\n", 4, "agents[0].repos", "no [[repos]]"),
    ("[[agents]]\nid = \"a\"\ncommand = \"x\"\n\n[agents.env]\nA = [1]\n", 6, "agents[0].env.A", "string"),
    ("[[repos]]\npath = \"a\"\nurl = \"b\"\n", 1, "repos[0]", "exactly one"),
    ("on_stop = \"later\"\n", 1, "on_stop", "finish, release"),
    ("[[webhooks]]\nurl = \"ftp://x\"\n", 2, "webhooks[0].url", "http"),
])
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int, field: str, words: str) -> None:
    p = tmp_path / "dispatch.toml"
    p.write_text(text)
    with pytest.raises(DispatchConfigError) as ei:
        load_config(p)
    e = ei.value
    assert e.message.startswith(f"{p}:{line}: {field}: "), e.message
    assert words in e.message
    assert e.details == {"file": str(p), "line": line, "field": field}
    assert e.exit_code == 2


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    p = tmp_path / "dispatch.toml"
    p.write_text("poll_interval_secs = 5\nagents = [1,\nx = 2\n")
    with pytest.raises(DispatchConfigError) as ei:
        load_config(p)
    assert ei.value.message.startswith(f"{p}:3: not valid TOML")


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(DispatchConfigError) as ei:
        load_config(tmp_path / "nope.toml")
    assert "init-config" in (ei.value.hint or "")


COMMENTED = """\
# Our dispatcher. Keep these notes!
poll_interval_secs = 5   # fast polls

# the builder pool
[[agents]]
id = "builder"     # builds things
command = "make build"
capacity = 2

# the tester: keep this comment with it
[[agents]]
id = "tester"
command = "make test"
tags = ["test"]

[agents.env]
CI = "1"

# where the work lives
[[repos]]
path = "."
"""


def test_agent_add_and_remove_keep_comments_and_layout(tmp_path: Path) -> None:
    p = tmp_path / "dispatch.toml"
    p.write_text(COMMENTED)
    add_agent(p, "gpu-1", "python train.py --epochs 3", max_concurrent=2, tags=["train", "inference"])
    text = p.read_text()
    # every original line is still there, in order, and the new agent sits after the last agent
    lines = text.splitlines()
    it = iter(lines)
    assert all(any(x == y for y in it) for x in COMMENTED.splitlines())
    assert text.index('id = "gpu-1"') > text.index('CI = "1"')
    assert text.index('id = "gpu-1"') < text.index("# where the work lives")
    cfg = load_config(p)
    gpu = cfg.agent("gpu-1")
    assert gpu.command == ("python", "train.py", "--epochs", "3") and gpu.max_concurrent == 2
    assert gpu.tags == ("train", "inference")
    assert cfg.agent("tester").env == {"CI": "1"}

    remove_agent(p, "gpu-1")
    assert p.read_text() == COMMENTED  # adding then removing restores the file byte for byte

    remove_agent(p, "builder")
    text = p.read_text()
    assert "make build" not in text
    assert "# the tester: keep this comment with it" in text  # tomlkit alone would drop this one
    assert "# Our dispatcher. Keep these notes!" in text and "poll_interval_secs = 5   # fast polls" in text
    assert [a.id for a in load_config(p).agents] == ["tester"]


def test_agent_add_refuses_duplicates_and_bad_ids(tmp_path: Path) -> None:
    from gitjit.core.errors import AlreadyExistsError, NotFoundError, UsageError

    p = tmp_path / "dispatch.toml"
    p.write_text(COMMENTED)
    with pytest.raises(AlreadyExistsError):
        add_agent(p, "builder", "x")
    with pytest.raises(UsageError):
        add_agent(p, "bad@id", "x")
    with pytest.raises(NotFoundError):
        remove_agent(p, "nobody")
    assert p.read_text() == COMMENTED


def test_cli_init_config_then_agent_add_remove_reset(tmp_path: Path, repo: Path) -> None:
    r = dispatch_cli("init-config", "--hub", "origin", cwd=repo)
    assert r.exit_code == 0, r.output
    p = repo / "dispatch.toml"
    assert "# jit-dispatch configuration" in p.read_text()
    cfg = load_config(p)
    assert cfg.repos[0].hub == "origin" and cfg.agents == ()
    r = dispatch_cli("init-config", cwd=repo)
    assert r.exit_code == 6  # exists

    r = dispatch_cli("agent", "add", "w1", "--command", "python w.py", "--max-concurrent", "3",
                     "--tags", "build,test", "--json", cwd=repo)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["added"] == "w1"
    text = p.read_text()
    assert "# When an agent exits without finishing its issue" in text  # template comments kept
    assert load_config(p).agent("w1").tags == ("build", "test")

    r = dispatch_cli("agent", "reset", "w1", "--json", cwd=repo)
    assert r.exit_code == 0 and json.loads(r.stdout)["open"] is False
    r = dispatch_cli("agent", "reset", "ghost", cwd=repo)
    assert r.exit_code == 3

    r = dispatch_cli("--config", str(p), "agent", "remove", "w1", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert load_config(p).agents == ()

    bad = tmp_path / "bad.toml"
    bad.write_text("[[agents]]\nid = \"x\"\ncommand = \"y\"\nmax_concurrent = -1\n")
    r = dispatch_cli("status", "--config", str(bad), "--json", cwd=tmp_path)
    assert r.exit_code == 2
    err = json.loads(r.stdout)["error"]
    assert err["code"] == "INVALID_CONFIG" and err["details"]["line"] == 4
    assert err["details"]["field"] == "agents[0].max_concurrent"
