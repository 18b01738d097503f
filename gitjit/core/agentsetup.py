"""``jit setup``'s editing, pure: a marked block in a text file, an entry in a JSON settings file.

A block is whole lines from ``BEGIN`` to ``END``; everything outside it is the user's and is never
touched. Putting a block into a file that has none appends it after one blank line, and taking it
out again gives back the text exactly as it was (tests/test_agent_setup.py holds that for any
text): the blank line before it is the block's own, and a file that did not end with a newline
gets the block without a newline after it. The block's lines end as the file's do (CRLF or LF).
A file holding one marker without the other, two blocks, or a marker line someone edited, is
refused with ``UsageError`` and left as it is.

The same block, between TOML comment markers, holds the MCP server in Codex's ``config.toml``.
JSON settings (Claude Code's ``.claude/settings.json`` and the MCP clients' ``mcpServers``) are
merged as JSON: only the entries gitjit adds are added or taken out, every other key, hook and
server stays, in its order.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import UsageError

__all__ = [
    "BEGIN",
    "END",
    "MARKDOWN",
    "MCP_SERVER",
    "SERVER_NAME",
    "TOML",
    "add_hook",
    "add_server",
    "dump_json",
    "find_block",
    "parse_json_object",
    "put_block",
    "remove_block",
    "remove_hook",
    "remove_server",
]

BEGIN = "<!-- BEGIN gitjit (written by 'jit setup'; 'jit setup --remove' takes it out) -->"
END = "<!-- END gitjit -->"
#: the markers in Markdown (HTML comments) and in TOML (comments)
MARKDOWN = (BEGIN, END)
TOML = ("# BEGIN gitjit (written by 'jit setup'; 'jit setup --remove' takes it out)", "# END gitjit")
#: what marks a line as meant to be one of the markers (an edited marker is damage, not text)
_BEGIN_TAG = "BEGIN gitjit"
_END_TAG = "END gitjit"

SERVER_NAME = "gitjit"
MCP_SERVER: dict[str, Any] = {"command": "jit", "args": ["mcp"]}


def _lines(text: str) -> list[tuple[int, int, str]]:
    """``(start, end of content, line)`` for every line (``end`` before the line's \\r\\n or \\n)."""
    out = []
    pos = 0
    while pos < len(text):
        nl = text.find("\n", pos)
        stop = len(text) if nl < 0 else nl
        content_end = stop - 1 if stop > pos and text[stop - 1] == "\r" else stop
        out.append((pos, content_end, text[pos:content_end]))
        pos = stop + 1 if nl >= 0 else len(text)
    return out


def find_block(text: str, *, name: str = "the file", markers: tuple[str, str] = MARKDOWN) -> tuple[int, int] | None:
    """``(start, end)`` of the block (``start`` at the BEGIN line, ``end`` just after the END
    marker, before its line ending), None when there is none; ``UsageError`` when damaged."""
    begin, end = markers
    begins, ends = [], []
    for start, cend, line in _lines(text):
        if line == begin:
            begins.append((start, cend))
        elif line == end:
            ends.append((start, cend))
        elif _BEGIN_TAG in line or _END_TAG in line:
            raise UsageError(f"{name} has a damaged gitjit marker line: {line[:120]!r}",
                             hint=f"restore the line to {begin if _BEGIN_TAG in line else end!r} or delete the "
                                  "half block by hand; nothing was changed")
    if not begins and not ends:
        return None
    if len(begins) == 1 and len(ends) == 1 and begins[0][0] < ends[0][0]:
        return begins[0][0], ends[0][1]
    what = ("a BEGIN gitjit marker without its END" if len(begins) > len(ends) else
            "an END gitjit marker without its BEGIN" if len(ends) > len(begins) else
            "more than one gitjit block" if len(begins) > 1 else "the END gitjit marker before its BEGIN")
    raise UsageError(f"{name} has {what}", hint="fix or delete the gitjit block by hand (one BEGIN line, then one "
                                                 "END line); nothing was changed")


def _eol_at(text: str, pos: int) -> str:
    """The line ending at ``pos`` ("" at the end of the text)."""
    if text.startswith("\r\n", pos):
        return "\r\n"
    return "\n" if text.startswith("\n", pos) else ""


def _block(body: str, eol: str, markers: tuple[str, str] = MARKDOWN) -> str:
    lines = [markers[0], *body.strip("\n").split("\n"), markers[1]]
    return eol.join(line.rstrip("\r") for line in lines)


def put_block(text: str, body: str, *, name: str = "the file", markers: tuple[str, str] = MARKDOWN) -> str:
    """``text`` with the block holding ``body``: the block replaced where it is, or appended."""
    found = find_block(text, name=name, markers=markers)
    if found is not None:
        start, end = found
        return text[:start] + _block(body, _eol_at(text, start + len(markers[0])) or "\n", markers) + text[end:]
    eol = "\r\n" if "\r\n" in text else "\n"
    if not text:
        return _block(body, eol, markers) + eol
    if text.endswith("\n"):
        return text + eol + _block(body, eol, markers) + eol
    return text + eol + eol + _block(body, eol, markers)


def remove_block(text: str, *, name: str = "the file", markers: tuple[str, str] = MARKDOWN) -> str:
    """``text`` without the block (as it was before ``put_block``); unchanged when it has none."""
    found = find_block(text, name=name, markers=markers)
    if found is None:
        return text
    start, end = found
    eol = _eol_at(text, start + len(markers[0])) or "\n"
    before, after = text[:start], text[end:]
    if after.startswith(eol):
        after = after[len(eol):]
        before = before.removesuffix(eol)  # the blank line put before the block
    elif not after:
        for _ in range(2):  # the text did not end with a newline: the block came after two
            before = before.removesuffix(eol)
    return before + after


# ---------------------------------------------------------------------------------- JSON settings

def parse_json_object(text: str, *, name: str) -> dict[str, Any]:
    """The JSON object a settings file holds ({} for an empty file); ``UsageError`` otherwise."""
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise UsageError(f"{name} is not valid JSON: {e}", hint=f"fix {name} by hand, then run the command again; "
                                                                 "nothing was changed") from None
    if not isinstance(data, dict):
        raise UsageError(f"{name} does not hold a JSON object", hint=f"fix {name} by hand; nothing was changed")
    return data


def json_indent(text: str) -> str:
    """The indentation of the first indented line of a JSON text (two spaces if none): a file is
    written back in the style it was written in."""
    for line in text.splitlines()[1:]:
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            return line[: len(line) - len(stripped)]
    return "  "


def dump_json(data: dict[str, Any], eol: str = "\n", indent: str = "  ") -> str:
    return json.dumps(data, indent=indent, ensure_ascii=False).replace("\n", eol) + eol


def _object(data: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    got = data.setdefault(key, {})
    if not isinstance(got, dict):
        raise UsageError(f"{name}: {key!r} is not a JSON object", hint=f"fix {name} by hand; nothing was changed")
    return got


def _hook_commands(group: Any) -> list[Any]:
    if not isinstance(group, dict) or not isinstance(group.get("hooks"), list):
        return []
    return [h.get("command") for h in group["hooks"] if isinstance(h, dict)]


def add_hook(data: dict[str, Any], event: str, command: str, *, name: str) -> tuple[dict[str, Any], bool]:
    """Claude Code settings with ``command`` run on ``event`` (``{"hooks": {event: [{"hooks":
    [{"type": "command", "command": ...}]}]}}``); ``(settings, changed)``. A hook already running
    ``command`` on that event counts as ours: nothing is added twice."""
    out = copy.deepcopy(data)
    hooks = _object(out, "hooks", name)
    groups = hooks.setdefault(event, [])
    if not isinstance(groups, list):
        raise UsageError(f"{name}: hooks.{event} is not a JSON array", hint=f"fix {name} by hand; nothing was changed")
    if any(command in _hook_commands(g) for g in groups):
        return data, False
    groups.append({"hooks": [{"type": "command", "command": command}]})
    return out, True


def remove_hook(data: dict[str, Any], event: str, command: str) -> tuple[dict[str, Any], bool]:
    """The settings without the hooks running ``command`` on ``event``; a matcher group left
    empty, then an event, then ``hooks`` left empty, go too."""
    hooks = data.get("hooks")
    if not isinstance(hooks, dict) or not isinstance(hooks.get(event), list):
        return data, False
    if not any(command in _hook_commands(g) for g in hooks[event]):
        return data, False
    out = copy.deepcopy(data)
    groups = []
    for g in out["hooks"][event]:
        if command in _hook_commands(g):
            g["hooks"] = [h for h in g["hooks"] if not (isinstance(h, dict) and h.get("command") == command)]
            if not g["hooks"]:
                continue
        groups.append(g)
    if groups:
        out["hooks"][event] = groups
    else:
        del out["hooks"][event]
        if not out["hooks"]:
            del out["hooks"]
    return out, True


def add_server(data: dict[str, Any], *, name: str) -> tuple[dict[str, Any], str]:
    """An MCP client's settings with the gitjit server under ``mcpServers``; ``(settings,
    "added" | "present" | "kept")``: "kept" when a server of that name runs something else (the
    user's own entry wins)."""
    servers = data.get("mcpServers")
    if isinstance(servers, dict) and SERVER_NAME in servers:
        return data, "present" if servers[SERVER_NAME] == MCP_SERVER else "kept"
    out = copy.deepcopy(data)
    _object(out, "mcpServers", name)[SERVER_NAME] = copy.deepcopy(MCP_SERVER)
    return out, "added"


def remove_server(data: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """The settings without gitjit's server; ``(settings, "removed" | "absent" | "kept")``: an
    entry of that name that runs something else is the user's and stays."""
    servers = data.get("mcpServers")
    if not isinstance(servers, dict) or SERVER_NAME not in servers:
        return data, "absent"
    if servers[SERVER_NAME] != MCP_SERVER:
        return data, "kept"
    out = copy.deepcopy(data)
    del out["mcpServers"][SERVER_NAME]
    if not out["mcpServers"]:
        del out["mcpServers"]
    return out, "removed"
