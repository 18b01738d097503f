"""Hub claims per second over each real server (tests/servers.py), one agent claiming in a loop.

For every transport: a fresh hub, a lead clone pushes ``N`` issues, an agent clone pulls them and
runs ``claim_next(remote="origin")`` ``N`` times; the figure is N over the seconds of that loop
(each claim: a fetch of all jit refs, a fetch of the issue, a push). Transports are interleaved
round by round so that a noisy machine hits them alike; medians are printed. ``ssh``/``gitolite``
run with ssh connection sharing (ControlMaster) and again without (``-nomux``).

Run: ``python bench/hub_transports.py [ROUNDS] [N]`` (default 3 rounds of 8 claims); prints a
Markdown table. Needs the servers' Debian packages (a missing one is skipped, named).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from servers import Hub, apache_hub, daemon_hub, gitolite_hub, missing, nginx_hub, ssh_hub

from gitjit.app.tracker import Tracker

TRANSPORTS: dict[str, tuple[str, Callable[[], AbstractContextManager[Hub]]]] = {
    "git daemon": ("daemon", daemon_hub),
    "Apache smart HTTP (login for pushes)": ("http", apache_hub),
    "nginx + fcgiwrap smart HTTP": ("nginx", nginx_hub),
    "ssh, ControlMaster": ("ssh", lambda: ssh_hub(multiplex=True)),
    "ssh, a connection per git command": ("ssh", lambda: ssh_hub(multiplex=False)),
    "gitolite, ControlMaster": ("gitolite", lambda: gitolite_hub(multiplex=True)),
    "gitolite, a connection per git command": ("gitolite", lambda: gitolite_hub(multiplex=False)),
}


def _clone(base: Path, name: str, url: str) -> Path:
    d = base / name
    subprocess.run(["git", "init", "-q", str(d)], check=True)
    subprocess.run(["git", "-C", str(d), "remote", "add", "origin", url], check=True)
    subprocess.run(["git", "-C", str(d), "config", "jit.fsync", "false"], check=True)
    Tracker(d, actor="setup").init()
    return d


def claims_per_second(factory: Callable[[], AbstractContextManager[Hub]], n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp, factory() as hub:
        saved = dict(os.environ)
        os.environ.update({"HOME": tmp, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
                           "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.invalid",
                           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.invalid", **hub.env})
        try:
            lead = Tracker(_clone(Path(tmp), "lead", hub.url), actor="lead")
            for i in range(n):
                lead.create_issue(f"job {i}")
            lead.push()
            agent = Tracker(_clone(Path(tmp), "agent", hub.url), actor="agent:b")
            agent.pull()
            t0 = time.perf_counter()
            for _ in range(n):
                agent.claim_next("agent:b", remote="origin")
            return n / (time.perf_counter() - t0)
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 3
    n = int(argv[1]) if len(argv) > 1 else 8
    runs: dict[str, list[float]] = {k: [] for k, (kind, _) in TRANSPORTS.items() if not missing(kind)}
    for k, (kind, _) in TRANSPORTS.items():
        if missing(kind):
            print(f"skipped {k}: {missing(kind)}", file=sys.stderr)
    for _ in range(rounds):
        for k, got in runs.items():
            got.append(claims_per_second(TRANSPORTS[k][1], n))
    print(f"load average after: {os.getloadavg()[0]:.1f}; {rounds} rounds of {n} claims\n")
    print("| transport | claims/s (median) | runs |\n|---|---|---|")
    for k, v in runs.items():
        print(f"| {k} | {statistics.median(v):.2f} | {', '.join(f'{x:.2f}' for x in v)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
