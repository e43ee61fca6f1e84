"""The manager ``treadle run`` starts when none serves its broker, loaded only there.

Owns the cold start of the fast path (:mod:`treadle._main`): when nobody serves a SQLite
broker's submit address, it starts the manager ``treadle worker start`` would start
(``python -m treadle.manager`` in its own session, its output in
``managers/manager-{tid}.log``, leaving after :data:`AUTOSTART_IDLE` idle seconds) and
waits on a pipe for its TID, which the manager writes once it is registered and takes
work (``--ready-fd``). The client imports none of what the manager needs: the manager's
imports are paid once, in the manager, instead of once in each. It does not decide
whether a manager is needed: the manager leaves at once when it finds another alive
(``--unless-alive``), and the caller then goes the full CLI's way.
"""

from __future__ import annotations

import os
import select
import sys
import time

__all__ = ["AUTOSTART_IDLE", "READY_TIMEOUT", "NotUp", "start"]

AUTOSTART_IDLE = 600.0  # seconds a manager started by `treadle run` stays with nothing to do
READY_TIMEOUT = 30.0  # seconds a client waits for the manager it started to be up


class NotUp(Exception):
    """The manager did not come up in time; it was killed (``pid``)."""

    def __init__(self, pid: int, timeout: float) -> None:
        super().__init__(f"the manager it started (pid {pid}) was not up within {timeout}s")
        self.pid = pid


def start(location: str, timeout: float = READY_TIMEOUT) -> tuple[int, int] | None:
    """Start a manager of the SQLite broker at ``location``; its TID and PID once it is
    up, or None when it left without being up (another manager is alive, or it failed:
    the full command line then does as it always did, and reports a failure its way).

    Raises NotUp after ``timeout`` seconds (the manager is killed). Ctrl-C kills it too.
    """
    import subprocess  # only here: the warm path never starts anything

    read, write = os.pipe()
    argv = [sys.executable, "-m", "treadle.manager", "--broker", location]
    argv += ["--idle-timeout", str(AUTOSTART_IDLE), "--ready-fd", str(write), "--unless-alive"]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the manager sends both to its log itself
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(write,),
        )
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    try:
        answer = _read_line(read, time.monotonic() + timeout)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        os.close(read)
    if answer is None:
        proc.kill()
        proc.wait()
        raise NotUp(proc.pid, timeout)
    if not answer.isdigit():  # it left: another manager is alive, or it failed
        proc.wait()
        return None
    return int(answer), proc.pid


def _read_line(fd: int, deadline: float) -> str | None:
    """The first line written on ``fd`` ('' at end of file), None at ``deadline``."""
    data = b""
    while b"\n" not in data:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            return None
        chunk = os.read(fd, 256)
        if not chunk:
            break
        data += chunk
    return data.partition(b"\n")[0].decode(errors="replace").strip()
