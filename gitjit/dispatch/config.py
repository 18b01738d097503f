"""``dispatch.toml``: load, validate and edit the dispatcher's configuration.

The format extends seed 001's (``poll_interval_secs``, ``[[agents]]`` with ``id``, ``type``,
``command``, ``max_concurrent`` or its alias ``capacity``, ``tags``) with ``[[repos]]``, leases,
failure handling and ``[[webhooks]]``; docs/dispatch.md lists every key. Relative paths are
relative to the file's directory.

Every error names the file, the line and the field (``dispatch.toml:12: agents[1].max_concurrent:
must be an integer >= 1``), because a dispatcher usually runs unattended and its log is all a
user sees. tomlkit does not keep line numbers on values, so ``_Lines`` maps each
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

__all__ = [
    "DispatchConfig", "AgentConfig", "RepoConfig", "WebhookConfig", "DispatchConfigError",
    "load_config", "add_agent", "remove_agent", "init_config_text", "default_state_dir", "DEFAULT_CONFIG",
]

DEFAULT_CONFIG = "dispatch.toml"
ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,99}$")  # no '@': it separates agent and dispatcher
TYPE_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,49}$")
ON_FAILURE = ("release", "retry")
ON_STOP = ("finish", "release")


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

    def unknown_keys(self, table: dict[str, Any], path: tuple[Any, ...], allowed: set[str]) -> None:
        for k in table:
            if k not in allowed:
                raise self.fail((*path, k), "unknown key",
                                hint="known keys here: " + ", ".join(sorted(allowed)))

    def number(self, table: dict[str, Any], key: str, path: tuple[Any, ...], default: float | None, *,
               minimum: float = 0.0, strict: bool = True, integer: bool = False) -> Any:
        if key not in table:
            return default
        v = table[key]
        ok = isinstance(v, int) and not isinstance(v, bool) if integer else (
            isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok or (v <= minimum if strict else v < minimum):
            kind = "an integer" if integer else "a number"
            op = ">" if strict else ">="
            raise self.fail((*path, key), f"must be {kind} {op} {minimum:g} (got {v!r})")
        return int(v) if integer else float(v)

    def string(self, table: dict[str, Any], key: str, path: tuple[Any, ...], default: str | None = None, *,
               choices: tuple[str, ...] | None = None, pattern: re.Pattern[str] | None = None) -> Any:
        if key not in table:
            return default
        v = table[key]
        if not isinstance(v, str) or not v.strip():
            raise self.fail((*path, key), f"must be a non-empty string (got {v!r})")
        if choices and v not in choices:
            raise self.fail((*path, key), f"must be one of {', '.join(choices)} (got {v!r})")
        if pattern and not pattern.match(v):
            raise self.fail((*path, key), f"{v!r} is not valid",
                            hint="use letters, digits, '_', '.', ':' or '-' (no '@', no spaces)")
        return v

    def strings(self, table: dict[str, Any], key: str, path: tuple[Any, ...]) -> tuple[str, ...] | None:
        if key not in table:
            return None
        v = table[key]
        if isinstance(v, str):  # "a,b" is accepted like --tags a,b
            v = [p.strip() for p in v.split(",") if p.strip()]
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise self.fail((*path, key), "must be a list of strings", hint='e.g. tags = ["build", "test"]')
        return tuple(dict.fromkeys(x.strip() for x in v))

    def str_table(self, table: dict[str, Any], key: str, path: tuple[Any, ...]) -> dict[str, str]:
        if key not in table:
            return {}
        v = table[key]
        if not isinstance(v, dict):
            raise self.fail((*path, key), "must be a table", hint=f'e.g. {key} = {{ NAME = "value" }}')
        out = {}
        for k, x in v.items():
            if isinstance(x, bool) or not isinstance(x, (str, int, float)):
                raise self.fail((*path, key, k), "must be a string or a number")
            out[str(k)] = str(x)
        return out


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
    return (name[:-4] if name.endswith(".git") else name) or "repo"


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
    try:
        data = tomlkit.parse(text).unwrap()
    except TOMLKitError as e:
        line = getattr(e, "line", None) or 1
        msg = str(e).split(" at line ")[0]
        raise DispatchConfigError(f"{p}:{line}: not valid TOML: {msg}",
                                  details={"file": str(p), "line": line, "field": None}) from None
    ck = _Checker(p, _Lines(text))
    base = p.resolve().parent
    ck.unknown_keys(data, (), {
        "id", "poll_interval_secs", "lease_secs", "lease_grace_secs", "escalation_hours", "on_stop",
        "stop_timeout_secs", "kill_grace_secs", "state_dir", "cache_dir", "repos", "agents", "webhooks",
        "on_failure", "max_retries", "failure_threshold", "backoff_secs", "backoff_max_secs",
        "park_after_failures", "log_max_bytes", "log_backups",
    })
    did = ck.string(data, "id", (), _default_id(p.resolve()), pattern=ID_RE)
    given = ck.string(data, "state_dir", ())
    state_dir = _resolve(base, given) if given else default_state_dir(p)
    cache_dir = _resolve(base, ck.string(data, "cache_dir", (), str(state_dir / "repos")))
    defaults = {
        "on_failure": ck.string(data, "on_failure", (), "release", choices=ON_FAILURE),
        "max_retries": ck.number(data, "max_retries", (), 1, minimum=0, strict=False, integer=True),
        "failure_threshold": ck.number(data, "failure_threshold", (), 3, minimum=0, strict=False, integer=True),
    }
    stop_timeout = ck.number(data, "stop_timeout_secs", (), None)
    repos = _repos(ck, data, base, cache_dir, default_repo)
    names = {r.name for r in repos}
    agents = _agents(ck, data, base, names, defaults)
    hooks = _webhooks(ck, data)
    return DispatchConfig(
        path=p, id=did,
        poll_interval_secs=ck.number(data, "poll_interval_secs", (), 30.0),
        lease_secs=ck.number(data, "lease_secs", (), 900.0, minimum=1.0, strict=False),
        lease_grace_secs=ck.number(data, "lease_grace_secs", (), 60.0, strict=False),
        escalation_hours=ck.number(data, "escalation_hours", (), 24.0, strict=False),
        on_stop=ck.string(data, "on_stop", (), "finish", choices=ON_STOP),
        stop_timeout_secs=stop_timeout,
        kill_grace_secs=ck.number(data, "kill_grace_secs", (), 10.0, strict=False),
        backoff_secs=ck.number(data, "backoff_secs", (), 60.0, strict=False),
        backoff_max_secs=ck.number(data, "backoff_max_secs", (), 3600.0, strict=False),
        park_after_failures=ck.number(data, "park_after_failures", (), 5, minimum=0, strict=False, integer=True),
        log_max_bytes=ck.number(data, "log_max_bytes", (), 10 * 1024 * 1024, minimum=0, strict=False, integer=True),
        log_backups=ck.number(data, "log_backups", (), 5, minimum=0, strict=False, integer=True),
        state_dir=state_dir, repos=tuple(repos), agents=tuple(agents), webhooks=tuple(hooks),
    )


def _array(ck: _Checker, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = data.get(key, [])
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise ck.fail((key,), f"must be an array of tables ([[{key}]])")
    return v


def _repos(ck: _Checker, data: dict[str, Any], base: Path, cache_dir: Path,
           default_repo: str | None) -> list[RepoConfig]:
    out: list[RepoConfig] = []
    for i, t in enumerate(_array(ck, data, "repos")):
        path = ("repos", i)
        ck.unknown_keys(t, path, {"name", "path", "url", "hub"})
        local = ck.string(t, "path", path)
        url = ck.string(t, "url", path)
        if bool(local) == bool(url):
            raise ck.fail(path, "give exactly one of path = \"...\" (a local clone) or url = \"...\" (cloned "
                          "into the cache)")
        name = ck.string(t, "name", path, _repo_name(url or str(_resolve(base, local).resolve())),
                         pattern=TYPE_RE)
        if any(r.name == name for r in out):
            raise ck.fail((*path, "name"), f"repository name {name!r} is used twice",
                          hint='give each [[repos]] a distinct name = "..."')
        hub = ck.string(t, "hub", path, "origin" if url else None)
        out.append(RepoConfig(name=name, path=cache_dir / name if url else _resolve(base, local), url=url,
                              hub=hub))
    if not out:
        rp = Path(default_repo or os.getcwd()).resolve()
        out.append(RepoConfig(name=_repo_name(str(rp)), path=rp))
    return out


def _agents(ck: _Checker, data: dict[str, Any], base: Path, repo_names: set[str],
            defaults: dict[str, Any]) -> list[AgentConfig]:
    out: list[AgentConfig] = []
    allowed = {"id", "type", "command", "max_concurrent", "capacity", "tags", "repos", "env", "working_dir",
               "on_failure", "max_retries", "failure_threshold", "timeout_secs"}
    for i, t in enumerate(_array(ck, data, "agents")):
        path = ("agents", i)
        ck.unknown_keys(t, path, allowed)
        aid = ck.string(t, "id", path, pattern=ID_RE)
        if aid is None:
            raise ck.fail(path, "missing id", hint='e.g. id = "worker-1"')
        if any(a.id == aid for a in out):
            raise ck.fail((*path, "id"), f"agent id {aid!r} is used twice")
        if "max_concurrent" in t and "capacity" in t:
            raise ck.fail((*path, "capacity"), "give max_concurrent or its alias capacity, not both")
        cap_key = "capacity" if "capacity" in t else "max_concurrent"
        cap = ck.number(t, cap_key, path, 1, minimum=1, strict=False, integer=True)
        raw = t.get("command")
        if raw is None:
            raise ck.fail(path, "missing command", hint='e.g. command = "python worker.py"')
        if isinstance(raw, str) and raw.strip():
            try:
                cmd = tuple(shlex.split(raw))
            except ValueError as e:
                raise ck.fail((*path, "command"), f"cannot split into arguments: {e}") from None
        elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
            cmd = tuple(raw)
        else:
            raise ck.fail((*path, "command"), "must be a string or a non-empty list of strings")
        if "/" in cmd[0] and not os.path.isabs(os.path.expanduser(cmd[0])):
            # ./agent.sh next to dispatch.toml, like every other relative path in the file
            cmd = (str(_resolve(base, cmd[0])), *cmd[1:])
        repos = ck.strings(t, "repos", path)
        for r in repos or ():
            if r not in repo_names:
                raise ck.fail((*path, "repos"), f"no [[repos]] is named {r!r}",
                              hint="known: " + ", ".join(sorted(repo_names)))
        wd = ck.string(t, "working_dir", path)
        out.append(AgentConfig(
            id=aid, command=cmd, type=ck.string(t, "type", path, "agent", pattern=TYPE_RE), max_concurrent=cap,
            tags=ck.strings(t, "tags", path) or (), repos=repos, env=ck.str_table(t, "env", path),
            working_dir=_resolve(base, wd) if wd else None,
            on_failure=ck.string(t, "on_failure", path, defaults["on_failure"], choices=ON_FAILURE),
            max_retries=ck.number(t, "max_retries", path, defaults["max_retries"], minimum=0, strict=False,
                                  integer=True),
            failure_threshold=ck.number(t, "failure_threshold", path, defaults["failure_threshold"], minimum=0,
                                        strict=False, integer=True),
            timeout_secs=ck.number(t, "timeout_secs", path, None),
        ))
    return out


def _webhooks(ck: _Checker, data: dict[str, Any]) -> list[WebhookConfig]:
    out = []
    for i, t in enumerate(_array(ck, data, "webhooks")):
        path = ("webhooks", i)
        ck.unknown_keys(t, path, {"url", "events", "max_attempts", "timeout_secs", "secret", "headers"})
        url = ck.string(t, "url", path)
        if not url or not re.match(r"^https?://", url):
            raise ck.fail((*path, "url"), "must be an http:// or https:// URL")
        out.append(WebhookConfig(
            url=url, events=ck.strings(t, "events", path),
            max_attempts=ck.number(t, "max_attempts", path, 5, minimum=1, strict=False, integer=True),
            timeout_secs=ck.number(t, "timeout_secs", path, 5.0), secret=ck.string(t, "secret", path),
            headers=ck.str_table(t, "headers", path),
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
