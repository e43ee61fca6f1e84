"""Issue 6 and 18 benchmarks: Loop tick overhead, 100k-loop scale, restart latency.

Run: ``python -m bench.foundation`` (or ``make bench``). Every figure is printed beside
its baseline measured in the same run, on asyncio's event loop and on uvloop's; the ratios
are what matter. The tick is measured in interleaved rounds (the machine is shared: a
round of the baseline, then one of treadle, the order alternating, and the median of the
rounds' ratios); ``python -m bench.foundation instructions`` counts its CPU instructions
under valgrind instead, which noise does not move.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import json
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any

from treadle import Backoff, Jitter
from treadle.loop import Loop
from treadle.loop._alarms import alarms
from treadle.supervisor import ChildSpec, Supervisor

from ._util import (
    EVENT_LOOPS,
    has_loop,
    header,
    in_fresh_process,
    on,
    quantiles_us,
    row,
    rss_bytes,
)

# -- 1. tick overhead -------------------------------------------------------------------


async def _work() -> None:
    pass


class _Tick(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


_ROUNDS = 7
_ROUND_SECONDS = 0.3
_TICK_TARGETS = {1: 0.92, 1000: 0.85}


async def _bare_ticks(n_tasks: int, seconds: float = _ROUND_SECONDS) -> float:
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
    await asyncio.sleep(seconds)
    stop = True
    counts = await asyncio.gather(*tasks)
    return sum(counts) / (time.perf_counter() - start)


async def _loop_ticks(n_loops: int, seconds: float = _ROUND_SECONDS) -> float:
    loops = [_Tick(interval=0) for _ in range(n_loops)]
    tasks = [lp.start() for lp in loops]
    start = time.perf_counter()
    await asyncio.sleep(seconds)
    for lp in loops:
        lp.request_stop()
    await asyncio.gather(*tasks)
    return sum(lp.metrics.runs for lp in loops) / (time.perf_counter() - start)


def _interleaved(loop: str, n: int) -> tuple[float, float, float]:
    """Median bare and treadle rates, and the median of the rounds' ratios."""
    bares, ours, ratios = [], [], []
    for i in range(_ROUNDS):
        if i % 2:
            o = on(loop, lambda: _loop_ticks(n))
            b = on(loop, lambda: _bare_ticks(n))
        else:
            b = on(loop, lambda: _bare_ticks(n))
            o = on(loop, lambda: _loop_ticks(n))
        bares.append(b)
        ours.append(o)
        ratios.append(o / b)
    return statistics.median(bares), statistics.median(ours), statistics.median(ratios)


def tick_overhead() -> None:
    print(
        "1. tick overhead: Loop(interval=0) vs bare `await work(); await sleep(0)`, ticks/s "
        f"(median of {_ROUNDS} interleaved rounds)"
    )
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    header(loops, ("bare", "treadle", "ratio"))
    for n in (1, 1000):
        cells: list[str] = []
        for lp in loops:
            bare, ours, ratio = _interleaved(lp, n)
            cells += [f"{bare:,.0f}", f"{ours:,.0f}", f"{ratio:.0%}"]
        row(f"{n:,} unit(s) (target >= {_TICK_TARGETS[n]:.0%})", *cells, width=15)


def _count_ticks(kind: str, n: int, ticks: int) -> None:
    """The tick workload for ``instructions``: ``ticks`` ticks of ``n`` units, then out."""
    left = ticks
    stopping: list[Loop] = []

    async def work() -> None:
        nonlocal left
        left -= 1
        if left == 0:
            for lp in stopping:
                lp.request_stop()

    class Counted(Loop):  # run_once is the work itself, as work() is the bare's
        __slots__ = ()

        async def run_once(self) -> None:
            nonlocal left
            left -= 1
            if left == 0:
                for lp in stopping:
                    lp.request_stop()

    async def bare() -> None:
        async def one() -> None:
            while left > 0:
                await work()
                await asyncio.sleep(0)

        await asyncio.gather(*(one() for _ in range(n)))

    async def loops() -> None:
        stopping.extend(Counted(interval=0) for _ in range(n))
        await asyncio.gather(*(lp.start() for lp in stopping))

    asyncio.run(bare() if kind == "bare" else loops())


def instructions() -> None:
    """CPU instructions per tick under valgrind (callgrind): each workload at two lengths,
    the difference divided by the ticks between them, so start-up costs cancel out."""
    if shutil.which("valgrind") is None:
        print("instructions: valgrind is not installed")
        return

    def count(kind: str, n: int, ticks: int) -> int:
        valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        workload = ["-m", "bench.foundation", "count-ticks", kind, str(n), str(ticks)]
        done = subprocess.run(
            [*valgrind, sys.executable, *workload],
            capture_output=True,
            text=True,
            check=True,
        )
        line = next(x for x in done.stderr.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    print("instructions per tick (callgrind; the same counting work in both)")
    row("", "bare", "treadle", "ratio")
    for n, short, long in ((1, 20_000, 40_000), (1000, 100_000, 200_000)):
        per = {
            kind: (count(kind, n, long) - count(kind, n, short)) / (long - short)
            for kind in ("bare", "treadle")
        }
        ratio = per["bare"] / per["treadle"]
        row(f"{n:,} unit(s)", f"{per['bare']:,.0f}", f"{per['treadle']:,.0f}", f"{ratio:.1%}")


# -- 2. scale -----------------------------------------------------------------------------

N_SCALE = 100_000
# Start and stop are timed in the process's CPU time: all of it is work on one thread (the
# garbage collector's included), and the machine is shared, so that wall time would count
# the waits for a core as well.
_cpu = time.process_time


class _Idle(Loop):
    __slots__ = ()

    async def run_once(self) -> None:
        pass


def _registry_share(n: int) -> float:
    """asyncio's registry of every task (a WeakSet): a weak reference and a set entry."""
    data = asyncio.tasks._all_tasks.data  # type: ignore[attr-defined]
    probe = next(iter(data))
    return sys.getsizeof(probe) + sys.getsizeof(data) / max(1, len(data))


def _bare_parts(tasks: list[asyncio.Task[Any]], n: int) -> dict[str, float]:
    """Bytes of each part of one bare sleeping task (asyncio's internals: best effort)."""
    task = tasks[0]
    coro = task.get_coro()
    future = coro.cr_frame.f_locals.get("future") if coro.cr_frame else None  # type: ignore[union-attr]
    loop = asyncio.get_running_loop()
    timers = getattr(loop, "_scheduled", [])
    timer = timers[0] if timers else None
    parts = {
        "task": sys.getsizeof(task),
        "its name": sys.getsizeof(task.get_name()),
        "its context": sys.getsizeof(contextvars.copy_context()),
        "asyncio.sleep's frame": sys.getsizeof(coro),
        "the future it waits on": sys.getsizeof(future),
        "asyncio's registry of tasks": _registry_share(n),
    }
    if timer is not None:
        parts["its timer (TimerHandle, args, when, ctx)"] = (
            sys.getsizeof(timer)
            + sys.getsizeof(timer._args)
            + sys.getsizeof(timer.when())
            + sys.getsizeof(contextvars.copy_context())
            + sys.getsizeof(timers) / len(timers)
        )
    return parts


def _treadle_parts(sup: Supervisor, n: int) -> dict[str, float]:
    """Bytes of each part of one idle loop under the supervisor."""
    child = next(iter(sup._children.values()))
    loop = child.target
    assert isinstance(loop, _Idle)
    assert child.task is not None
    numbers = (loop._beat, loop._end, loop._ok_s, loop._since, loop._after, child.started_at)
    floats = {id(x): x for x in numbers if type(x) is float}  # one object may be two fields
    buckets = alarms(asyncio.get_running_loop())._buckets.values()
    return {
        "Loop (its counters on it)": sys.getsizeof(loop),
        "ChildSpec": sys.getsizeof(child.spec),
        "Child (the supervisor's record)": sys.getsizeof(child)
        + (sys.getsizeof(child._rare) if child._rare is not None else 0),
        "its name": sys.getsizeof(child.name),
        "the supervisor's dict of children": sys.getsizeof(sup._children) / n,
        "task": sys.getsizeof(child.task),
        "its context": sys.getsizeof(contextvars.copy_context()),
        "Loop.run's frame": sys.getsizeof(child.task.get_coro()),
        "the future it waits on": sys.getsizeof(loop._waker),
        "its alarm (a share of a bucket)": sum(map(sys.getsizeof, buckets)) / n,
        "asyncio's registry of tasks": _registry_share(n),
        "times and counts (floats)": sum(sys.getsizeof(x) for x in floats.values()),
    }


async def _scale_bare(n: int) -> dict[str, Any]:
    gc.collect()
    base = rss_bytes()
    t0 = _cpu()
    tasks = [asyncio.ensure_future(asyncio.sleep(3600)) for _ in range(n)]
    await asyncio.sleep(0)  # every task has started and is sleeping
    started = _cpu()
    mem = rss_bytes() - base
    parts = _bare_parts(tasks, n)
    t1 = _cpu()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    stopped = _cpu()
    return {
        "bytes_per_unit": mem / n,
        "start_s": started - t0,
        "stop_s": stopped - t1,
        "parts": parts,
    }


async def _scale_treadle(n: int) -> dict[str, Any]:
    gc.collect()
    base = rss_bytes()
    t0 = _cpu()
    sup = Supervisor(
        (ChildSpec(_Idle(name=f"l{i}", interval=3600)) for i in range(n)), name="scale"
    )
    await sup.start()
    await sup.wait_running()
    await asyncio.sleep(0)  # every loop has run once and sleeps its interval
    started = _cpu()
    mem = rss_bytes() - base
    parts = _treadle_parts(sup, n)
    t1 = _cpu()
    await sup.stop()
    stopped = _cpu()
    return {
        "bytes_per_unit": mem / n,
        "start_s": started - t0,
        "stop_s": stopped - t1,
        "parts": parts,
    }


SCALE_ROUNDS = 5


def scale() -> None:
    print(
        f"2. scale: {N_SCALE:,} idle loops under one supervisor vs {N_SCALE:,} bare tasks "
        f"(each in a fresh process; CPU seconds; median of {SCALE_ROUNDS} interleaved rounds)"
    )
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    rounds: dict[tuple[str, str], list[dict[str, Any]]] = {
        (lp, kind): [] for lp in loops for kind in ("bare", "treadle")
    }
    for _ in range(SCALE_ROUNDS):
        for (lp, kind), runs in rounds.items():
            runs.append(in_fresh_process("bench.foundation", f"scale-{kind}", lp))

    def median(lp: str, kind: str, *keys: str) -> float:
        return float(statistics.median(sum(r[k] for k in keys) for r in rounds[lp, kind]))

    def ratio(lp: str, *keys: str) -> float:  # per round, then the median of the ratios
        pairs = zip(rounds[lp, "bare"], rounds[lp, "treadle"], strict=True)
        return float(
            statistics.median(sum(t[k] for k in keys) / sum(b[k] for k in keys) for b, t in pairs)
        )

    header(loops, ("bare", "treadle", "ratio"))
    cells: list[str] = []
    for lp in loops:
        b, o = median(lp, "bare", "bytes_per_unit"), median(lp, "treadle", "bytes_per_unit")
        cells += [f"{b:,.0f} B", f"{o:,.0f} B", f"{ratio(lp, 'bytes_per_unit'):.2f}x"]
    row("memory per unit, RSS (target <= 1.4x)", *cells, width=15)
    for label, keys in (
        ("start", ("start_s",)),
        ("stop", ("stop_s",)),
        ("start + stop (target <= 1.5x)", ("start_s", "stop_s")),
    ):
        cells = []
        for lp in loops:
            b, o = median(lp, "bare", *keys), median(lp, "treadle", *keys)
            cells += [f"{b:.3f} s", f"{o:.3f} s", f"{ratio(lp, *keys):.2f}x"]
        row(label, *cells, width=15)
    print("  one unit, part by part (asyncio; sys.getsizeof, shares of shared tables):")
    for kind in ("bare", "treadle"):
        first = rounds["asyncio", kind][0]
        parts: dict[str, float] = first["parts"]
        for name, size in parts.items():
            row(f"{kind}: {name}", f"{size:,.0f} B", width=15)
        rest = first["bytes_per_unit"] - sum(parts.values())
        row(f"{kind}: the allocator's (RSS - the parts)", f"{rest:,.0f} B", width=15)


# -- 3. restart latency ---------------------------------------------------------------------

N_RESTARTS = 1000


class _Boom(Exception):
    pass


async def _restart_latency(n: int = N_RESTARTS) -> list[float]:
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


async def _bare_restart_latency(n: int = N_RESTARTS) -> list[float]:
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
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    figures = {
        lp: (
            quantiles_us(on(lp, _bare_restart_latency)),
            quantiles_us(on(lp, _restart_latency)),
        )
        for lp in loops
    }
    header(loops, ("bare", "treadle"))
    for i, label in enumerate(("median (target <= 30 us)", "p99")):
        cells = []
        for lp in loops:
            bare, ours = figures[lp]
            cells += [f"{bare[i]:.1f} us", f"{ours[i]:.1f} us"]
        row(label, *cells, width=15)


# -- 4. a dynamic child among many ----------------------------------------------------------

N_AMONG = 10_000
N_DYNAMIC = 300


async def _dynamic_bare() -> float:
    """Baseline: a task made and cancelled beside 10,000 sleeping ones."""
    idle = [asyncio.ensure_future(asyncio.sleep(3600)) for _ in range(N_AMONG)]
    await asyncio.sleep(0)
    begin = time.perf_counter()
    for _ in range(N_DYNAMIC):
        task = asyncio.ensure_future(asyncio.sleep(3600))
        await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    took = (time.perf_counter() - begin) / N_DYNAMIC
    for t in idle:
        t.cancel()
    await asyncio.gather(*idle, return_exceptions=True)
    return took


async def _dynamic_treadle() -> float:
    """``add`` and ``remove`` of a loop in a running tree of 10,000 (OTP's dynamic child)."""
    sup = Supervisor(ChildSpec(_Idle(name=f"l{i}", interval=3600)) for i in range(N_AMONG))
    async with sup:
        await sup.wait_running()
        begin = time.perf_counter()
        for i in range(N_DYNAMIC):
            sup.add(_Idle(name=f"x{i}", interval=3600))
            await asyncio.sleep(0)
            await sup.remove(f"x{i}")
        return (time.perf_counter() - begin) / N_DYNAMIC


def dynamic_child() -> None:
    print(f"4. a child added, started, stopped and removed among {N_AMONG:,} running ones")
    loops = [lp for lp in EVENT_LOOPS if has_loop(lp)]
    header(loops, ("bare", "treadle", "ratio"))
    cells = []
    for lp in loops:
        bare, ours = on(lp, _dynamic_bare), on(lp, _dynamic_treadle)
        cells += [f"{bare * 1e6:.1f} us", f"{ours * 1e6:.1f} us", f"{ours / bare:.1f}x"]
    row("add + remove (before issue 18's fix: ~6 ms)", *cells, width=15)


def main(argv: list[str] | None = None) -> None:
    """Every figure; ``argv`` (``python -m bench.foundation ARGS``) picks one part."""
    args = argv or []
    if args[:1] == ["instructions"]:
        instructions()
        return
    if args[:1] == ["count-ticks"]:
        _count_ticks(args[1], int(args[2]), int(args[3]))
        return
    if args:
        fn = {"scale-bare": _scale_bare, "scale-treadle": _scale_treadle}[args[0]]
        loop = args[1] if len(args) > 1 else "asyncio"
        print(json.dumps(on(loop, lambda: fn(N_SCALE))))
        return
    tick_overhead()
    scale()
    restart_latency()
    dynamic_child()


if __name__ == "__main__":
    main(sys.argv[1:])
