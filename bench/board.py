"""The web board at scale: first paint and the delay of a live change, in a real browser.

``python -m bench.board [--sizes 1000,100000] [--runs 5] [--keep DIR]`` builds each repository as
the main benchmark does (``bench.suite.build_repo``: epics, dependencies, most old work done),
starts ``jit serve``'s board on a thread (``gitjit.board.run.start``) and drives Debian's chromium
with Playwright. For each size it measures, as medians of ``--runs``:

* ``start_s``: from the call to the board answering (the Trackers opened, the first board read
  and cached, so the first page does not pay for it);
* ``board_api_ms``: ``GET /api/r/REPO/board`` (the columns' counts and first cards) with its
  cache emptied each time, as after a change;
* ``first_paint_ms``: a new tab opened on the board until every column shows its count and the
  ready column its first cards (``first_paint_page_ms``: the same moment by the page's own clock,
  ``performance.now()`` from the start of its navigation, without the tab's set-up);
* ``live_ms``: ``jit issue claim`` of the first ready card run as another process, from the end
  of that process to the card leaving the ready column of the open page (no reload).

Writes its table between ``<!-- board:begin -->`` and ``<!-- board:end -->`` in
docs/performance.md (``--no-write`` to only print the JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from .suite import ROOT, _environ, build_repo, index_current, machine, scrubbed_env

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DOC = ROOT / "docs" / "performance.md"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def measure(repo: Path, env: dict[str, str], runs: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from gitjit.board.run import start

    out: dict[str, Any] = {}
    # the index in step with this code first (an edit of the core rebuilds it: a minute at 100,000)
    out["index_current_s"] = index_current(repo, env)
    with _environ(env):
        t0 = time.perf_counter()
        run = start([str(repo)], actor="human:bench")
        out["start_s"] = round(time.perf_counter() - t0, 2)
    name = next(iter(run.board.repos))
    r = run.board.repos[name]
    try:
        api = []
        for _ in range(runs):
            r._ids.clear()
            t0 = time.perf_counter()
            b = _get(f"{run.url}api/r/{name}/board")
            api.append((time.perf_counter() - t0) * 1000)
        out["board_api_ms"] = round(statistics.median(api), 1)
        out["counts"] = {c["name"]: c["count"] for c in b["columns"]}
        with sync_playwright() as p:
            br = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            paint: list[float] = []
            inpage: list[float] = []
            for _ in range(runs):
                pg = br.new_page(viewport={"width": 1500, "height": 900})
                t0 = time.perf_counter()
                pg.goto(run.url, wait_until="commit")
                pg.wait_for_selector(".column[data-column=ready] .card", timeout=60_000)
                paint.append((time.perf_counter() - t0) * 1000)
                # the page's own clock: from the start of its navigation (a new tab's set-up left out)
                inpage.append(pg.evaluate("performance.now()"))
                pg.close()
            out["first_paint_ms"] = round(statistics.median(paint), 1)
            out["first_paint_page_ms"] = round(statistics.median(inpage), 1)
            pg = br.new_page(viewport={"width": 1500, "height": 900})
            pg.goto(run.url)
            pg.wait_for_selector(".column[data-column=ready] .card", timeout=60_000)
            pg.wait_for_function("document.body.dataset.live === '1'")
            live = []
            for k in range(runs):
                iid = pg.get_attribute(".column[data-column=ready] .card", "data-id")
                subprocess.run([sys.executable, "-m", "gitjit", "issue", "claim", iid, f"agent:bench{k}", "-q"],
                               cwd=repo, env={**env, "PYTHONPATH": str(ROOT)}, check=True, capture_output=True)
                t0 = time.perf_counter()
                pg.wait_for_selector(f".column[data-column=ready] .card[data-id='{iid}']", state="detached",
                                     timeout=30_000)
                live.append((time.perf_counter() - t0) * 1000)
            out["live_ms"] = round(statistics.median(live), 1)
            out["live_max_ms"] = round(max(live), 1)
            br.close()
    finally:
        run.stop()
    return out


def table(results: dict[int, dict[str, Any]], m: dict[str, Any], cmd: str) -> str:
    lines = [(f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}, {m['os']}; Python {m['python']}, "
              f"SQLite {m['sqlite']}; Debian chromium driven by Playwright. Date: {m['date']}."),
             (f"Command: `{cmd}`. Medians of the runs; targets: first paint under 1 s and a change seen "
              "within 2 s at 100,000 issues."), "",
             ("| issues | board start (s) | `GET /board` (ms) | first paint: new tab (ms) "
              "| first paint: page clock (ms) | live change (ms, median / max) |"),
             "|---:|---:|---:|---:|---:|---:|"]
    for n, r in sorted(results.items()):
        lines.append(f"| {n:,} | {r['start_s']} | {r['board_api_ms']} | {r['first_paint_ms']} | {r['first_paint_page_ms']} | "
                     f"{r['live_ms']} / {r['live_max_ms']} |")
    return "\n".join(lines)


def write_doc(text: str) -> None:
    doc = DOC.read_text()
    begin, end = "<!-- board:begin -->", "<!-- board:end -->"
    block = f"{begin}\n{text}\n{end}"
    if begin in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip() + "\n\n## The web board (bench/board.py)\n\n" + block + "\n"
    DOC.write_text(doc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--keep", help="build the repositories here and keep them (reused when present)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    sizes = [int(s) for s in a.sizes.split(",")]
    tmp = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="jit-bench-board-"))
    tmp.mkdir(parents=True, exist_ok=True)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env = scrubbed_env(home)
    results: dict[int, dict[str, Any]] = {}
    for n in sizes:
        repo = tmp / f"repo-{n}"
        info: dict[str, Any] = {}
        if not (repo / ".git" / "jit").exists():
            t0 = time.perf_counter()
            repo, info = build_repo(tmp, n, env)
            info["build_s"] = round(time.perf_counter() - t0, 1)
        res = measure(repo, env, a.runs)
        results[n] = {**info, **res}
        print(json.dumps({n: results[n]}), flush=True)
    cmd = "python -m bench.board " + " ".join(argv if argv is not None else sys.argv[1:])
    text = table(results, machine(), cmd.strip())
    print(text)
    if not a.no_write:
        write_doc(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
