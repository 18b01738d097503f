"""The dispatcher-side examples (seed 000 patterns 2, 4, 5, 7 and examples/dispatch.toml): every
YAML file parses, every jit / jit-dispatch command they name exists with the options they pass,
and every script runs against temporary repositories."""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import subprocess
import threading
import warnings
from pathlib import Path

import click
import pytest
import yaml
from conftest import ROOT, make_repo
from dispatchlib import shim_bin, start_dispatcher, stop, wait_for, write_config

from gitjit.app.tracker import Tracker
from gitjit.cli.core import Env
from gitjit.dispatch.config import load_config, parse_config

EX = ROOT / "examples"
MINE = ["pattern2_github_actions.yml", "pattern4_webhook_orchestrator.py", "pattern5_k8s_cronjob.yaml",
        "pattern7_multi_repo_orchestrator.py", "dispatch_worker.sh", "dispatch.toml"]


# ---------------------------------------------------------------------------- command checking

def check_command(argv: list[str]) -> None:
    """Parse ``argv`` with the real click command tree (no callback runs): unknown commands,
    options or missing arguments fail exactly as they would for a user."""
    from gitjit.cli import cli
    from gitjit.cli.dispatch import dispatch

    root: click.Command = {"jit": cli, "jit-dispatch": dispatch}[argv[0]]
    ctx = root.make_context(argv[0], list(argv[1:]), obj=Env())
    cmd = root
    while isinstance(cmd, click.Group):
        with warnings.catch_warnings():  # click 8.2 deprecates protected_args; 8.1 needs it
            warnings.simplefilter("ignore", DeprecationWarning)
            rest = ctx.protected_args + ctx.args
        assert rest, f"{shlex.join(argv)}: names a group, not a command"
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None, f"{shlex.join(argv)}: no command {name!r}"
        ctx = sub.make_context(name or "", rest, parent=ctx)
        cmd = sub


_CMD = re.compile(r"(?:^|[\s;&|(`])((?:jit-dispatch|jit)\s[^|;&)`#\n]*)")


def shell_commands(text: str) -> list[list[str]]:
    """Every `jit ...` / `jit-dispatch ...` invocation in shell text, up to the next operator."""
    out = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        for m in _CMD.finditer(line):
            argv = shlex.split(m.group(1).strip().rstrip("\\").strip())
            if argv and argv[0] in ("jit", "jit-dispatch"):
                out.append(argv)
    return out


def python_commands(source: str) -> list[list[str]]:
    """Every list literal starting with "jit"/"jit-dispatch" (subprocess argv) in a Python file;
    non-literal elements become a placeholder argument."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.List) and node.elts and isinstance(node.elts[0], ast.Constant) \
                and node.elts[0].value in ("jit", "jit-dispatch"):
            out.append([e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else "ARG"
                        for e in node.elts])
    return out


def test_check_command_really_checks() -> None:
    check_command(["jit", "issue", "claim-next", "agent:x", "--remote", "origin"])
    check_command(["jit-dispatch", "once", "--config", "x.toml"])
    for bad in (["jit", "issue", "claim-nxt", "a"], ["jit", "issue", "claim-next", "a", "--remot", "o"],
                ["jit-dispatch", "start", "--deatch"], ["jit", "gate", "pass", "only-one-arg"]):
        with pytest.raises((click.exceptions.UsageError, AssertionError)):
            check_command(bad)


@pytest.mark.parametrize("name", MINE)
def test_example_header_says_what_differs_or_how_to_use(name: str) -> None:
    p = EX / name
    text = p.read_text()
    if name.endswith((".py", ".sh")):
        assert os.access(p, os.X_OK), f"{name} is not executable"
        assert text.splitlines()[0] in ("#!/usr/bin/env python3", "#!/usr/bin/env bash")
    if name.startswith("pattern"):
        assert "differs from the seed" in text


def test_pattern2_github_actions_workflow() -> None:
    wf = yaml.safe_load((EX / "pattern2_github_actions.yml").read_text())
    assert wf["name"] == "JIT Worker"
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads a bare `on:` key as True
    assert on["schedule"] == [{"cron": "*/5 * * * *"}] and "workflow_dispatch" in on
    assert wf["permissions"] == {"contents": "write"}
    steps = wf["jobs"]["claim-and-execute"]["steps"]
    runs = [s["run"] for s in steps if "run" in s]
    cmds = [c for r in runs for c in shell_commands(r)]
    assert [c[:3] for c in cmds] == [["jit", "init", "--remote"], ["jit", "pull", "origin"],
                                     ["jit", "issue", "claim-next"], ["jit", "issue", "show"],
                                     ["jit", "issue", "update"], ["jit", "sync", "origin"],
                                     ["jit", "issue", "release"]]
    for c in cmds:
        check_command(c)
    claim = next(s for s in steps if s.get("id") == "claim")
    assert "$GITHUB_OUTPUT" in claim["run"] and "--remote origin" in claim["run"]
    assert all("steps.claim.outputs.issue_id != ''" in s["if"] for s in steps[4:])


def test_pattern5_k8s_cronjob_and_its_dispatch_toml(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((EX / "pattern5_k8s_cronjob.yaml").read_text()))
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    cron = next(d for d in docs if d["kind"] == "CronJob")
    assert cron["apiVersion"] == "batch/v1" and cron["spec"]["schedule"] == "*/5 * * * *"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    check_command(c["command"])
    assert c["command"][:2] == ["jit-dispatch", "once"]
    cfg_path = Path(c["command"][c["command"].index("--config") + 1])
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert str(cfg_path.parent) == mounts["config"]
    vols = {v["name"]: v for v in pod["volumes"]}
    assert vols["config"]["configMap"]["name"] == cm["metadata"]["name"]
    assert cfg_path.name in cm["data"]
    cfg = parse_config(cm["data"][cfg_path.name], cfg_path)  # jit-dispatch's own validation
    assert cfg.id == "k8s-cron" and str(cfg.state_dir).startswith(mounts["jit-repo"])
    assert cfg.repos[0].path == Path(mounts["jit-repo"]) and cfg.repos[0].hub == "origin"
    assert {e["name"]: e["value"] for e in c["env"]}["JIT_REPO"] == mounts["jit-repo"]


def test_commands_in_scripts_exist() -> None:
    found = []
    for name in ("pattern4_webhook_orchestrator.py", "pattern7_multi_repo_orchestrator.py"):
        found += python_commands((EX / name).read_text())
    found += shell_commands((EX / "dispatch_worker.sh").read_text())
    assert len(found) >= 5
    for argv in found:
        check_command(argv)


def test_example_dispatch_toml_loads_and_its_commands_exist() -> None:
    cfg = load_config(EX / "dispatch.toml")
    assert [r.name for r in cfg.repos] == ["backend", "frontend"]
    assert cfg.repos[1].url and cfg.repos[1].hub == "origin"
    assert [a.id for a in cfg.agents] == ["worker-1", "gpu-runner"]
    for a in cfg.agents:
        assert Path(a.command[0]) == EX / "dispatch_worker.sh"
        assert os.access(a.command[0], os.X_OK)
    assert cfg.agents[1].repos == ("backend",) and cfg.agents[1].max_concurrent == 1
    assert cfg.webhooks[0].events == ("issue_state_changed", "issue_completed")


# ---------------------------------------------------------------------------- running them

@pytest.fixture
def path_env(tmp_path: Path) -> dict[str, str]:
    d = shim_bin(tmp_path / "bin")
    return {**os.environ, "PATH": f"{d}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.slow
def test_dispatch_worker_runs_under_jit_dispatch(tmp_path: Path, repo: Path, path_env: dict[str, str]) -> None:
    t = Tracker(repo, actor="lead")
    t.init()
    t.registry_add("review", title="Code Review")
    iid = t.create_issue("Document the API", gates=["review", "unit-tests"])["id"]
    cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[
        {"id": "worker-1", "type": "script", "command": str(EX / "dispatch_worker.sh")}])
    p = subprocess.run(["jit-dispatch", "once", "--config", str(cfg)], env=path_env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "claimed 1, finished 1" in p.stdout
    got = Tracker(repo).show(iid)
    assert got["state"] == "done"
    assert {g["key"]: (g["status"], g["by"]) for g in got["gates"]} == {
        "review": ("passed", got["assignee"]), "unit-tests": ("passed", got["assignee"])}
    log = next((tmp_path / ".jit-dispatch" / "d" / "logs" / "worker-1").glob("*.log")).read_text()
    assert f"[worker-1] working on {iid}: Document the API" in log


@pytest.mark.slow
def test_pattern7_claims_the_best_issue_across_repositories(tmp_path: Path, path_env: dict[str, str]) -> None:
    repos = [make_repo(tmp_path / n) for n in ("backend", "frontend", "infra")]
    ts = [Tracker(r, actor="lead") for r in repos]
    for t in ts:
        t.init()
    ts[0].create_issue("old normal", priority="normal")
    high_old = ts[2].create_issue("infra high", priority="high")["id"]
    ts[1].create_issue("frontend high, newer", priority="high")
    taken = ts[1].create_issue("critical but taken", priority="critical")["id"]
    ts[1].claim(taken, "agent:someone")
    script = str(EX / "pattern7_multi_repo_orchestrator.py")
    p = subprocess.run([script, *map(str, repos)], env=path_env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"Claimed {high_old} from {repos[2]}"
    assert Tracker(repos[2]).show(high_old)["assignee"] == "agent:multi-repo-worker"
    p = subprocess.run([script], env={**path_env, "JIT_REPOS": ":".join(map(str, repos)), "AGENT_ID": "agent:b"},
                       capture_output=True, text=True, timeout=120)
    assert "frontend high, newer" == Tracker(repos[1]).list_issues(assignee="agent:b")["issues"][0]["title"]
    empty = make_repo(tmp_path / "empty")
    Tracker(empty).init()
    p = subprocess.run([script, str(empty)], env=path_env, capture_output=True, text=True, timeout=120)
    assert p.stdout.strip() == "No work available"


@pytest.mark.slow
def test_pattern4_reacts_to_jit_dispatch_webhooks(tmp_path: Path, repo: Path, path_env: dict[str, str]) -> None:
    t = Tracker(repo, actor="lead")
    t.init()
    orch = subprocess.Popen([str(EX / "pattern4_webhook_orchestrator.py")], cwd=repo,
                            env={**path_env, "PORT": "0", "MAX_EVENTS": "0"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    threading.Thread(target=lambda: out.extend(iter(orch.stdout.readline, "")), daemon=True).start()  # type: ignore[union-attr]
    try:
        first = wait_for(lambda: out, timeout=30, what="the orchestrator to listen")[0]
        port = int(first.rsplit(" ", 1)[1])
        cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(repo)}], agents=[])
        with open(cfg, "a") as f:
            f.write(f'\n[[webhooks]]\nurl = "http://127.0.0.1:{port}/webhook/jit-event"\n'
                    f'events = ["issue_state_changed", "issue_completed"]\n')
        d = start_dispatcher(cfg)
        try:
            wait_for(lambda: (cfg.parent / ".jit-dispatch" / "d" / "state.json").exists(), timeout=30)
            a = t.create_issue("react to me")["id"]
            wait_for(lambda: Tracker(repo).show(a)["assignee"] == "agent:webhook-worker", timeout=30,
                     what="the orchestrator to claim the new issue")
            Tracker(repo, actor="agent:webhook-worker").update_issue(a, state="done")
            wait_for(lambda: any(line.startswith("Issue completed: " + a) for line in out), timeout=30)
        finally:
            stop(d)
    finally:
        orch.terminate()
        orch.wait(timeout=10)
    assert f"Claimed issue: {a}\n" in out and "Received event: issue_state_changed\n" in out

    # and the same orchestrator fed by `jit events tail --follow --json` instead of a dispatcher
    b = t.create_issue("piped")["id"]
    evs = [e for e in Tracker(repo).events(issue=b) if e["type"] == "issue_state_changed"]
    p = subprocess.run([str(EX / "pattern4_webhook_orchestrator.py"), "--stdin"], cwd=repo, env=path_env,
                       input="".join(json.dumps(e) + "\n" for e in evs), capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0 and f"Claimed issue: {b}" in p.stdout

