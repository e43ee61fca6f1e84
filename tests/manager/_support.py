"""Real manager processes on a real SQLite file, started and always cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import treadle
from treadle.broker import WorkerRecord
from treadle.broker._changes import Changes
from treadle.client import Client

ROOT = str(Path(__file__).resolve().parents[2])
SRC = str(Path(treadle.__file__).resolve().parents[1])  # the treadle under test
# so that tasks can run tests.manager._tasks functions, and import the treadle under test
# (not another one installed: a worker holds some of its modules already)
ENV = {"PYTHONPATH": os.pathsep.join([ROOT, SRC])}


@contextlib.contextmanager
def manager(
    client: Client, **options: Any
) -> Iterator[tuple[WorkerRecord, subprocess.Popen[bytes]]]:
    """A manager process for the duration of a block; stopped (or killed) after it."""
    record, proc = client.start_manager(**options)
    try:
        yield record, proc
    finally:
        stop(client, record.tid, proc)


@contextlib.contextmanager
def reaped(proc: subprocess.Popen[bytes]) -> Iterator[subprocess.Popen[bytes]]:
    """A manager process the block kills: killed and reaped however the block ends."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def stop(client: Client, tid: int, proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(Exception):
            client.stop(tid, timeout=10)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def log_of(client: Client, tid: int) -> str:
    path = client.url.state_dir / "managers" / f"manager-{tid}.log"
    return path.read_text() if path.exists() else ""


def until(client: Client, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait on the broker's change detection until ``predicate()`` holds."""
    changes = Changes(client.broker)
    try:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached in time"
            changes.wait(0.5)
    finally:
        changes.close()
