"""Run a command with its stdout and stderr on a pseudo-terminal (what a person's terminal is)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_pty(args: list[str], *, cwd: Path | str, env: dict[str, str], stdout_pipe: bool = False,
            timeout: float = 120) -> tuple[int, bytes, bytes]:
    """``python -m gitjit ARGS`` with stderr (and stdout, unless ``stdout_pipe``) on a new pty:
    (exit status, what the terminal got, what the pipe got)."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "gitjit", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE if stdout_pipe else slave, stderr=slave)
    finally:
        os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    piped = proc.stdout.read() if proc.stdout is not None else b""
    rc = proc.wait(timeout=timeout)
    os.close(master)
    return rc, b"".join(chunks).replace(b"\r\n", b"\n"), piped
