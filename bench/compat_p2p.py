"""treadle.compat.p2p's BaseLoop against a native treadle Loop doing the same work.

Run: ``python -m bench.compat_p2p``. Both tick with interval 0 and a trivial run. One round
builds both sets of loops in a fresh event loop and interleaves them finely: twenty slices of
each, alternating, so that a slow moment of the host falls on both; a rate is the ticks of
all slices over the CPU time this thread spent in them (time given to other processes
counts against neither). Starting and stopping are outside the slices: this is the tick.
Best of three rounds each; the ratio is what matters (target: compat >= 90% of native).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from treadle.compat.p2p import BaseLoop
from treadle.loop import Loop

from ._util import EVENT_LOOPS, has_loop, on, row

_ROUNDS = 3
_SLICES = 20
_SLICE_S = 0.05


class _Native(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


class _Compat(BaseLoop):
    async def _run_once(self) -> None:
        pass


class _Set:
    """n loops of one kind, started and stopped together, their ticks counted."""

    def __init__(
        self,
        start: Callable[[], list[asyncio.Task[None]]],
        stop: Callable[[], None],
        ticks: Callable[[], int],
    ) -> None:
        self.start, self.stop, self.ticks = start, stop, ticks
        self.total_ticks = 0
        self.total_cpu = 0.0

    async def slice(self) -> None:
        tasks = self.start()
        await asyncio.sleep(0)  # every loop has started and run once
        ticks0, cpu0 = self.ticks(), time.thread_time()
        await asyncio.sleep(_SLICE_S)
        self.total_ticks += self.ticks() - ticks0
        self.total_cpu += time.thread_time() - cpu0
        self.stop()
        await asyncio.gather(*tasks)

    @property
    def rate(self) -> float:
        return self.total_ticks / self.total_cpu


def _native_set(n: int) -> _Set:
    loops = [_Native(name=f"n{i}", interval=0) for i in range(n)]

    def stop() -> None:
        for lp in loops:
            lp.request_stop()

    return _Set(
        lambda: [lp.start() for lp in loops], stop, lambda: sum(lp.metrics.runs for lp in loops)
    )


def _compat_set(n: int) -> _Set:
    loops = [_Compat(f"c{i}", interval=0) for i in range(n)]

    def stop() -> None:
        for lp in loops:
            lp.stop()

    return _Set(
        lambda: [lp.start_background() for lp in loops],
        stop,
        lambda: sum(lp.stats.total_runs for lp in loops),
    )


async def _round(n: int) -> tuple[float, float]:
    native, compat = _native_set(n), _compat_set(n)
    for i in range(_SLICES):
        for s in (native, compat) if i % 2 == 0 else (compat, native):
            await s.slice()
    return native.rate, compat.rate


def tick_rate() -> dict[tuple[str, int], float]:
    """The ratio compat / native, by event loop and number of loops."""
    print("compat.p2p BaseLoop(interval=0) vs treadle Loop(interval=0), the same trivial run")
    row("", "native ticks/s", "compat ticks/s", "ratio")
    ratios = {}
    for lp in (lp for lp in EVENT_LOOPS if has_loop(lp)):
        for n in (1, 1000):
            rounds = [on(lp, functools.partial(_round, n)) for _ in range(_ROUNDS)]
            native = max(r[0] for r in rounds)
            compat = max(r[1] for r in rounds)
            ratios[lp, n] = compat / native
            row(
                f"{lp}: {n} loop(s), best of {_ROUNDS}",
                f"{native:,.0f}",
                f"{compat:,.0f}",
                f"{ratios[lp, n]:.0%} (>=90%)",
            )
    return ratios


def main() -> None:
    tick_rate()


if __name__ == "__main__":
    main()
