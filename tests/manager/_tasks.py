"""Functions that tests run as tasks (imported by the task's own interpreter)."""

from __future__ import annotations

import os
import time

from treadle.client import Client


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
