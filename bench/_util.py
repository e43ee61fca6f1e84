"""Shared helpers for benchmarks: running a measurement in a fresh interpreter, RSS, stats."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from typing import Any


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (no dependency)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def in_fresh_process(module: str, *args: str) -> dict[str, Any]:
    """Run ``python -m module args...`` and parse the JSON it prints last."""
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def quantiles_us(samples: list[float]) -> tuple[float, float]:
    """Median and p99 of samples (seconds) in microseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1e6, p99 * 1e6


def row(label: str, *cells: str) -> None:
    print(f"  {label:<44}" + "".join(f"{c:>16}" for c in cells))
