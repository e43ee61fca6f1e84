"""Functions that tests run on warm workers: the standard library only, so that a worker
(or a fresh interpreter) imports them in milliseconds."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time


def pid() -> int:
    """The process a function task runs in (a warm worker's, or its own)."""
    return os.getpid()


def add(a: int, b: int) -> int:
    return a + b


async def async_add(a: int, b: int) -> int:
    await asyncio.sleep(0.01)
    return a + b


def boom() -> None:
    raise RuntimeError("boom from a task")


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def talk(name: str) -> int:
    """Output on both streams, Python's and straight to the fds (as C code writes), with
    an empty line and a last line without a newline."""
    print(f"{name} out 1")
    print(f"{name} err 1", file=sys.stderr)
    os.write(1, f"{name} out fd\n\n".encode())
    sys.stdout.write(f"{name} last")  # no newline: it ends the task's output
    return os.getpid()


def close_stream(fd: int) -> int:
    """Close stdout or stderr (``fd``), or put another file in its place (``-fd``)."""
    if fd > 0:
        os.close(fd)
    else:
        os.dup2(os.open(os.devnull, os.O_WRONLY), -fd)
    return os.getpid()


def leave_child() -> int:
    """Start a process and leave it running (a fresh interpreter's group would be killed)."""
    return subprocess.Popen(["sleep", "60"]).pid


def exit_with(code: int) -> None:
    sys.exit(code)


def freeze(pid: int, value: str) -> str:
    """Freeze process ``pid`` (the task's manager: nobody reads the reply), then return
    ``value``."""
    import signal

    os.kill(pid, signal.SIGSTOP)
    return value
