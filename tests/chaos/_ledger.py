"""The tasks' ledger, read from outside: who started, who ended, and when each copy died.

Owns parsing the lines ``_task`` writes and a watcher thread that notes, for every copy a
start line names, when its process was seen gone (a copy killed before its end line has
no line to say so). It does not judge: ``_counting`` turns runs into figures.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Copy", "Ledger", "Watcher"]

_EVERY = 0.02


@dataclass
class Copy:
    """One run of a task's program: its pid, when it started, when it ended or was seen
    gone (None: still running when last looked), whether it wrote its end line."""

    pid: int
    start: float
    end: float | None = None
    finished: bool = False


@dataclass
class Ledger:
    """Every token's copies, in the order the ledger has them, and the grandchildren."""

    copies: dict[str, list[Copy]] = field(default_factory=lambda: defaultdict(list))
    spawned: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    redone: set[str] = field(default_factory=set)  # a start line after an end line

    @classmethod
    def read(cls, path: Path, gone: dict[int, float] | None = None) -> Ledger:
        ledger = cls()
        text = path.read_text() if path.exists() else ""
        for raw in text.splitlines():
            kind, token, pid_s, at_s = raw.split()
            pid, at = int(pid_s), float(at_s)
            copies = ledger.copies[token]
            if kind == "start":
                if any(c.finished for c in copies):
                    ledger.redone.add(token)
                copies.append(Copy(pid, at))
            elif kind == "end":
                for copy in copies:
                    if copy.pid == pid and not copy.finished:
                        copy.finished, copy.end = True, at
            elif kind == "spawn":
                ledger.spawned[token].append(pid)
        for copies in ledger.copies.values():
            for copy in copies:
                if copy.end is None and gone is not None:
                    copy.end = gone.get(copy.pid)
        return ledger

    def started(self, token: str) -> int:
        return len(self.copies.get(token, ()))

    def finished(self, token: str) -> list[Copy]:
        return [c for c in self.copies.get(token, ()) if c.finished]

    def overlapping(self, token: str) -> bool:
        """Two copies of the task ran at once (a copy not seen to end runs on)."""
        runs = sorted(self.copies.get(token, ()), key=lambda c: c.start)
        return any(a.end is None or b.start < a.end for a, b in itertools.pairwise(runs))


class Watcher:
    """Notes when each copy's process is gone (exited, a zombie, or killed)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._offset = 0
        self._pids: set[int] = set()
        self.gone: dict[int, float] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chaos-ledger", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed.wait(_EVERY):
            self.look()

    def look(self) -> None:
        try:
            with self._path.open("rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            data = b""
        whole = data[: data.rfind(b"\n") + 1]
        self._offset += len(whole)
        for raw in whole.decode().splitlines():
            kind, _token, pid_s, _at = raw.split()
            if kind == "start":
                self._pids.add(int(pid_s))
        now = time.time()
        for pid in list(self._pids):
            if not _running(pid):
                self.gone[pid] = now
                self._pids.discard(pid)

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self.look()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"
