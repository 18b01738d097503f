"""Helpers for the dispatcher tests: dispatch.toml files, the test agent, records, processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

AGENT = Path(__file__).resolve().parent / "dispatch_agent.py"


def agent_cmd(*args: str) -> str:
    """A TOML string for ``command``: the test agent with these options."""
    import shlex

    return shlex.join([sys.executable, str(AGENT), *args])


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string


def write_config(path: Path, *, repos: list[dict[str, Any]], agents: list[dict[str, Any]], **top: Any) -> Path:
    """dispatch.toml with fast defaults for tests (short polls, short leases, short backoffs)."""
    top = {"poll_interval_secs": 0.1, "lease_secs": 30, "lease_grace_secs": 0, "kill_grace_secs": 2,
           "backoff_secs": 0.2, **top}
    lines = [f"{k} = {_val(v)}" for k, v in top.items()]
    for r in repos:
        lines += ["", "[[repos]]"] + [f"{k} = {_val(v)}" for k, v in r.items()]
    for a in agents:
        lines += ["", "[[agents]]"] + [f"{k} = {_val(v)}" for k, v in a.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _val(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return toml_str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_val(x)}" for k, x in v.items()) + " }"
    raise TypeError(v)


def records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, step: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def start_dispatcher(config: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """``jit-dispatch start`` as a real process (its own session, so a test can SIGKILL it alone)."""
    return subprocess.Popen(
        [sys.executable, "-m", "gitjit.cli.dispatch", "--config", str(config), "start", *args],
        cwd=cwd or config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"dispatcher did not stop:\n{err[-3000:]}") from None
    return out, err


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is dead for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][:1] != "Z"
    except OSError:
        return True


def events_of(tracker: Any, iid: str, type_: str) -> list[dict[str, Any]]:
    return [e for e in tracker.events(issue=iid) if e["type"] == type_]


def shim_bin(d: Path) -> Path:
    """A directory with `jit` and `jit-dispatch` running this interpreter on the checkout under test."""
    root = Path(__file__).resolve().parent.parent
    d.mkdir(parents=True, exist_ok=True)
    for name, mod in (("jit", "gitjit"), ("jit-dispatch", "gitjit.cli.dispatch")):
        p = d / name
        p.write_text(f'#!/bin/sh\nPYTHONPATH="{root}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" -m {mod} "$@"\n')
        p.chmod(0o755)
    return d
