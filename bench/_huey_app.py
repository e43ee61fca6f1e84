"""The tasks bench/throughput.py runs with huey: its consumer imports ``huey`` from here
(``BENCH_HUEY_DB`` names the SQLite file); the benchmark makes its own with :func:`make`."""

from __future__ import annotations

import os
import subprocess
from typing import Any

from huey import SqliteHuey


def noop() -> int:
    return 1


def true() -> int:
    subprocess.run(["true"], check=True)
    return 1


def make(filename: str) -> tuple[SqliteHuey, dict[str, Any]]:
    """A SqliteHuey on ``filename`` and its tasks, by name (the same in every process)."""
    # BENCH_HUEY_FSYNC=1: a sync to the disk per commit (huey's own default is none)
    app = SqliteHuey("bench", filename=filename, fsync=os.environ.get("BENCH_HUEY_FSYNC") == "1")
    tasks = {fn.__name__: app.task(name=fn.__name__)(fn) for fn in (noop, true)}
    return app, tasks


huey = make(os.environ["BENCH_HUEY_DB"])[0] if "BENCH_HUEY_DB" in os.environ else None
