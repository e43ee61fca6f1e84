"""What the kernel says of the spawner's processes, and signalling them: a process's
children, its tag (``TREADLE_OWNER`` in its environment), its process group.

Owns the ``/proc`` reads and the signal calls of the spawner, its guardian and
``reap_leftovers``, and the tag's form: ``record_dir|name|spawner.n`` for a process that
dies with its spawner, ``record_dir|name|spawner.n.stays`` for one that outlives it (no
parent-death signal asked for); ``n`` counts the spawner's spawns. Every descendant
inherits it. Of all this only :func:`tag` is on a spawn's path; whom to kill is
``_spawnerd``'s.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable

from ._launcher import TAG, created

__all__ = [
    "children_of",
    "dies_with",
    "kill",
    "kill_started",
    "kill_tagged",
    "pgid",
    "tag",
    "tag_of",
]

_STAYS = ".stays"


def tag(base: str, spawner: int, n: int, dies: bool) -> str:
    """The tag of the spawner's ``n``-th process (``base``: ``record_dir|name``)."""
    return f"{base}|{spawner}.{n}{'' if dies else _STAYS}"


def dies_with(found: str, spawner: int) -> bool:
    """Whether a process tagged ``found`` is to die with the spawner ``spawner``."""
    tail = found.rpartition("|")[2]
    return tail.startswith(f"{spawner}.") and not tail.endswith(_STAYS)


def kill(pid: int, sig: int = signal.SIGKILL, group: bool = False) -> None:
    try:
        if group:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except OSError:  # gone, or not ours to signal
        pass


def pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def tag_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = b"\0" + f.read()
    except OSError:
        return None
    start = env.find(b"\0" + TAG.encode() + b"=")
    if start < 0:
        return None
    start += len(TAG) + 2
    end = env.find(b"\0", start)
    return env[start : end if end >= 0 else len(env)].decode("utf-8", "replace")


def kill_tagged(match: Callable[[str], bool], me: int) -> list[int]:
    """SIGKILL every process (but ``me``) whose tag ``match``es, and the process group of
    each that leads one, wherever it is now; the pids killed."""
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or (pid := int(entry)) == me:
            continue
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue
        try:  # the pidfd pins this very process: read its tag, then signal that one
            found = tag_of(pid)
            if found is not None and match(found):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                killed.append(pid)
                if pgid(pid) == pid:  # the group outlives its leader's pid
                    kill(pid, signal.SIGKILL, group=True)
        except OSError:
            pass
        finally:
            os.close(pidfd)
    return killed


def kill_started(procs: list[tuple[int, float, bool]], patience: float) -> None:
    """SIGKILL each ``(pid, start, group)`` (its process group too, if ``group``) unless
    its pid is another process's now, and wait up to ``patience`` seconds until they are
    gone. They need not be ours to reap (a dead spawner's, say)."""
    pidfds = []
    for pid, start, group in procs:
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            continue  # gone (and reaped by whoever adopted it)
        try:  # the pidfd pins this very process: check it is the one meant, then signal it
            if created(pid) != start:
                os.close(pidfd)
                continue
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            if group:
                kill(pid, signal.SIGKILL, group=True)
            pidfds.append(pidfd)
        except OSError:
            os.close(pidfd)
    give_up = time.monotonic() + patience
    while pidfds and (left := give_up - time.monotonic()) > 0:
        ended, _, _ = select.select(pidfds, [], [], left)  # a pidfd is readable once it exits
        for pidfd in ended:
            pidfds.remove(pidfd)
            os.close(pidfd)
    for pidfd in pidfds:
        os.close(pidfd)


def children_of(me: int) -> list[int]:
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN: every stat
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        stat = f.read()
                except OSError:
                    continue
                if int(stat[stat.rindex(b")") + 2 :].split()[1]) == me:
                    found.append(int(entry))
        return found
