"""``jit demo``: seed 002's story, played on two machines sharing a hub, with jit-dispatch.

In a fresh temporary directory:

1. a bare **hub** and two clones of it, ``machine-a`` and ``machine-b`` (two "machines": each
   its own repository, sharing only the hub, as agents on different hosts would);
2. on machine-a the lead defines the gates and breaks an epic into tasks with dependencies and
   gates (seed 002 "Lead Agent Creates Epic and Tasks", plus seed 004's "Write integration
   tests", which waits for the other tasks), and pushes the plan to the hub;
3. ``jit-dispatch`` runs on each machine (a real ``jit-dispatch start`` process per clone) and
   hands ready tasks to a pool of worker agents: small processes (``python -m gitjit.app.demo
   worker``) that work a little, pass their gates and finish. The worker on the login endpoint
   discovers a critical "rate limiting" task needing a security review, adds it and makes the
   epic wait for it (seed 004 "Dynamic Issue Creation"); being tagged ``security``, it goes to
   the security agent on machine-b. Claims are decided by the hub, so no task runs twice. The
   workers take what is labelled ``type:task``: the epic (``type:epic``) stays the lead's;
4. when every task is done the dispatchers stop, the lead pulls, passes the epic's gates, claims
   and finishes it, and both machines and the hub end with the same state;
5. the result carries the status, the epic's dependency tree and the event timeline, all read
   back from ``refs/jit/*``.

This module prints nothing and reads no environment (except as the worker agent, whose
environment is the dispatcher's contract): ``gitjit.cli.demo`` renders the result.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import ExternalError
from ..git import run as git_run
from .tracker import Tracker

__all__ = ["DISCOVERY", "GATES", "TASKS", "Demo", "DemoOptions", "Machine", "run_demo", "work_on"]

LEAD = "copilot:lead"
MACHINES = ("machine-a", "machine-b")

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

EPIC: dict[str, Any] = {
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
    "tags": ["security"],  # so jit-dispatch routes it to the security agent
}

TASK_LABEL = "type:task"
Log = Callable[[str, str], None]


@dataclass
class Machine:
    """A place agents work: a clone of the shared hub, with its own jit-dispatch."""

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
    #: the dispatchers' poll interval (they also wake as soon as an agent exits)
    poll_secs: float = 0.1
    #: called with the hub's path once it exists, before anything is planned (``jit demo --board``
    #: opens the web board on it there); the value it returns is called when the story is over,
    #: before the temporary directory is removed
    on_hub: Callable[[Path], Callable[[], None] | None] | None = None


@dataclass
class Demo:
    options: DemoOptions = field(default_factory=DemoOptions)
    log: Log = field(default=lambda actor, msg: None)

    root: Path | None = None
    hub: Path | None = None
    machines: list[Machine] = field(default_factory=list)
    dispatchers: dict[str, dict[str, Any]] = field(default_factory=dict)
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
        after: Callable[[], None] | None = None
        try:
            self._setup_machines()
            if self.options.on_hub is not None:
                assert self.hub is not None
                after = self.options.on_hub(self.hub)
            self._lead_plans()
            self._publish_plan()
            self._run_workers()
            self._lead_finishes()
            result = self._report()
        finally:
            if after is not None:
                after()
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
        self.hub = self.root / "hub.git"
        _git("init", "-q", "--bare", str(self.hub))
        for name in MACHINES:
            path = self.root / name
            _git_init(path)
            _git("-C", str(path), "remote", "add", "origin", str(self.hub))
            t = Tracker(path, actor=LEAD)
            t.init()
            t.git.config_set("jit.hub", "origin")  # claims on this machine are decided by the hub
            self.machines.append(Machine(name, path))
        self.lead = self.machines[0].tracker(LEAD)
        self._say(LEAD, f"created the hub {self.hub.name} and two clones of it: " + ", ".join(MACHINES))

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

    def _publish_plan(self) -> None:
        assert self.lead is not None
        res = self.lead.push("origin")
        self._say(LEAD, f"pushed the plan to the hub ({res['count']} refs)")

    def _pools(self) -> dict[str, list[dict[str, Any]]]:
        """Worker agents spread over the machines (one slot each; they take issues labelled type:task, so
        never the epic), and the security agent (issues tagged security) on the last machine."""
        pools: dict[str, list[dict[str, Any]]] = {m.name: [] for m in self.machines}
        for n in range(1, self.options.workers + 1):
            pools[self.machines[(n - 1) % len(self.machines)].name].append({"id": f"worker-{n}",
                                                                            "tags": [TASK_LABEL]})
        pools[self.machines[-1].name].append({"id": "security-scanner", "tags": ["security"]})
        return pools

    def _run_workers(self) -> None:
        """jit-dispatch on every machine until every task is done on the hub."""
        assert self.root is not None and self.hub is not None
        narration = self.root / "narration.jsonl"
        narration.touch()
        seed = self.options.seed if self.options.seed is not None else random.randrange(1 << 30)
        procs: dict[str, subprocess.Popen[str]] = {}
        errs: dict[str, list[str]] = {}
        readers = []
        deadline = time.monotonic() + self.options.timeout_secs
        hub = Tracker(self.hub)
        pos = 0
        try:
            for m in self.machines:
                cfg = self.root / f"{m.name}.dispatch.toml"
                cfg.write_text(_dispatch_toml(m, self._pools()[m.name], narration=narration, seed=seed,
                                              work_secs=self.options.work_secs, poll=self.options.poll_secs))
                p = subprocess.Popen([sys.executable, "-m", "gitjit.cli.dispatch", "--config", str(cfg), "start",
                                      "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=_clean_env(), cwd=self.root, start_new_session=True)
                procs[m.name] = p
                errs[m.name] = []
                readers += [threading.Thread(target=self._relay, args=(m.name, p), daemon=True),
                            threading.Thread(target=lambda p=p, e=errs[m.name]: e.extend(p.stderr or []),
                                             daemon=True)]
            self._say(LEAD, "started jit-dispatch on " + ", ".join(procs))
            for th in readers:
                th.start()
            while True:
                pos = self._relay_narration(narration, pos)
                b = hub.board(fresh=True)
                tasks = [st for st in b.issues.values() if TASK_LABEL in st.labels]
                if len(tasks) > len(TASKS) and all(st.state == "done" for st in tasks):
                    break
                for name, p in procs.items():
                    if p.poll() is not None:
                        raise ExternalError(f"jit-dispatch on {name} exited with {p.returncode}: "
                                            + "".join(errs[name])[-800:])
                if time.monotonic() > deadline:
                    raise ExternalError(f"the demo's agents did not finish within {self.options.timeout_secs:g}s")
                time.sleep(0.05)
        finally:
            for p in procs.values():  # SIGTERM: on_stop = release, then a last sync with the hub
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs.values():
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
            for th in readers:
                th.join(timeout=5)
            self._relay_narration(narration, pos)
        self._say(LEAD, "every task is done on the hub; stopped jit-dispatch on " + ", ".join(procs))
        for m in self.machines:
            st = _read_json(self.root / ".jit-dispatch" / f"{m.name}.dispatch" / "state.json") or {}
            self.dispatchers[m.name] = {"id": m.name, "totals": st.get("totals", {}),
                                        "agents": [a["id"] for a in self._pools()[m.name]]}
        evs = hub.events()
        disc = [e["issue_id"] for e in evs if e["type"] == "issue_created" and "discovered:true" in (e.get("labels") or [])]
        if disc:
            self.story["discovered"] = disc[0]
        for e in evs:  # who finished what, in order: the agent whose assignee wrote the completion
            if e["type"] == "issue_completed" and e["actor"] != LEAD:
                self.agents.setdefault(e["actor"], []).append(e["issue_id"])

    def _relay(self, machine: str, p: subprocess.Popen[str]) -> None:
        """The dispatcher's JSON log lines, as narration."""
        keep = {"claimed", "agent_failed", "released", "reclaimed", "breaker_open", "claim_lost", "sync_failed"}
        for line in p.stdout or []:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if rec.get("event") in keep:
                self._say(f"jit-dispatch@{machine}", rec.get("message", ""))

    def _relay_narration(self, path: Path, pos: int) -> int:
        """What the worker processes said (one JSON line each, appended to ``path``)."""
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
        end = data.rfind(b"\n") + 1
        for line in data[:end].decode().splitlines():
            rec = json.loads(line)
            self._say(rec["actor"], rec["message"])
        return pos + end

    def _lead_finishes(self) -> None:
        t = self.machines[0].tracker(LEAD)
        t.pull("origin")  # what the workers on both machines did
        epic = self.story["epic"]
        self._say(LEAD, f"pulled: epic {epic[:8]} is {t.show(epic)['state']}, every task is done")
        for g in EPIC["gates"]:
            t.gate_set(epic, g, True, by=GATE_PASSERS[g])
        self._say(LEAD, "passed the epic's gates " + ", ".join(EPIC["gates"]))
        t.claim(epic, LEAD)
        self._say(LEAD, f"claimed epic {epic[:8]} (through the hub)")
        t.update_issue(epic, state="done")
        t.push("origin")
        for m in self.machines[1:]:
            m.tracker(LEAD).pull("origin")
        self.story["converged"] = len({_digest(Tracker(p)) for p in [self.hub, *(m.path for m in self.machines)]}) == 1
        self._say(LEAD, "pushed; " + ("the hub and both machines agree" if self.story["converged"]
                                      else "the machines DIFFER"))
        self._say(LEAD, f"finished epic {epic[:8]}")

    def _report(self) -> dict[str, Any]:
        t = self.machines[0].tracker(LEAD)
        return {
            "repository": str(self.machines[0].path),
            "hub": str(self.hub),
            "machines": [{"name": m.name, "path": str(m.path), "dispatcher": self.dispatchers.get(m.name)}
                         for m in self.machines],
            "story": self.story,
            "agents": self.agents,
            "narration": self.narration,
            "status": t.status(),
            "graph": t.graph_tree(self.story["epic"]),
            "events": t.events(),
            "elapsed_secs": round(time.monotonic() - self._t0, 3),
        }


# ---------------------------------------------------------------------- the worker agent

def work_on(t: Tracker, name: str, issue: dict[str, Any], *, log: Log, rng: random.Random,
            work_secs: tuple[float, float]) -> None:
    """One worker agent's job on one issue jit-dispatch gave it: work, pass the gates, finish."""
    iid = issue["id"]
    log(name, f"working on {iid[:8]} {issue['title']!r} ({issue['priority']})")
    time.sleep(rng.uniform(*work_secs))  # "does the work"
    if issue["title"] == TASKS[DISCOVERY["while"]]["title"]:
        _discover(t, name, issue, log)
    for g in issue["gates"]:
        t.gate_set(iid, g["key"], True, by=GATE_PASSERS.get(g["key"], name))
    t.update_issue(iid, state="done")
    log(name, f"passed {', '.join(g['key'] for g in issue['gates'])} and finished {iid[:8]}")


def _discover(t: Tracker, name: str, issue: dict[str, Any], log: Log) -> None:
    """Mid-task, the worker finds work nobody planned and makes the epic wait for it (before
    finishing its own task, so the epic can never become ready in between)."""
    epic = issue["context"]["epic"]
    new = t.create_issue(DISCOVERY["title"], description=DISCOVERY["description"],
                         priority=DISCOVERY["priority"], gates=DISCOVERY["gates"],
                         labels=[TASK_LABEL, "discovered:true"],
                         context={"epic": epic, "discovered_by": name, "discovered_in": issue["id"],
                                  "tags": DISCOVERY["tags"]})
    t.add_dependency(epic, [new["id"]])
    t.update_issue(issue["id"], context={"agent_notes": f"rate limiting split out as {new['id']}"})
    log(name, f"discovered {new['short_id']} {new['title']!r} ({new['priority']}, needs "
              f"{'/'.join(DISCOVERY['tags'])}); the epic now waits for it")


def agent_main() -> int:
    """``python -m gitjit.app.demo worker``: the worker agent process jit-dispatch starts for one issue
    (JIT_ISSUE_ID, JIT_ISSUE_FILE, JIT_REPO, JIT_ACTOR from the dispatcher; DEMO_* from the demo's
    dispatch.toml). Its narration goes to DEMO_NARRATION, one JSON line per message."""
    with open(os.environ["JIT_ISSUE_FILE"]) as f:
        issue = json.load(f)
    actor = os.environ["JIT_ACTOR"]
    out = os.environ.get("DEMO_NARRATION")

    def log(who: str, msg: str) -> None:
        if out:
            with open(out, "a") as f:  # one short O_APPEND write per line: lines never interleave
                f.write(json.dumps({"actor": who, "message": msg}) + "\n")

    lo, hi = (float(x) for x in os.environ.get("DEMO_WORK_SECS", "0.05,0.25").split(","))
    rng = random.Random(f"{os.environ.get('DEMO_SEED', '')}-{issue['id']}")
    work_on(Tracker(os.environ["JIT_REPO"], actor=actor), actor, issue, log=log, rng=rng, work_secs=(lo, hi))
    return 0


# ---------------------------------------------------------------------- helpers

def _clean_env() -> dict[str, str]:
    """The environment for git and the dispatchers, minus what would point them elsewhere (set when
    run from inside a git hook) or change their output (JIT_JSON, JIT_REPO...)."""
    return {k: v for k, v in os.environ.items()
            if k not in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_PREFIX")
            and not k.startswith("JIT_")}


def _git(*args: str) -> None:
    try:
        proc = git_run.run(args)  # the GIT_* variables _clean_env drops are dropped there too
    except git_run.GitNotRun:
        raise ExternalError("the demo needs the git command", hint="install git and try again") from None
    if proc.returncode != 0:
        raise ExternalError(f"git {args[0]} failed: {proc.stderr.strip()}")


def _git_init(path: Path) -> None:
    """A new non-bare repository, made by the git binary."""
    _git("init", "-q", str(path))


def _dispatch_toml(m: Machine, agents: list[dict[str, Any]], *, narration: Path, seed: int,
                   work_secs: tuple[float, float], poll: float) -> str:
    """The demo's dispatch.toml for one machine: its clone, decided by the hub, and its agents."""
    cmd = json.dumps([sys.executable, "-m", "gitjit.app.demo", "worker"])
    env = (f'{{ DEMO_NARRATION = {json.dumps(str(narration))}, DEMO_SEED = "{seed}", '
           f'DEMO_WORK_SECS = "{work_secs[0]},{work_secs[1]}" }}')
    lines = [f'id = "{m.name}"', f"poll_interval_secs = {poll}", "lease_secs = 60", "lease_grace_secs = 5",
             'on_stop = "release"', "", "[[repos]]", "name = \"auth\"", f"path = {json.dumps(str(m.path))}",
             'hub = "origin"']
    for a in agents:
        lines += ["", "[[agents]]", f'id = "{a["id"]}"', 'type = "copilot"', f"command = {cmd}",
                  "max_concurrent = 1", f"tags = {json.dumps(a['tags'])}", f"env = {env}"]
    return "\n".join(lines) + "\n"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _digest(t: Tracker) -> str:
    """What a clone knows, as one value: every ref's event ids (equal on converged clones)."""
    return json.dumps(sorted((e["id"], e.get("issue_id")) for e in t.events()))


def run_demo(options: DemoOptions | None = None, *, log: Log | None = None) -> dict[str, Any]:
    """Play the demo and return its report (see ``Demo._report``; docs in README)."""
    return Demo(options or DemoOptions(), log or (lambda actor, msg: None)).run()


if __name__ == "__main__" and sys.argv[1:] == ["worker"]:
    raise SystemExit(agent_main())
