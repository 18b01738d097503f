"""``jit serve``'s HTTP side on a real port: the JSON answers (held to the schemas of record), the
columns against ``jit query``, the write guards (token, Origin, Host), writes with the CLI's
rules and errors, live events, several repositories, and the missing extra."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web board's extra is not installed: pip install 'gitjit[board]'")
pytest.importorskip("uvicorn", reason="the web board's extra is not installed: pip install 'gitjit[board]'")

from boardlib import get, post, sample
from conftest import ROOT, Jit, run_jit

from gitjit.board.run import Running, start
from gitjit.schema.catalog import adapter


def valid(name: str, doc: Any) -> Any:
    adapter(name).validate_python(doc)
    return doc


@pytest.fixture
def proj(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return sample(tmp_path)


@pytest.fixture
def board(proj: tuple[Path, dict[str, str]]) -> Iterator[Running]:
    run = start([str(proj[0])], actor="human:board", allow_writes=True)
    yield run
    run.stop()


def api(run: Running, path: str) -> Any:
    status, body = get(f"{run.url}api/r/proj/{path}")
    assert status == 200, body
    return body


def test_columns_hold_what_jit_query_lists(board: Running, proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    j = Jit(repo)
    b = valid("board-columns", api(board, "board"))
    cols = {c["name"]: [i["id"] for i in c["issues"]] for c in b["columns"]}
    assert [c["name"] for c in b["columns"]] == ["ready", "in_progress", "gated", "blocked", "done", "rejected",
                                                 "archived"]
    assert cols["ready"] == [i["id"] for i in j.json("query", "ready")["issues"]] == [ids["design"]]
    for state in ("in_progress", "done", "rejected", "archived"):
        assert cols[state] == [i["id"] for i in j.json("query", "state", state)["issues"]], state
    opened = [i["id"] for i in j.json("query", "state", "open")["issues"]]
    assert sorted(cols["gated"] + cols["blocked"]) == sorted(opened)
    assert cols["gated"] == [ids["audit"]] and set(cols["blocked"]) == {ids["build"], ids["docs"]}
    assert {c["name"]: c["count"] for c in b["columns"]} == {k: len(v) for k, v in cols.items()}
    # the status line is jit status's
    assert valid("status", api(board, "status")) == j.json("status")


def test_every_read_has_the_clis_shape(board: Running, proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    j = Jit(repo)
    assert valid("issue", api(board, f"issue/{ids['build'][:6]}")) == j.json("issue", "show", ids["build"])
    evs = valid("events", api(board, f"issue/{ids['build']}/events"))
    assert evs == j.json("events", "query", "--issue", ids["build"])
    dep = valid("issue-walk", api(board, f"issue/{ids['design']}/dependents"))
    assert [i["id"] for i in dep["issues"]] == [ids["build"]]  # direct only: docs depends on build
    assert valid("issue-list", api(board, "query/ready")) == j.json("query", "ready")
    assert valid("issue-list", api(board, "query/assignee?value=agent:w2")) == j.json("query", "assignee", "agent:w2")
    g = valid("board-graph", api(board, "graph"))
    assert {(e["from"], e["to"]) for e in g["edges"]} == {(ids["build"], ids["design"]), (ids["docs"], ids["build"])}
    x = {n["id"]: n["x"] for n in g["nodes"]}
    assert x[ids["design"]] < x[ids["build"]] < x[ids["docs"]]  # what blocks is to the left
    one = valid("board-graph", api(board, f"graph?issue={ids['docs']}"))
    assert {n["id"] for n in one["nodes"]} == {ids["docs"], ids["build"], ids["design"]}
    assert one["issue_id"] == ids["docs"]
    page = valid("issue-list", api(board, "column/blocked?offset=1&limit=1"))
    assert page["count"] == 1
    status, err = get(f"{board.url}api/r/proj/issue/ffffffffffff")
    assert status == 404 and valid("error", err)["error"]["code"] == "NOT_FOUND"
    status, err = get(f"{board.url}api/r/proj/column/nope")
    assert status == 400 and valid("error", err)["error"]["code"] == "INVALID_ARGUMENT"
    status, err = get(f"{board.url}api/r/other/status")
    assert status == 404


def test_filters(board: Running, proj: tuple[Path, dict[str, str]]) -> None:
    _, ids = proj

    def ids_of(q: str) -> set[str]:
        b = api(board, "board?" + q)
        return {i["id"] for c in b["columns"] for i in c["issues"]}

    assert ids_of("label=team:web") == {ids["docs"], ids["free"]}
    assert ids_of("label=team:*&priority=low") == {ids["docs"]}
    assert ids_of("assignee=agent:w2") == {ids["free"]}
    assert ids_of("q=crypto") == {ids["audit"]}
    assert ids_of("q=" + ids["nope"][:8]) == {ids["nope"]}
    status, err = get(f"{board.url}api/r/proj/board?priority=urgent")
    assert status == 400 and valid("error", err)["error"]["code"] == "INVALID_ARGUMENT"


def test_a_column_is_paged(tmp_path: Path) -> None:
    repo, _ = sample(tmp_path)
    j = Jit(repo)
    for k in range(45):
        j("issue", "create", "-q", "-t", f"bulk {k}")
    run = start([str(repo)])
    try:
        first = api(run, "board")
        ready = next(c for c in first["columns"] if c["name"] == "ready")
        assert ready["count"] == 46 and len(ready["issues"]) == 30
        rest = api(run, "column/ready?offset=30&limit=30")
        got = [i["id"] for i in ready["issues"] + rest["issues"]]
        assert got == [i["id"] for i in j.json("query", "ready")["issues"]]
    finally:
        run.stop()


def test_writes_need_the_token_and_a_local_origin(board: Running, proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    before = Jit(repo).json("issue", "show", ids["design"])
    url = f"{board.url}api/r/proj/issue/{ids['design']}/claim"
    for headers in ({}, {"X-Jit-Token": "wrong"},
                    {"X-Jit-Token": board.token, "Origin": "http://evil.example"}):
        status, err = post(url, {}, headers)
        assert status == 403 and valid("error", err)["error"]["code"] == "INVALID_ARGUMENT", headers
    # DNS rebinding: a name that resolves to 127.0.0.1 is still not this board's Host
    s = socket.create_connection(("127.0.0.1", board.board.port))
    s.sendall(b"GET /api/repos HTTP/1.1\r\nHost: evil.example:%d\r\nConnection: close\r\n\r\n" % board.board.port)
    assert b" 403 " in s.recv(4096).split(b"\r\n")[0] + b" "
    s.close()
    assert Jit(repo).json("issue", "show", ids["design"]) == before
    ok = {"X-Jit-Token": board.token, "Origin": board.url.rstrip("/")}
    status, got = post(url, {}, ok)
    assert status == 200 and valid("issue", got)["assignee"] == "human:board"  # the acting identity
    assert got["state"] == "in_progress"
    # the CLI's rules and errors: a second claim is refused as jit issue claim refuses it
    status, err = post(url, {"assignee": "agent:late"}, ok)
    r = Jit(repo)("issue", "claim", ids["design"], "agent:late", "--json")
    assert status == 409 and err == json.loads(r.stdout)
    status, got = post(f"{board.url}api/r/proj/issue/{ids['design']}/release", {"reason": "handing over"}, ok)
    assert status == 200 and got["assignee"] is None


def test_gate_state_priority_and_assignee(board: Running, proj: tuple[Path, dict[str, str]]) -> None:
    repo, ids = proj
    ok = {"X-Jit-Token": board.token}
    base = f"{board.url}api/r/proj/issue/{ids['audit']}"
    status, got = post(base + "/gate/security/pass", {"reason": "looked fine"}, ok)
    assert status == 200 and valid("gate-result", got)
    shown = Jit(repo).json("issue", "show", ids["audit"])
    assert shown["state"] == "ready" and shown["gates"][0]["by"] == "human:board"
    assert shown["gates"][0]["reason"] == "looked fine"
    status, err = post(base + "/gate/nosuch/fail", {}, ok)
    assert status >= 400 and valid("error", err)
    status, got = post(base + "/update", {"priority": "critical"}, ok)
    assert status == 200 and got["priority"] == "critical"
    status, err = post(base + "/update", {"priority": "urgent"}, ok)
    assert status == 400 and valid("error", err)
    status, err = post(base + "/update", {"title": "x"}, ok)
    assert status == 400
    status, got = post(base + "/assign", {"assignee": "agent:w9"}, ok)
    assert status == 200 and got["assignee"] == "agent:w9"
    status, got = post(base + "/assign", {"assignee": ""}, ok)
    assert status == 200 and got["assignee"] is None
    status, got = post(f"{board.url}api/r/proj/issue/{ids['build']}/update", {"state": "done"}, ok)
    r = Jit(repo)("issue", "update", ids["build"], "--state", "done", "--json")
    assert status == 409 and got == json.loads(r.stdout)  # blocked, as the CLI says


def test_a_read_only_board_refuses_writes(proj: tuple[Path, dict[str, str]]) -> None:
    run = start([str(proj[0])])
    try:
        status, err = post(f"{run.url}api/r/proj/issue/{proj[1]['design']}/claim", {},
                           {"X-Jit-Token": run.token})
        assert status == 403 and "read-only" in err["error"]["message"]
        assert get(f"{run.url}api/repos")[1]["writes"] is False
    finally:
        run.stop()


def _read_events(run: Running, want: int, timeout: float) -> list[dict[str, Any]]:
    s = socket.create_connection(("127.0.0.1", run.board.port), timeout=timeout)
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % run.board.port)
    buf = b""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(got) < want and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n\n" in buf:
                block, buf = buf.split(b"\n\n", 1)
                lines = block.decode().splitlines()
                if "event: change" in lines:
                    got.append(json.loads(next(x for x in lines if x.startswith("data: "))[6:]))
                if "event: hello" in lines:
                    got.append({"hello": True})
    finally:
        s.close()
    return got


def test_a_change_from_another_process_is_pushed_within_two_seconds(board: Running,
                                                                     proj: tuple[Path, dict[str, str]]) -> None:
    import threading

    repo, ids = proj
    out: list[Any] = []
    t = threading.Thread(target=lambda: out.extend(_read_events(board, 2, 20)))
    t.start()
    time.sleep(0.5)
    run_jit("issue", "claim", ids["design"], "agent:cli", cwd=repo, check=True)
    t0 = time.monotonic()
    t.join(20)
    assert time.monotonic() - t0 < 2.0
    change = out[-1]
    assert change["repo"] == "proj"
    assert any(e["type"] == "issue_claimed" and e["issue_id"] == ids["design"] for e in change["events"])
    for e in change["events"]:
        valid("event", e)


def test_several_repositories_side_by_side(tmp_path: Path) -> None:
    a, _ = sample(tmp_path / "one")
    b, ids_b = sample(tmp_path / "two", name="proj")  # same folder name: numbered
    run = start([str(a), str(b)])
    try:
        repos = get(f"{run.url}api/repos")[1]["repos"]
        assert [r["name"] for r in repos] == ["proj", "proj-2"]
        got = get(f"{run.url}api/r/proj-2/issue/{ids_b['design']}")[1]
        assert got["id"] == ids_b["design"]
    finally:
        run.stop()


def test_next_up_is_the_dispatchers_order_over_every_repository(tmp_path: Path) -> None:
    a, ids_a = sample(tmp_path / "a", name="api")
    b, ids_b = sample(tmp_path / "b", name="web")
    crit = str(Jit(b).json("issue", "create", "-t", "Urgent fix", "-p", "critical")["id"])
    low = str(Jit(a).json("issue", "create", "-t", "Someday", "-p", "low")["id"])
    run = start([str(a), str(b)], escalation_hours=0.0)
    try:
        got = valid("board-next", get(f"{run.url}api/next")[1])
        # priority first, then age (api's design is older than web's), then the repositories' order
        assert [(x["repo"], x["issue"]["id"]) for x in got["issues"]] == [
            ("web", crit), ("api", ids_a["design"]), ("web", ids_b["design"]), ("api", low)]
        assert got["ready"] == 4 and got["backing_off"] == 0 and got["escalation_hours"] == 0.0
        assert got["issues"][0]["issue"]["title"] == "Urgent fix"
        two = valid("board-next", get(f"{run.url}api/next?limit=2")[1])
        assert [x["issue"]["id"] for x in two["issues"]] == [crit, ids_a["design"]] and two["ready"] == 4
        # a claim takes it off the list
        run_jit("issue", "claim", crit, "agent:cli", cwd=b, check=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            first = get(f"{run.url}api/next?limit=1")[1]["issues"][0]["issue"]["id"]
            if first == ids_a["design"]:
                break
            time.sleep(0.1)
        assert first == ids_a["design"]
        status, err = get(f"{run.url}api/next?limit=0")
        assert status == 400 and valid("error", err)["error"]["code"] == "INVALID_ARGUMENT"
    finally:
        run.stop()


def test_jit_serve_prints_its_url_and_serves(proj: tuple[Path, dict[str, str]]) -> None:
    repo, _ = proj
    p = subprocess.Popen([sys.executable, "-m", "gitjit", "serve", "--port", "0", "--allow-writes"], cwd=repo,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    try:
        line = p.stdout.readline() if p.stdout else ""
        assert line.startswith("jit board: http://127.0.0.1:"), line
        url, _, token = line.split(": ", 1)[1].strip().partition("#token=")
        assert token
        status, body = get(url + "api/repos")
        assert status == 200 and body["writes"] is True
        status, html = 0, ""
        import urllib.request

        with urllib.request.urlopen(url, timeout=10) as r:
            html = r.read().decode()
        assert "/static/board.js" in html and "http" not in html.replace("http-equiv", "")  # nothing remote
    finally:
        p.terminate()
        p.wait(10)


def test_the_page_fetches_nothing_from_elsewhere() -> None:
    static = ROOT / "gitjit" / "board" / "static"
    for f in static.iterdir():
        text = f.read_text()
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text, f


def test_a_missing_extra_names_it(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['starlette'] = None; from gitjit.cli import main; "
            "raise SystemExit(main(['serve']))")
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 2
    assert "pip install 'gitjit[board]'" in p.stderr


def test_jit_demo_board_shows_the_hub_while_the_agents_work(tmp_path: Path) -> None:
    import os
    import threading

    p = subprocess.Popen([sys.executable, "-m", "gitjit", "demo", "--board", "--board-linger", "1", "--workers", "2",
                          "--json"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)})
    try:
        assert p.stderr is not None
        line = p.stderr.readline()
        assert line.startswith("jit board (the demo's hub): http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1].strip()
        threading.Thread(target=p.stderr.read, daemon=True).start()
        seen: set[str] = set()
        deadline = time.monotonic() + 170
        while p.poll() is None and time.monotonic() < deadline:
            try:
                b = get(url + "api/r/hub/board")[1]
            except OSError:
                break  # the story is over and the board stopped
            seen |= {c["name"] for c in b["columns"] if c["count"]}
            time.sleep(0.3)
        out = p.communicate(timeout=200)[0]
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0
    assert json.loads(out)["status"]["done"] >= 5
    assert {"in_progress", "done"} <= seen  # the agents' work showed on the board as it happened


def test_the_columns_are_the_same_from_the_index_and_from_a_fold(proj: tuple[Path, dict[str, str]]) -> None:
    from gitjit.app import boardview as bv
    from gitjit.app.tracker import Tracker

    repo, ids = proj
    j = Jit(repo)
    # a precheck gate and an open dependency: blocked, not gated; a parked gated issue: blocked too
    both = j.json("issue", "create", "-t", "Gate and dependency", "-g", "security")["id"]
    j("dep", "add", both, ids["design"])
    parked = j.json("issue", "create", "-t", "Parked with a gate", "-g", "security")["id"]
    assert j("issue", "park", parked, "waiting for legal").exit_code == 0
    got = []
    for use_index in (True, False):
        t = Tracker(repo)
        t.use_index = use_index
        for f in (bv.Filters(), bv.Filters(labels=["team:*"])):
            cols = bv.Columns(t.board(), f)
            got.append((cols.counts, {c: cols.page(c, 0, 100) for c in bv.COLUMNS},
                        {c: cols.page(c, 1, 1) for c in bv.COLUMNS}))
        got.append(bv.graph_view(t))
    assert got[0] == got[3] and got[1] == got[4] and got[2] == got[5]
    pages = got[0][1]
    assert pages["gated"] == [ids["audit"]] and {both, parked} <= set(pages["blocked"])


def test_jit_serve_config_shows_every_repository_of_a_dispatch_toml(tmp_path: Path) -> None:
    import os

    a, _ = sample(tmp_path / "a", name="api")
    b, ids_b = sample(tmp_path / "b", name="web")
    cfg = tmp_path / "dispatch.toml"
    cfg.write_text(f'[[repos]]\npath = "{a}"\nname = "backend"\n\n[[repos]]\npath = "{b}"\n')
    p = subprocess.Popen([sys.executable, "-m", "gitjit", "serve", "--config", str(cfg)], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        line = p.stdout.readline() if p.stdout else ""
        url = line.split(": ", 1)[1].strip()
        repos = get(url + "api/repos")[1]["repos"]
        assert [r["name"] for r in repos] == ["backend", "web"]
        assert get(f"{url}api/r/web/issue/{ids_b['docs']}")[1]["title"] == "Write the docs"
    finally:
        p.terminate()
        p.wait(10)
