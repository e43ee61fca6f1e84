"""Issue 14 (and 15's target): crash -> restart through the spawner, beside the asyncio floor.

Run: ``python -m bench.spawn``. The same tiny C program as ``bench.processes`` stamps its
first instruction and its exit (1); the latency is from one run's exit to the next run's
first instruction. Rounds interleave the two ways in one process, so machine noise falls on
both alike; the figures are medians over every round:

- floor: ``asyncio.create_subprocess_exec`` + ``wait`` in a loop, nothing else;
- treadle: a Supervisor restarting a ProcessSpec child with zero backoff (spawner, journal-less).

Also the spawner's start-up: a loop's first spawn less a warm one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from treadle import Backoff, Jitter, ProcessSpec
from treadle.process import Process
from treadle.supervisor import ChildSpec, Supervisor

from ._util import row
from .processes import _build, _latencies, _wait_lines

ROUNDS = 10
PER_ROUND = 40


async def _floor(exe: Path, stamps: Path, n: int) -> list[float]:
    for _ in range(n + 1):
        proc = await asyncio.create_subprocess_exec(str(exe), str(stamps))
        await proc.wait()
    return _latencies(stamps)[:n]


async def _treadle(exe: Path, stamps: Path, n: int) -> list[float]:
    spec = ProcessSpec(argv=[str(exe), str(stamps)], name="crasher")
    zero = Backoff(initial=0, max=0, jitter=Jitter.NONE)
    async with Supervisor([ChildSpec(spec, backoff=zero)], intensity=10**6):
        await _wait_lines(stamps, n + 1, 120)
    return _latencies(stamps)[:n]


async def _rounds(exe: Path, tmp: Path) -> tuple[list[float], list[float]]:
    floor: list[float] = []
    ours: list[float] = []
    for i in range(ROUNDS):
        floor += await _floor(exe, tmp / f"f{i}", PER_ROUND)
        ours += await _treadle(exe, tmp / f"t{i}", PER_ROUND)
    return floor, ours


def _first_spawn_ms() -> float:
    """A fresh loop's first spawn (the spawner starts) less its second one."""

    async def two() -> tuple[float, float]:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            await Process(ProcessSpec(argv=["true"])).run(lambda: None)
            times.append(time.perf_counter() - start)
        return times[0], times[1]

    samples = []
    for _ in range(7):
        first, warm = asyncio.run(two())
        samples.append(first - warm)
    return statistics.median(samples) * 1e3


def main() -> None:
    if shutil.which("gcc") is None:
        print("bench.spawn needs gcc; skipped")
        return
    print("crash -> restart through the spawner, beside the asyncio floor (interleaved rounds)")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        exe = _build(tmp)
        floor, ours = asyncio.run(_rounds(exe, tmp))
    row("", "median", "samples")
    row(
        "asyncio create_subprocess_exec + wait",
        f"{statistics.median(floor) * 1e3:.2f} ms",
        str(len(floor)),
    )
    row("treadle Supervisor + spawner", f"{statistics.median(ours) * 1e3:.2f} ms", str(len(ours)))
    ratio = statistics.median(ours) / statistics.median(floor)
    print(f"  treadle / floor = {ratio:.2f}x (issue 15 target <= 1.3x)")
    print(f"  spawner start-up (first spawn less a warm one): {_first_spawn_ms():.1f} ms")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
