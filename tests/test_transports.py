"""The hub protocol over the servers teams really use, started on 127.0.0.1 (tests/servers.py):
`git daemon`, smart HTTP with a login for pushes (Apache, and nginx with fcgiwrap), sshd, and
gitolite3 behind sshd.

Over each: the claim race (every issue won exactly once), sync convergence (including the staged
push of 64+ refs), and two dispatchers sharing the hub (over gitolite, under the agents' account,
which may push issues but not gates). Then what a refusal looks like: a push without credentials
over HTTP, and gitolite refusing a ref the account may not write; each must reach the user as a
clear error, with nothing lost locally: from `jit sync`/`jit push`/a hub claim, from `jit-dispatch
once` (exit 10, its log and JSON error, no agent started), and from a plain `git push` carrying
the tracker through the pre-push hook (the code push goes on, the jit refs wait); then an allowed
account delivers everything that waited. A transport whose server is not
installed is skipped, naming the Debian package (`.ci/run` installs them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import check_json_output, run_jit
from dispatchlib import agent_cmd, records, start_dispatcher, stop, wait_for, write_config
from servers import HUBS, Hub, gitolite_hub, missing
from synclib import jit_tips, make_clone, snapshot, tracker
from test_dispatch_hub import two_dispatchers
from test_hub_claims import run_race

TRANSPORTS = ["daemon", "http", "nginx", "ssh", "gitolite"]


def need(kind: str) -> None:
    why = missing(kind)
    if why:
        pytest.skip(f"{kind} hub: {why}")


@pytest.fixture(params=TRANSPORTS)
def served(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    """A hub served over one transport; this process (and its children) get the client environment."""
    need(request.param)
    with HUBS[request.param]() as hub:
        for k, v in hub.env.items():
            monkeypatch.setenv(k, v)
        yield hub


def use(monkeypatch: pytest.MonkeyPatch, hub: Hub, user: str | None) -> None:
    """Switch this process's git client to another user of ``hub`` (None: anonymous)."""
    for k in hub.env:
        monkeypatch.delenv(k, raising=False)
    for k, v in hub.env_for(user).items():
        monkeypatch.setenv(k, v)


# ----------------------------------------------------------------------------- over every transport

@pytest.mark.slow
def test_claim_race(served: Hub, tmp_path: Path) -> None:
    run_race(tmp_path, served.url, served.path, issues=8, workers=3)


@pytest.mark.slow
def test_sync_converges(served: Hub, tmp_path: Path) -> None:
    a, b, c = (make_clone(tmp_path / n, served.url) for n in "abc")
    ta = tracker(a, "lead")
    # 70 issues: more than 64 refs go out through one staged glob refspec (docs/sharing.md)
    ids = [ta.create_issue(f"bulk {n}")["id"] for n in range(70)]
    ta.sync()
    tracker(b).sync()
    tracker(c).sync()
    # offline edits on all three, some on the same issues
    ta.update_issue(ids[0], title="renamed by a")
    tracker(b, "agent:b").update_issue(ids[0], priority="critical")
    tracker(b, "agent:b").claim(ids[1], "agent:b")
    tracker(c, "agent:c").update_issue(ids[2], state="done")
    tracker(c, "agent:c").add_dependency(ids[3], [ids[4]])
    new_b = tracker(b, "agent:b").create_issue("made on b")["id"]
    for _ in range(2):
        for repo in (a, b, c):
            tracker(repo).sync()
    snaps = [snapshot(r) for r in (a, b, c)]
    assert snaps[0] == snaps[1] == snaps[2]
    issues = {i["id"]: i for i in snaps[0]["issues"]}
    assert issues[ids[0]]["title"] == "renamed by a" and issues[ids[0]]["priority"] == "critical"
    assert issues[ids[1]]["assignee"] == "agent:b" and issues[ids[2]]["state"] == "done"
    assert issues[ids[3]]["dependencies"] == [ids[4]] and new_b in issues
    assert jit_tips(a, "refs/jit/") == jit_tips(served.path, "refs/jit/")


@pytest.mark.slow
def test_two_dispatchers_share_the_hub(served: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if served.kind == "gitolite":
        # the rights a team gives its machines: issues (claims, edits, closing) and branches, no gates
        use(monkeypatch, served, "agent")
    a, b = make_clone(tmp_path / "a", served.url), make_clone(tmp_path / "b", served.url)
    two_dispatchers(tmp_path, served.path, a, b, issues=6)


# ----------------------------------------------------------------------------- refusals

def jit_error(proc) -> dict:  # type: ignore[no-untyped-def]
    """The error object of a failed ``--json`` command, after checking it failed cleanly."""
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 10, (proc.returncode, proc.stdout, proc.stderr)
    return json.loads(proc.stdout)["error"]


@pytest.mark.parametrize("kind", ["http", "nginx"])
def test_http_push_without_credentials_is_refused_clearly_and_nothing_is_lost(
        kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need(kind)
    with HUBS[kind]() as hub:
        seed = make_clone(tmp_path / "seed", hub.url)
        use(monkeypatch, hub, "agent")
        ts = tracker(seed, "lead")
        iid = ts.create_issue("served over https")["id"]
        ts.push()
        use(monkeypatch, hub, None)  # anonymous: may read, may not push
        a = make_clone(tmp_path / "a", hub.url)
        ta = tracker(a, "agent:a")
        ta.pull()  # reading needs no login
        assert ta.show(iid)["title"] == "served over https"
        mine = ta.create_issue("written offline")["id"]
        ta.update_issue(iid, priority="high")
        before = jit_tips(a)
        on_hub = jit_tips(hub.path)

        r = run_jit("sync", "--json", cwd=a)
        err = jit_error(r)
        assert err["code"] == "EXTERNAL_FAILURE"
        assert "origin wants credentials to push" in err["message"]
        assert "credential helper" in err["hint"] and "nothing was lost" in err["hint"]
        human = run_jit("push", cwd=a)
        assert human.returncode == 10 and "Traceback" not in human.stderr
        assert "origin wants credentials to push" in human.stderr and "hint:" in human.stderr
        # a claim through the hub is refused the same way, and not made locally either
        r = run_jit("issue", "claim", iid, "agent:a", "--remote", "origin", "--json", cwd=a)
        assert "wants credentials" in jit_error(r)["message"]
        assert ta.show(iid)["assignee"] is None
        assert jit_tips(a) == before and jit_tips(hub.path) == on_hub

        # with credentials, the next sync delivers everything that waited
        use(monkeypatch, hub, "agent")
        assert run_jit("sync", cwd=a).returncode == 0
        probe = make_clone(tmp_path / "probe", hub.url)
        tp = tracker(probe)
        tp.pull()
        assert tp.show(mine)["title"] == "written offline"
        assert tp.show(iid)["priority"] == "high"


def test_gitolite_lets_agents_claim_and_refuses_the_rest_clearly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("gitolite")
    with gitolite_hub() as hub:
        use(monkeypatch, hub, "lead")
        lead = make_clone(tmp_path / "lead", hub.url)
        tl = tracker(lead, "lead")
        ids = [tl.create_issue(f"job {n}")["id"] for n in range(2)]
        tl.push()

        # an agent may claim (a fast-forward of refs/jit/issues/<id>) and edit issues...
        use(monkeypatch, hub, "agent")
        a = make_clone(tmp_path / "a", hub.url)
        r = run_jit("issue", "claim-next", "agent:a", "--remote", "origin", "--json", cwd=a)
        assert r.returncode == 0, r.stderr
        won = json.loads(r.stdout)["id"]
        # ...but not define a gate: the push is refused as a whole (it is atomic), with gitolite's reason
        ta = tracker(a, "agent:a")
        ta.registry_add("review", title="Review")
        ta.update_issue(won, title="being worked on")
        before = jit_tips(a)
        on_hub = jit_tips(hub.path)
        r = run_jit("sync", "--json", cwd=a)
        err = jit_error(r)
        assert "origin refused refs/jit/gates/review" in err["message"]
        assert "DENIED" in err["message"]  # gitolite's own words: who, which ref
        assert "write access" in err["hint"] and "nothing was lost" in err["hint"]
        assert err["details"]["access"] == "denied" and err["details"]["ref"] == "refs/jit/gates/review"
        human = run_jit("sync", cwd=a)
        assert human.returncode == 10 and "Traceback" not in human.stderr
        assert human.stderr.startswith("error: origin refused refs/jit/gates/review:") and "\nhint: " in human.stderr
        assert jit_tips(a) == before and jit_tips(hub.path) == on_hub

        # a reader may fetch, but any push (a claim too) is refused before it starts
        use(monkeypatch, hub, "reader")
        rd = make_clone(tmp_path / "reader", hub.url)
        tracker(rd).pull()
        other = next(i for i in ids if i != won)
        r = run_jit("issue", "claim", other, "agent:r", "--remote", "origin", "--json", cwd=rd)
        err = jit_error(r)
        assert err["message"].startswith("origin refused the push:") and "DENIED" in err["message"]
        assert "Please make sure" not in err["message"]
        assert tracker(rd).show(other)["assignee"] is None

        # nothing was lost: pushed under an account that may write gates, everything arrives
        use(monkeypatch, hub, "lead")
        assert run_jit("sync", cwd=a).returncode == 0
        tl.pull()
        assert tl.show(won)["title"] == "being worked on" and tl.show(won)["assignee"] == "agent:a"
        assert "review" in {g["key"] for g in tl.registry_list()["gates"]}


def test_a_host_that_refuses_custom_refs_is_named_with_its_reason(tmp_path: Path) -> None:
    """Not an access problem: the host's pre-receive hook takes only branches and tags."""
    from conftest import git
    from synclib import make_hub

    hub = make_hub(tmp_path / "hub.git")
    hook = hub / "hooks" / "pre-receive"
    hook.write_text('#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/heads/*|refs/tags/*) ;; *)\n'
                    '  echo "only branches and tags are accepted here, not $ref" >&2; exit 1;; esac; done\n')
    hook.chmod(0o755)
    a = make_clone(tmp_path / "a", str(hub))
    tracker(a).create_issue("stays here")
    before = jit_tips(a)
    r = run_jit("push", "--json", cwd=a)
    err = jit_error(r)
    assert err["message"].startswith("origin refused refs/jit/issues/")
    assert "only branches and tags are accepted here" in err["message"]
    assert "some hosts accept only branches and tags" in err["hint"] and "nothing was lost" in err["hint"]
    assert jit_tips(a) == before and not git("for-each-ref", cwd=hub).stdout


# ----------------------------------------------------------------------------- refusals reaching the dispatcher and the hooks

def dispatch(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``jit-dispatch`` as a real process, with this process's client environment."""
    return subprocess.run([sys.executable, "-m", "gitjit.cli.dispatch", "--config", str(config), *args],
                          cwd=config.parent, capture_output=True, text=True, timeout=180, check=False,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})


def split_once_json(stdout: str) -> tuple[list[dict], dict]:  # type: ignore[type-arg]
    """``jit-dispatch once --json`` that failed: its log records (one a line), then the error object."""
    cut = stdout.rindex("\n{\n") + 1 if "\n{\n" in stdout else stdout.index("{\n")
    records_ = [json.loads(x) for x in stdout[:cut].splitlines() if x.strip()]
    return records_, json.loads(stdout[cut:])["error"]


@pytest.mark.parametrize(("kind", "refused", "reason"), [("http", None, "origin wants credentials to push"),
                                                         ("gitolite", "reader", "DENIED")])
def test_a_dispatcher_the_hub_refuses_says_so_and_a_later_pass_delivers_everything(
        kind: str, refused: str | None, reason: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need(kind)
    with HUBS[kind]() as hub:
        use(monkeypatch, hub, "lead" if kind == "gitolite" else "agent")
        seed = make_clone(tmp_path / "seed", hub.url)
        ts = tracker(seed, "lead")
        ids = [ts.create_issue(f"task {n}")["id"] for n in range(2)]
        ts.push()
        # the dispatcher's machine runs under an account the hub does not let push
        use(monkeypatch, hub, refused)
        a = make_clone(tmp_path / "a", hub.url)
        ta = tracker(a, "agent:a")
        ta.pull()
        mine = ta.create_issue("written offline", priority="low")["id"]
        before, on_hub = jit_tips(a), jit_tips(hub.path)
        rec = tmp_path / "rec.jsonl"
        cfg = write_config(tmp_path / "d.toml", repos=[{"path": str(a), "hub": "origin"}], id="m-a",
                           agents=[{"id": "w", "command": agent_cmd("--record", str(rec))}])

        r = dispatch(cfg, "once", "--json")
        assert r.returncode == 10 and "Traceback" not in r.stderr, (r.stdout, r.stderr)
        log, err = split_once_json(r.stdout)
        assert err["code"] == "EXTERNAL_FAILURE" and err["message"].startswith("nothing was claimed: ")
        assert reason in err["message"] and "nothing was lost" in err["hint"]
        assert err["details"]["totals"]["claimed"] == 0 and err["details"]["errors"]
        # the log says which step failed and why (a sync that had the offline issue to push, the claim)
        failed = [x for x in log if x["event"] in ("sync_failed", "claim_failed")]
        assert failed
        assert all(reason in x["message"] and "nothing was lost" in x["hint"] for x in failed)
        assert log[-1]["event"] == "summary" and log[-1]["claimed"] == 0
        human = dispatch(cfg, "once")
        assert human.returncode == 10 and "Traceback" not in human.stderr
        assert "error: nothing was claimed: " in human.stderr and reason in human.stderr and "\nhint: " in human.stderr
        # nothing ran, nothing moved: the offline work is still here, the hub as it was
        assert not records(rec)
        assert jit_tips(a) == before and jit_tips(hub.path) == on_hub
        assert all(tracker(a).show(i)["assignee"] is None for i in ids)

        # a long-running dispatcher: `jit-dispatch status` shows the hub's reason while it lasts
        proc = start_dispatcher(cfg)
        try:
            def refused_now() -> dict | None:  # type: ignore[type-arg]
                out = dispatch(cfg, "status", "--json").stdout
                check_json_output(["dispatch", "status", "--json"], out)  # the dispatch-status schema
                st = json.loads(out)
                return st if st["running"] and st["repos"][0]["last_error"] else None
            st = wait_for(refused_now, timeout=60, step=0.3, what="the refusal in jit-dispatch status")
            assert reason in st["repos"][0]["last_error"] and st["totals"]["claimed"] == 0
            human = dispatch(cfg, "status")
            assert "    last cycle failed: " in human.stdout and reason in human.stdout
        finally:
            _, err = stop(proc)
        assert "Traceback" not in err and reason in err  # its log: the WARNING of each failed cycle
        assert not records(rec) and jit_tips(hub.path) == on_hub

        # under an account that may push, the next pass claims, runs, and delivers what waited
        use(monkeypatch, hub, "agent")
        r = dispatch(cfg, "once", "--json")
        assert r.returncode == 0, (r.stdout, r.stderr)
        summary = json.loads(r.stdout.splitlines()[-1])
        assert summary["claimed"] == 1 and summary["finished"] == 1
        done = [x["issue"] for x in records(rec) if x["event"] == "start"]
        probe = make_clone(tmp_path / "probe", hub.url)
        tp = tracker(probe)
        tp.pull()
        assert tp.show(mine)["title"] == "written offline"
        assert len(done) == 1 and tp.show(done[0])["state"] == "done"


def test_git_push_through_the_hooks_when_the_hub_refuses_the_jit_refs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ordinary git carrying the tracker (``jit hooks install``): gitolite lets the agent push
    branches and issues but not gates. The code push goes on; the jit push is refused as a whole,
    said with gitolite's reason, and kept; a later push by the lead carries it."""
    need("gitolite")
    from conftest import Jit, git, make_repo

    with gitolite_hub() as hub:
        use(monkeypatch, hub, "lead")
        seed = make_repo(tmp_path / "seed")
        git("commit", "-q", "--allow-empty", "-m", "root", cwd=seed)
        git("push", "-q", hub.url, "main", cwd=seed)
        lead = make_clone(tmp_path / "lead", hub.url)
        tl = tracker(lead, "lead")
        iid = tl.create_issue("shared work")["id"]
        tl.push()

        use(monkeypatch, hub, "agent")
        a = tmp_path / "a"
        git("clone", "-q", "-b", "main", hub.url, str(a), cwd=tmp_path)
        git("config", "user.name", "Agent A", cwd=a)
        git("config", "user.email", "a@example.invalid", cwd=a)
        ja = Jit(a, actor="agent:a")
        assert ja("init", "--remote", "origin").exit_code == 0
        assert ja("hooks", "install").exit_code == 0
        assert ja("pull").exit_code == 0
        assert ja("registry", "add", "review", "--title", "Review").exit_code == 0
        assert ja("issue", "update", iid, "--title", "being worked on").exit_code == 0
        git("commit", "-q", "--allow-empty", "-m", f"work\n\nRefs: {iid[:6]}", cwd=a)
        before, on_hub = jit_tips(a), jit_tips(hub.path)

        push = git("push", "-q", "origin", "main", cwd=a, check=False)
        assert push.returncode == 0 and "Traceback" not in push.stderr, push.stderr
        assert "jit: pre-push: warning: the jit refs were not pushed to origin: origin refused refs/jit/gates/review" \
            in push.stderr
        assert "DENIED" in push.stderr and "nothing was lost" in push.stderr and "the code push goes on" in push.stderr
        assert git("rev-parse", "main", cwd=a).stdout == git("rev-parse", "main", cwd=hub.path).stdout
        assert jit_tips(a) == before and jit_tips(hub.path) == on_hub
        problems = ja.json("hooks", "status")["problems"]
        assert len(problems) == 1 and "origin refused refs/jit/gates/review" in problems[0]

        # the lead's next ordinary push from this clone carries everything that waited
        use(monkeypatch, hub, "lead")
        git("commit", "-q", "--allow-empty", "-m", "more", cwd=a)
        push = git("push", "-q", "origin", "main", cwd=a, check=False)
        assert push.returncode == 0 and "jit: pushed" in push.stderr, push.stderr
        assert jit_tips(hub.path) == jit_tips(a)
        tl.pull()
        assert tl.show(iid)["title"] == "being worked on"
        assert "review" in {g["key"] for g in tl.registry_list()["gates"]}


# ----------------------------------------------------------------------------- the fleet benchmark over these servers

@pytest.mark.slow
@pytest.mark.parametrize("kind", ["apache", "gitolite"])
def test_the_fleet_benchmark_runs_over_the_real_servers(kind: str, tmp_path: Path) -> None:
    """bench/fleet.py's adapter to tests/servers.py (a repository per round made through the
    server, gitolite's declared with the hub's rules; the agents under their own account): a tiny
    race, every issue won once, and a floor measured through the same server."""
    need({"apache": "http"}.get(kind, kind))
    out = tmp_path / "fleet.json"
    root = Path(__file__).resolve().parent.parent
    p = subprocess.run([sys.executable, "-m", "bench.fleet", "claims", "--transport", kind, "--rounds", "1",
                        "--issues", "6", "--clones", "2", "--floor-per", "2", "--no-fsync", "--json", str(out)],
                       cwd=root, capture_output=True, text=True, timeout=300, check=False,
                       env={**os.environ, "PYTHONPATH": str(root)})
    assert p.returncode == 0, p.stderr[-3000:]
    (res,) = json.loads(out.read_text())["claims"]
    (run,) = res["rounds"]
    assert res["ok"] and run["claims"] == 6 and run["errors"] == 0, run
    assert run["floor"] > 0 and run["ratio"] > 0
