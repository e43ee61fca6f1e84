"""The spawner's guardian: what kills the spawner's processes if the spawner itself is
killed outright.

Owns :class:`Guardian`. The spawner starts most processes by ``posix_spawn`` (a vfork:
no copy of its address space to make and tear down), which cannot set a parent-death
signal in the child. So a process that is to die with its spawner (the default) has its
guardian instead: a child the spawner forks once, in a session of its own (a signal to
the host's process group does not reach it), that blocks on a pipe whose only writer is
the spawner. EOF without the spawner's last word means the spawner died: the guardian
then SIGKILLs every process whose tag says it dies with that spawner (``_procfs``),
setsid'd descendants included, looks again twice for any forked meanwhile, and exits.
The spawner's clean exit says ``.`` first (it has killed and reaped everything itself).
The spawner waits for the guardian to be ready (named and in its session) before it goes
on: once, for a few hundred microseconds.
If the guardian dies, the spawner forks another before its next spawn that needs one.

While the spawner runs, its host's death still reaches everything through the spawner
(its own parent-death signal); the host, seeing its spawner gone, kills that spawner's
processes itself too (``_spawner``), so that none outlives it even for the moments the
guardian takes.
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C calls, as in _launcher
import contextlib
import os
import signal
import time
from typing import NoReturn

from ._procfs import dies_with, kill_tagged

__all__ = ["NAME", "Guardian"]

NAME = "treadle-guard"

_LOOKS = (0.0, 0.01, 0.1)  # seconds after the spawner's death to kill what carries its tag
_MAX_FD = 2**31 - 1


class Guardian:
    """The forked guardian of the spawner ``spawner`` (OSError if it cannot be forked)."""

    __slots__ = ("_word_w", "pid")

    def __init__(self, spawner: int, devnull: int) -> None:
        word_r, self._word_w = os.pipe2(os.O_CLOEXEC)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        try:
            self.pid = os.fork()
        except OSError:
            for fd in (word_r, self._word_w, ready_r, ready_w):
                os.close(fd)
            raise
        if self.pid == 0:
            _guard(word_r, ready_w, devnull, spawner)
        os.close(word_r)
        os.close(ready_w)
        try:  # once it has its name and session (or died: EOF, and it is replaced later)
            os.read(ready_r, 1)
        finally:
            os.close(ready_r)

    def close(self) -> None:
        """The spawner's clean exit: the guardian exits without killing (reap it after)."""
        if self._word_w >= 0:
            with contextlib.suppress(BrokenPipeError):  # it died first (killed)
                os.write(self._word_w, b".")
            os.close(self._word_w)
            self._word_w = -1


def _guard(word_r: int, ready_w: int, devnull: int, spawner: int) -> NoReturn:
    """In the forked guardian: wait for the spawner's last word or death, act, exit."""
    try:
        _signal.set_wakeup_fd(-1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            _signal.signal(sig, _signal.SIG_DFL)
        os.setsid()
        fd = os.open("/proc/self/comm", os.O_WRONLY)
        os.write(fd, NAME.encode())  # what ps and psutil's name() show
        os.close(fd)
        os.write(ready_w, b".")
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        low, high = sorted((word_r, devnull))
        os.closerange(3, low)
        os.closerange(low + 1, high)
        os.closerange(high + 1, _MAX_FD)
        if os.read(word_r, 1) == b".":
            os._exit(0)
        me = os.getpid()
        begun = time.monotonic()
        for at in _LOOKS:
            time.sleep(max(0.0, begun + at - time.monotonic()))  # no event says "forked"
            kill_tagged(lambda found: dies_with(found, spawner), me)
    finally:
        os._exit(0)
