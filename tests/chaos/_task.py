"""The chaos tasks' program: it writes its own lines to a ledger, so that what ran is
counted from outside, not from treadle's word.

Standard library only: it runs as a script (``python _task.py LEDGER TOKEN SECONDS
[SPAWN]``, a process task) and as ``tests.chaos._task:work`` (a function task). Each line
is one ``write`` to a file opened ``O_APPEND``, so lines of concurrent tasks never mix::

    start TOKEN PID TIME     when it begins
    spawn TOKEN PID TIME     a grandchild it left behind (SPAWN: "child" or "setsid")
    end TOKEN PID TIME       when it has done its work and is about to exit 0
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["line", "work"]


def line(ledger: str, kind: str, token: str, pid: int | None = None) -> None:
    """Append one ledger line (one write, O_APPEND)."""
    text = f"{kind} {token} {pid or os.getpid()} {time.time():.6f}\n"
    fd = os.open(ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _spawn(ledger: str, token: str, how: str) -> None:
    """Leave a grandchild sleeping; "setsid" puts it in a session of its own."""
    pid = os.fork()
    if pid == 0:
        try:
            if how == "setsid":
                os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execvp("sleep", ["sleep", "1000"])
        finally:
            os._exit(127)
    line(ledger, "spawn", token, pid)


def work(ledger: str, token: str, seconds: float, spawn: str = "") -> str:
    """Start, perhaps spawn, sleep ``seconds``, end; the token is the return value."""
    line(ledger, "start", token)
    if spawn:
        _spawn(ledger, token, spawn)
    time.sleep(seconds)
    line(ledger, "end", token)
    return token


def main(argv: list[str]) -> None:
    work(argv[0], argv[1], float(argv[2]), argv[3] if len(argv) > 3 else "")
    # Exit at once: the end line says "about to exit 0", and an interpreter's shutdown
    # would leave milliseconds between the two in which a kill makes the line a lie.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
