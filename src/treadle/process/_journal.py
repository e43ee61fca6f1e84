"""The spawner's crash-recovery journal: what it started, and how each one ended.

Owns :class:`Journal`, the writing side (the reading side is ``_records.py``). The spawner
keeps one journal per record directory, ``{spawner pid}.records``, and holds an exclusive
``flock`` on it while it lives, so a reaper that takes the lock knows the writer is gone and
has written all it ever will. One line per event, each one ``write`` in append mode::

    + {"name": ..., "pid": ..., "pgid": ..., "created": ..., "cgroup": ...}   started
    = PID RETURNCODE [k]                                                      reaped
    - PID                                                                     forgotten

``k``: the spawner killed it itself (its host died, or its deadline passed): how it ended
says nothing of the task, only that it may have run.

``=`` is written before the owner hears of the exit, so an exit the owner never heard of
(it died first) is still on disk. ``-`` is the owner saying it no longer needs that exit (it
is durable elsewhere). A line cut short by a crash is skipped by the reader. The journal is
emptied when nothing is left in it, and rewritten without the forgotten entries when they
pile up. A pid can come back (reused) while an exit of the same pid is kept: ``=`` goes to
the newest entry of that pid still running, ``-`` to the oldest one that has ended.

Standard library only, imported by the spawner program (whose start-up time counts).
"""

from __future__ import annotations

import contextlib
import fcntl
import os

__all__ = ["COMPACT", "Journal"]

SUFFIX = ".records"
COMPACT = 1024  # forgotten entries tolerated before the journal is rewritten without them


class _Entry:
    __slots__ = ("ended", "forget", "started")

    def __init__(self, started: bytes) -> None:
        self.started = started  # its '+' line
        self.ended: bytes | None = None  # its '=' line
        self.forget = False  # forgotten while still running: dropped at its exit


class Journal:
    """One record directory's journal, written by this (single-threaded) process only."""

    def __init__(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{os.getpid()}{SUFFIX}")
        self._fd = self._open(self.path)
        self._entries: dict[int, list[_Entry]] = {}
        self._forgotten = 0  # '-' lines since the last rewrite
        self._backlog = b""  # lines a full disk refused, written before the next one

    @staticmethod
    def _open(path: str) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # ours alone: nobody else writes this file
        return fd

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._entries.values())

    def started(self, pid: int, line: bytes) -> None:
        """``line`` is the whole ``+ {...}\\n`` line."""
        self._append(line)
        self._entries.setdefault(pid, []).append(_Entry(line))

    def ended(self, pid: int, returncode: int, killed: bool = False) -> None:
        entry = next((e for e in reversed(self._entries.get(pid, ())) if e.ended is None), None)
        if entry is None:
            return
        entry.ended = b"= %d %d%s\n" % (pid, returncode, b" k" if killed else b"")
        self._append(entry.ended)
        if entry.forget:
            self._drop(pid, entry)

    def forget(self, pid: int) -> None:
        entries = self._entries.get(pid, ())
        entry = next((e for e in entries if e.ended is not None), None)
        if entry is not None:
            self._drop(pid, entry)
        elif entries:  # still running: forgotten the moment it ends
            entries[-1].forget = True

    def _drop(self, pid: int, entry: _Entry) -> None:
        entries = self._entries[pid]
        entries.remove(entry)
        if not entries:
            del self._entries[pid]
        if not self._entries:  # the common case of a quiet moment: start afresh
            self._backlog = b""
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            self._forgotten = 0
            return
        self._append(b"- %d\n" % pid)
        self._forgotten += 1
        if self._forgotten >= COMPACT:
            self._rewrite()

    def _rewrite(self) -> None:
        lines = [
            line
            for entries in self._entries.values()
            for e in entries
            for line in (e.started, e.ended)
            if line is not None
        ]
        tmp = self.path + ".tmp"
        try:
            fd = self._open(tmp)
        except OSError:
            return  # a full disk: compacted later
        try:
            os.ftruncate(fd, 0)
            data = b"".join(lines)
            if os.write(fd, data) != len(data):
                raise OSError("short write")
            os.replace(tmp, self.path)  # whole, old or new: never a kept line lost
        except OSError:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return  # a full disk: the old journal stands, compacted later
        os.close(self._fd)  # a reaper waiting on the old file sees it replaced and reopens
        self._fd = fd
        self._forgotten = 0
        self._backlog = b""  # its lines are in the new file

    def _append(self, line: bytes) -> None:
        """Append ``line`` after whatever a full disk held back, in order; what the disk
        refuses now waits for the next line that gets through (the spawner goes on: its
        children and their exits matter more than the journal's being up to date)."""
        self._backlog += line
        try:
            written = os.write(self._fd, self._backlog)
        except OSError:
            return
        self._backlog = self._backlog[written:]

    def close(self) -> None:
        """Release the lock; the file goes if nothing is left in it."""
        if not self._entries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        os.close(self._fd)
