"""A process's output: read from its pipes, timestamped into rotating log files and a ring.

Owns :class:`Output`. Rotation is the stdlib's ``RotatingFileHandler``; the ring keeps the
last lines for ``status()`` and ``logs``.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import time
from collections import deque
from collections.abc import Callable
from typing import IO

__all__ = ["Output"]

_FORMAT = logging.Formatter("%(asctime)s %(stream)s %(message)s")


class Output:
    def __init__(self, ring_lines: int) -> None:
        self.ring: deque[tuple[float, str, str]] = deque(maxlen=ring_lines)
        self._files: dict[str, logging.Handler] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self.listener: Callable[[str, str], None] | None = None  # (stream, line), per line

    def to_file(self, stream: str, path: str, max_bytes: int, backups: int) -> None:
        """Write ``stream``'s lines to ``path``; streams given the same path share one
        file (each line says its stream), rotated once."""
        for other in self._files.values():
            if isinstance(other, logging.handlers.RotatingFileHandler) and (
                other.baseFilename == os.path.abspath(path)
            ):
                self._files[stream] = other
                return
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        handler.setFormatter(_FORMAT)
        self._files[stream] = handler

    def line(self, stream: str, text: str) -> None:
        now = time.time()
        self.ring.append((now, stream, text))
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        if self.listener is not None:
            self.listener(stream, text)
        handler = self._files.get(stream)
        if handler is not None:
            record = logging.makeLogRecord({"msg": text, "created": now, "stream": stream})
            record.msecs = (now % 1) * 1000
            handler.handle(record)

    async def pump(self, stream: str, pipe: IO[bytes]) -> None:
        """Read ``pipe`` line by line until EOF."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # a line longer than the limit: take it in pieces
                    raw = await reader.read(1 << 20)
                if not raw:
                    return
                self.line(stream, raw.decode("utf-8", "replace").rstrip("\n"))
        finally:
            transport.close()

    async def wait_line(self, predicate: Callable[[str], bool]) -> str:
        """Wait for an output line (already seen in the ring, or to come) matching ``predicate``."""
        seen = 0
        while True:
            lines = [text for _, _, text in self.ring]
            for text in lines[seen:] if seen <= len(lines) else lines:
                if predicate(text):
                    return text
            seen = len(lines)
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            await fut

    def tail(self, n: int = 20) -> list[str]:
        lines = list(self.ring)[-n:]
        return [f"{time.strftime('%H:%M:%S', time.localtime(t))} {s} {x}" for t, s, x in lines]

    def close(self) -> None:
        """Close the log files (the ring stays readable)."""
        for handler in set(self._files.values()):
            handler.close()
        self._files.clear()
