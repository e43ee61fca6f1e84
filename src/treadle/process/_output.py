"""A process's output: read from its pipes, timestamped into rotating log files and a ring.

Owns :class:`Output`. Rotation is the stdlib's ``RotatingFileHandler``; the ring keeps the
last lines for ``status()`` and ``logs``. A line longer than ``line_limit`` bytes is never
held whole: the ring and the listener get its first ``line_limit`` bytes and a mark of the
cut (``[… 48.3 MB cut]``), the log file all of it, written as it comes.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import logging.handlers
import os
import time
from collections import deque
from collections.abc import Callable

__all__ = ["LINE_LIMIT", "Output", "Pump", "human_size"]

_FORMAT = logging.Formatter("%(asctime)s %(stream)s %(message)s")
LINE_LIMIT = 64 * 1024  # bytes of one line kept in the ring and handed to the listener
_CHUNK = 64 * 1024  # bytes read from a pipe at a time
_DRAIN = 16  # chunks a drain reads at most (a pipe holds one)
_WATCH = 0.02  # seconds after a pipe's pump is made that a reader is added to the loop


def human_size(n: float) -> str:
    """``48.3 MB``: bytes for people (powers of 1024)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} bytes"


class _LogFile(logging.handlers.RotatingFileHandler):
    """A rotating log file that also takes a line in pieces (``begin``, ``more``,
    ``end``): a long line is written as it is read, never held whole. It rolls over
    only between lines."""

    def begin(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self.shouldRollover(record):
                self.doRollover()
            if self.stream is None:
                self.stream = self._open()
            self.stream.write(self.format(record))

    def more(self, text: str) -> None:
        with self.lock:  # type: ignore[union-attr]
            if self.stream is not None:
                self.stream.write(text)

    def end(self) -> None:
        self.more(self.terminator)
        self.flush()


class Output:
    def __init__(self, ring_lines: int, line_limit: int = LINE_LIMIT) -> None:
        self.ring: deque[tuple[float, str, str]] = deque(maxlen=ring_lines)
        self.line_limit = line_limit
        self._files: dict[str, logging.Handler] = {}
        self._wanted: dict[str, tuple[str, int, int]] = {}  # stream → its file, not yet open
        self._waiters: list[asyncio.Future[None]] = []
        self.listener: Callable[[str, str], None] | None = None  # (stream, line), per line
        self.pumps: dict[str, Pump] = {}  # the pipes read now, by stream

    def to_file(self, stream: str, path: str, max_bytes: int, backups: int) -> None:
        """Write ``stream``'s lines to ``path``; streams given the same path share one
        file (each line says its stream), rotated once. The file is opened with the
        first line (a process that writes none, most tasks, costs nothing here)."""
        self._wanted[stream] = (os.path.abspath(path), max_bytes, backups)

    def _handler(self, stream: str) -> logging.Handler | None:
        handler = self._files.get(stream)
        if handler is not None or stream not in self._wanted:
            return handler
        path, max_bytes, backups = self._wanted.pop(stream)
        for other in self._files.values():
            if isinstance(other, logging.handlers.RotatingFileHandler) and (
                other.baseFilename == path
            ):
                self._files[stream] = other
                return other
        # A log in a directory that is not there yet (logs/web.log in a new checkout): made,
        # as `mkdir -p` would, rather than every line lost to a file that cannot be opened.
        with contextlib.suppress(OSError):  # (then the open fails, as it did before)
            os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = _LogFile(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        handler.setFormatter(_FORMAT)
        self._files[stream] = handler
        return handler

    def line(self, stream: str, text: str, *, logged: bool = False) -> None:
        """One line of output (``logged``: its log file has it already)."""
        now = time.time()
        self.ring.append((now, stream, text))
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        if self.listener is not None:
            self.listener(stream, text)
        handler = self._handler(stream)
        if handler is not None and not logged:
            handler.handle(_record(stream, text, now))

    def pump(self, stream: str, fd: int) -> Pump:
        """Read the pipe ``fd`` (ours to close) line by line until EOF."""
        pump = self.pumps[stream] = Pump(self, stream, fd)
        return pump

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
        self._wanted.clear()


def _record(stream: str, text: str, now: float) -> logging.LogRecord:
    record = logging.makeLogRecord({"msg": text, "created": now, "stream": stream})
    record.msecs = (now % 1) * 1000
    return record


class Pump:
    """One pipe read by a reader callback on the loop (no task, no transport, no stream
    per run): its lines go to the output; :attr:`done` at EOF or :meth:`close`.

    The reader is added ``_WATCH`` seconds after the pump is made, not at once: most of
    a short run's output is read at its end (:meth:`finish`), with no reader to add and
    remove (two epoll calls and asyncio's bookkeeping, a quarter of a manager's work on a
    trivial process task). Lines reach the outbox in batches of 50 ms anyway; a writer
    that fills the pipe (64 KiB) meanwhile waits for the reader."""

    __slots__ = ("_fd", "_long", "_loop", "_output", "_stream", "_watch", "done")

    def __init__(self, output: Output, stream: str, fd: int) -> None:
        self._output, self._stream, self._fd = output, stream, fd
        self._loop = asyncio.get_running_loop()
        self._long = _LongLine(output, stream)
        self.done: asyncio.Future[None] = self._loop.create_future()
        os.set_blocking(fd, False)
        self._watch: asyncio.TimerHandle | None = self._loop.call_later(_WATCH, self.watch)

    def watch(self) -> None:
        """Read the pipe as output comes, from now on (until EOF or :meth:`close`)."""
        if self._watch is not None and self._fd >= 0:
            self._watch.cancel()
            self._watch = None
            self._loop.add_reader(self._fd, self._readable)

    def finish(self) -> None:
        """Its process ended: read what the pipe holds (at most ``_DRAIN`` chunks) and,
        unless that reached EOF (another process holds the pipe, or writes on), go on
        reading it as it comes."""
        for _ in range(_DRAIN):
            if self._fd < 0 or not self._readable():
                break
        self.watch()

    def _readable(self) -> bool:
        """Read once; whether there was anything (False: nothing now, or EOF)."""
        try:
            chunk = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            chunk = b""
        if not chunk:
            if not self._long.empty:  # the last line had no newline
                self._long.finish()
            self.close()
            return False
        self._lines(chunk)
        return True

    def drain(self) -> bool:
        """Read what the pipe holds now (at most ``_DRAIN`` chunks: a writer that goes on
        writing is read as it comes), and end a last line that has no newline: what
        was written before this call is out, line by line. False once at EOF."""
        for _ in range(_DRAIN):
            if self._fd < 0 or not self._readable():
                break
        if self._fd >= 0 and not self._long.empty:
            self._long.finish()
        return self._fd >= 0

    def _lines(self, chunk: bytes) -> None:
        output, stream, long = self._output, self._stream, self._long
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            if long.empty and end - start <= output.line_limit:  # the common case
                output.line(stream, chunk[start:end].decode("utf-8", "replace"))
            else:
                long.add(chunk[start:end])
                long.finish()
            start = end + 1
        if start < len(chunk):
            long.add(chunk[start:])

    def close(self) -> None:
        """Stop reading (a stray writer holding the pipe open is cut) and close it."""
        if self._fd < 0:
            return
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        else:
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1
        if not self.done.done():
            self.done.set_result(None)


class _LongLine:
    """A line read in pieces: its first ``line_limit`` bytes kept, the rest counted and
    written to the stream's log file (if any) as it comes."""

    def __init__(self, output: Output, stream: str) -> None:
        self._output = output
        self._stream = stream
        self._kept = bytearray()
        self._cut = 0
        self._logging = False  # the log file has its start already
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    @property
    def empty(self) -> bool:
        return not self._kept and not self._cut

    def add(self, piece: bytes) -> None:
        room = self._output.line_limit - len(self._kept)
        if room >= len(piece) and not self._cut:
            self._kept += piece
            return
        handler = self._output._handler(self._stream)
        if isinstance(handler, _LogFile):
            if not self._logging:
                self._logging = True
                start = self._decoder.decode(bytes(self._kept))
                handler.begin(_record(self._stream, start, time.time()))
            handler.more(self._decoder.decode(piece))
        if room > 0:
            self._kept += piece[:room]
        self._cut += len(piece) - max(room, 0)

    def finish(self) -> None:
        text = self._kept.decode("utf-8", "replace")
        if self._cut:
            text += f" [… {human_size(self._cut)} cut]"
        handler = self._output._handler(self._stream)
        if self._logging and isinstance(handler, _LogFile):
            handler.more(self._decoder.decode(b"", final=True))
            handler.end()
        self._output.line(self._stream, text, logged=self._logging)
        self._kept = bytearray()
        self._cut = 0
        self._logging = False
        self._decoder.reset()
