"""The spawner's cgroups v2 (opt-in, ``TREADLE_CGROUPS=1``): where they live, making one,
killing what is in one, and whether one is empty.

Owns the cgroup file-system calls of the spawner and of its client (which removes those
of a spawner killed outright). It does not decide when a task gets one (``_spawnerd``).
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["cgroup_base", "kill_cgroup", "make_base", "populated", "rmdir"]


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
