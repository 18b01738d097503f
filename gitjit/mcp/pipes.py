"""stdin and stdout for the SDK's ``stdio_server`` read and written by the event loop itself.

Left to itself, ``stdio_server`` wraps the process's stdin and stdout in ``anyio.wrap_file``: every
line read, every answer written and every flush is a hand-off to a worker thread and back, three
or more thread switches a call. On a busy machine each switch waits for a core, which cost more
than the call's own work. Here the event loop watches the pipes (``connect_read_pipe`` and
``connect_write_pipe``), so a call wakes one thread. Like ``stdio_server`` itself, while serving,
file descriptor 0 reads the null device and 1 writes to stderr (a stray ``print`` or a checker's
output cannot corrupt the protocol); both are put back at the end.

Over those pipes the server reads and writes JSON-RPC messages itself (``MessageReader``,
``MessageWriter``: the SDK's ``ReadStream`` and ``WriteStream`` protocols, which ``Server.run``
takes from any transport), without the SDK's ``stdio_server`` in between: that one hands each
message through a memory stream from a reader task to the dispatcher, and each answer through
another to a writer task, two more task switches per message each way. The parsing and the
shaping are the SDK's own (``jsonrpc_message_adapter``, ``model_dump_json``), as in
``stdio_server``.

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
from typing import Any, Self

__all__ = ["MessageReader", "MessageWriter", "pipe_streams"]

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


class MessageReader:
    """The SDK's ``ReadStream`` of ``SessionMessage | Exception`` over the lines of a pipe: each line
    parsed as ``stdio_server`` does (a line that is not a JSON-RPC message is yielded as the
    exception, which the dispatcher reports and goes on); the end of input ends the iteration."""

    def __init__(self, lines: LineReader) -> None:
        self.lines = lines
        self.closed = False

    async def receive(self) -> Any:
        import anyio
        from mcp import types
        from mcp.shared.message import SessionMessage

        if self.closed:
            raise anyio.ClosedResourceError
        line = await self.lines.reader.readline()
        if not line:
            raise anyio.EndOfStream
        try:
            message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
        except Exception as exc:  # noqa: BLE001 - handed on, as stdio_server does
            return exc
        return SessionMessage(message)

    def __aiter__(self) -> MessageReader:
        return self

    async def __anext__(self) -> Any:
        import anyio

        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class MessageWriter:
    """The SDK's ``WriteStream`` of ``SessionMessage`` onto a pipe: each message one line, written
    as ``stdio_server``'s writer task does, queued on the pipe at once (a write never interleaves
    with another: it is one ``write`` call, with no wait in between)."""

    def __init__(self, lines: LineWriter) -> None:
        self.lines = lines
        self.closed = False

    async def send(self, item: Any, /) -> None:
        import anyio

        if self.closed:
            raise anyio.ClosedResourceError
        text = item.message.model_dump_json(by_alias=True, exclude_unset=True)
        await self.lines.write(text + "\n")
        await self.lines.flush()

    async def aclose(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


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
