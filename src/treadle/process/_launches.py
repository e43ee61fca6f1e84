"""The spawner's launches (the spawns ``posix_spawn`` cannot do: ``_spawnerd``): its warm
launcher, and the spawns whose exec is not reported yet.

Owns :class:`Launches`. A spawn is sent to a launcher (the one forked ahead, or one forked
now) and becomes a :class:`Launch`, its report pipe in the spawner's poll; the spawner
never waits for an exec, so many are in flight while each child execs on another core.
:meth:`Launches.report` reads a report when its pipe is ready (or at once, its process
found dead first); :meth:`Launches.warm` forks the next launcher ahead when one is likely
needed (a spawn used one, or a task ended: a restart) and retires it after ``WARM``
seconds unused.

It does not own what a launched process becomes (the spawner's children, journals,
cgroups and replies: ``_spawnerd``), nor the launcher's side (``_launcher``). Standard
library only, as the spawner program.
"""

from __future__ import annotations

import contextlib
import os
import select
import time
from typing import Any

from ._journal import Journal
from ._launcher import Launcher, fork_launcher

__all__ = ["WARM", "Launch", "Launches"]

WARM = 1.0  # seconds a launcher forked ahead waits for a spawn to use it


class Launch:
    """A spawn sent to its launcher, its exec not yet reported."""

    __slots__ = ("cgroup", "journal", "launcher", "req", "seq")

    def __init__(
        self,
        seq: int,
        req: dict[str, Any],
        launcher: Launcher,
        journal: Journal | None,
        cgroup: str | None,
    ) -> None:
        self.seq, self.req, self.launcher = seq, req, launcher
        self.journal, self.cgroup = journal, cgroup


class Launches:
    """The launches in flight (by report fd and by pid) and the launcher forked ahead."""

    def __init__(self, poll: select.epoll, devnull: int, spawner: int) -> None:
        self._poll, self._devnull, self._spawner = poll, devnull, spawner
        self.by_fd: dict[int, Launch] = {}
        self.by_pid: dict[int, Launch] = {}
        self.ahead: Launcher | None = None  # forked ahead of the next spawn
        self.wanted = False  # one was used, or a task ended: fork one at the next turn
        self.retire_at: float | None = None  # monotonic: retire the one ahead then

    def send(
        self, seq: int, req: dict[str, Any], journal: Journal | None, cgroup: str | None
    ) -> Launch:
        """Send the request to the launcher ahead, or to one forked now (and again if
        that one died waiting); the launch, its report to come. OSError: no fork."""
        launcher, self.ahead = self.ahead, None
        for _ in range(2):
            if launcher is None:
                launcher = fork_launcher(self._devnull, self._spawner)
            if launcher.send(req, cgroup):
                launch = Launch(seq, req, launcher, journal, cgroup)
                self.by_fd[launcher.report_r] = self.by_pid[launcher.pid] = launch
                self._poll.register(launcher.report_r, select.EPOLLIN)
                return launch
            launcher.close()  # it died before it read the request: reap it, fork anew
            with contextlib.suppress(ChildProcessError):
                os.waitpid(launcher.pid, 0)
            launcher = None
        raise OSError(0, "every launcher died before its request")

    def report(self, launch: Launch, wait: bool = False) -> bytes | None:
        """Its report once whole (b"": it exec'd; else ``stage\\0errno\\0text``), the
        launch then done; None while its exec is under way (``wait``: wait for it)."""
        launcher = launch.launcher
        report_r = launcher.report_r
        if wait:
            os.set_blocking(report_r, True)
        failure = launcher.read()
        if failure is None:
            return None
        self._poll.unregister(report_r)
        os.close(report_r)
        launcher.report_r = -1
        del self.by_fd[report_r], self.by_pid[launcher.pid]
        return failure

    def died(self, pid: int) -> None:
        """``pid`` ended: if it was the launcher ahead (it died waiting), forget it."""
        if self.ahead is not None and self.ahead.pid == pid:
            self.ahead.close()
            self.ahead = None

    def warm(self) -> None:
        """Fork a launcher ahead if one is wanted, or retire the one ahead if it waited
        past ``WARM`` (a failed fork is said by the next spawn's)."""
        now = time.monotonic()
        if self.retire_at is not None and now >= self.retire_at:
            self.retire_at = None
            self.retire()
        if self.wanted:
            self.wanted = False
            self.retire_at = now + WARM
            if self.ahead is None:
                with contextlib.suppress(OSError):
                    self.ahead = fork_launcher(self._devnull, self._spawner)

    def retire(self) -> None:
        """Close the pipes of the launcher ahead: it reads EOF and exits 0 (reaped as it
        does)."""
        launcher, self.ahead = self.ahead, None
        if launcher is not None:
            launcher.close()
