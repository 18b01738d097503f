"""Progress of long work: the library reports through a callback and prints nothing; the CLI
draws it on stderr at a terminal (a real pseudo-terminal), and never into pipes, --json or -q."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Jit
from ptylib import run_pty
from synclib import hub_and_clones, tracker

from gitjit.app.doctor import Doctor
from gitjit.app.exchange import export_lines, import_file
from gitjit.core.progress import counted

N = 120


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.calls.append((stage, done, total))

    def stages(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for s, d, _ in self.calls:
            out.setdefault(s, []).append(d)
        return out


def test_counted() -> None:
    r = Recorder()
    assert list(counted("abc", r, "letters", 3)) == ["a", "b", "c"]
    assert r.calls == [("letters", 0, 3), ("letters", 1, 3), ("letters", 2, 3), ("letters", 3, 3)]
    assert list(counted("ab", None, "x")) == ["a", "b"]


def _input(tmp: Path, n: int = N) -> Path:
    f = tmp / "in.jsonl"
    f.write_text("".join(json.dumps({"key": f"k{i}", "title": f"Issue {i}"}) + "\n" for i in range(n)))
    return f


def test_library_reports_through_the_callback_and_prints_nothing(jit: Jit, tmp_path: Path,
                                                                 capfd: pytest.CaptureFixture[str]) -> None:
    from gitjit.app.tracker import Tracker

    t = Tracker(jit.repo, actor="agent:test")
    r = Recorder()
    assert import_file(t, str(_input(tmp_path)), progress=r)["count"] == N
    assert r.stages()["writing issues"] == list(range(N + 1))
    r = Recorder()
    assert len(list(export_lines(t, progress=r))) == N
    assert r.stages()["exporting issues"][-1] == N
    r = Recorder()
    ix = t.index.indexer()
    assert ix.rebuild(progress=r)["refs"] == N
    assert r.stages()["reading refs"][-1] == N and all(total == N for _, _, total in r.calls)
    r = Recorder()
    Doctor(t.git, t.store).run(progress=r)
    assert r.stages()["checking refs"][-1] >= N
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_pull_of_many_refs_reports(tmp_path: Path) -> None:
    _hub, (a, b) = hub_and_clones(tmp_path, 2)
    ta = tracker(a)
    for i in range(30):
        ta.create_issue(f"Issue {i}")
    ta.push("origin")
    r = Recorder()
    tracker(b).pull("origin", progress=r)
    merged = r.stages()["merging refs"]
    assert merged[0] == 0 and merged[-1] == r.calls[-1][2] >= 30


def _env(jit: Jit) -> dict[str, str]:
    return {**os.environ, "JIT_REPO": str(jit.repo), "TERM": "xterm"}


@pytest.mark.parametrize("args, label", [
    (["import", "{file}"], b"import: writing issues"),
    (["export", "-o", "{out}"], b"export: exporting issues"),
    (["index", "rebuild"], b"index rebuild: reading refs"),
    (["doctor"], b"doctor: checking refs"),
])
def test_a_terminal_sees_progress_and_pipes_json_and_quiet_do_not(jit: Jit, tmp_path: Path, args: list[str],
                                                                  label: bytes) -> None:
    f = _input(tmp_path)
    if args[0] != "import":
        assert jit("import", str(f)).exit_code == 0
    a = [x.format(file=f, out=tmp_path / "out.jsonl") for x in args]
    rc, out, _ = run_pty(a, cwd=jit.repo, env=_env(jit))
    assert rc == 0, out
    assert b"\r" + label + b" 0/" in out
    assert label + f" {N}/{N} (100%)".encode() in out
    # the line is cleared before the command's own output
    last = out.rsplit(b"\r", 1)
    assert label not in last[1]
    if args[0] == "import":  # again, into a fresh repository each time below
        jit("index", "rebuild")
    for extra in (["--json"], ["-q"]):
        if args[0] == "import":
            extra = [*extra, "--dry-run"]
        rc, out, _ = run_pty([*a, *extra], cwd=jit.repo, env=_env(jit))
        assert rc == 0, out
        assert b"\r" not in out.replace(b"\r\n", b"\n") and label not in out
    p = subprocess.run([sys.executable, "-m", "gitjit", *a, *(["--dry-run"] if args[0] == "import" else [])],
                       env=_env(jit), capture_output=True, timeout=120)
    assert p.returncode == 0 and label not in p.stderr and b"\r" not in p.stderr


def test_progress_under_dry_run_import_is_nothing_to_write(jit: Jit, tmp_path: Path) -> None:
    rc, out, _ = run_pty(["import", str(_input(tmp_path)), "--dry-run"], cwd=jit.repo, env=_env(jit))
    assert rc == 0 and b"Checked 120 issues" in out


def test_meter_throttles(jit: Jit) -> None:
    from io import StringIO

    from gitjit.cli.progress import Meter

    s = StringIO()
    m = Meter("x", s, every=3600)
    for i in range(1000):
        m("stage", i, 999)
    m.close()
    text = s.getvalue()
    assert text.count("\r") == 2 + 2  # the first, the last (999/999), and the clearing (two \r)
    assert "x: stage 999/999 (100%)" in text and text.endswith("\r")
    assert "\x1b" not in text
