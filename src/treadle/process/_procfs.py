"""What the kernel says of the spawner's processes, and signalling them: a process's
children, its tag (``TREADLE_OWNER`` in its environment), its process group.

Owns the ``/proc`` reads and the signal calls of the spawner (and ``tag_of`` for
``reap_leftovers``); none of them is on a spawn's path. Whom to kill is ``_spawnerd``'s.
"""

from __future__ import annotations

import os
import signal

from ._launcher import TAG

__all__ = ["children_of", "kill", "pgid", "tag_of", "tag_pid"]


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


def tag_pid(tag: str) -> int:
    """The pid a tag names (its task's), or -1."""
    tail = tag.rpartition("|")[2]
    return int(tail) if tail.isdigit() else -1


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
