"""Issue 14 (and 15's target): crash -> restart through the spawner, beside the asyncio floor.

Run: ``python -m bench.spawn``. The same tiny C program as ``bench.processes`` stamps its
first instruction and its exit (1); the latency is from one run's exit to the next run's
first instruction. Rounds interleave the two ways in one process, so machine noise falls on
both alike; the figures are medians over every round:

- floor: ``asyncio.create_subprocess_exec`` + ``wait`` in a loop, nothing else;
- treadle: a Supervisor restarting a ProcessSpec child with zero backoff (spawner, journal-less).

Beside the latency, the CPU per restart (medians of the rounds'): the host's own
(``time.process_time``), and all of it, the programs run included (the floor's reaped
children; treadle's spawner with what it reaped): what a restart costs a busy machine.
Also the spawner's start-up: a loop's first spawn less a warm one.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil

from treadle import Backoff, Jitter, ProcessSpec
from treadle.process import Process, spawner
from treadle.supervisor import ChildSpec, Supervisor

from ._util import row
from .processes import _build, _latencies, _wait_lines

ROUNDS = 10
PER_ROUND = 40


class _Cpu:
    """CPU seconds per restart of each round, the host's own and all of it."""

    def __init__(self) -> None:
        self.host: list[float] = []
        self.total: list[float] = []

    def add(self, host: float, total: float, n: int) -> None:
        self.host.append(host / n)
        self.total.append(total / n)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _tree_cpu(pid: int) -> float:
    """A process's CPU and that of the children it reaped."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system + times.children_user + times.children_system)


async def _floor(exe: Path, stamps: Path, n: int, cpu: _Cpu) -> list[float]:
    host, kids = time.process_time(), _children_cpu()
    for _ in range(n + 1):
        proc = await asyncio.create_subprocess_exec(str(exe), str(stamps))
        await proc.wait()
    host = time.process_time() - host
    cpu.add(host, host + _children_cpu() - kids, n)
    return _latencies(stamps)[:n]


async def _treadle(exe: Path, stamps: Path, n: int, cpu: _Cpu) -> list[float]:
    spec = ProcessSpec(argv=[str(exe), str(stamps)], name="crasher")
    zero = Backoff(initial=0, max=0, jitter=Jitter.NONE)
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)  # the spawner is up
    pid = (await spawner()).pid
    assert pid is not None
    host, others = time.process_time(), _tree_cpu(pid)
    async with Supervisor([ChildSpec(spec, backoff=zero)], intensity=10**6):
        await _wait_lines(stamps, n + 1, 120)
    host = time.process_time() - host
    cpu.add(host, host + _tree_cpu(pid) - others, n)
    return _latencies(stamps)[:n]


async def _rounds(exe: Path, tmp: Path) -> tuple[list[float], list[float], _Cpu, _Cpu]:
    floor: list[float] = []
    ours: list[float] = []
    floor_cpu, our_cpu = _Cpu(), _Cpu()
    for i in range(ROUNDS):
        floor += await _floor(exe, tmp / f"f{i}", PER_ROUND, floor_cpu)
        ours += await _treadle(exe, tmp / f"t{i}", PER_ROUND, our_cpu)
    return floor, ours, floor_cpu, our_cpu


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
        floor, ours, floor_cpu, our_cpu = asyncio.run(_rounds(exe, tmp))
    med = statistics.median
    row("", "latency", "host CPU", "all CPU", "samples")
    for label, lat, cpu in (
        ("asyncio create_subprocess_exec + wait", floor, floor_cpu),
        ("treadle Supervisor + spawner", ours, our_cpu),
    ):
        row(
            label,
            f"{med(lat) * 1e3:.2f} ms",
            f"{med(cpu.host) * 1e3:.2f} ms",
            f"{med(cpu.total) * 1e3:.2f} ms",
            str(len(lat)),
        )
    ratio = med(ours) / med(floor)
    print(f"  treadle / floor = {ratio:.2f}x (issue 15 target <= 1.3x)")
    host = med(our_cpu.host) / med(floor_cpu.host)
    total = med(our_cpu.total) / med(floor_cpu.total)
    print(f"  CPU per restart, treadle / floor: host {host:.2f}x, all processes {total:.2f}x")
    print(f"  spawner start-up (first spawn less a warm one): {_first_spawn_ms():.1f} ms")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
