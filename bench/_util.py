"""Shared helpers for benchmarks: event loops, fresh interpreters, RSS, stats, rows."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from treadle import ConfigError
from treadle.supervisor import run_coroutine

_T = TypeVar("_T")

EVENT_LOOPS = ("asyncio", "uvloop")
"""Every in-process figure is measured on both, in the same run."""


def has_loop(loop: str) -> bool:
    """True if ``loop`` can run here (uvloop is installed apart)."""
    try:
        run_coroutine(_nothing(), loop=loop)
    except ConfigError:
        return False
    return True


async def _nothing() -> None:
    pass


def on(loop: str, main: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """``main()`` run to its end on a fresh event loop of the kind ``loop``."""
    return run_coroutine(main(), loop=loop)


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


def row(label: str, *cells: str, width: int = 16) -> None:
    print(f"  {label:<44}" + "".join(f"{c:>{width}}" for c in cells))


def header(loops: list[str], columns: tuple[str, ...], width: int = 15) -> None:
    """Two header lines: each event loop's name over its group of ``columns``."""
    group = width * len(columns)
    print(f"  {'':<44}" + "".join(f"{'-- ' + lp + ' --':>{group}}" for lp in loops))
    row("", *(c for _ in loops for c in columns), width=width)
