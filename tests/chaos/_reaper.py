"""The harness as a subreaper: every descendant of what it starts stays in sight.

Owns ``prctl(PR_SET_CHILD_SUBREAPER)``, the starting of the harness's own children (under a
lock, so that the reaping thread never takes a child that ``subprocess`` waits for), the
reaping of adopted orphans (their exit statuses kept), and the census of descendants:
alive ones left behind (orphans) and zombies nobody reaps. It does not decide what a
figure means: ``_counting`` does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

__all__ = ["Census", "Reaper"]

_PR_SET_CHILD_SUBREAPER = 36
_EVERY = 0.02  # seconds between two looks for adopted children to reap


@dataclass(frozen=True)
class Census:
    """Descendants of the harness at one moment (its own started children excluded)."""

    alive: tuple[int, ...]
    zombies: tuple[int, ...]  # whose parent is not the harness: nobody will reap them
    commands: tuple[str, ...]


class Reaper:
    """Makes this process a subreaper and reaps what it adopts, in a thread."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
        self.pid = os.getpid()
        self.adopted: dict[int, int] = {}  # pid → wait status, of orphans reaped here
        self._own: set[int] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._reap, name="chaos-reaper", daemon=True)
        self._thread.start()

    def popen(self, argv: Sequence[str], **options: Any) -> subprocess.Popen[bytes]:
        """Start a child of the harness that ``subprocess`` waits for (never reaped here)."""
        with self._lock:
            proc: subprocess.Popen[bytes] = subprocess.Popen(list(argv), **options)
            self._own.add(proc.pid)
        return proc

    def exited_ok(self, pid: int) -> bool | None:
        """Whether an adopted process exited 0 (None: not reaped here)."""
        status = self.adopted.get(pid)
        return None if status is None else os.waitstatus_to_exitcode(status) == 0

    def _reap(self) -> None:
        while not self._closed.wait(_EVERY):
            self.reap_once()

    def reap_once(self) -> None:
        with self._lock:
            try:
                children = psutil.Process(self.pid).children()
            except psutil.Error:
                return
            for child in children:
                if child.pid in self._own:
                    continue
                with contextlib.suppress(ChildProcessError):
                    pid, status = os.waitpid(child.pid, os.WNOHANG)
                    if pid:
                        self.adopted[pid] = status

    def census(self) -> Census:
        """Every live descendant but the harness's own running children (and theirs are
        counted: a CLI's manager is somebody's leftover)."""
        alive: list[int] = []
        zombies: list[int] = []
        commands: list[str] = []
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return Census((), (), ())
        for proc in descendants:
            try:
                status, ppid = proc.status(), proc.ppid()
                if status == psutil.STATUS_ZOMBIE:
                    if ppid != self.pid:
                        zombies.append(proc.pid)
                    continue
                if proc.pid in self._own:
                    continue
                alive.append(proc.pid)
                commands.append(" ".join(proc.cmdline())[:120])
            except psutil.Error:
                continue
        return Census(tuple(alive), tuple(zombies), tuple(commands))

    def settle(self, seconds: float) -> Census:
        """The census once no descendant is left, or when ``seconds`` have passed."""
        deadline = time.monotonic() + seconds
        while True:
            self.reap_once()
            census = self.census()
            if (not census.alive and not census.zombies) or time.monotonic() > deadline:
                return census
            time.sleep(0.05)

    def kill_all(self) -> None:
        """SIGKILL every descendant (setsid'd ones included) and reap what is ours to."""
        for _ in range(50):
            try:
                descendants = psutil.Process(self.pid).children(recursive=True)
            except psutil.Error:
                return
            live = [p for p in descendants if _alive(p)]
            if not live:
                break
            for proc in live:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
            time.sleep(0.05)
            self.reap_once()
        self.reap_once()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()

    def __enter__(self) -> Reaper:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.kill_all()
        finally:
            self.close()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Hold the reaping thread (while a child is started without :meth:`popen`)."""
        with self._lock:
            yield


def _alive(proc: psutil.Process) -> bool:
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False
