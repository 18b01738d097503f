"""``dispatch.toml``: load, validate and edit the dispatcher's configuration.

The format extends seed 001's (``poll_interval_secs``, ``[[agents]]`` with ``id``, ``type``,
``command``, ``max_concurrent`` or its alias ``capacity``, ``tags``) with ``[[repos]]``, leases,
failure handling and ``[[webhooks]]``; docs/dispatch.md lists every key. Relative paths are
relative to the file's directory.

The file's shape and values are held to ``gitjit.schema.dispatch.DispatchFile`` (pydantic: the
schema of record, ``jit schema dispatch-config``). Every error names the file, the line and the
field (``dispatch.toml:12: agents[1].max_concurrent: must be an integer >= 1``), because a
dispatcher usually runs unattended and its log is all a user sees. tomlkit does not keep line numbers on values, so ``_Lines`` maps each
``(table path, key)`` to its line by reading the text once.

``add_agent`` / ``remove_agent`` edit the text in place (the new table goes right after the last
agent's own lines; a removed table takes only its own lines), so the user's comments and layout
survive: tomlkit alone attaches a comment above ``[[agents]]`` to the *previous* table and would
delete it with that table.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from ..core.errors import AlreadyExistsError, NotFoundError, UsageError
from ..schema.dispatch import ID_RE, ConfigProblem, DispatchFile, check_dispatch

__all__ = [
    "DEFAULT_CONFIG",
    "AgentConfig",
    "DispatchConfig",
    "DispatchConfigError",
    "RepoConfig",
    "WebhookConfig",
    "add_agent",
    "default_state_dir",
    "init_config_text",
    "load_config",
    "remove_agent",
]

DEFAULT_CONFIG = "dispatch.toml"


class DispatchConfigError(UsageError):
    """dispatch.toml is missing, unreadable or invalid. ``details``: file, line, field."""

    code = "INVALID_CONFIG"


@dataclass(frozen=True)
class RepoConfig:
    name: str
    path: Path               # the local clone (for ``url`` repos: the cache clone)
    url: str | None = None
    hub: str | None = None   # the remote that decides claims; None: local claims only


@dataclass(frozen=True)
class AgentConfig:
    id: str
    command: tuple[str, ...]
    type: str = "agent"
    max_concurrent: int = 1
    tags: tuple[str, ...] = ()
    repos: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: Path | None = None
    on_failure: str = "release"
    max_retries: int = 1
    failure_threshold: int = 3
    timeout_secs: float | None = None

    def assignee(self, dispatcher_id: str) -> str:
        """``<type>:<id>@<dispatcher>``: unique per dispatcher, so two dispatchers whose configs
        both name an agent ``worker-1`` can never mistake each other's claim for their own."""
        return f"{self.type}:{self.id}@{dispatcher_id}"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    events: tuple[str, ...] | None = None
    max_attempts: int = 5
    timeout_secs: float = 5.0
    secret: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DispatchConfig:
    path: Path
    id: str
    poll_interval_secs: float = 30.0
    lease_secs: float = 900.0
    lease_grace_secs: float = 60.0
    escalation_hours: float = 24.0
    on_stop: str = "finish"
    stop_timeout_secs: float | None = None
    kill_grace_secs: float = 10.0
    backoff_secs: float = 60.0
    backoff_max_secs: float = 3600.0
    park_after_failures: int = 5
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    state_dir: Path = Path(".jit-dispatch")
    repos: tuple[RepoConfig, ...] = ()
    agents: tuple[AgentConfig, ...] = ()
    webhooks: tuple[WebhookConfig, ...] = ()

    @property
    def renew_every_secs(self) -> float:
        """Leases are renewed together, every third of a lease: one push per round however many agents run."""
        return self.lease_secs / 3

    def agent(self, agent_id: str) -> AgentConfig:
        for a in self.agents:
            if a.id == agent_id:
                return a
        raise NotFoundError(f"no agent {agent_id!r} in {self.path}",
                            hint="see the configured agents: jit-dispatch status")


# ---------------------------------------------------------------------------- line index

_AOT = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]\s*(#.*)?$")
_TABLE = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_-]+)(\s*\.\s*[A-Za-z0-9_"'-]+)*\s*=""")


def _split_key(text: str) -> list[str]:
    return [p.strip().strip("\"'") for p in text.split(".")]


@dataclass
class _Section:
    path: tuple[Any, ...]    # () root, ("agents", 0), ("agents", 0, "env"), ...
    header: int              # 1-based line of the header (0 for the root)
    last: int = 0            # last line holding content of this section (not trailing comments)


class _Lines:
    """Where each table and key sits in the text (1-based lines)."""

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.sections: list[_Section] = [_Section((), 0)]
        self.keys: dict[tuple[Any, ...], int] = {}
        counts: dict[str, int] = {}
        in_multiline: str | None = None
        cur = self.sections[0]
        for n, raw in enumerate(self.lines, 1):
            line = raw.strip()
            if in_multiline:
                cur.last = n
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            if not line or line.startswith("#"):
                continue
            m = _AOT.match(raw)
            if m:
                parts = _split_key(m.group(1))
                name = ".".join(parts)
                idx = counts.get(name, 0)
                counts[name] = idx + 1
                if len(parts) == 1:
                    path: tuple[Any, ...] = (parts[0], idx)
                else:  # [[agents.x]] inside the latest [[agents]] element
                    parent = counts.get(parts[0], 1) - 1
                    path = (parts[0], parent, *parts[1:], idx)
                cur = _Section(path, n, n)
                self.sections.append(cur)
                continue
            m = _TABLE.match(raw)
            if m and "=" not in line.split("]")[0]:
                parts = _split_key(m.group(1))
                if parts[0] in counts and len(parts) > 1:
                    path = (parts[0], counts[parts[0]] - 1, *parts[1:])
                else:
                    path = tuple(parts)
                cur = _Section(path, n, n)
                self.sections.append(cur)
                continue
            cur.last = n
            km = _KEY.match(raw)
            if km:
                key = _split_key(raw.split("=", 1)[0])
                for i in range(len(key)):
                    self.keys.setdefault((*cur.path, *key[: i + 1]), n)
                for q in ('"""', "'''"):
                    if raw.count(q) % 2 == 1:
                        in_multiline = q

    def line_of(self, path: tuple[Any, ...]) -> int:
        """The line of the key at ``path``, else of its nearest enclosing table header, else 1."""
        p = tuple(path)
        while p:
            if p in self.keys:
                return self.keys[p]
            for s in self.sections:
                if s.path == p:
                    return s.header
            p = p[:-1]
        return 1

    def element(self, name: str, index: int) -> tuple[int, int]:
        """First and last line (1-based) of the ``index``-th ``[[name]]`` element and its sub-tables,
        without the comments and blank lines that follow it (they introduce what comes next)."""
        start = end = None
        for s in self.sections:
            if len(s.path) >= 2 and s.path[0] == name and s.path[1] == index:
                start = s.header if start is None else start
                end = max(end or 0, s.last)
        if start is None or end is None:
            raise KeyError((name, index))
        return start, end


def _fmt_path(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


class _Checker:
    def __init__(self, file: Path, lines: _Lines):
        self.file = file
        self.lines = lines

    def fail(self, path: tuple[Any, ...], msg: str, hint: str | None = None) -> DispatchConfigError:
        line = self.lines.line_of(path)
        where = _fmt_path(path)
        return DispatchConfigError(f"{self.file}:{line}: {where}: {msg}", hint=hint,
                                   details={"file": str(self.file), "line": line, "field": where})


# ---------------------------------------------------------------------------- loading

def _resolve(base: Path, p: str) -> Path:
    q = Path(os.path.expanduser(p))
    return q if q.is_absolute() else (base / q)


def _default_id(path: Path) -> str:
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname() or "host")[:40] or "host"
    return f"{host}-{hashlib.sha1(str(path).encode()).hexdigest()[:6]}"


def default_state_dir(config: Path) -> Path:
    """Where a configuration keeps its state when the file does not say (docs/dispatch.md, "State
    directory"). In a git work tree: ``<git common dir>/jit-dispatch/<stem>-<hash of the file's
    path in the work tree>``, out of reach of ``git add -A`` (and ``git clean``), and the same
    wherever the clone is moved. Elsewhere, or where an earlier version made one already:
    ``.jit-dispatch/<stem>`` next to the file (with a ``.gitignore`` inside, see StateDir)."""
    path = config.resolve()
    legacy = path.parent / ".jit-dispatch" / config.stem
    if legacy.is_dir():
        return legacy  # made by an earlier version: its breakers and webhook position live there
    from ..git import find_git_dirs

    found = find_git_dirs(path.parent)
    if found is None or found[1] is None:
        return legacy
    common, worktree = found[0], found[1]
    rel = path.relative_to(worktree).as_posix()
    return common / "jit-dispatch" / f"{config.stem}-{hashlib.sha1(rel.encode()).hexdigest()[:6]}"


def _repo_name(s: str) -> str:
    name = s.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return (name.removesuffix(".git")) or "repo"


def load_config(path: str | os.PathLike[str] | None = None, *, default_repo: str | None = None) -> DispatchConfig:
    """Read and validate ``path`` (default ``./dispatch.toml``). ``default_repo`` (``--repo``/``JIT_REPO``,
    else the current directory) is the repository used when the file has no ``[[repos]]`` (seed 001's
    files have none). Raises DispatchConfigError naming file, line and field."""
    p = Path(path or DEFAULT_CONFIG)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DispatchConfigError(f"{p}: no such file", hint="create one with: jit-dispatch init-config",
                                  details={"file": str(p), "line": None, "field": None}) from None
    except (OSError, UnicodeDecodeError) as e:
        raise DispatchConfigError(f"{p}: cannot read: {e}", details={"file": str(p), "line": None,
                                                                    "field": None}) from None
    return parse_config(text, p, default_repo=default_repo)


def parse_config(text: str, p: Path, *, default_repo: str | None = None) -> DispatchConfig:
    """The configuration in ``text``: its shape and values held to ``gitjit.schema.dispatch.DispatchFile``
    (the schema of record, ``jit schema dispatch-config``), then what spans tables checked here."""
    try:
        data = tomlkit.parse(text).unwrap()
    except TOMLKitError as e:
        line = getattr(e, "line", None) or 1
        msg = str(e).split(" at line ")[0]
        raise DispatchConfigError(f"{p}:{line}: not valid TOML: {msg}",
                                  details={"file": str(p), "line": line, "field": None}) from None
    ck = _Checker(p, _Lines(text))
    try:
        f = check_dispatch(data)
    except ConfigProblem as e:
        raise ck.fail(e.path, e.message, e.hint) from None
    base = p.resolve().parent
    state_dir = _resolve(base, f.state_dir) if f.state_dir else default_state_dir(p)
    cache_dir = _resolve(base, f.cache_dir or str(state_dir / "repos"))
    repos = _repos(ck, f, base, cache_dir, default_repo)
    agents = _agents(ck, f, base, {r.name for r in repos})
    return DispatchConfig(
        path=p, id=f.id or _default_id(p.resolve()),
        poll_interval_secs=float(f.poll_interval_secs), lease_secs=float(f.lease_secs),
        lease_grace_secs=float(f.lease_grace_secs), escalation_hours=float(f.escalation_hours),
        on_stop=f.on_stop,
        stop_timeout_secs=float(f.stop_timeout_secs) if f.stop_timeout_secs is not None else None,
        kill_grace_secs=float(f.kill_grace_secs),
        backoff_secs=float(f.backoff_secs), backoff_max_secs=float(f.backoff_max_secs),
        park_after_failures=f.park_after_failures, log_max_bytes=f.log_max_bytes, log_backups=f.log_backups,
        state_dir=state_dir, repos=tuple(repos), agents=tuple(agents),
        webhooks=tuple(WebhookConfig(
            url=h.url, events=_strings(h.events), max_attempts=h.max_attempts, timeout_secs=float(h.timeout_secs),
            secret=h.secret, headers=_table(h.headers)) for h in f.webhooks),
    )


def _strings(v: str | list[str] | None) -> tuple[str, ...] | None:
    """A list of strings, or "a,b" (as ``--tags a,b``), trimmed, without repeats."""
    if v is None:
        return None
    items = [x for x in v.split(",")] if isinstance(v, str) else v
    return tuple(dict.fromkeys(x.strip() for x in items if x.strip()))


def _table(v: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(x) for k, x in v.items()}


def _repos(ck: _Checker, f: DispatchFile, base: Path, cache_dir: Path,
           default_repo: str | None) -> list[RepoConfig]:
    out: list[RepoConfig] = []
    for i, t in enumerate(f.repos):
        path = ("repos", i)
        if bool(t.path) == bool(t.url):
            raise ck.fail(path, "give exactly one of path = \"...\" (a local clone) or url = \"...\" (cloned "
                          "into the cache)")
        name = t.name or _repo_name(t.url or str(_resolve(base, t.path or "").resolve()))
        if any(r.name == name for r in out):
            raise ck.fail((*path, "name"), f"repository name {name!r} is used twice",
                          hint='give each [[repos]] a distinct name = "..."')
        out.append(RepoConfig(name=name, path=cache_dir / name if t.url else _resolve(base, t.path or ""),
                              url=t.url, hub=t.hub or ("origin" if t.url else None)))
    if not out:
        rp = Path(default_repo or os.getcwd()).resolve()
        out.append(RepoConfig(name=_repo_name(str(rp)), path=rp))
    return out


def _agents(ck: _Checker, f: DispatchFile, base: Path, repo_names: set[str]) -> list[AgentConfig]:
    out: list[AgentConfig] = []
    for i, t in enumerate(f.agents):
        path = ("agents", i)
        if any(a.id == t.id for a in out):
            raise ck.fail((*path, "id"), f"agent id {t.id!r} is used twice")
        if t.capacity is not None and "max_concurrent" in t.model_fields_set:
            raise ck.fail((*path, "capacity"), "give max_concurrent or its alias capacity, not both")
        if isinstance(t.command, str):
            try:
                cmd = tuple(shlex.split(t.command))
            except ValueError as e:
                raise ck.fail((*path, "command"), f"cannot split into arguments: {e}") from None
        else:
            cmd = tuple(t.command)
        if not cmd:
            raise ck.fail((*path, "command"), "must be a string or a non-empty list of strings")
        if "/" in cmd[0] and not os.path.isabs(os.path.expanduser(cmd[0])):
            # ./agent.sh next to dispatch.toml, like every other relative path in the file
            cmd = (str(_resolve(base, cmd[0])), *cmd[1:])
        repos = _strings(t.repos)
        for r in repos or ():
            if r not in repo_names:
                raise ck.fail((*path, "repos"), f"no [[repos]] is named {r!r}",
                              hint="known: " + ", ".join(sorted(repo_names)))
        out.append(AgentConfig(
            id=t.id, command=cmd, type=t.type,
            max_concurrent=t.capacity if t.capacity is not None else t.max_concurrent,
            tags=_strings(t.tags) or (), repos=repos, env=_table(t.env),
            working_dir=_resolve(base, t.working_dir) if t.working_dir else None,
            on_failure=t.on_failure or f.on_failure,
            max_retries=t.max_retries if t.max_retries is not None else f.max_retries,
            failure_threshold=t.failure_threshold if t.failure_threshold is not None else f.failure_threshold,
            timeout_secs=float(t.timeout_secs) if t.timeout_secs is not None else None,
        ))
    return out


# ---------------------------------------------------------------------------- editing

def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DispatchConfigError(f"{path}: no such file", hint="create one with: jit-dispatch init-config",
                                  details={"file": str(path), "line": None, "field": None}) from None


def _write_checked(path: Path, text: str) -> None:
    """Validate the edited text before it replaces the file (atomically), so an edit never leaves a
    file the dispatcher cannot load."""
    parse_config(text, path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def add_agent(path: str | os.PathLike[str], agent_id: str, command: str, *, max_concurrent: int = 1,
              tags: list[str] | None = None, type_: str | None = None) -> dict[str, Any]:
    p = Path(path)
    text = _read(p)
    cfg = parse_config(text, p)
    if not ID_RE.fullmatch(agent_id or ""):
        raise UsageError(f"agent id {agent_id!r} is not valid",
                         hint="use letters, digits, '_', '.', ':' or '-' (no '@', no spaces)")
    if any(a.id == agent_id for a in cfg.agents):
        raise AlreadyExistsError(f"agent {agent_id!r} is already in {p}",
                                 hint=f"remove it first: jit-dispatch agent remove {agent_id}")
    t = tomlkit.table()
    t.add("id", agent_id)
    if type_:
        t.add("type", type_)
    t.add("command", command)
    t.add("max_concurrent", max_concurrent)
    if tags:
        t.add("tags", tags)
    aot = tomlkit.aot()
    aot.append(t)
    doc = tomlkit.document()
    doc.add("agents", aot)
    block = tomlkit.dumps(doc).strip("\n").splitlines()
    lines = text.splitlines()
    idx = _Lines(text)
    if cfg.agents:
        _, end = idx.element("agents", len(cfg.agents) - 1)
        new = lines[:end] + [""] + block + lines[end:]
    else:
        while lines and not lines[-1].strip():
            lines.pop()
        new = lines + ([""] if lines else []) + block
    _write_checked(p, "\n".join(new) + "\n")
    return {"config": str(p), "added": agent_id, "command": command, "max_concurrent": max_concurrent,
            "tags": tags or []}


def remove_agent(path: str | os.PathLike[str], agent_id: str) -> dict[str, Any]:
    p = Path(path)
    text = _read(p)
    cfg = parse_config(text, p)
    ids = [a.id for a in cfg.agents]
    if agent_id not in ids:
        raise NotFoundError(f"no agent {agent_id!r} in {p}", hint="configured: " + (", ".join(ids) or "none"))
    start, end = _Lines(text).element("agents", ids.index(agent_id))
    lines = text.splitlines()
    # drop one blank line the table leaves behind, so removing restores the layout adding made
    if end < len(lines) and not lines[end].strip() and (start < 2 or not lines[start - 2].strip()):
        end += 1
    _write_checked(p, "\n".join(lines[: start - 1] + lines[end:]).rstrip("\n") + "\n")
    return {"config": str(p), "removed": agent_id}


def init_config_text(*, repo: str = ".", hub: str | None = None) -> str:
    hub_line = f'hub = "{hub}"' if hub else '# hub = "origin"   # the remote whose acceptance makes a claim real'
    return f'''# jit-dispatch configuration (docs/dispatch.md lists every key).
# Relative paths are relative to this file.

# Seconds between dispatch cycles (a cycle also runs as soon as an agent exits).
poll_interval_secs = 30

# A claim made by this dispatcher carries a lease of lease_secs, renewed every lease_secs/3
# while its agent runs. Work whose lease lapsed more than lease_grace_secs ago is released
# with reason "timeout" by any dispatcher sharing the hub.
lease_secs = 900
lease_grace_secs = 60

# Waiting work gains one priority level per escalation_hours (up to high; 0 turns it off).
escalation_hours = 24

# When an agent exits without finishing its issue: "release" it, or "retry" (max_retries times).
on_failure = "release"
# Consecutive failures after which an agent is paused until 'jit-dispatch agent reset ID'
# (a failure counts against the agent only on an issue that had not failed before).
failure_threshold = 3

# An issue whose run failed is not started again (by any dispatcher sharing the hub) for
# backoff_secs, doubling with each failed run in a row up to backoff_max_secs; after
# park_after_failures failed runs in a row it is parked until 'jit issue unpark ID' (0: never).
backoff_secs = 60
backoff_max_secs = 3600
park_after_failures = 5

# On SIGTERM: "finish" (let running agents finish) or "release" (stop them, give their work back).
on_stop = "finish"

[[repos]]
path = "{repo}"
{hub_line}

# Agents: add them with
#   jit-dispatch agent add worker-1 --command "python worker.py" --max-concurrent 2 --tags build,test
# Each is started with JIT_ISSUE_ID, JIT_REPO, JIT_AGENT and JIT_ISSUE_FILE (the issue as JSON)
# in its environment, and is expected to finish with: jit issue update "$JIT_ISSUE_ID" --state done
#
# [[agents]]
# id = "worker-1"
# type = "script"
# command = "python worker.py"
# max_concurrent = 2
# tags = ["build", "test"]

# Webhooks: every new event is POSTed as JSON (with retries).
# [[webhooks]]
# url = "http://127.0.0.1:3000/webhook/jit-event"
# events = ["issue_state_changed", "issue_completed"]
'''
