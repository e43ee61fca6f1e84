"""The spawner's cgroups v2 (opt-in, ``TREADLE_CGROUPS=1``): where they live, making one,
killing what is in one, whether one is empty, and the spawner's pool of them.

Owns the cgroup file-system calls of the spawner and of its client (which removes those
of a spawner killed outright), and :class:`Cgroups` (a task's cgroup is used again once
empty: a mkdir and an rmdir less per spawn). It does not decide when a task gets one
(``_spawnerd``).
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["Cgroups", "cgroup_base", "kill_cgroup", "make_base", "populated", "rmdir"]

_FREE = 64  # empty cgroups kept for reuse


def cgroup_base(pid: int | None = None) -> str | None:
    """``<our cgroup v2>/treadle-<pid>`` (of this process, or of the spawner ``pid`` this
    process started), not made; None when there is no cgroup v2 here."""
    try:
        mount = None
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if right.split(" ", 1)[0] == "cgroup2" and fields[3] == "/":
                    mount = fields[4]
                    break
        with open("/proc/self/cgroup") as f:
            ours = next((line[3:].strip() for line in f if line.startswith("0::")), None)
        if mount is None or ours is None:
            return None
        return f"{mount}{ours.rstrip('/')}/treadle-{pid or os.getpid()}"
    except OSError:
        return None


def make_base() -> str | None:
    """This spawner's ``cgroup_base()``, made; None when cgroup v2 cannot be used here."""
    base = cgroup_base()
    if base is None:
        return None
    try:
        os.mkdir(base, 0o755)
    except OSError:
        return None
    return base


def kill_cgroup(path: str) -> None:
    try:
        fd = os.open(f"{path}/cgroup.kill", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"1")
        finally:
            os.close(fd)
        return
    except FileNotFoundError:
        if not os.path.isdir(path):
            return
    except OSError:
        pass
    for _ in range(3):  # no cgroup.kill (kernel < 5.14): one by one, again for late forks
        try:
            with open(f"{path}/cgroup.procs", "rb") as f:
                pids = [int(p) for p in f.read().split()]
        except OSError:
            return
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):  # gone, or not ours to signal
                os.kill(pid, signal.SIGKILL)


def populated(path: str) -> bool | None:
    """Whether processes are in the cgroup; None if it is gone."""
    try:
        with open(f"{path}/cgroup.events", "rb") as f:
            return b"populated 0" not in f.read()
    except FileNotFoundError:
        return None
    except OSError:
        return True


def rmdir(path: str) -> None:
    with contextlib.suppress(OSError):
        os.rmdir(path)


class Cgroups:
    """The spawner's cgroups under ``base`` (its ``make_base()``): those free for a new
    task, and those of ended tasks, freed once empty."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._free: list[str] = []
        self._stale: set[str] = set()  # not empty yet: freed when they are
        self._made = 0

    def take(self) -> str | None:
        """An empty cgroup for a new task, or None (none can be made)."""
        if self._free:
            return self._free.pop()
        self._made += 1
        path = f"{self.base}/{self._made}"
        try:
            os.mkdir(path, 0o755)
        except OSError:
            return None
        return path

    def give_back(self, path: str) -> None:
        """Never used (its spawn failed): free at once."""
        self._free.append(path)

    def ended(self, path: str) -> None:
        """Its task ended: free once empty (see :meth:`collect`)."""
        self._stale.add(path)

    def collect(self) -> None:
        """Free the ended tasks' cgroups that are empty now (a spared or a dying process
        keeps one for later)."""
        for path in list(self._stale):
            is_populated = populated(path)
            if is_populated:
                continue
            self._stale.discard(path)
            if is_populated is None:  # gone
                continue
            if len(self._free) < _FREE:
                self._free.append(path)
            else:
                rmdir(path)

    def remove(self, in_use: list[str]) -> None:
        """Remove every one (the spawner closing), ``in_use`` too, then the base."""
        for path in [*self._stale, *self._free, *in_use]:
            rmdir(path)
        rmdir(self.base)
