"""Issue 6 benchmarks: Loop tick overhead, 100k-loop scale, restart latency.

Run: ``python -m bench.foundation`` (or ``make bench``). Every figure is printed beside
its baseline measured in the same run; the ratios are what matter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import time

from treadle import Backoff, Jitter
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._util import in_fresh_process, quantiles_us, row, rss_bytes

# -- 1. tick overhead -------------------------------------------------------------------


async def _work() -> None:
    pass


class _Tick(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


_TICK_SECONDS = 1.0


async def _bare_ticks(n_tasks: int) -> float:
    stop = False

    async def bare() -> int:
        count = 0
        while not stop:
            await _work()
            await asyncio.sleep(0)
            count += 1
        return count

    tasks = [asyncio.ensure_future(bare()) for _ in range(n_tasks)]
    start = time.perf_counter()
    await asyncio.sleep(_TICK_SECONDS)
    stop = True
    counts = await asyncio.gather(*tasks)
    return sum(counts) / (time.perf_counter() - start)


async def _loop_ticks(n_loops: int) -> float:
    loops = [_Tick(interval=0) for _ in range(n_loops)]
    tasks = [lp.start() for lp in loops]
    start = time.perf_counter()
    await asyncio.sleep(_TICK_SECONDS)
    for lp in loops:
        lp.request_stop()
    await asyncio.gather(*tasks)
    return sum(lp.metrics.runs for lp in loops) / (time.perf_counter() - start)


def tick_overhead() -> None:
    print("1. tick overhead: Loop(interval=0) vs bare `await work(); await sleep(0)`")
    row("", "bare ticks/s", "treadle ticks/s", "ratio")
    for n in (1, 1000):
        bare = max(asyncio.run(_bare_ticks(n)) for _ in range(3))
        ours = max(asyncio.run(_loop_ticks(n)) for _ in range(3))
        row(f"{n} unit(s)", f"{bare:,.0f}", f"{ours:,.0f}", f"{ours / bare:.0%} (>=80%)")


# -- 2. scale -----------------------------------------------------------------------------

N_SCALE = 100_000


class _Idle(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


async def _scale_bare(n: int) -> dict[str, float]:
    gc.collect()
    base = rss_bytes()
    t0 = time.perf_counter()
    tasks = [asyncio.ensure_future(asyncio.sleep(3600)) for _ in range(n)]
    await asyncio.sleep(0)  # every task has started and is sleeping
    started = time.perf_counter()
    mem = rss_bytes() - base
    t1 = time.perf_counter()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopped = time.perf_counter()
    return {"bytes_per_unit": mem / n, "start_s": started - t0, "stop_s": stopped - t1}


async def _scale_treadle(n: int) -> dict[str, float]:
    gc.collect()
    base = rss_bytes()
    t0 = time.perf_counter()
    sup = Supervisor(
        (ChildSpec(_Idle(name=f"l{i}", interval=3600)) for i in range(n)), name="scale"
    )
    await sup.start()
    await sup.wait_running()
    await asyncio.sleep(0)  # every loop has run once and sleeps its interval
    started = time.perf_counter()
    mem = rss_bytes() - base
    t1 = time.perf_counter()
    await sup.stop()
    stopped = time.perf_counter()
    return {"bytes_per_unit": mem / n, "start_s": started - t0, "stop_s": stopped - t1}


def scale() -> None:
    print(f"2. scale: {N_SCALE:,} idle loops under one supervisor vs {N_SCALE:,} bare tasks")
    bare = in_fresh_process("bench.foundation", "scale-bare")
    ours = in_fresh_process("bench.foundation", "scale-treadle")
    row("", "bare", "treadle", "ratio")
    row(
        "memory per unit",
        f"{bare['bytes_per_unit']:,.0f} B",
        f"{ours['bytes_per_unit']:,.0f} B",
        f"{ours['bytes_per_unit'] / bare['bytes_per_unit']:.2f}x (<=2x)",
    )
    b_total = bare["start_s"] + bare["stop_s"]
    o_total = ours["start_s"] + ours["stop_s"]
    row("start", f"{bare['start_s']:.3f} s", f"{ours['start_s']:.3f} s", "")
    row("stop", f"{bare['stop_s']:.3f} s", f"{ours['stop_s']:.3f} s", "")
    row("start + stop", f"{b_total:.3f} s", f"{o_total:.3f} s", f"{o_total / b_total:.2f}x (<3x)")


# -- 3. restart latency ---------------------------------------------------------------------

N_RESTARTS = 1000


class _Boom(Exception):
    pass


async def _restart_latency(n: int) -> list[float]:
    firsts: list[float] = []
    raised: list[float] = []
    done = asyncio.Event()

    async def crasher() -> None:
        firsts.append(time.perf_counter())  # the new instance's first line
        if len(firsts) > n:
            done.set()
            await asyncio.Event().wait()
        raised.append(time.perf_counter())
        raise _Boom

    zero = Backoff(initial=0, max=0, jitter=Jitter.NONE)
    sup = Supervisor([ChildSpec(crasher, backoff=zero)], intensity=n + 1, period=3600)
    async with sup:
        await done.wait()
    return [firsts[i + 1] - raised[i] for i in range(n)]


async def _bare_restart_latency(n: int) -> list[float]:
    """Baseline: a hand-written `while True: try: await child() except: pass` respawn."""
    firsts: list[float] = []
    raised: list[float] = []

    async def crasher() -> None:
        firsts.append(time.perf_counter())
        raised.append(time.perf_counter())
        raise _Boom

    for _ in range(n + 1):
        with contextlib.suppress(_Boom):
            await asyncio.ensure_future(crasher())
    return [firsts[i + 1] - raised[i] for i in range(n)]


def restart_latency() -> None:
    print(f"3. restart latency: exception -> new instance's first line, {N_RESTARTS} restarts")
    bare_med, bare_p99 = quantiles_us(asyncio.run(_bare_restart_latency(N_RESTARTS)))
    med, p99 = quantiles_us(asyncio.run(_restart_latency(N_RESTARTS)))
    row("", "bare respawn", "treadle", "")
    row("median", f"{bare_med:.1f} us", f"{med:.1f} us", "(target < 200 us)")
    row("p99", f"{bare_p99:.1f} us", f"{p99:.1f} us", "")


def main() -> None:
    if len(sys.argv) > 1:
        fn = {"scale-bare": _scale_bare, "scale-treadle": _scale_treadle}[sys.argv[1]]
        print(json.dumps(asyncio.run(fn(N_SCALE))))
        return
    tick_overhead()
    scale()
    restart_latency()


if __name__ == "__main__":
    main()
