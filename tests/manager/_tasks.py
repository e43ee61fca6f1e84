"""Functions that tests run as tasks (imported by the task's own interpreter)."""

from __future__ import annotations

import os
import time

from treadle.client import Client
from treadle.loop import Loop


def add(a: int, b: int) -> int:
    return a + b


def boom() -> None:
    raise RuntimeError("boom from a task")


def read_inbox(tid: int) -> str | None:
    """What the task's inbox holds when it starts (the manager writes it first)."""
    with Client(os.environ["TREADLE_BROKER"]) as client:
        return client.inbox(tid)


def sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


class Ticker(Loop):
    """A loop task: counts its runs (visible in STATUS as the loop's metrics)."""

    def __init__(self, every: float = 0.01) -> None:
        super().__init__(interval=every, name="ticker")

    async def run_once(self) -> None:
        pass


class Broken(Loop):
    """A loop task whose start fails: the task fails with the reason."""

    async def on_start(self) -> None:
        raise RuntimeError("cannot start")

    async def run_once(self) -> None:
        pass


def beat(path: str, seconds: float) -> int:
    """Append ``pid monotonic`` to ``path`` every 20 ms for ``seconds``: while a copy runs,
    its lines say so (two copies' lines interleaved would be two at once)."""
    end = time.monotonic() + seconds
    with open(path, "a", buffering=1) as f:
        while (now := time.monotonic()) < end:
            f.write(f"{os.getpid()} {now:.6f}\n")
            time.sleep(0.02)
    return os.getpid()
