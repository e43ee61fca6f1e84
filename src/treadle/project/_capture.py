"""What a project's loops print and log, in their log files: :class:`LoopOutput`.

A process child's output comes through its pipes into ``.treadle/logs/NAME.log``; a loop
runs in the manager's own interpreter, where ``print()`` and ``logging`` would go to the
manager's stdout (nowhere to be read with ``up -d``, unprefixed in the foreground).
While installed, :class:`LoopOutput` takes them back: ``sys.stdout`` and ``sys.stderr``
become proxies that hand what code running for a child writes (the supervisor names each
child's task: :func:`~treadle.supervisor.current_child`) to that child's ``NAME.log``, in
the process layer's format (``TIME STREAM TEXT``, rotated alike), so that ``treadle logs``,
the dashboard and the foreground's merged output show it as they show a process's.
Anything else goes on to the real stream as before, at the cost of one context lookup.

Logging: a root logger the user's code configured to write to the console
(``logging.basicConfig()``) keeps its handlers, which now write to the proxies, so that
a child's lines land in its log in the user's format. Otherwise a handler is added to
the root logger that writes a child's records (``LEVEL LOGGER: MESSAGE``, at the
project's ``[logging] level`` or above, the root logger's level lowered to it) to its
log as stderr, and other records at WARNING or above to the real stderr (as logging's
last resort did); treadle's own loggers keep their own file.

It owns no file format (:mod:`treadle.process._output`'s) and no reading (:mod:`._logfiles`).
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO, cast

from ..process._output import LINE_LIMIT, Output
from ..supervisor import current_child

__all__ = ["LoopOutput"]

_FORMAT = "%(levelname)s %(name)s: %(message)s"
_OWN = "treadle"  # treadle's loggers: they have treadle.log


class LoopOutput:
    """Routes in-process children's ``print()`` and ``logging`` to their log files.

    Args:
        log_dir: where ``NAME.log`` files go.
        level: the least level of a child's log records that is written.
        loops: whether a child (by its declared name) runs in this interpreter; what runs
            for any other (a process child's task: treadle's code) goes where it went.
            Asked once per child path until :meth:`forget`.
        max_bytes, backups: each file's rotation (a process child's defaults).
    """

    def __init__(
        self,
        log_dir: Path,
        level: int = logging.INFO,
        *,
        loops: Callable[[str], bool] = lambda name: True,
        max_bytes: int = 10 << 20,
        backups: int = 5,
    ) -> None:
        self.log_dir = log_dir
        self.level = level
        self._loops = loops
        self._max_bytes = max_bytes
        self._backups = backups
        self._lock = threading.RLock()  # a failing write reports to stderr: us again
        self._files: dict[str, Output] = {}  # a log file's child name → its writer
        self._by_path: dict[str, Output | None] = {}  # a child's path → its file's writer
        self._partial: dict[tuple[str, str], str] = {}  # (path, stream) → an unfinished line
        self._real: tuple[TextIO, TextIO] | None = None
        self._handler: logging.Handler | None = None
        self._root_level = logging.WARNING
        self._repointed: list[tuple[logging.StreamHandler[Any], IO[str]]] = []

    @property
    def installed(self) -> bool:
        return self._real is not None

    def install(self) -> None:
        """Take over ``sys.stdout``, ``sys.stderr`` and (if unconfigured) root logging."""
        if self._real is not None:
            return
        out, err = self._real = (sys.stdout, sys.stderr)
        sys.stdout = cast(TextIO, _Proxy(out, "stdout", self))
        sys.stderr = cast(TextIO, _Proxy(err, "stderr", self))
        root = logging.getLogger()
        for handler in root.handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (out, err):
                proxy = sys.stdout if handler.stream is out else sys.stderr
                self._repointed.append((handler, handler.stream))
                handler.setStream(proxy)
        if not self._repointed:  # nobody logs to the console: records would be lost
            self._handler = _Handler(self, err)
            root.addHandler(self._handler)
            self._root_level = root.level
            root.setLevel(min(root.level, self.level))

    def uninstall(self) -> None:
        """Give the streams and the root logger back; finish unfinished lines; close files."""
        if self._real is None:
            return
        sys.stdout, sys.stderr = self._real
        self._real = None
        root = logging.getLogger()
        for handler, console in self._repointed:
            handler.setStream(console)
        self._repointed.clear()
        if self._handler is not None:
            root.removeHandler(self._handler)
            root.setLevel(self._root_level)
            self._handler = None
        with self._lock:
            for (path, name), rest in self._partial.items():
                output = self._writer(path)
                if output is not None:
                    output.line(name, rest)
            self._partial.clear()
            for output in self._files.values():
                output.close()
            self._files.clear()
            self._by_path.clear()

    def owns(self, path: str) -> bool:
        """Whether what code running for child ``path`` writes goes to its log."""
        try:
            return self._by_path[path] is not None
        except KeyError:
            with self._lock:
                return self._writer(path) is not None

    def forget(self) -> None:
        """Ask ``loops`` again (the project was reloaded: a name may be another child)."""
        with self._lock:
            self._by_path.clear()

    def write(self, path: str, stream: str, text: str) -> None:
        """``text`` written by child ``path`` (one it :meth:`owns`) to ``stream``: its
        whole lines go to the child's file; an unfinished one waits for its end (or for
        a line's limit)."""
        with self._lock:
            key = (path, stream)
            pending = self._partial.pop(key, "") + text
            *lines, rest = pending.split("\n")
            if len(rest) >= LINE_LIMIT:
                lines.append(rest)
            elif rest:
                self._partial[key] = rest
            output = self._writer(path)
            if lines and output is not None:
                for line in lines:
                    output.line(stream, line[:-1] if line.endswith("\r") else line)

    def _writer(self, path: str) -> Output | None:
        """The writer of a child's file (None: not a loop's): ``shop.worker[1]`` and
        ``shop.worker[2]`` share ``worker.log``, as a pool's processes do."""
        if path in self._by_path:
            return self._by_path[path]
        name = path.rsplit(".", 1)[-1].partition("[")[0]
        output = None
        if self._loops(name):
            output = self._files.get(name)
            if output is None:
                output = self._files[name] = Output(0)
                file = str(self.log_dir / f"{name}.log")
                for stream in ("stdout", "stderr"):
                    output.to_file(stream, file, self._max_bytes, self._backups)
        self._by_path[path] = output
        return output


class _Proxy:
    """``sys.stdout`` or ``sys.stderr`` while installed: a child's writes go to its log,
    everything else (and every other attribute) to the real stream."""

    def __init__(self, real: TextIO, stream: str, sink: LoopOutput) -> None:
        self._real = real
        self._stream = stream
        self._sink = sink

    def write(self, text: str) -> int:
        path = current_child()
        if path is None or not self._sink.owns(path):
            return self._real.write(text)
        self._sink.write(path, self._stream, text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._real.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer...
        return getattr(self._real, name)


class _Handler(logging.Handler):
    """The root logger's handler while nobody configured one: a child's records to its
    log, the others at WARNING or above to the real stderr."""

    def __init__(self, sink: LoopOutput, stderr: TextIO) -> None:
        super().__init__()
        self._sink = sink
        self._stderr = stderr
        self._plain = logging.Formatter()  # logging.lastResort's: the message (and traceback)
        self.setFormatter(logging.Formatter(_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        name = record.name
        if name == _OWN or name.startswith(_OWN + "."):
            return
        path = current_child()
        try:
            if path is None or not self._sink.owns(path):
                if record.levelno >= logging.WARNING:  # logging.lastResort's behaviour
                    self._stderr.write(self._plain.format(record) + "\n")
                return
            if record.levelno >= self._sink.level:
                self._sink.write(path, "stderr", self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging's contract: a handler reports, never raises
            self.handleError(record)
