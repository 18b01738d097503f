"""``jit demo``: seed 002's story, played by a lead agent and a pool of worker agents.

In a fresh temporary repository:

1. the lead defines the gates and breaks an epic into tasks with dependencies and gates
   (seed 002 "Lead Agent Creates Epic and Tasks", plus seed 004's "Write integration tests",
   which waits for the other tasks);
2. worker agents, each its own thread with its own ``Tracker`` (so they race through the
   same compare-and-swap path separate processes would), ``claim_next`` tasks, work a
   little, pass their gates and finish; the worker on the login endpoint discovers a
   critical "rate limiting" task, adds it and makes the epic wait for it (seed 004
   "Dynamic Issue Creation"); being critical, it is claimed before older normal work;
3. when every task is done the epic is ready: the lead passes its gates, claims it, finishes it;
4. the result carries the status, the epic's dependency tree and the event timeline, all read
   back from ``refs/jit/*``.

The stages are separate methods over a list of ``Machine`` s (each a repository agents work
in) so that a later version can give the story a hub with two clones and let jit-dispatch
launch the workers: replace ``_setup_machines`` and ``_run_workers``, keep the rest.

This module prints nothing and reads no environment: ``gitjit.cli.demo`` renders the result.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .api import Tracker
from .errors import ExternalError, NoWorkError

__all__ = ["Machine", "DemoOptions", "Demo", "run_demo", "GATES", "TASKS", "DISCOVERY"]

LEAD = "copilot:lead"

#: (key, title, mode) -- seed 002's registry, plus security-scan, which seed 002's discovered
#: task requires without defining.
GATES: list[tuple[str, str, str]] = [
    ("unit-tests", "Unit Tests", "auto"),
    ("review", "Code Review", "manual"),
    ("integration-tests", "Integration Tests", "auto"),
    ("security-scan", "Security Scan", "auto"),
]

#: Who passes each gate (seed 002's --by values).
GATE_PASSERS = {
    "unit-tests": "ci:github-actions",
    "review": "human:tech-lead",
    "integration-tests": "ci:github-actions",
    "security-scan": "ci:snyk",
}

EPIC = {
    "title": "Implement user authentication",
    "description": "Complete auth system with JWT",
    "priority": "high",
    "gates": ["review", "integration-tests"],
}

#: key -> task; ``after`` names the tasks it depends on.
TASKS: dict[str, dict[str, Any]] = {
    "model": {"title": "Create user model", "description": "SQLAlchemy model with email, password_hash fields",
              "priority": "high", "gates": ["unit-tests", "review"], "after": []},
    "login": {"title": "Implement login endpoint", "description": "POST /api/login endpoint with JWT generation",
              "priority": "high", "gates": ["unit-tests", "review"], "after": []},
    "middleware": {"title": "Add authentication middleware", "description": "Verify JWT tokens on protected routes",
                   "priority": "high", "gates": ["unit-tests", "review"], "after": []},
    "e2e": {"title": "Write integration tests", "description": "E2E tests for auth flow",
            "priority": "normal", "gates": ["review"], "after": ["model", "login", "middleware"]},
}

#: The work a worker discovers while on task ``while`` (seed 002 step 4 / seed 004 step 5).
DISCOVERY: dict[str, Any] = {
    "while": "login",
    "title": "Add rate limiting to login",
    "description": "Prevent brute force attacks - 5 attempts per minute",
    "priority": "critical",
    "gates": ["unit-tests", "security-scan"],
}

TASK_LABEL = "type:task"
Log = Callable[[str, str], None]


@dataclass
class Machine:
    """A place agents work: today one local repository; later a clone of a shared hub."""

    name: str
    path: Path

    def tracker(self, actor: str) -> Tracker:
        return Tracker(self.path, actor=actor)


@dataclass
class DemoOptions:
    workers: int = 3
    keep: bool = False
    #: where the temporary directory is made (default: the system's temp dir)
    base_dir: Path | None = None
    #: seconds a worker "works" on a task: a random value in this range
    work_secs: tuple[float, float] = (0.05, 0.25)
    #: give up (and say so) if the story has not finished by then
    timeout_secs: float = 60.0
    seed: int | None = None


@dataclass
class Demo:
    options: DemoOptions = field(default_factory=DemoOptions)
    log: Log = field(default=lambda actor, msg: None)

    root: Path | None = None
    machines: list[Machine] = field(default_factory=list)
    lead: Tracker | None = None
    story: dict[str, Any] = field(default_factory=dict)
    agents: dict[str, list[str]] = field(default_factory=dict)
    narration: list[dict[str, Any]] = field(default_factory=list)
    _t0: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------------ driver

    def run(self) -> dict[str, Any]:
        """Play the whole story; the temporary directory is removed afterwards unless ``keep``."""
        self._t0 = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="jit-demo-", dir=self.options.base_dir))
        try:
            self._setup_machines()
            self._lead_plans()
            self._run_workers()
            self._lead_finishes()
            result = self._report()
        finally:
            if not self.options.keep:
                shutil.rmtree(self.root, ignore_errors=True)
        result["kept"] = self.options.keep
        return result

    def _say(self, actor: str, msg: str) -> None:
        with self._lock:
            entry = {"t": round(time.monotonic() - self._t0, 3), "actor": actor, "message": msg}
            self.narration.append(entry)
        self.log(actor, msg)

    # ------------------------------------------------------------------ stages

    def _setup_machines(self) -> None:
        assert self.root is not None
        path = self.root / "project"
        _git_init(path)
        self.machines = [Machine("project", path)]
        self.lead = self.machines[0].tracker(LEAD)
        self.lead.init()
        self._say(LEAD, f"initialized {path}")

    def _lead_plans(self) -> None:
        t = self.lead
        assert t is not None
        for key, title, mode in GATES:
            t.registry_add(key, title=title, mode=mode)
        self._say(LEAD, "defined gates " + ", ".join(k for k, _, _ in GATES))

        epic = t.create_issue(EPIC["title"], description=EPIC["description"], priority=EPIC["priority"],
                              gates=EPIC["gates"], labels=["type:epic"])
        self.story["epic"] = epic["id"]
        self._say(LEAD, f"created epic {epic['short_id']} {epic['title']!r}")
        ids: dict[str, str] = {}
        for key, spec in TASKS.items():
            # The epic's id travels in the task's context, so a worker that discovers new work
            # knows what to attach it to (seed 002 "Cross-agent Communication via Context").
            iss = t.create_issue(spec["title"], description=spec["description"], priority=spec["priority"],
                                 gates=spec["gates"], labels=[TASK_LABEL], context={"epic": epic["id"]})
            ids[key] = iss["id"]
            self._say(LEAD, f"created task {iss['short_id']} {iss['title']!r} ({spec['priority']})")
        self.story["tasks"] = ids
        t.add_dependency(epic["id"], list(ids.values()))
        self._say(LEAD, f"epic {epic['id'][:8]} depends on all {len(ids)} tasks")
        for key, spec in TASKS.items():
            if spec["after"]:
                t.add_dependency(ids[key], [ids[a] for a in spec["after"]])
                self._say(LEAD, f"{ids[key][:8]} {spec['title']!r} waits for "
                                + ", ".join(ids[a][:8] for a in spec["after"]))

    def _run_workers(self) -> None:
        names = [f"copilot:worker-{n}" for n in range(1, self.options.workers + 1)]
        rng = random.Random(self.options.seed)
        durations = {n: random.Random(rng.random()) for n in names}
        start = threading.Barrier(len(names))
        stop = threading.Event()
        errors: list[BaseException] = []
        deadline = time.monotonic() + self.options.timeout_secs

        def body(name: str, machine: Machine) -> None:
            try:
                start.wait()
                self.agents[name] = worker(machine.tracker(name), name, log=self._say, stop=stop,
                                           deadline=deadline, rng=durations[name],
                                           work_secs=self.options.work_secs)
            except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
                errors.append(e)
                stop.set()
                start.abort()

        threads = [threading.Thread(target=body, args=(n, self.machines[i % len(self.machines)]),
                                    name=n, daemon=True) for i, n in enumerate(names)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(max(0.0, deadline - time.monotonic()) + 5)
        if errors:
            raise errors[0]
        if any(th.is_alive() for th in threads):
            stop.set()
            raise ExternalError(f"the demo's workers did not finish within {self.options.timeout_secs:g}s")
        disc = self.machines[0].tracker(LEAD).list_issues(labels=["discovered:true"])["issues"]
        if disc:
            self.story["discovered"] = disc[0]["id"]

    def _lead_finishes(self) -> None:
        t = self.machines[0].tracker(LEAD)  # a fresh view: the workers changed the refs
        epic = self.story["epic"]
        self._say(LEAD, f"epic {epic[:8]} is {t.show(epic)['state']}: every task is done")
        for g in EPIC["gates"]:
            t.gate_set(epic, g, True, by=GATE_PASSERS[g])
        self._say(LEAD, "passed the epic's gates " + ", ".join(EPIC["gates"]))
        t.claim(epic, LEAD)
        self._say(LEAD, f"claimed epic {epic[:8]}")
        t.update_issue(epic, state="done")
        self._say(LEAD, f"finished epic {epic[:8]}")

    def _report(self) -> dict[str, Any]:
        t = self.machines[0].tracker(LEAD)
        return {
            "repository": str(self.machines[0].path),
            "machines": [{"name": m.name, "path": str(m.path)} for m in self.machines],
            "story": self.story,
            "agents": self.agents,
            "narration": self.narration,
            "status": t.status(),
            "graph": t.graph_tree(self.story["epic"]),
            "events": t.events(),
            "elapsed_secs": round(time.monotonic() - self._t0, 3),
        }


# ---------------------------------------------------------------------- the worker agent

def worker(t: Tracker, name: str, *, log: Log, stop: threading.Event, deadline: float,
           rng: random.Random, work_secs: tuple[float, float]) -> list[str]:
    """One worker agent: claim the next task, do it, repeat until no task can ever be ready.

    Returns the ids it finished, in order. Only tasks are claimed (``--filter label:type:task``):
    the epic is the lead's."""
    done: list[str] = []
    while not stop.is_set():
        if time.monotonic() > deadline:
            raise ExternalError(f"{name}: the demo ran out of time")
        try:
            issue = t.claim_next(name, filter=f"label:{TASK_LABEL}")
        except NoWorkError:
            if not _unfinished_tasks(t):
                return done
            time.sleep(0.02)  # work is still running elsewhere: dependents become ready when it ends
            continue
        iid = issue["id"]
        log(name, f"claimed {iid[:8]} {issue['title']!r} ({issue['priority']})")
        time.sleep(rng.uniform(*work_secs))  # "does the work"
        if issue["title"] == TASKS[DISCOVERY["while"]]["title"]:
            _discover(t, name, issue, log)
        for g in issue["gates"]:
            t.gate_set(iid, g["key"], True, by=GATE_PASSERS.get(g["key"], name))
        t.update_issue(iid, state="done")
        log(name, f"passed {', '.join(g['key'] for g in issue['gates'])} and finished {iid[:8]}")
        done.append(iid)
    return done


def _discover(t: Tracker, name: str, issue: dict[str, Any], log: Log) -> None:
    """Mid-task, the worker finds work nobody planned and makes the epic wait for it (before
    finishing its own task, so the epic can never become ready in between)."""
    epic = issue["context"]["epic"]
    new = t.create_issue(DISCOVERY["title"], description=DISCOVERY["description"],
                         priority=DISCOVERY["priority"], gates=DISCOVERY["gates"],
                         labels=[TASK_LABEL, "discovered:true"],
                         context={"epic": epic, "discovered_by": name, "discovered_in": issue["id"]})
    t.add_dependency(epic, [new["id"]])
    t.update_issue(issue["id"], context={"agent_notes": f"rate limiting split out as {new['id']}"})
    log(name, f"discovered {new['short_id']} {new['title']!r} ({new['priority']}); the epic now waits for it")


def _unfinished_tasks(t: Tracker) -> int:
    t.board(fresh=True)
    return sum(1 for i in t.list_issues(labels=[TASK_LABEL])["issues"] if i["state"] not in ("done", "rejected"))


# ---------------------------------------------------------------------- helpers

def _git_init(path: Path) -> None:
    """A new non-bare repository. The git binary does it (as it will for the hub and clones);
    variables that would point git elsewhere (set when run from inside a git hook) are dropped."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")}
    try:
        proc = subprocess.run(["git", "init", "-q", str(path)], env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise ExternalError("the demo needs the git command", hint="install git and try again") from None
    if proc.returncode != 0:
        raise ExternalError(f"git init failed: {proc.stderr.strip()}")


def run_demo(options: DemoOptions | None = None, *, log: Log | None = None) -> dict[str, Any]:
    """Play the demo and return its report (see ``Demo._report``; docs in README)."""
    return Demo(options or DemoOptions(), log or (lambda actor, msg: None)).run()
