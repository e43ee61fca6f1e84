"""A project's log directory as one stream of lines: parsed, merged in time order, followed.

Owns the formats on disk: each process child's ``NAME.log`` (``TIME STREAM TEXT``, the
process layer's ``_FORMAT``), rotated by ``RotatingFileHandler`` into ``NAME.log.1``,
``NAME.log.2``... (older is higher), and the supervisor's ``treadle.log`` (``TIME LOGGER
MESSAGE``; the ``treadle.lifecycle`` logger's message is a Transition as JSON). A line
that does not parse is kept as it is, at the time of the line before it. :class:`LogDir`
reads what is there as a k-way merge, oldest first, then goes on reading what is
appended, to any file or to one created later, across rotation and truncation. Choosing
lines and printing them is :mod:`._logs`'s.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Final

__all__ = ["POLL", "SUPERVISOR", "Entry", "LogDir"]

POLL: Final = 0.2  # seconds between looks at the files while following
SUPERVISOR: Final = "treadle"  # treadle.log: the supervisor's own lines
_LIFECYCLE: Final = "treadle.lifecycle"
_FILE: Final = re.compile(r"([A-Za-z0-9_][A-Za-z0-9_-]*)\.log(?:\.([1-9][0-9]*))?")
_STAMP: Final = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3})"
_OUTPUT: Final = re.compile(_STAMP + r" (stdout|stderr)(?: (.*))?", re.DOTALL)
_RECORD: Final = re.compile(_STAMP + r" (\S+)(?: (.*))?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a log file.

    Attributes:
        ts: when it was written (a line that does not parse: the line before it's time,
            0.0 if none).
        child: the file's child (``web`` for ``web.log``; ``treadle`` for treadle.log).
        stream: ``stdout``, ``stderr``; ``lifecycle`` or ``log`` in treadle.log; ``""``
            for a line that does not parse.
        text: the text; a lifecycle line's is its JSON, an other logger's ``LOGGER: MSG``.
        event: a lifecycle line's Transition (``Transition.as_dict()``), else None.
    """

    ts: float
    child: str
    stream: str
    text: str
    event: Mapping[str, Any] | None = None


def _order(entry: Entry) -> tuple[int, int]:
    """Time order to the millisecond (what an output line's stamp keeps; a lifecycle
    line's is finer); within one millisecond a child's start, then its output, then its
    end (a process can start, print and exit in less)."""
    event = entry.event
    if event is None:
        return int(entry.ts * 1000), 1
    return int(entry.ts * 1000), 0 if event.get("to") in ("pending", "starting", "running") else 2


@lru_cache(maxsize=1024)
def _seconds(stamp: str) -> float:
    """``2024-05-01 12:00:00`` in local time (logging's asctime) as a Unix time."""
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))


class _Parser:
    """One child's lines, in order: each parsed, or carried at the last time seen."""

    def __init__(self, child: str) -> None:
        self.child = child
        self.last = 0.0

    def __call__(self, raw: bytes) -> Entry:
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        entry = self._parse(text)
        if entry is None:
            return Entry(self.last, self.child, "", text)
        self.last = entry.ts
        return entry

    def _parse(self, text: str) -> Entry | None:
        pattern = _RECORD if self.child == SUPERVISOR else _OUTPUT
        match = pattern.fullmatch(text)
        if match is None:
            return None
        try:
            ts = _seconds(match.group(1)) + int(match.group(2)) / 1000
        except (ValueError, OverflowError):  # a stamp-like line that is no real time
            return None
        kind, message = match.group(3), match.group(4) or ""
        if self.child != SUPERVISOR:
            return Entry(ts, self.child, kind, message)
        if kind == _LIFECYCLE:
            event = _transition(message)
            if event is not None:
                exact = event.get("ts")
                ts = float(exact) if isinstance(exact, int | float) else ts
                return Entry(ts, self.child, "lifecycle", message, event)
        return Entry(ts, self.child, "log", f"{kind}: {message}")


def _transition(message: str) -> dict[str, Any] | None:
    try:
        data = json.loads(message)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    return data


class _Current:
    """A child's live file, read on from where the last read stopped.

    It holds the file open, so what is written before a rename (rotation) is still read;
    a new file at the path is then opened from its start, and a file that shrank
    (truncated in place) is read again from its start. An unfinished last line waits
    for its end, unless ``final``.
    """

    def __init__(self, path: Path, parse: _Parser) -> None:
        self.path = path
        self.parse = parse
        self.handle: IO[bytes] | None = None
        self.inode = -1
        self.partial = b""

    def history(self, final: bool) -> Iterator[Entry]:
        """Every complete line now in the file (the unfinished one too, if ``final``)."""
        self._open()
        if self.handle is None:
            return
        for raw in self.handle:
            if raw.endswith(b"\n"):
                yield self.parse(raw)
            else:
                self.partial = raw
        if final and self.partial:
            yield self.parse(self.partial)
            self.partial = b""

    def skip(self) -> None:
        """Read on from the file's present end."""
        self._open()
        if self.handle is not None:
            self.handle.seek(0, os.SEEK_END)

    def poll(self) -> list[Entry]:
        out = self._drain()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:  # renamed away, its successor not created yet
            return out
        if self.handle is None or st.st_ino != self.inode:
            out += self._drain()  # what was written just before the rename
            if self.partial:
                out.append(self.parse(self.partial))
                self.partial = b""
            self.close()
            self._open()
            out += self._drain()
        elif st.st_size < self.handle.tell():
            self.handle.seek(0)
            self.partial = b""
            out += self._drain()
        return out

    def _open(self) -> None:
        try:
            self.handle = open(self.path, "rb")  # noqa: SIM115 - held open across polls
        except FileNotFoundError:
            return
        self.inode = os.fstat(self.handle.fileno()).st_ino

    def _drain(self) -> list[Entry]:
        if self.handle is None:
            return []
        data = self.handle.read()
        if not data:
            return []
        *lines, self.partial = (self.partial + data).split(b"\n")
        return [self.parse(raw) for raw in lines]

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class LogDir:
    """The log files of one directory: what is there (:meth:`history`), then what comes
    (:meth:`poll`). A context manager: it holds the live files open."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._current: dict[str, _Current] = {}

    def files(self) -> dict[str, list[Path]]:
        """Each child's files, oldest first (``web.log.2``, ``web.log.1``, ``web.log``)."""
        found: dict[str, list[tuple[int, Path]]] = {}
        try:
            names = os.listdir(self.directory)
        except (FileNotFoundError, NotADirectoryError):
            return {}
        for name in names:
            match = _FILE.fullmatch(name)
            if match is not None:
                rotation = int(match.group(2) or 0)
                found.setdefault(match.group(1), []).append((rotation, self.directory / name))
        return {
            child: [path for _, path in sorted(paths, reverse=True)]
            for child, paths in sorted(found.items())
        }

    def lifecycle_paths(self) -> set[str]:
        """The dotted path of every child a lifecycle line in treadle.log names."""
        parse = _Parser(SUPERVISOR)
        return {
            str(entry.event["name"])
            for path in self.files().get(SUPERVISOR, [])
            for entry in _read_whole(path, parse)
            if entry.event is not None
        }

    def history(self, *, final: bool = True) -> Iterator[Entry]:
        """Every line on disk, all files merged in time order. With ``final=False`` the
        live files stay open at their end, for :meth:`poll`."""
        streams = [
            self._child_history(child, paths, final) for child, paths in self.files().items()
        ]
        return heapq.merge(*streams, key=_order)

    def _child_history(self, child: str, paths: list[Path], final: bool) -> Iterator[Entry]:
        parse = _Parser(child)
        for path in paths:
            if path.name == f"{child}.log":
                self._current[child] = current = _Current(path, parse)
                yield from current.history(final)
            else:
                yield from _read_whole(path, parse)

    def skip(self) -> None:
        """Start after what is on disk now: :meth:`poll` returns only what comes later."""
        for child in self.files():
            path = self.directory / f"{child}.log"
            self._current[child] = current = _Current(path, _Parser(child))
            current.skip()

    def poll(self) -> list[Entry]:
        """The lines written since the last call, files created since included, in time
        order (a stable sort: one file's lines keep their order)."""
        out: list[Entry] = []
        for current in self._current.values():
            out += current.poll()
        for child in self.files():
            if child not in self._current:
                path = self.directory / f"{child}.log"
                if path.exists():
                    self._current[child] = current = _Current(path, _Parser(child))
                    out += current.poll()
        out.sort(key=_order)
        return out

    def close(self) -> None:
        for current in self._current.values():
            current.close()

    def __enter__(self) -> LogDir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_whole(path: Path, parse: _Parser) -> Iterator[Entry]:
    try:
        with open(path, "rb") as f:
            yield from map(parse, f)
    except FileNotFoundError:  # rotated out of existence while we listed
        return
