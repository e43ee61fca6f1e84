"""Issue 7 benchmarks: the cost of health monitoring, the limiter, the bus.

Run: ``python -m bench.coordination`` (or ``make bench``). Each figure beside its baseline,
measured in the same run, on asyncio's event loop and on uvloop's; the ratios are what
matter.
"""

from __future__ import annotations

import asyncio
import time

from treadle import Bus, Overflow, Subscription
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from . import limiter as _limiter_bench
from ._util import EVENT_LOOPS, has_loop, header, on, row

# -- 1. health monitoring ---------------------------------------------------------------------

N_LOOPS = 10_000
SECONDS = 1.0


class _Work(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


async def _tree_throughput(monitored: bool) -> float:
    loops = [_Work(name=f"w{i}", interval=0) for i in range(N_LOOPS)]
    specs = [ChildSpec(lp, heartbeat_timeout=10.0 if monitored else None) for lp in loops]
    sup = Supervisor(specs, intensity=1_000_000, watchdog=1.0 if monitored else None)
    async with sup:
        await sup.wait_running()
        before = sum(lp.metrics.runs for lp in loops)
        start = time.perf_counter()
        await asyncio.sleep(SECONDS)
        runs = sum(lp.metrics.runs for lp in loops) - before
        elapsed = time.perf_counter() - start
    return runs / elapsed


def health_monitoring() -> None:
    print(f"1. health monitoring: {N_LOOPS:,} loops, heartbeats + 1 s watchdog vs none")
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    cells: list[str] = []
    for lp in loops:
        plain, watched = 0.0, 0.0
        for _ in range(3):  # alternate, keep the best of each
            plain = max(plain, on(lp, lambda: _tree_throughput(False)))
            watched = max(watched, on(lp, lambda: _tree_throughput(True)))
        cells += [f"{plain:,.0f}", f"{watched:,.0f}", f"{watched / plain:.0%}"]
    header(loops, ("plain", "monitored", "ratio"))
    row("loop runs per second (target >= 90%)", *cells, width=15)


# -- 2. limiter: bench/limiter.py (runs standalone too) -----------------------------------------


def limiter() -> None:
    print("2. limiter vs asyncio.Semaphore (bench/limiter.py)")
    for lp in EVENT_LOOPS:
        if has_loop(lp):
            _limiter_bench.main(lp)


# -- 3. bus ---------------------------------------------------------------------------------------

N_SUBSCRIBERS = 100
N_MESSAGES = 5_000


async def _bus_fanout() -> float:
    bus = Bus()
    subs = [
        bus.subscribe("events.*", maxsize=N_MESSAGES, overflow=Overflow.BLOCK)
        for _ in range(N_SUBSCRIBERS)
    ]

    async def consume(sub: Subscription) -> None:
        for _ in range(N_MESSAGES):
            await sub.get()

    readers = [asyncio.ensure_future(consume(s)) for s in subs]
    start = time.perf_counter()
    for i in range(N_MESSAGES):
        bus.publish_nowait("events.tick", i)
        if i % 100 == 0:
            await asyncio.sleep(0)  # let readers run, as a real publisher would
    await asyncio.gather(*readers)
    return N_MESSAGES / (time.perf_counter() - start)


async def _queue_fanout() -> float:
    """Baseline: the same fan-out by hand, one asyncio.Queue per subscriber."""
    queues: list[asyncio.Queue[int]] = [asyncio.Queue(N_MESSAGES) for _ in range(N_SUBSCRIBERS)]

    async def consume(q: asyncio.Queue[int]) -> None:
        for _ in range(N_MESSAGES):
            await q.get()

    readers = [asyncio.ensure_future(consume(q)) for q in queues]
    start = time.perf_counter()
    for i in range(N_MESSAGES):
        for q in queues:
            q.put_nowait(i)
        if i % 100 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*readers)
    return N_MESSAGES / (time.perf_counter() - start)


def bus() -> None:
    print(f"3. bus: 1 publisher -> {N_SUBSCRIBERS} subscribers, {N_MESSAGES:,} messages")
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    published: list[str] = []
    delivered: list[str] = []
    for lp in loops:
        base = max(on(lp, _queue_fanout) for _ in range(3))
        ours = max(on(lp, _bus_fanout) for _ in range(3))
        published += [f"{base:,.0f}", f"{ours:,.0f}", f"{ours / base:.0%}"]
        delivered += [f"{base * N_SUBSCRIBERS:,.0f}", f"{ours * N_SUBSCRIBERS:,.0f}", ""]
    header(loops, ("Queue", "Bus", "ratio"))
    row("messages published per second", *published, width=15)
    row("deliveries per second", *delivered, width=15)


def main() -> None:
    health_monitoring()
    limiter()
    bus()


if __name__ == "__main__":
    main()
