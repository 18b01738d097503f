"""Colour for states, priorities and errors on a terminal (a real pseudo-terminal); none in
pipes, under --json, with NO_COLOR or --no-color; FORCE_COLOR colours a pipe. Text from the data
stays escaped (gitjit/cli/termsafe.py): only gitjit's own colour codes reach the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import Jit
from ptylib import run_pty

ESC = b"\x1b["


@pytest.fixture
def board(jit: Jit) -> Jit:
    a = jit("issue", "create", "-q", "-t", "Plain", "-p", "critical").stdout.strip()
    jit("issue", "create", "-q", "-t", "Other")
    jit("issue", "claim", a, "agent:x")
    return jit


def _env(jit: Jit, **extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return {**e, "JIT_REPO": str(jit.repo), "TERM": "xterm", **extra}


def test_terminal_gets_colour(board: Jit) -> None:
    rc, out, _ = run_pty(["issue", "list"], cwd=board.repo, env=_env(board))
    assert rc == 0
    assert b"\x1b[33min_progress\x1b[0m" in out and b"\x1b[1;31mcritical\x1b[0m" in out
    assert b"\x1b[32mready\x1b[0m" in out
    rc, out, _ = run_pty(["issue", "show", "nosuchissue"], cwd=board.repo, env=_env(board))
    assert rc == 3 and b"\x1b[1;31merror:\x1b[0m no issue matches" in out and b"\x1b[36mhint:\x1b[0m" in out


@pytest.mark.parametrize("how", ["pipe", "json", "NO_COLOR", "--no-color", "TERM=dumb"])
def test_no_colour(board: Jit, how: str) -> None:
    args, env = ["issue", "list"], _env(board)
    if how == "json":
        args.append("--json")
    elif how == "NO_COLOR":
        env["NO_COLOR"] = "1"
    elif how == "--no-color":
        args.insert(0, "--no-color")
    elif how == "TERM=dumb":
        env["TERM"] = "dumb"
    rc, out, piped = run_pty(args, cwd=board.repo, env=env, stdout_pipe=how == "pipe")
    assert rc == 0
    assert ESC not in out + piped
    assert b"in_progress" in out + piped
    if how == "json":
        assert json.loads(out.decode())["count"] == 2
    if how == "pipe":  # stderr to a pipe too
        p = subprocess.run([sys.executable, "-m", "gitjit", "issue", "show", "nosuchissue"], env=env,
                           capture_output=True, timeout=60)
        out = p.stdout + p.stderr
        assert b"error: no issue matches" in out
    else:
        rc, out, _ = run_pty([*(["--no-color"] if how == "--no-color" else []), "issue", "show", "nosuchissue",
                              *(["--json"] if how == "json" else [])], cwd=board.repo, env=env)
    assert ESC not in out


def test_force_color_colours_a_pipe_but_not_json(board: Jit) -> None:
    p = subprocess.run([sys.executable, "-m", "gitjit", "issue", "list"], env=_env(board, FORCE_COLOR="1"),
                       capture_output=True, timeout=60)
    assert b"\x1b[1;31mcritical\x1b[0m" in p.stdout
    p = subprocess.run([sys.executable, "-m", "gitjit", "issue", "list", "--json"],
                       env=_env(board, FORCE_COLOR="1"), capture_output=True, timeout=60)
    assert ESC not in p.stdout and json.loads(p.stdout)["count"] == 2
    p = subprocess.run([sys.executable, "-m", "gitjit", "issue", "list"], env=_env(board, FORCE_COLOR="0"),
                       capture_output=True, timeout=60)
    assert ESC not in p.stdout


def test_data_stays_escaped_beside_our_colour(board: Jit) -> None:
    """A title and an assignee holding terminal escapes (the write path refuses them, but data
    written by hand is still data), rendered as the CLI renders a listing, on a terminal: shown
    escaped; the only escape sequences are gitjit's colours around state and priority."""
    hostile = "x\x1b[2J\x9b31m\x07y"
    code = ("from gitjit.cli.termsafe import safe_streams; from gitjit.cli import render\n"
            "with safe_streams():\n"
            "  render.issue_list({'issues': [{'short_id': 'abcd1234', 'state': 'ready', 'priority': 'high',"
            f" 'title': {hostile!r}, 'assignee': {hostile!r}}}], 'count': 1}})")
    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-c", code], env=_env(board), stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    assert proc.wait(timeout=60) == 0, b"".join(chunks)
    os.close(master)
    text = b"".join(chunks)
    assert b"\x1b[32mready\x1b[0m" in text and b"\x1b[31mhigh\x1b[0m" in text
    assert b"\x1b[2J" not in text and b"\xc2\x9b" not in text and b"\x07" not in text
    assert text.count(b"\\u001b[2J") == 2 and text.count(b"\\u009b31m") == 2
    assert text.count(b"\x1b[") == 4  # the two colours, each opened and closed


def test_no_color_holds_for_errors_click_reports(board: Jit) -> None:
    rc, out, _ = run_pty(["--no-color", "statu"], cwd=board.repo, env=_env(board))
    # the closest first; 'setup' may follow ('statu' is close to both)
    assert rc == 2 and b"Did you mean 'status'" in out and ESC not in out
    rc, out, _ = run_pty(["statu"], cwd=board.repo, env=_env(board))
    assert rc == 2 and b"\x1b[1;31merror:\x1b[0m No such command 'statu'." in out
