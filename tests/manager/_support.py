"""Real manager processes on a real SQLite file, started and always cleaned up."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from treadle.broker import WorkerRecord
from treadle.client import Client

ROOT = str(Path(__file__).resolve().parents[2])
ENV = {"PYTHONPATH": ROOT}  # so that tasks can run tests.manager._tasks functions


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
    path = client.url.state_dir / "logs" / f"manager-{tid}.log"
    return path.read_text() if path.exists() else ""
