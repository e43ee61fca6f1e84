"""A TaskMonitor-managed task against a native treadle Loop doing the same trivial work.

Run: ``python -m bench.compat_task_monitor``. Both tick ``await work()`` as fast as they can
(the task: ``while True: await work(); await asyncio.sleep(0)``; the Loop: ``run_once`` is
``await work()`` with interval 0), each in a fresh event loop for one second, alternating,
best of three. The monitor costs nothing per tick (its supervisor's run only waits for the
task to end), so the target is the monitored task at >= 90% of the Loop's rate.
"""

from __future__ import annotations

import asyncio
import sys
import time

from treadle.compat.task_monitor import TaskMonitor
from treadle.loop import Loop

from ._util import EVENT_LOOPS, has_loop, on, row

SECONDS = 1.0
ROUNDS = 3
TARGET = 0.9


async def _work() -> None:
    pass


class _Tick(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        await _work()


async def _monitored_ticks() -> float:
    count = 0

    async def component() -> None:
        nonlocal count
        while True:
            await _work()
            await asyncio.sleep(0)
            count += 1

    monitor = TaskMonitor()
    monitor.set_restart_factories({"ticker": lambda: asyncio.create_task(component())})
    monitor.register("ticker", asyncio.create_task(component()))
    monitor.enable(["ticker"])
    start = time.perf_counter()
    await asyncio.sleep(SECONDS)
    rate = count / (time.perf_counter() - start)
    await monitor.close()
    return rate


async def _loop_ticks() -> float:
    loop = _Tick(interval=0)
    task = loop.start()
    start = time.perf_counter()
    await asyncio.sleep(SECONDS)
    rate = loop.metrics.runs / (time.perf_counter() - start)
    loop.request_stop()
    await task
    return rate


def main() -> int:
    print(f"TaskMonitor-managed task vs Loop(interval=0): best of {ROUNDS} x {SECONDS:g} s")
    row("", "Loop ticks/s", "monitored/s", "ratio")
    ok = True
    for lp in (lp for lp in EVENT_LOOPS if has_loop(lp)):
        monitored, native = 0.0, 0.0
        for _ in range(ROUNDS):  # interleaved: a noisy moment hurts both, not one
            monitored = max(monitored, on(lp, _monitored_ticks))
            native = max(native, on(lp, _loop_ticks))
        ratio = monitored / native
        cells = (f"{native:,.0f}", f"{monitored:,.0f}", f"{ratio:.0%} (>={TARGET:.0%})")
        row(f"{lp}: 1 component", *cells)
        ok = ok and ratio >= TARGET
    print(f"  target: monitored >= {TARGET:.0%} of the Loop: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
