"""``jit-dispatch`` (also ``jit dispatch``): run agents on ready work; see docs/dispatch.md.

Commands: init-config, once, start [--detach], stop, status, agents, agent add/remove/reset.
The configuration is ``--config PATH`` (env ``JIT_DISPATCH_CONFIG``, default ``./dispatch.toml``).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import click

from ..core.errors import BusyError, ExternalError, GitjitError, UsageError
from . import render
from .core import Env, Group, emit, env, output_options, report_error, split_commas, use_env, wants_json

__all__ = ["dispatch", "main"]

F = TypeVar("F", bound=Callable[..., Any])


def _set_config(ctx: click.Context, _p: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta["jit_dispatch_config"] = value


def _set_repo(ctx: click.Context, _p: click.Parameter, value: str | None) -> None:
    if value:
        e = ctx.find_object(Env)
        if e is not None:
            e.repo = value


def config_options(f: F) -> F:
    """``-c/--config`` and ``-r/--repo``, accepted before or after the subcommand name."""
    f = click.option("-c", "--config", "config", metavar="PATH", expose_value=False, callback=_set_config,
                     is_eager=True, help="dispatch.toml to use (env JIT_DISPATCH_CONFIG; default ./dispatch.toml).")(f)
    f = click.option("-r", "--repo", "repo", metavar="PATH", expose_value=False, callback=_set_repo, is_eager=True,
                     help="Repository used when the configuration has no [[repos]] (default: current directory).")(f)
    return f


def _config_path() -> Path:
    ctx = click.get_current_context()
    p = ctx.meta.get("jit_dispatch_config") or os.environ.get("JIT_DISPATCH_CONFIG") or "dispatch.toml"
    return Path(p)


def _load() -> Any:
    from ..dispatch.config import load_config

    return load_config(_config_path(), default_repo=env().repo)


def _state(cfg: Any) -> Any:
    from ..dispatch.agents import StateDir

    return StateDir(cfg.state_dir)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@config_options
@click.option("--json", "json_", is_flag=True, help="JSON output.")
@click.pass_context
def dispatch(ctx: click.Context, json_: bool) -> None:
    """Hand ready work to agent processes across repositories (seed 001's jit-dispatch).

    \b
    Example:
      jit-dispatch init-config
      jit-dispatch agent add worker-1 --command "python worker.py" --max-concurrent 2
      jit-dispatch start
    """
    e = ctx.ensure_object(Env)
    if json_:
        e.json = True


@dispatch.command("init-config")
@config_options
@click.option("--hub", metavar="REMOTE", help="Remote that decides claims (e.g. origin).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@output_options
def init_config(hub: str | None, force: bool) -> None:
    """Write a commented dispatch.toml to start from.

    \b
    Example:
      jit-dispatch init-config --hub origin
    """
    from ..dispatch.config import init_config_text, load_config

    p = _config_path()
    if p.exists() and not force:
        from ..core.errors import AlreadyExistsError

        raise AlreadyExistsError(f"{p} already exists", hint="pass --force to overwrite it")
    repo = env().repo
    rel = "."
    if repo:
        rel = os.path.relpath(Path(repo).resolve(), p.resolve().parent)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(init_config_text(repo=rel, hub=hub))
    cfg = load_config(p)
    emit({"config": str(p), "id": cfg.id, "repos": [r.name for r in cfg.repos]},
         f"Wrote {p} (dispatcher id {cfg.id}); add agents with: jit-dispatch agent add ID --command CMD", quiet=str(p))


# ---------------------------------------------------------------------------- running

LOG_LEVELS = ("debug", "info", "warning", "error")


def log_options(f: F) -> F:
    """``--log-level`` and ``--log-file`` for the commands that run the dispatcher."""
    f = click.option("--log-file", metavar="PATH",
                     help="Write the log to PATH instead, rotated by size (log_max_bytes, log_backups in "
                          "dispatch.toml).")(f)
    f = click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="info",
                     envvar="JIT_DISPATCH_LOG_LEVEL", show_default=True,
                     help="Least severe records to log (env JIT_DISPATCH_LOG_LEVEL).")(f)
    return f


def _iso(created: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class _HumanFormat(logging.Formatter):
    """``2026-12-07T19:01:55.123+00:00 WARNING worker-1 on 3f1c2a9b: …``"""

    def format(self, record: logging.LogRecord) -> str:
        return f"{_iso(record.created)} {record.levelname:<7} {record.getMessage()}"


class _JsonFormat(logging.Formatter):
    """One JSON object per record: the dispatcher's own record (``ts``, ``level``, ``event``,
    ``message`` and its fields), or the same keys for any other message."""

    def format(self, record: logging.LogRecord) -> str:
        rec = getattr(record, "jit_record", None) or {
            "ts": _iso(record.created), "level": record.levelname.lower(), "event": "log",
            "message": record.getMessage()}
        return json.dumps(rec, ensure_ascii=False)


class _Quiet(logging.Handler):
    """A handler whose write errors (a closed pipe, a full disk) never stop the dispatcher."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


class _Stream(_Quiet, logging.StreamHandler):  # type: ignore[type-arg]
    pass


def _log_handlers(cfg: Any, log_file: str | None) -> list[logging.Handler]:
    """Where the log goes: ``--log-file`` (rotated), else JSON lines on stdout under --json, else
    human lines on stderr (none with -q)."""
    e = env()
    if log_file:
        from logging.handlers import RotatingFileHandler

        class _File(_Quiet, RotatingFileHandler):
            pass

        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        h: logging.Handler = _File(log_file, maxBytes=cfg.log_max_bytes, backupCount=cfg.log_backups,
                                   encoding="utf-8")
        h.setFormatter(_JsonFormat() if e.json else _HumanFormat())
        return [h]
    if e.json:
        h = _Stream(sys.stdout)
        h.setFormatter(_JsonFormat())
        return [h]
    if e.quiet:
        return []
    h = _Stream(sys.stderr)
    h.setFormatter(_HumanFormat())
    return [h]


def _install_signals(d: Any) -> dict[int, Any]:
    old: dict[int, Any] = {}

    def on_term(signum: int, _frame: Any) -> None:
        d.signal_stop()

    def on_release(signum: int, _frame: Any) -> None:
        d.signal_stop("release")

    for sig, fn in ((signal.SIGTERM, on_term), (signal.SIGINT, on_term), (signal.SIGUSR1, on_release)):
        old[sig] = signal.signal(sig, fn)
    return old


def _run(once: bool, log_level: str = "info", log_file: str | None = None,
         hub_errors: list[dict[str, Any]] | None = None) -> dict[str, int]:
    from ..dispatch.engine import Dispatcher

    cfg = _load()
    lg = logging.getLogger("gitjit.dispatch")
    saved = (lg.level, lg.propagate)
    handlers = _log_handlers(cfg, log_file)
    lg.setLevel(log_level.upper())
    lg.propagate = False  # the dispatcher's log goes where it was told, once
    for h in handlers:
        lg.addHandler(h)
    d = Dispatcher(cfg)
    old = _install_signals(d)
    try:
        return d.run(once=once)
    finally:
        if hub_errors is not None:
            hub_errors.extend(d.hub_errors)
        for sig, sh in old.items():
            signal.signal(sig, sh)
        for h in handlers:
            lg.removeHandler(h)
            h.close()
        lg.setLevel(saved[0])
        lg.propagate = saved[1]


@dispatch.command()
@config_options
@log_options
@output_options
def once(log_level: str, log_file: str | None) -> None:
    """One dispatch pass: claim ready work for free agents, launch them, wait for them to exit.

    Safe to run from cron (seed 000 pattern 5): a second copy with the same configuration
    refuses to start (exit 9) while one runs. Exits 10 when agents ran and every run failed
    (none finished), or when nothing was claimed because a hub could not be reached or refused
    this account, so cron and Kubernetes can alert.

    \b
    Example:
      jit-dispatch once --config ./dispatch.toml
    """
    hub_errors: list[dict[str, Any]] = []
    totals = _run(once=True, log_level=log_level, log_file=log_file, hub_errors=hub_errors)
    e = env()
    if e.json:
        click.echo(json.dumps({"event": "summary", **totals}))
    elif not e.quiet:
        click.echo(f"claimed {totals['claimed']}, finished {totals['finished']}, failed {totals['failed']}, "
                   f"released {totals['released']}, reclaimed {totals['reclaimed']}, parked {totals['parked']}")
    if totals["failed"] and not totals["finished"]:
        raise ExternalError(f"every agent run failed ({totals['failed']} failed, none finished)",
                            hint="see the runs' logs under the state directory (jit-dispatch status --json "
                                 "shows it) and the agents' breakers (jit-dispatch status)",
                            details={"totals": totals})
    if hub_errors and not totals["claimed"] and not totals["finished"]:
        first = hub_errors[0]
        raise ExternalError(
            f"nothing was claimed: {first['error']}",
            hint=first.get("hint") or ("'jit sync' in the clone shows the same error; nothing was lost: the clone "
                                        "keeps its work, and the next pass claims once the hub can be reached"),
            details={"totals": totals, "errors": [{k: v for k, v in e.items() if k != "hint"} for e in hub_errors[:10]]})


@dispatch.command()
@config_options
@click.option("--detach", is_flag=True, help="Run in the background; the pid goes to the state directory, the "
                                              "log to dispatcher.log there (rotated).")
@log_options
@output_options
def start(detach: bool, log_level: str, log_file: str | None) -> None:
    """Run the dispatcher until stopped (foreground; SIGTERM/Ctrl-C stops it as on_stop says).

    \b
    Example:
      jit-dispatch start
      jit-dispatch start --detach && jit-dispatch status
    """
    if not detach:
        _run(once=False, log_level=log_level, log_file=log_file)
        return
    cfg = _load()
    st = _state(cfg)
    if st.is_locked():
        raise BusyError(f"a dispatcher is already running with {cfg.path} (pid {st.read_pid() or '?'})",
                        hint="stop it with 'jit-dispatch stop'")
    st.ensure()
    log_path = Path(log_file).resolve() if log_file else st.log_file
    args = [sys.executable, "-m", "gitjit.cli.dispatch", "--config", str(cfg.path.resolve()), "start",
            "--log-level", log_level, "--log-file", str(log_path)]
    if env().json:
        args.append("--json")  # JSON records in the log file
    if env().repo:
        args[3:3] = ["--repo", str(Path(env().repo).resolve())]  # type: ignore[arg-type]
    # the log itself is written (and rotated) by the dispatcher; only what escapes it (a crash
    # before logging is set up) lands in dispatcher.out
    with open(st.out_file, "a") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                cwd=os.getcwd())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = [line for f in (st.out_file, log_path) if f.exists()
                    for line in f.read_text(errors="replace").strip().splitlines()[-5:]]
            raise ExternalError("the dispatcher exited at once: " + " / ".join(tail),
                                hint=f"see {st.out_file} and {log_path}")
        if st.read_pid() == proc.pid and st.is_locked():
            break
        time.sleep(0.05)
    else:
        raise ExternalError("the dispatcher did not start within 30 s", hint=f"see {st.log_file}")
    emit({"pid": proc.pid, "id": cfg.id, "log": str(log_path), "pid_file": str(st.pid_file)},
         f"Started dispatcher {cfg.id} (pid {proc.pid}); log: {log_path}", quiet=str(proc.pid))


@dispatch.command()
@config_options
@click.option("--release", "release_", is_flag=True, help="Stop agents now and release their work.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to wait for it to exit.")
@click.option("--no-wait", is_flag=True, help="Send the signal and return.")
@output_options
def stop(release_: bool, timeout: float, no_wait: bool) -> None:
    """Stop the running dispatcher: SIGTERM (on_stop decides), or --release (SIGUSR1).

    \b
    Example:
      jit-dispatch stop --release
    """
    cfg = _load()
    st = _state(cfg)
    pid = st.read_pid()
    if not st.is_locked() or pid is None:
        emit({"stopped": False, "running": False}, "No dispatcher is running with this configuration.")
        return
    os.kill(pid, signal.SIGUSR1 if release_ else signal.SIGTERM)
    if no_wait:
        emit({"signalled": pid, "running": True}, f"Asked dispatcher {pid} to stop")
        return
    deadline = time.monotonic() + timeout
    while st.is_locked():
        if time.monotonic() > deadline:
            s = st.read_state() or {}
            raise BusyError(f"dispatcher {pid} is still stopping after {timeout:g}s "
                            f"({len(s.get('running') or [])} agent(s) running)",
                            hint="wait longer, or give their work back: jit-dispatch stop --release")
        time.sleep(0.05)
    emit({"stopped": True, "pid": pid}, f"Stopped dispatcher {pid}")


# ---------------------------------------------------------------------------- looking

def _status_data(cfg: Any) -> dict[str, Any]:
    from ..dispatch.agents import Breakers

    st = _state(cfg)
    running = st.is_locked()
    state = st.read_state() or {}
    breakers = Breakers(st).snapshot() if st.path.exists() else {}
    runs = state.get("running") or [] if running else []
    seen = {r.get("name"): r for r in state.get("repos") or [] if isinstance(r, dict)} if running else {}
    agents = []
    for a in cfg.agents:
        b = breakers.get(a.id) or {}
        mine = [r for r in runs if r.get("agent") == a.id]
        agents.append({
            "id": a.id, "type": a.type, "command": list(a.command), "max_concurrent": a.max_concurrent,
            "tags": list(a.tags), "repos": list(a.repos) if a.repos is not None else None,
            "running": len(mine), "issues": [r.get("issue_id") for r in mine],
            "paused": bool(b.get("open")), "consecutive_failures": int(b.get("failures", 0)),
            "opened_at": b.get("opened_at"), "last_failure": b.get("last_failure"),
            # False: the failure was on an issue that had failed before, so it did not count
            "last_failure_counted": b.get("last_failure_counted"),
        })
    return {
        "config": str(cfg.path), "id": cfg.id, "running": running, "pid": st.read_pid() if running else None,
        "state_dir": str(st.path), "started_at": state.get("started_at") if running else None,
        "updated_at": state.get("updated_at"), "mode": state.get("mode") if running else None,
        "stopping": state.get("stopping") if running else None, "cycles": state.get("cycles") if running else None,
        "totals": state.get("totals") if running else None, "last_cycle": state.get("last_cycle") if running else None,
        "poll_interval_secs": cfg.poll_interval_secs, "lease_secs": cfg.lease_secs,
        "repos": [{"name": r.name, "path": str(r.path), "url": r.url, "hub": r.hub,
                   "last_sync_at": seen.get(r.name, {}).get("last_sync_at"),
                   "last_error": seen.get(r.name, {}).get("last_error")} for r in cfg.repos],
        "agents": agents, "webhooks": [h.url for h in cfg.webhooks],
    }


@dispatch.command()
@config_options
@output_options
def status() -> None:
    """Is the dispatcher running, what is each agent doing, which agents are paused.

    \b
    Example:
      jit-dispatch status --json
    """
    cfg = _load()
    data = _status_data(cfg)

    def human() -> None:
        if data["running"]:
            click.echo(f"Dispatcher {data['id']}: running (pid {data['pid']}, since {data['started_at']}, "
                       f"{data['cycles']} cycles{', stopping' if data['stopping'] else ''})")
        else:
            click.echo(f"Dispatcher {data['id']}: not running")
        for r in data["repos"]:
            click.echo(f"  repo {r['name']}: {r['path']}" + (f" (hub {r['hub']})" if r["hub"] else ""))
            if r["last_error"]:
                click.echo(f"    last cycle failed: {r['last_error']}")
        click.echo("Agents:")
        width = min(max([16, *(len(a["id"]) for a in data["agents"])]), 40)  # widen, up to a point
        for a in data["agents"]:
            state = "PAUSED (circuit breaker open; reset with: jit-dispatch agent reset " + a["id"] + ")" \
                if a["paused"] else "ok"
            tags = f" tags={','.join(a['tags'])}" if a["tags"] else ""
            fails = f", {a['consecutive_failures']} failure(s) in a row" if a["consecutive_failures"] else ""
            click.echo(f"  {render.fit(a['id'], width)} {a['running']}/{a['max_concurrent']} running{tags}  {state}{fails}")
        if not data["agents"]:
            click.echo("  (none; add one with: jit-dispatch agent add ID --command CMD)")

    emit(data, human, quiet="running" if data["running"] else "stopped")


@dispatch.command()
@config_options
@output_options
def agents() -> None:
    """Who holds what, and since when (from the repositories, as of their last sync).

    \b
    Example:
      jit-dispatch agents
    """
    from ..app.tracker import Tracker

    cfg = _load()
    st = _state(cfg)
    runs = {(r.get("repo"), r.get("issue_id")): r for r in ((st.read_state() or {}).get("running") or [])} \
        if st.is_locked() else {}
    prefixes = {f"{a.type}:{a.id}@": a.id for a in cfg.agents}
    holdings: dict[str, list[dict[str, Any]]] = {a.id: [] for a in cfg.agents}
    for rc in cfg.repos:
        if not rc.path.exists():
            continue
        b = Tracker(rc.path).board()
        for iid in b.select(state="in_progress"):  # a query of the index, not every issue loaded
            s = b.issues[iid]
            if s.state != "in_progress" or not s.assignee:
                continue
            aid = next((v for k, v in prefixes.items() if s.assignee.startswith(k)), None)
            if aid is None:
                continue
            run = runs.get((rc.name, iid))
            holdings[aid].append({"issue_id": iid, "title": s.title, "repo": rc.name, "assignee": s.assignee,
                                  "since": s.claimed_at, "lease_expires_at": s.lease_expires_at,
                                  "pid": run.get("pid") if run else None, "here": s.assignee.endswith("@" + cfg.id)})
    data: dict[str, list[dict[str, Any]]] = {"agents": [{"id": a, "holds": h} for a, h in holdings.items()]}

    def human() -> None:
        for a in data["agents"]:
            click.echo(f"{a['id']}: {len(a['holds'])} issue(s)")
            for h in a["holds"]:
                where = f"pid {h['pid']}" if h["pid"] else ("this dispatcher" if h["here"] else h["assignee"])
                click.echo(f"  - {h['issue_id'][:8]} | {h['title']} [{h['repo']}] since {h['since']} "
                           f"(lease until {h['lease_expires_at'] or '-'}; {where})")

    emit(data, human)


# ---------------------------------------------------------------------------- editing

@dispatch.group()
def agent() -> None:
    """Add, remove or reset (circuit breaker) an agent in dispatch.toml.

    \b
    Example:
      jit-dispatch agent add worker-1 --command "python worker.py"
    """


@agent.command("add")
@config_options
@click.argument("agent_id")
@click.option("--command", "command", required=True, help="Command to run per issue (split like a shell would).")
@click.option("--max-concurrent", "--capacity", "max_concurrent", type=click.IntRange(min=1), default=1,
              show_default=True, help="How many issues the agent works on at once.")
@click.option("--tags", multiple=True, help="Comma-separated tags this agent takes (repeatable).")
@click.option("--type", "type_", help="Agent type (part of the assignee name; default agent).")
@output_options
def agent_add(agent_id: str, command: str, max_concurrent: int, tags: tuple[str, ...], type_: str | None) -> None:
    """Add an agent to dispatch.toml (comments and layout kept).

    \b
    Example:
      jit-dispatch agent add gpu-1 --command "python train.py" --max-concurrent 2 --tags train,inference
    """
    from ..dispatch.config import add_agent

    data = add_agent(_config_path(), agent_id, command, max_concurrent=max_concurrent, tags=split_commas(tags),
                     type_=type_)
    emit(data, f"Added agent {agent_id} to {data['config']}", quiet=agent_id)


@agent.command("remove")
@config_options
@click.argument("agent_id")
@output_options
def agent_remove(agent_id: str) -> None:
    """Remove an agent from dispatch.toml (comments and layout kept).

    \b
    Example:
      jit-dispatch agent remove gpu-1
    """
    from ..dispatch.config import remove_agent

    data = remove_agent(_config_path(), agent_id)
    emit(data, f"Removed agent {agent_id} from {data['config']}", quiet=agent_id)


@agent.command("reset")
@config_options
@click.argument("agent_id")
@output_options
def agent_reset(agent_id: str) -> None:
    """Close an agent's circuit breaker: a paused agent takes work again.

    \b
    Example:
      jit-dispatch agent reset worker-1
    """
    from ..dispatch.agents import Breakers

    cfg = _load()
    breakers = Breakers(_state(cfg))
    if agent_id not in breakers.snapshot():
        cfg.agent(agent_id)  # NotFoundError unless configured
    data = breakers.reset(agent_id)
    emit(data, f"Reset agent {agent_id}" + (" (it was paused)" if data["was_open"] else ""), quiet=agent_id)


# ---------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> int:
    """``jit-dispatch``: the same commands as ``jit dispatch``, with the same exit codes."""
    # issue titles, agents' names and reasons come from shared data: as for ``jit`` (gitjit/cli/__init__.py),
    # nothing printed drives the terminal (gitjit/cli/termsafe.py)
    from .termsafe import safe_streams

    with safe_streams():
        return _main(list(sys.argv[1:] if argv is None else argv))


def _main(args: list[str]) -> int:
    from ..git import skip_ca_bundle

    skip_ca_bundle()  # pygit2 loads without its TLS bundle in jit's processes (gitjit/git/_pygit2.py)
    as_json = wants_json(args)
    try:
        rv = dispatch.main(args=args, prog_name="jit-dispatch", standalone_mode=False, obj=use_env(Env()))
        return rv if isinstance(rv, int) else 0
    except GitjitError as e:
        return report_error(e, as_json)
    except click.exceptions.UsageError as e:
        cmd = e.ctx.command_path if e.ctx else "jit-dispatch"
        return report_error(UsageError(e.format_message(), hint=f"see '{cmd} --help'"), as_json)
    except click.exceptions.Exit as e:
        return e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        return 130
    except click.exceptions.ClickException as e:
        return report_error(UsageError(e.format_message()), as_json)
    except Exception as e:  # never a traceback for users
        if os.environ.get("JIT_DEBUG"):
            raise
        return report_error(GitjitError(f"internal error: {type(e).__name__}: {e}",
                                        hint="this is a bug in gitjit; rerun with JIT_DEBUG=1 for the traceback"),
                            as_json)



if __name__ == "__main__":
    raise SystemExit(main())
