"""Starting a process by ``posix_spawn``: the spawner's way for every start that needs no
launcher.

Owns :func:`plain` (whether a request can be started so) and :func:`start`. glibc's
``posix_spawn`` is a vfork: nothing of the spawner's address space is copied or torn
down, and it returns once the child has exec'd (or with the exec's error), so a start
costs about half the CPU of a forked launcher's. It cannot switch user, set a limit, join a
cgroup or set a parent-death signal: those go through ``_launcher``. A process started
here that is to die with its spawner has the spawner's guardian for that (``_guardian``).
The spawner is single-threaded, so the child's cwd and umask are set on the spawner itself
for the moment of the call.

Standard library only, as the spawner program.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from ._launcher import TAG, created

__all__ = ["Failed", "plain", "start"]

_RESET = (signal.SIGPIPE, signal.SIGXFSZ)  # ignored in the spawner; default in the child


class Failed(Exception):
    """It did not start: the stage (``cwd``, ``exec``), the errno and what it says."""

    def __init__(self, stage: str, errno: int, text: str) -> None:
        super().__init__(stage, errno, text)
        self.stage, self.errno, self.text = stage, errno, text


def plain(req: dict[str, Any]) -> bool:
    """Whether ``posix_spawn`` can start it: no user switch, no CPU limit, a parent-death
    signal of SIGKILL (the guardian's) or none (a launcher sets any other)."""
    return (
        req["uid"] is None
        and req["gid"] is None
        and req["groups"] is None
        and req["cpu"] is None
        and req["pdeathsig"] in (0, signal.SIGKILL)
    )


def start(req: dict[str, Any], devnull: int, home: int) -> tuple[int, float, list[int]]:
    """Start it, in a session of its own, stdin on ``devnull``, its output on new pipes;
    its pid, its start (as psutil's ``create_time()``) and the pipes' read ends (stdout's
    alone if its output is merged). ``home``: an fd of the spawner's own cwd, to return to.
    """
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC) if not req["merge"] else (-1, out_w)
    stage = "cwd"
    umask = -1
    try:
        if req["cwd"] is not None:
            os.chdir(req["cwd"])
        if req["umask"] >= 0:
            umask = os.umask(req["umask"])
        stage = "exec"
        req["env"][TAG] = req["tag"]
        pid = os.posix_spawn(
            req["exe"],
            req["argv"],
            req["env"],
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, out_w, 1),
                (os.POSIX_SPAWN_DUP2, err_w, 2),
            ],
            setsid=True,
            setsigdef=_RESET,
        )
    except OSError as exc:
        for fd in {out_r, out_w, err_r, err_w} - {-1}:
            os.close(fd)
        raise Failed(stage, exc.errno or 0, exc.strerror or str(exc)) from None
    finally:
        if umask >= 0:
            os.umask(umask)
        if req["cwd"] is not None:
            os.fchdir(home)
    for fd in {out_w, err_w}:
        os.close(fd)
    try:
        born = created(pid)  # it exec'd already, and is the spawner's until reaped
    except OSError:
        born = 0.0
    return pid, born, [out_r] if req["merge"] else [out_r, err_r]
