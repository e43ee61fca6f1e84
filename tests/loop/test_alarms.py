"""Alarms: loops that wait share a bucket a millisecond under one timer; a wake is never
early by the event loop's clock; a loop woken early leaves its bucket; nothing is left once
every loop has stopped; each event loop (each thread's) has its own."""

from __future__ import annotations

import asyncio
import threading

from treadle.loop import Loop
from treadle.loop._alarms import SHORT, Alarms, alarms


class Idle(Loop):
    """Sets ``ran`` once it has run ``runs`` times (it waits in the same step after)."""

    def __init__(self, interval: float, runs: int = 1, ran: asyncio.Event | None = None):
        super().__init__(interval=interval)
        self.wanted = runs
        self.ran = ran or asyncio.Event()

    async def run_once(self) -> None:
        if self.metrics.runs + 1 == self.wanted:
            self.ran.set()


_ULP = 1e-9  # far below a millisecond, far above a float's rounding at a loop's clock


def _buckets(ev: asyncio.AbstractEventLoop) -> dict[int, set[asyncio.Future[None]]]:
    return dict(alarms(ev)._buckets)


async def test_a_future_wakes_at_its_millisecond_never_before() -> None:
    ev = asyncio.get_running_loop()
    box = Alarms(ev)
    futures = [ev.create_future() for _ in range(3)]
    asked = ev.time()
    box.add(futures[0], 0.02)
    box.add(futures[1], 0.02)
    box.add(futures[2], 0.06)
    await futures[0]
    # The event loop's clock, not the wall. uvloop's counts whole milliseconds, and a
    # wake on the very millisecond may differ from ``asked + 0.02`` in a float's last bits.
    assert ev.time() >= asked + 0.02 - _ULP
    await asyncio.gather(*futures)
    assert ev.time() >= asked + 0.06 - _ULP
    assert box._buckets == {}  # each bucket went when it rang
    assert box._timer is None  # nothing left to ring for


async def test_a_future_that_leaves_early_is_not_woken_and_its_bucket_goes() -> None:
    ev = asyncio.get_running_loop()
    box = Alarms(ev)
    first, second = ev.create_future(), ev.create_future()
    buckets = [box.add(first, 0.05), box.add(second, 0.05)]
    buckets[0].leave(first)
    buckets[1].leave(second)
    assert box._buckets == {}  # an emptied bucket goes at once
    await asyncio.sleep(0.08)
    assert not first.done()
    assert not second.done()


async def test_idle_loops_wait_in_shared_buckets_and_leave_nothing_when_stopped() -> None:
    ev = asyncio.get_running_loop()
    loops = [Idle(interval=3600) for _ in range(200)]
    tasks = [lp.start() for lp in loops]
    await asyncio.gather(*(lp.ran.wait() for lp in loops))
    waiting = _buckets(ev)
    assert sum(map(len, waiting.values())) == 200  # every loop, and in few buckets
    assert len(waiting) < 200
    assert all(lp._timer is not None for lp in loops)
    for lp in loops:
        lp.request_stop()
    await asyncio.gather(*tasks)
    assert _buckets(ev) == {}  # every loop left its bucket
    assert all(lp._timer is None and lp._waker is None for lp in loops)


async def test_short_waits_keep_a_timer_of_their_own() -> None:
    ev = asyncio.get_running_loop()
    lp = Idle(interval=SHORT / 10, runs=3)
    task = lp.start()
    await lp.ran.wait()
    assert _buckets(ev) == {}  # none of its waits went to the alarms
    lp.request_stop()
    await task


async def test_a_new_interval_wakes_a_waiting_loop_out_of_its_bucket() -> None:
    ev = asyncio.get_running_loop()
    lp = Idle(interval=3600)
    task = lp.start()
    await lp.ran.wait()
    (hour,) = _buckets(ev)
    lp.ran.clear()
    lp.wanted = 2
    lp.interval = 0.06
    await lp.ran.wait()
    assert hour not in _buckets(ev)  # it left the hour's bucket when woken
    lp.request_stop()
    await task


def test_each_event_loop_has_its_own_alarms() -> None:
    seen: dict[str, Alarms] = {}

    def in_thread(name: str) -> None:
        async def main() -> None:
            loop = Idle(interval=0.1, runs=2)  # one wait through the alarms, and its wake
            task = loop.start()
            await loop.ran.wait()
            seen[name] = alarms(asyncio.get_running_loop())
            loop.request_stop()
            await task

        asyncio.run(main())

    threads = [threading.Thread(target=in_thread, args=(f"t{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert seen["t0"] is not seen["t1"]
    assert seen["t0"].loop is not seen["t1"].loop


async def test_ticks_of_buckets_emptied_early_do_not_pile_up() -> None:
    """A loop woken early again and again (paused, resumed) leaves a tick a time in the
    heap; past a bound, the heap is rebuilt from the buckets still there."""
    ev = asyncio.get_running_loop()
    box = Alarms(ev)
    for i in range(1000):
        fut = ev.create_future()
        box.add(fut, 3600 + i / 1000).leave(fut)  # a new millisecond each time
    assert box._buckets == {}
    assert len(box._heap) <= 2 * 64 + 1
