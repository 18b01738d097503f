"""``jit setup claude|codex|cursor|agents-md``: tell a coding agent how to work with gitjit here.

Each target is a few files in the repository's work tree:

* ``claude``: a block in ``CLAUDE.md``; ``jit prime`` as a ``SessionStart`` and a ``PreCompact``
  hook in ``.claude/settings.json``; the ``gitjit`` MCP server in ``.mcp.json``.
* ``codex``: a block in ``AGENTS.md``; the MCP server in ``.codex/config.toml`` (Codex reads a
  project's servers there once the project is trusted; the user's ``~/.codex`` is never touched).
* ``cursor``: ``.cursor/rules/gitjit.mdc`` (an always-applied rule); the MCP server in
  ``.cursor/mcp.json``.
* ``agents-md``: a block in ``AGENTS.md`` (read by many agents).

Every new file text is computed before anything is written (gitjit/core/agentsetup.py does the
editing): a file that cannot be edited safely (a damaged block, JSON or TOML that does not parse,
text that is not UTF-8) stops the command with ``UsageError`` and no file changes. Each file is
replaced in one rename. ``--remove`` takes out only what setup put in; a file left empty that
way is deleted.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..core import agentsetup as ed
from ..core.errors import UsageError
from ..git.discover import discover

__all__ = ["TARGETS", "instructions", "setup"]

HOOK_COMMAND = "jit prime"
HOOK_EVENTS = ("SessionStart", "PreCompact")

_MDC_HEAD = ("---\n"
             "description: How to find, claim and finish work with gitjit (jit) in this repository\n"
             "alwaysApply: true\n"
             "---\n")


def instructions(*, mcp: bool) -> str:
    """The text of the block: how an agent works with gitjit in this repository."""
    text = """\
## Issue tracking: gitjit

This repository tracks its work with gitjit (`jit`): issues, dependencies, gates and claims
live on `refs/jit/*` of this git repository. At the start of a session run `jit prime`: the
workflow, who you act as, the issues you hold and the ready queue, in under 2 KB.

- Act under your own name: `export JIT_ACTOR=agent:NAME` (claims and events record it).
- Take work: `ID=$(jit issue claim-next "$JIT_ACTOR")` (exit 8: nothing is ready).
- Read it: `jit issue show $ID` (description, dependencies, gates, why it is blocked).
- Finish: pass each gate (`jit gate run $ID KEY` runs its checker; `jit gate pass $ID KEY`),
  then `jit issue update $ID --state done` (exit 4 while a gate has not passed).
- Cannot finish: `jit issue release $ID "reason"`, so that another agent can take it.
- New work you find: `NEW=$(jit issue create -q -t "Title" -p high)`; if it must wait for
  another issue: `jit dep add $NEW $OTHER`.
- Exit codes: 7 another agent holds the issue (take another), 8 no work, 9 busy (retry).
- Add `--json` to any command for machine output; `jit schema` lists the shapes."""
    if mcp:
        text += """
- MCP: the `gitjit` server (`jit mcp`) offers the same as tools: ready, show, create, update,
  claim_next, claim, release, set_state, gate_pass, gate_fail, gate_run, dep_add, dep_remove,
  status, events."""
    return text + "\n"


@dataclass(frozen=True)
class _File:
    path: str
    kind: str  # block | rule | hooks | mcp-json | mcp-toml


TARGETS: dict[str, list[_File]] = {
    "claude": [_File("CLAUDE.md", "block"), _File(".claude/settings.json", "hooks"), _File(".mcp.json", "mcp-json")],
    "codex": [_File("AGENTS.md", "block"), _File(".codex/config.toml", "mcp-toml")],
    "cursor": [_File(".cursor/rules/gitjit.mdc", "rule"), _File(".cursor/mcp.json", "mcp-json")],
    "agents-md": [_File("AGENTS.md", "block")],
}

_MCP_KINDS = ("mcp-json", "mcp-toml")


def _read(path: Path, name: str) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise UsageError(f"{name} is a directory", hint="move it away; nothing was changed") from None
    except OSError as e:
        raise UsageError(f"cannot read {name}: {e.strerror}", hint="nothing was changed") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not UTF-8 text", hint="jit setup edits UTF-8 files only; nothing was "
                         "changed") from None


def _eol(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _edit_json(text: str | None, name: str, fn: Callable[[dict[str, Any]], tuple[dict[str, Any], str]]
               ) -> tuple[str | None, str]:
    data = ed.parse_json_object(text or "", name=name)
    new, detail = fn(data)
    if new is data:
        return text, detail
    if not new:
        return None, detail  # nothing left: the file goes
    return ed.dump_json(new, _eol(text or ""), ed.json_indent(text or "")), detail


def _hooks(remove: bool, name: str) -> Callable[[dict[str, Any]], tuple[dict[str, Any], str]]:
    def fn(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        done = []
        for event in HOOK_EVENTS:
            data2, changed = (ed.remove_hook(data, event, HOOK_COMMAND) if remove
                              else ed.add_hook(data, event, HOOK_COMMAND, name=name))
            if changed:
                done.append(event)
            data = data2
        verb = "removed" if remove else "added"
        return data, (f"{HOOK_COMMAND!r} hook {verb}: {', '.join(done)}" if done
                      else f"{HOOK_COMMAND!r} hooks {'absent' if remove else 'present'}")
    return fn


def _server_json(remove: bool, name: str) -> Callable[[dict[str, Any]], tuple[dict[str, Any], str]]:
    def fn(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
        new, what = ed.remove_server(data) if remove else ed.add_server(data, name=name)
        return new, _server_detail(what)
    return fn


def _server_detail(what: str) -> str:
    return {"added": "MCP server 'gitjit' added", "present": "MCP server 'gitjit' present",
            "removed": "MCP server 'gitjit' removed", "absent": "no MCP server 'gitjit'",
            "kept": "an MCP server named 'gitjit' that runs something else is kept as it is"}[what]


_TOML_BODY = '[mcp_servers.gitjit]\ncommand = "jit"\nargs = ["mcp"]\n'


def _toml_server(text: str, name: str) -> Any:
    try:
        doc = tomlkit.parse(text).unwrap()
    except TOMLKitError as e:
        raise UsageError(f"{name} is not valid TOML: {e}", hint=f"fix {name} by hand; nothing was changed") from None
    servers = doc.get("mcp_servers")
    if servers is not None and not isinstance(servers, dict):
        raise UsageError(f"{name}: mcp_servers is not a table", hint=f"fix {name} by hand; nothing was changed")
    return (servers or {}).get(ed.SERVER_NAME)


def _edit_toml(text: str | None, name: str, remove: bool) -> tuple[str | None, str]:
    """The server as a marked block of TOML (its own ``[mcp_servers.gitjit]`` table at the end),
    so that ``--remove`` gives the file back byte for byte; a server of that name the user wrote
    is left alone."""
    old = text or ""
    have = _toml_server(old, name)
    ours = ed.find_block(old, name=name, markers=ed.TOML) is not None
    if remove:
        if not ours:
            return text, _server_detail("absent" if have is None else "kept")
        new = ed.remove_block(old, name=name, markers=ed.TOML)
        return (new if new else None), _server_detail("removed")
    if have is not None and not ours:
        return text, _server_detail("present" if have == ed.MCP_SERVER else "kept")
    new = ed.put_block(old, _TOML_BODY, name=name, markers=ed.TOML)
    got = _toml_server(new, name)  # the file, block and all, must still parse and say what we meant
    if got != ed.MCP_SERVER:
        raise UsageError(f"{name}: the gitjit server table would not parse as intended there",
                         hint=f"add [mcp_servers.gitjit] command = \"jit\", args = [\"mcp\"] to {name} by hand")
    return new, _server_detail("present" if new == text else "added")


def _edit_block(text: str | None, name: str, remove: bool, body: str) -> tuple[str | None, str]:
    if remove:
        if text is None:
            return None, "absent"
        new = ed.remove_block(text, name=name)
        if new == text:
            return text, "no gitjit block"
        return (new if new else None), "gitjit block removed"
    new = ed.put_block(text or "", body, name=name)
    return new, ("gitjit block written" if new != text else "gitjit block up to date")


def _edit_rule(text: str | None, name: str, remove: bool, body: str) -> tuple[str | None, str]:
    if remove:
        if text is None:
            return None, "absent"
        new = ed.remove_block(text, name=name)
        if new == text:
            return text, "no gitjit block"
        left = new.replace("\r\n", "\n")
        return (None if left.strip() in ("", _MDC_HEAD.strip()) else new), "gitjit rule removed"
    if text is None or not text.strip():
        new = _MDC_HEAD + ed.put_block("", body, name=name)
    else:
        if ed.find_block(text, name=name) is None:
            raise UsageError(f"{name} exists and was not written by jit setup",
                             hint="move it away (or add the gitjit block to it yourself); nothing was changed")
        new = ed.put_block(text, body, name=name)
    return new, ("gitjit rule written" if new != text else "gitjit rule up to date")


def setup(target: str, *, repo: str | None = None, remove: bool = False, dry_run: bool = False,
          mcp: bool = True) -> dict[str, Any]:
    """Write (or with ``remove`` take out) ``target``'s files in the work tree of the repository
    at ``repo`` (None: the current directory's). ``dry_run``: say what would change, write nothing.
    ``mcp=False`` leaves the MCP client settings alone."""
    if target not in TARGETS:
        raise UsageError(f"unknown setup target {target!r}", hint="one of: " + ", ".join(TARGETS))
    loc = discover(repo, repo_env=repo is None)
    if loc.workdir is None:
        raise UsageError("jit setup writes into a work tree, and this repository has none (bare)",
                         hint="run it in a clone with a work tree")
    root = Path(loc.workdir)
    body = instructions(mcp=mcp)
    plan: list[tuple[_File, str | None, str | None, str]] = []
    for f in TARGETS[target]:
        if f.kind in _MCP_KINDS and not mcp:
            continue
        path = root / f.path
        old = _read(path, f.path)
        if f.kind == "block":
            new, detail = _edit_block(old, f.path, remove, body)
        elif f.kind == "rule":
            new, detail = _edit_rule(old, f.path, remove, body)
        elif f.kind == "hooks":
            new, detail = _edit_json(old, f.path, _hooks(remove, f.path))
        elif f.kind == "mcp-json":
            new, detail = _edit_json(old, f.path, _server_json(remove, f.path))
        else:
            new, detail = _edit_toml(old, f.path, remove)
        plan.append((f, old, new, detail))
    files = []
    for f, old, new, detail in plan:
        change = ("unchanged" if new == old else "created" if old is None else "deleted" if new is None
                  else "updated")
        if change != "unchanged" and not dry_run:
            _write(root / f.path, new)
            if new is None:
                _prune(root, Path(f.path).parent)
        files.append({"path": f.path, "change": change, "detail": detail})
    return {"target": target, "removed": remove, "dry_run": dry_run, "root": str(root), "files": files}


def _write(path: Path, text: str | None) -> None:
    if path.is_symlink():  # e.g. AGENTS.md -> CLAUDE.md: edit the file it points to, keep the link
        path = path.resolve()
        text = text or ""
    if text is None:
        path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        if mode is not None:
            os.chmod(tmp, mode)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _prune(root: Path, rel: Path) -> None:
    """Remove the client folders (``.claude``, ``.cursor/rules``, ...) a removal left empty."""
    while rel.parts:
        try:
            (root / rel).rmdir()
        except OSError:  # not empty (the user's files), or already gone
            return
        rel = rel.parent


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m
