"""The ``--json`` shapes of the other commands: dependencies, gates, the registry, setup, sharing,
hooks, ``doctor``, import/export, the index, ``demo``, ``jit-dispatch`` and ``jit schema``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from .base import Open, Shape
from .events import PrintedEvent
from .outputs import EffectiveState, GraphTrees, Id, Priority, Status, Time

__all__ = [
    "ConfigSetting",
    "Demo",
    "DepAdded",
    "DepRemoved",
    "DispatchAgentAdded",
    "DispatchAgentRemoved",
    "DispatchAgentReset",
    "DispatchAgents",
    "DispatchConfigWritten",
    "DispatchLog",
    "DispatchStarted",
    "DispatchStatus",
    "DispatchStopped",
    "Doctor",
    "ExportWritten",
    "GateAdded",
    "GateDefinition",
    "GateDefinitionRemoved",
    "GateDefinitions",
    "GateRemoved",
    "GateResult",
    "GateRun",
    "HooksInstalled",
    "HooksStatus",
    "HooksUninstalled",
    "Imported",
    "IndexRebuilt",
    "IndexStatus",
    "Init",
    "JsonSchema",
    "Prime",
    "Pull",
    "Push",
    "RefspecAdded",
    "RefspecRemoved",
    "SchemaList",
    "SetupResult",
    "Sync",
    "Trust",
]

# ----------------------------------------------------------------------------- dependencies and gates


class DepAdded(Shape):
    """``dep add FROM TO...``; ``state`` is the effective state of ``from_id`` after the change."""

    from_id: Id
    added: list[Id]
    already_exist: list[Id]
    state: EffectiveState


class DepRemoved(Shape):
    """``dep rm FROM TO...``."""

    from_id: Id
    removed: list[Id]
    not_found: list[str]
    state: EffectiveState


class GateAdded(Shape):
    """``gate add ID KEY...``."""

    issue_id: Id
    added: list[str]
    already_exist: list[str]


class GateRemoved(Shape):
    """``gate remove ID KEY``."""

    issue_id: Id
    removed: str


class GateResult(Shape):
    """``gate pass`` / ``gate fail``; ``state`` is the issue's effective state after it."""

    issue_id: Id
    gate_key: str
    status: Literal["passed", "failed"]
    by: str
    state: EffectiveState | None


class GateRun(GateResult):
    """``gate run``: the result and the checker's run (the last 4000 characters of each stream).
    When the checker fails, the command exits 4 and this object is ``error.details``."""

    exit_code: int
    command: str
    command_source: Literal["git-config", "jit.toml"]
    stdout: str
    stderr: str


class GateDefinition(Shape):
    """``registry add`` (``gate define``) / ``registry show``: a gate definition; ``command`` and ``command_source``
    come from this clone's local configuration, never from refs/jit/*."""

    key: str
    title: str
    description: str
    mode: Literal["manual", "auto"]
    auto: bool
    stage: Literal["precheck", "postcheck"]
    command: str | None
    command_source: Literal["git-config", "jit.toml"] | None
    command_trusted: bool | None = Field(description="whether the command may run here: always for git config, "
                                         "for jit.toml once this clone trusts its content (jit trust); null "
                                         "without a command")
    created_at: str
    updated_at: str


class GateDefinitions(Shape):
    """``registry list``: sorted by key."""

    gates: list[GateDefinition]
    count: int


class GateDefinitionRemoved(Shape):
    """``registry remove KEY``."""

    gate_key: str
    removed: Literal[True]


class Trust(Shape):
    """``trust``, ``trust --show``, ``trust --revoke``: the work tree's ``jit.toml`` and whether this
    clone trusts its exact content (a committed file runs no command until it does)."""

    path: str | None = Field(description="where jit.toml is (or would be); null without a work tree")
    exists: bool
    sha256: str | None = Field(description="'sha256:' and the digest of the content; null without the file")
    trusted: bool
    valid: bool = Field(description="false when the file is not valid TOML (or missing)")
    error: str | None = Field(None, description="why it is not valid; absent without the file")
    commands: dict[str, str] = Field(description="gate key -> its checker command, from the file")
    changed: bool = Field(description="whether this call trusted or revoked anything")


# ----------------------------------------------------------------------------- setup and sharing


class RefspecAdded(Shape):
    """``remote add-refspecs NAME`` (and each of ``init --remote``'s remotes)."""

    remote: str
    refspec: str
    added: bool = Field(description="false when it was there already")
    config_key: str
    undo: str


class RefspecRemoved(Shape):
    """``remote remove-refspecs NAME``."""

    remote: str
    refspec: str
    removed: bool
    config_key: str


class Init(Shape):
    """``init``: ``changed`` is empty when the repository was already set up; it starts with
    ``"git init"`` when there was no git repository and ``jit init`` created one."""

    initialized: Literal[True]
    repository: str
    changed: list[str]
    remotes: list[RefspecAdded] | None = Field(None, description="with --remote only")


class ConfigSetting(Shape):
    """``config get|set KEY``: ``value`` is null when the setting is not set."""

    key: str
    value: str | None


class Skipped(Shape):
    ref: str
    reason: str


class Rewritten(Shape):
    ref: str
    remote: str
    was: str
    now: str | None
    dropped_events: int | None


class PullCounts(Shape):
    created: int
    fast_forwarded: int
    merged: int
    unchanged: int
    skipped: int


class Pull(Shape):
    """``pull [REMOTE]``: what each remote ref did to the local one; invalid remote refs are
    ``skipped`` with the reason, refs the remote force-pushed or deleted are ``rewritten``."""

    remote: str
    created: list[str]
    fast_forwarded: list[str]
    merged: list[str]
    unchanged: int
    skipped: list[Skipped]
    rewritten: list[Rewritten]
    counts: PullCounts


class Push(Shape):
    """``push [REMOTE]``."""

    remote: str
    pushed: list[str]
    count: int
    rounds: int


class Sync(Shape):
    """``sync [REMOTE]``: a pull, then a push."""

    remote: str
    pull: Pull
    push: Push


# ----------------------------------------------------------------------------- hooks


class HookInstalled(Shape):
    name: str
    path: str
    action: Literal["installed", "updated", "unchanged"]
    legacy: str | None = Field(description="the foreign hook kept and chained as <hook>.legacy")


class HooksInstalled(Shape):
    """``hooks install``."""

    hooks_dir: str
    location: str
    hooks: list[HookInstalled]
    warnings: list[str]
    python: str = Field(description="the interpreter the shims run first (the one 'hooks install' ran in)")
    package: str = Field(description="the gitjit package that interpreter imports")


class HookUninstalled(Shape):
    name: str
    path: str
    action: Literal["removed", "restored", "foreign"]


class HooksUninstalled(Shape):
    """``hooks uninstall``."""

    hooks_dirs: list[str]
    hooks: list[HookUninstalled]


class HookState(Shape):
    name: str
    state: Literal["installed", "outdated", "foreign", "missing"]
    path: str
    python: str | None = Field(description="the interpreter the shim recorded (null: not ours, or an older shim)")
    legacy: str | None


class HookInterpreter(Shape):
    python: str
    works: bool = Field(description="whether it still runs and its gitjit is still there")


class RemoteRefspec(Shape):
    remote: str
    refspec: bool = Field(description="whether plain git fetch / git pull bring the remote's jit refs")
    fix: str | None = Field(description="the command that adds the refspec (jit init --remote NAME)")


class HooksStatus(Shape):
    """``hooks status``."""

    hooks_dir: str
    core_hooks_path: str | None
    initialized: bool
    main_branch: str
    main_branch_exists: bool
    hooks: list[HookState]
    installed: int
    interpreters: list[HookInterpreter] = Field(description="the interpreters the shims recorded")
    inactive_shims: list[str]
    remotes: list[RemoteRefspec]
    log: str
    problems: list[str]
    problem_count: int
    jit_on_path: bool


# ----------------------------------------------------------------------------- doctor


class Problem(Shape):
    check: str = Field(description="refs, remote-refs, locks, setup, index, hooks, history, objects, housekeeping")
    code: str = Field(description="a stable machine name, e.g. unreadable_ref, stale_lock")
    severity: Literal["error", "warning", "info"]
    subject: str = Field(description="the ref, file or setting concerned")
    message: str
    problem: str = Field(description="subject: message")
    fix: str | None = Field(description="the command that fixes it")
    repairable: bool = Field(description="jit doctor --fix repairs it")
    repaired: str | None
    details: dict[str, Any]


class MergeDriver(Shape):
    registered: bool
    driver: str | None


class RemoteSetup(Shape):
    remote: str
    refspec: bool = Field(description="whether plain git fetch brings the remote's jit refs")


class Doctor(Shape):
    """``doctor`` / ``fsck`` (exit 0 when no error remains, 4 otherwise)."""

    ok: bool
    fix: bool
    full: bool
    checked: dict[str, int] = Field(description="what was looked at: refs, issues, gates, events, ...")
    errors: int
    warnings: int
    repaired: int
    remaining_errors: list[Problem] | None = Field(description="with --fix: the errors left")
    problems: list[Problem]
    invalid_refs: list[dict[str, Any]]
    merge_driver: MergeDriver
    hub: str | None
    remotes: list[RemoteSetup]


# ----------------------------------------------------------------------------- import, export, index


class SkippedDependency(Shape):
    line: int
    key: str
    depends_on: str
    reason: str


class Imported(Shape):
    """``import FILE``: ``ids`` maps each line's key to the issue id it got."""

    format: Literal["jsonl", "rust-jit", "beads"]
    file: str
    count: int
    dry_run: bool
    gates_defined: list[str]
    ids: dict[str, Id]
    skipped_dependencies: list[SkippedDependency] = Field(
        description="with --skip-missing-deps: each dependency dropped because it names an issue neither in "
                    "the input nor in the repository (empty otherwise)")
    seconds: float | None = None


class ExportWritten(Shape):
    """``export -o FILE --json`` (without ``-o``, ``export`` prints the issues as import lines)."""

    written: str
    format: Literal["jsonl"]
    count: int = Field(description="issues written")
    gates: int = Field(description="gate definitions written (one line each, before the issues)")


class LastRefresh(Shape):
    changed_refs: int
    removed_refs: int
    full_scan: bool
    seconds: float
    at: float


class IndexFigures(Shape):
    path: str
    bytes: int
    issues: int
    deleted: int
    gates: int
    bad_refs: int
    events: int
    edges: int
    loose_refs: int
    broken_edges: int
    last_refresh: LastRefresh | dict[str, Any] | None
    built_at: str | None


class IndexRebuilt(IndexFigures):
    """``index rebuild``."""

    rebuilt: bool
    refs: int | None = None
    seconds: float | None = None


class LongWrite(Shape):
    pid: int | None
    seconds: int | None


class IndexStatus(IndexFigures):
    """``index status``: ``long_write`` names another process's rebuild while it runs."""

    fresh: bool
    long_write: LongWrite | None


class Demo(Shape):
    """``demo``: the story's report; ``status``, ``graph`` and ``events`` are the shapes of
    ``status``, ``graph show`` and ``events query``."""

    repository: str
    hub: str
    machines: list[dict[str, Any]]
    story: dict[str, Any]
    agents: Any
    narration: Any
    status: Status
    graph: GraphTrees
    events: list[PrintedEvent]
    elapsed_secs: float
    kept: bool


# ----------------------------------------------------------------------------- jit-dispatch


class DispatchConfigWritten(Shape):
    """``jit-dispatch init-config``."""

    config: str
    id: str
    repos: list[str]


class DispatchLog(Open):
    """``jit-dispatch once|start --json``: one record per line as things happen (``event`` names
    what: claimed, finished, failed, released, ...; more keys by kind), and ``once`` ends with
    ``{"event": "summary", ...totals}``."""

    event: str
    ts: Time | None = None
    message: str | None = None


class DispatchStarted(Shape):
    """``jit-dispatch start --detach``."""

    pid: int
    id: str
    log: str
    pid_file: str


class DispatchStopped(Shape):
    """``jit-dispatch stop``: ``{"stopped": false, "running": false}`` when none runs,
    ``{"signalled": PID, "running": true}`` with --no-wait, else ``{"stopped": true, "pid": PID}``."""

    stopped: bool | None = None
    running: bool | None = None
    signalled: int | None = None
    pid: int | None = None


class AgentStatus(Shape):
    id: str
    type: str
    command: list[str]
    max_concurrent: int
    tags: list[str]
    repos: list[str] | None
    running: int
    issues: list[str | None]
    paused: bool = Field(description="its circuit breaker is open")
    consecutive_failures: int
    opened_at: str | None
    last_failure: Any
    last_failure_counted: bool | None = Field(description="whether the last failure counted against the breaker "
                                              "(false: the issue had failed before); null before any failure")


class RepoStatus(Shape):
    name: str
    path: str
    url: str | None
    hub: str | None
    #: while the dispatcher runs: its last sync with the hub, and the last cycle's failure to sync or
    #: claim through it (the hub's reason), None when that cycle went through
    last_sync_at: str | None = None
    last_error: str | None = None


class DispatchStatus(Shape):
    """``jit-dispatch status``."""

    config: str
    id: str
    running: bool
    pid: int | None
    state_dir: str
    started_at: str | None
    updated_at: str | None
    mode: str | None
    stopping: Any
    cycles: int | None
    totals: dict[str, Any] | None
    last_cycle: Any
    poll_interval_secs: float
    lease_secs: float
    repos: list[RepoStatus]
    agents: list[AgentStatus]
    webhooks: list[str]


class Holds(Shape):
    issue_id: Id
    title: str
    repo: str
    assignee: str
    since: str | None
    lease_expires_at: str | None
    pid: int | None
    here: bool


class AgentHolds(Shape):
    id: str
    holds: list[Holds]


class DispatchAgents(Shape):
    """``jit-dispatch agents``: who holds what, from the repositories."""

    agents: list[AgentHolds]


class DispatchAgentAdded(Shape):
    """``jit-dispatch agent add``."""

    config: str
    added: str
    command: str
    max_concurrent: int
    tags: list[str]


class DispatchAgentRemoved(Shape):
    """``jit-dispatch agent remove``."""

    config: str
    removed: str


class DispatchAgentReset(Shape):
    """``jit-dispatch agent reset``."""

    agent: str
    was_open: bool
    failures_before: int
    open: Literal[False]


# ----------------------------------------------------------------------------- jit schema


class SchemaEntry(Shape):
    name: str
    kind: Literal["output", "input", "stored"]
    description: str


# ----------------------------------------------------------------------------- agents: prime and setup


class PrimeIssue(Shape):
    id: Id
    short_id: str
    priority: Priority
    state: EffectiveState
    title: str


class PrimeExitCode(Shape):
    code: int
    name: str = Field(description="the error object's code")
    meaning: str
    action: str = Field(description="what an agent does when a command exits with it")


class Prime(Shape):
    """``prime``: the start-of-session card. Without ``jit init`` (``initialized`` false) the lists
    are empty and ``start`` holds the commands to begin with."""

    initialized: bool
    actor: str = Field(description="who the commands act as (--by / JIT_ACTOR / git user.name <user.email>)")
    workflow: list[str] = Field(description="the loop: claim-next, show, gate run, done, release on failure")
    exit_codes: list[PrimeExitCode] = Field(description="7, 8 and 9")
    claims: list[PrimeIssue] = Field(description="the actor's unfinished issues, the first --limit")
    claims_count: int
    ready_count: int
    ready: list[PrimeIssue] = Field(description="the first --limit ready issues, in claim-next order")
    start: list[str] = Field(description="commands to start with; empty once initialized")


class SetupFile(Shape):
    path: str = Field(description="relative to the work tree's top")
    change: Literal["created", "updated", "deleted", "unchanged"]
    detail: str


class SetupResult(Shape):
    """``setup TARGET [--remove] [--dry-run]``: each file of the target and what happened to it
    (with ``dry_run``, what would)."""

    target: Literal["claude", "codex", "cursor", "agents-md"]
    removed: bool
    dry_run: bool
    root: str = Field(description="the work tree's top")
    files: list[SetupFile]


class SchemaList(Shape):
    """``schema`` without a name: every schema ``jit schema NAME`` prints."""

    schemas: list[SchemaEntry]


class JsonSchema(RootModel[dict[str, Any]]):
    """``schema NAME``: a JSON Schema (draft 2020-12) document."""
