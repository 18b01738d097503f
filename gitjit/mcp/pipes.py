"""stdin and stdout for the SDK's ``stdio_server`` read and written by the event loop itself.

Left to itself, ``stdio_server`` wraps the process's stdin and stdout in ``anyio.wrap_file``: every
line read, every answer written and every flush is a hand-off to a worker thread and back, three
or more thread switches a call. On a busy machine each switch waits for a core, which cost more
than the call's own work. Here the event loop watches the pipes (``connect_read_pipe`` and
``connect_write_pipe``), so a call wakes one thread. Like ``stdio_server`` itself, while serving,
file descriptor 0 reads the null device and 1 writes to stderr (a stray ``print`` or a checker's
output cannot corrupt the protocol); both are put back at the end.

Where the descriptors are not pipes or sockets (a regular file as stdin, say), ``pipe_streams``
yields ``None`` and the caller leaves the SDK its own threaded streams.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

__all__ = ["pipe_streams"]

#: the longest line (one JSON-RPC message) read: a tool's arguments are small, but not bounded
LINE_LIMIT = 64 * 1024 * 1024


class LineReader:
    """``async for line in reader``: the lines of the pipe, decoded as UTF-8 (a bad byte becomes
    U+FFFD, as in the SDK's own reader)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> LineReader:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


class LineWriter:
    """What ``stdio_server`` asks of its stdout: ``write`` then ``flush``. A write is queued on the
    pipe without blocking; ``flush`` waits only while the reader lags far behind."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    async def write(self, text: str) -> None:
        self.writer.write(text.encode("utf-8"))

    async def flush(self) -> None:
        await self.writer.drain()


def _streamable(fd: int) -> bool:
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


@asynccontextmanager
async def pipe_streams() -> AsyncIterator[tuple[Any, Any] | None]:
    """``(stdin, stdout)`` to hand to ``stdio_server``, or ``None`` where fd 0 or 1 is not a pipe
    or socket."""
    if not (_streamable(0) and _streamable(1)):
        yield None
        return
    loop = asyncio.get_running_loop()
    wire_in = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    wire_out = fcntl.fcntl(1, fcntl.F_DUPFD_CLOEXEC, 3)
    flags = {fd: fcntl.fcntl(fd, fcntl.F_GETFL) for fd in (wire_in, wire_out)}
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
    finally:
        os.close(null)
    os.dup2(2, 1)
    # the transports own (and close) duplicates of their own; wire_in and wire_out stay to put back
    rfile = os.fdopen(fcntl.fcntl(wire_in, fcntl.F_DUPFD_CLOEXEC, 3), "rb", buffering=0)
    wfile = os.fdopen(fcntl.fcntl(wire_out, fcntl.F_DUPFD_CLOEXEC, 3), "wb", buffering=0)
    try:
        reader = asyncio.StreamReader(limit=LINE_LIMIT)
        rtransport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), rfile)
        wtransport, wprotocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, wfile)
        writer = asyncio.StreamWriter(wtransport, wprotocol, None, loop)
        try:
            yield LineReader(reader), LineWriter(writer)
        finally:
            rtransport.close()
            with suppress(Exception):
                await writer.drain()
            wtransport.close()
    finally:
        # the wire back on 0 and 1, blocking again (a terminal's other readers expect it)
        for fd, old in ((wire_in, 0), (wire_out, 1)):
            with suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETFL, flags[fd])
            with suppress(OSError):
                os.dup2(fd, old)
            os.close(fd)
