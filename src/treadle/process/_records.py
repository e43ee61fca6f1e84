"""Records of running processes, so a new manager can reap what a dead one left behind.

Owns :func:`write_record`, :func:`remove_record` and :func:`reap_leftovers`. Each process
that starts children with a ``record_dir`` keeps one journal there, ``{its pid}.records``:
a line ``+ {"name", "pid", "pgid", "created"}`` when a child starts, ``- pid`` when it has
been reaped. A line is one append (a file created per child costs a hundred times more); a
line cut short by a crash is skipped. The journal is emptied when no child is left, and
rewritten without the ended ones when they pile up. The start time guards against a reused
pid: a group is killed only if its leader is the very process that was recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import psutil

__all__ = ["reap_leftovers", "remove_record", "write_record"]

_SUFFIX = ".records"
_COMPACT = 1024  # ended lines kept before the journal is rewritten without them


class _Journal:
    """This process's journal in one directory (appended to by one thread at a time)."""

    def __init__(self, directory: str) -> None:
        self.path = os.path.join(directory, f"{os.getpid()}{_SUFFIX}")
        Path(directory).mkdir(parents=True, exist_ok=True)
        self._fd = self._open(self.path)
        self._live: dict[int, bytes] = {}  # pid → its line
        self._ended = 0
        self._lock = threading.Lock()

    @staticmethod
    def _open(path: str) -> int:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)

    def add(self, name: str, pid: int, created: float) -> None:
        record = {"name": name, "pid": pid, "pgid": pid, "created": created}
        line = b"+ " + json.dumps(record).encode() + b"\n"
        with self._lock:
            os.write(self._fd, line)
            self._live[pid] = line

    def remove(self, pid: int) -> None:
        with self._lock:
            if self._live.pop(pid, None) is None:
                return
            if not self._live:  # the common case of a quiet moment: start afresh
                os.ftruncate(self._fd, 0)
                self._ended = 0
                return
            os.write(self._fd, b"- %d\n" % pid)
            self._ended += 1
            if self._ended >= _COMPACT:
                self._rewrite()

    def _rewrite(self) -> None:
        tmp = self.path + ".tmp"
        fd = self._open(tmp)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, b"".join(self._live.values()))
        finally:
            os.close(fd)
        os.replace(tmp, self.path)  # whole, old or new: never the live lines lost
        os.close(self._fd)
        self._fd = self._open(self.path)
        self._ended = 0


_journals: dict[tuple[int, str], _Journal] = {}  # (pid, directory): a forked child starts its own
_journals_lock = threading.Lock()


def _journal(record_dir: str) -> _Journal:
    key = (os.getpid(), record_dir)
    journal = _journals.get(key)
    if journal is None:
        with _journals_lock:
            journal = _journals.get(key) or _journals.setdefault(key, _Journal(record_dir))
    return journal


def write_record(record_dir: str, name: str, pid: int) -> None:
    """Record a child just started (its process group is its pid)."""
    _journal(record_dir).add(name, pid, psutil.Process(pid).create_time())


def remove_record(record_dir: str, pid: int) -> None:
    """The child has been reaped, its group killed: nothing of it is left to reap."""
    _journal(record_dir).remove(pid)


def _recorded(path: Path) -> list[dict[str, Any]]:
    """The records of a journal still live at its end (lines cut short are skipped)."""
    live: dict[int, dict[str, Any]] = {}
    for line in path.read_bytes().splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            if line.startswith(b"+ "):
                record = json.loads(line[2:])
                live[int(record["pid"])] = record
            elif line.startswith(b"- "):
                live.pop(int(line[2:]), None)
    return list(live.values())


def reap_leftovers(record_dir: str) -> list[int]:
    """Kill the process groups recorded in ``record_dir`` whose leader still runs; return
    their pids. The journals are removed either way (they belong to dead processes)."""
    killed: list[int] = []
    directory = Path(record_dir)
    if not directory.is_dir():
        return killed
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        try:
            records = _recorded(path)
        except OSError:
            records = []
        for record in records:
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError, psutil.Error):
                pid, pgid, created = int(record["pid"]), int(record["pgid"]), record["created"]
                leader = psutil.Process(pid)
                if (
                    abs(leader.create_time() - float(created)) < 0.01
                    and leader.status() != "zombie"
                ):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                    killed.append(pid)
        path.unlink(missing_ok=True)
    return killed
