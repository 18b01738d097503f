"""Helpers of the web board's tests: a small tracker with every column filled, a board on a real
port, and HTTP calls with the standard library."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from conftest import Jit, make_repo


def sample(root: Path, name: str = "proj") -> tuple[Path, dict[str, str]]:
    """A repository with a ready, an in-progress, a gated, a blocked, a done and a rejected issue."""
    repo = make_repo(root / name)
    j = Jit(repo, actor="human:alice")
    assert j("init").exit_code == 0
    j("registry", "add", "review", "-t", "Code review")
    j("registry", "add", "security", "-t", "Security sign-off", "--stage", "precheck")

    def new(*args: str) -> str:
        return str(j.json("issue", "create", *args)["id"])

    ids = {
        "design": new("-t", "Design the API", "-p", "high", "-l", "team:core", "-d", "The shape of the API.",
                      "--context", "component=api"),
        "build": new("-t", "Build the API", "-l", "team:core", "-g", "review"),
        "docs": new("-t", "Write the docs", "-l", "team:web", "-p", "low"),
        "audit": new("-t", "Audit the crypto", "-g", "security", "-l", "team:sec"),
        "old": new("-t", "Old finished task", "-l", "team:core"),
        "nope": new("-t", "Rejected idea"),
        "free": new("-t", "Free task", "-l", "team:web"),
    }
    j("dep", "add", ids["build"], ids["design"])
    j("dep", "add", ids["docs"], ids["build"])
    j("issue", "claim", ids["old"], "agent:w1")
    j("issue", "update", ids["old"], "--state", "done")
    j("issue", "update", ids["nope"], "--state", "rejected")
    j("issue", "claim", ids["free"], "agent:w2")
    return repo, ids


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return request(url, None, headers=headers, method="GET")


def post(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return request(url, json.dumps(body if body is not None else {}).encode(), headers=headers, method="POST")


def request(url: str, data: bytes | None, *, headers: dict[str, str] | None, method: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json",
                                                                            **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
