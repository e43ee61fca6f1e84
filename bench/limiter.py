"""The limiter against ``asyncio.Semaphore``, measured in the same run.

Run: ``python bench/limiter.py`` (standalone: it imports nothing from ``bench``). Each
variant runs in a fresh event loop, several rounds alternating the two, keeping the best
round of each; the ratio is what matters (target: the limiter at >= 50% of the semaphore).

1. uncontended: 100,000 ``async with`` acquire/release pairs by one task, capacity 4.
2. contended: 100 tasks through capacity 10, each entering 1,000 times and yielding once
   inside, so that nine in ten entries wait in the queue.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any

from treadle.limits import Limiter
from treadle.supervisor import run_coroutine

N_PAIRS = 100_000
ROUNDS = 5
TASKS = 100
CAPACITY = 10
PER_TASK = N_PAIRS // TASKS

_Slot = Callable[[], AbstractAsyncContextManager[Any]]


def _semaphore(capacity: int) -> _Slot:
    sem = asyncio.Semaphore(capacity)
    return lambda: sem


def _limiter(capacity: int) -> _Slot:
    lim = Limiter("bench", capacity)
    return lim.slot


async def _uncontended(make: Callable[[int], _Slot]) -> float:
    slot = make(4)
    start = time.perf_counter()
    for _ in range(N_PAIRS):
        async with slot():
            pass
    return N_PAIRS / (time.perf_counter() - start)


async def _contended(make: Callable[[int], _Slot]) -> float:
    slot = make(CAPACITY)

    async def worker() -> None:
        for _ in range(PER_TASK):
            async with slot():
                await asyncio.sleep(0)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(TASKS):
            tg.create_task(worker())
    return TASKS * PER_TASK / (time.perf_counter() - start)


def _best_of(
    run: Callable[[Callable[[int], _Slot]], Coroutine[Any, Any, float]], loop: str
) -> tuple[float, float]:
    """Best rate of the semaphore and of the limiter over ``ROUNDS`` alternating rounds."""
    sem = lim = 0.0
    for _ in range(ROUNDS):
        sem = max(sem, run_coroutine(run(_semaphore), loop=loop))
        lim = max(lim, run_coroutine(run(_limiter), loop=loop))
    return sem, lim


def _row(label: str, *cells: str) -> None:
    print(f"  {label:<34}" + "".join(f"{c:>16}" for c in cells))


def main(loop: str = "asyncio") -> int:
    print(
        f"limiter vs asyncio.Semaphore on {loop}: {N_PAIRS:,} acquire/release pairs, "
        f"best of {ROUNDS}"
    )
    print(f"  python {sys.version.split()[0]}")
    _row("", "Semaphore ops/s", "Limiter ops/s", "ratio")
    sem, lim = _best_of(_uncontended, loop)
    _row("uncontended (1 task, capacity 4)", f"{sem:,.0f}", f"{lim:,.0f}", f"{lim / sem:.0%}")
    sem_c, lim_c = _best_of(_contended, loop)
    label = f"contended ({TASKS} tasks, capacity {CAPACITY})"
    _row(label, f"{sem_c:,.0f}", f"{lim_c:,.0f}", f"{lim_c / sem_c:.0%}")
    ok = lim / sem >= 0.5
    print(f"  uncontended target >= 50%: {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
