"""Limiter: priority then FIFO, the fast path, resizing under load, stats, and no permit ever
lost to cancellation (a hypothesis-driven schedule of acquirers, cancellations and resizes).

Nothing here sleeps for time: tasks hold permits until an event is set, and the tests wait
for a condition by yielding to the loop (``asyncio.sleep(0)``), a bounded number of times.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadle import ConfigError
from treadle.limits import Limiter
from treadle.limits._limiter import _COMPACT_AFTER

from ._support import until


async def _joined(*tasks: asyncio.Future[Any]) -> None:
    """Wait for ``tasks`` to end and re-raise any error; a task stuck in the limiter fails the
    test here instead of hanging it."""
    await until(lambda: all(t.done() for t in tasks))
    await asyncio.gather(*tasks)


async def _cancelled(task: asyncio.Future[Any]) -> None:
    await until(task.done)
    assert task.cancelled(), "CancelledError was swallowed"


async def _settle(turns: int) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)


class _Acquirer:
    """A task that enters the limiter, records it, and holds the permit until told to leave."""

    def __init__(self, lim: Limiter, priority: int, log: list[_Acquirer] | None = None) -> None:
        self.priority = priority
        self.started = self.entered = self.cancel_requested = False
        self.leave = asyncio.Event()
        self._lim = lim
        self._log = log
        self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        self.started = True
        async with self._lim(priority=self.priority):
            self.entered = True
            if self._log is not None:
                self._log.append(self)
            await self.leave.wait()

    @property
    def holding(self) -> bool:
        return self.entered and not self.task.done()

    @property
    def waiting(self) -> bool:
        return self.started and not self.entered and not self.task.done()

    def cancel(self) -> None:
        self.cancel_requested |= self.task.cancel()


async def test_served_by_priority_then_in_order_of_arrival() -> None:
    lim = Limiter("io", 1)
    await lim.acquire()
    order: list[_Acquirer] = []
    named = {n: _Acquirer(lim, int(n[1:]), order) for n in ["a0", "b5", "c0", "d5", "e9", "f-1"]}
    await until(lambda: lim.waiting == 6)
    assert lim.stats()["waiting_by_priority"] == {"9": 1, "5": 2, "0": 2, "-1": 1}
    for a in named.values():
        a.leave.set()  # each one leaves as soon as it is in, handing its permit on
    lim.release()
    await _joined(*(a.task for a in named.values()))
    assert order == [named[n] for n in ["e9", "b5", "d5", "a0", "c0", "f-1"]]
    assert (lim.in_use, lim.waiting, lim.acquired) == (0, 0, 7)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_grants_follow_priority_then_arrival(priorities: list[int]) -> None:
    async def scenario() -> list[int]:
        lim = Limiter("order", 1)
        await lim.acquire()
        order: list[int] = []

        async def enter(i: int) -> None:
            async with lim(priority=priorities[i]):
                order.append(i)

        tasks = [asyncio.ensure_future(enter(i)) for i in range(len(priorities))]
        await until(lambda: lim.waiting == len(priorities))
        lim.release()
        await _joined(*tasks)
        assert lim.in_use == 0
        return order

    expected = sorted(range(len(priorities)), key=lambda i: (-priorities[i], i))
    assert asyncio.run(scenario()) == expected


async def test_the_fast_path_allocates_no_future(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.get_running_loop()
    created: list[asyncio.Future[Any]] = []

    def counting_create_future() -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.Future(loop=loop)
        created.append(fut)
        return fut

    monkeypatch.setattr(loop, "create_future", counting_create_future)
    lim = Limiter("cpu", 3)
    await lim.acquire()
    async with lim(), lim.slot(priority=3):
        assert lim.in_use == 3
        assert not lim.try_acquire()
        assert created == []
        waiter = _Acquirer(lim, 0)
        await until(lambda: lim.waiting == 1)
        assert len(created) == 1  # only a task that has to wait gets a future
    waiter.leave.set()
    await _joined(waiter.task)
    lim.release()
    assert (lim.in_use, lim.acquired) == (0, 4)


async def test_try_acquire_never_jumps_the_queue() -> None:
    lim = Limiter("x", 1)
    assert lim.try_acquire()
    waiter = _Acquirer(lim, 0)
    await until(lambda: waiter.waiting)
    lim.release()  # handed straight to the waiter: in_use never drops to 0
    assert lim.in_use == 1
    assert not lim.try_acquire()
    await until(lambda: waiter.entered)
    waiter.leave.set()
    await _joined(waiter.task)
    assert lim.try_acquire()


async def test_a_slot_is_reusable_and_reentrant() -> None:
    lim = Limiter("x", 2)
    slot = lim.slot()
    async with slot, slot:
        assert lim.in_use == 2
    async with slot:
        assert lim.in_use == 1
    assert "priority=0" in repr(slot)


async def test_any_task_may_release_and_over_release_is_an_error() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()

    async def elsewhere() -> None:
        lim.release()

    await asyncio.ensure_future(elsewhere())
    assert lim.in_use == 0
    with pytest.raises(RuntimeError, match=r"limiter 'x': released more than acquired"):
        lim.release()
    assert lim.in_use == 0


async def test_growing_wakes_waiters_by_priority() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    log: list[_Acquirer] = []
    low = [_Acquirer(lim, 0, log) for _ in range(3)]
    high = [_Acquirer(lim, 2, log) for _ in range(2)]
    await until(lambda: lim.waiting == 5)
    lim.resize(4)  # three more permits, at once, to the highest priorities
    assert (lim.in_use, lim.waiting) == (4, 2)
    await until(lambda: len(log) == 3)
    assert log == [*high, low[0]]
    for a in [*low, *high]:
        a.leave.set()
    await _joined(*(a.task for a in [*low, *high]))
    lim.release()
    assert (lim.in_use, lim.waiting, lim.acquired) == (0, 0, 6)


async def test_shrinking_drains_holders_before_granting_again() -> None:
    lim = Limiter("x", 4)
    holders = [_Acquirer(lim, 0) for _ in range(4)]
    await until(lambda: all(h.entered for h in holders))
    waiters = [_Acquirer(lim, p) for p in (0, 1)]
    await until(lambda: lim.waiting == 2)
    lim.resize(2)
    assert lim.capacity == 2
    for count, h in enumerate(holders[:2], 1):
        h.leave.set()
        await _joined(h.task)
        assert (lim.in_use, lim.waiting) == (4 - count, 2)  # still at or above 2: nobody in
    holders[2].leave.set()
    await _joined(holders[2].task)  # in_use 2 -> 1: the priority-1 waiter gets the free permit
    assert (lim.in_use, lim.waiting) == (2, 1)
    await until(lambda: waiters[1].entered)
    assert not waiters[0].entered
    for a in [holders[3], *waiters]:
        a.leave.set()
    await _joined(*(a.task for a in [holders[3], *waiters]))
    assert (lim.in_use, lim.waiting) == (0, 0)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "2"])
def test_capacity_must_be_a_whole_number_of_at_least_one(bad: Any) -> None:
    with pytest.raises(ConfigError, match="capacity") as raised:
        Limiter("x", bad)
    assert raised.value.field == "capacity"
    lim = Limiter("x", 3)
    with pytest.raises(ConfigError, match="capacity"):
        lim.resize(bad)
    assert lim.capacity == 3


async def test_stats_are_json_safe_and_count_waits() -> None:
    lim = Limiter("db", 1)
    async with lim():
        pass
    assert json.loads(json.dumps(lim.stats())) == {
        "name": "db",
        "capacity": 1,
        "in_use": 0,
        "waiting": 0,
        "waiting_by_priority": {},
        "acquired": 1,
        "total_wait_s": 0.0,  # the fast path never waited
        "max_wait_s": 0.0,
    }
    await lim.acquire()
    waiters = [_Acquirer(lim, p) for p in (1, 1, 0)]
    await until(lambda: lim.waiting == 3)
    s = lim.stats()
    assert (s["in_use"], s["waiting"], s["waiting_by_priority"]) == (1, 3, {"1": 2, "0": 1})
    for w in waiters:
        w.leave.set()
    lim.release()
    await _joined(*(w.task for w in waiters))
    s = lim.stats()
    assert (s["acquired"], s["in_use"], s["waiting"]) == (5, 0, 0)
    assert s["total_wait_s"] >= s["max_wait_s"] > 0
    assert repr(lim) == "<Limiter 'db' 0/1 waiting=0>"


async def test_a_cancelled_waiter_leaves_no_trace() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    waiter = _Acquirer(lim, 0)
    await until(lambda: lim.waiting == 1)
    waiter.cancel()
    assert lim.waiting == 0  # its future is cancelled at once
    await _cancelled(waiter.task)
    lim.release()
    assert (lim.in_use, lim.waiting, lim.acquired) == (0, 0, 1)


async def test_cancelled_right_after_the_grant_passes_the_permit_on() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    first, second = _Acquirer(lim, 0), _Acquirer(lim, 0)
    await until(lambda: lim.waiting == 2)
    lim.release()  # grants `first`, which has not resumed yet...
    first.cancel()  # ...and is cancelled before it does
    assert first.cancel_requested
    await _cancelled(first.task)  # CancelledError propagates: not swallowed
    assert not first.entered
    await until(lambda: second.entered)  # the permit went on to the next waiter
    assert (lim.in_use, lim.acquired) == (1, 2)  # the passed-on grant is not counted
    second.leave.set()
    await _joined(second.task)
    assert lim.in_use == 0


async def test_cancelled_after_the_grant_returns_the_permit_when_over_capacity() -> None:
    lim = Limiter("x", 2)
    await lim.acquire()
    await lim.acquire()
    first, second = _Acquirer(lim, 0), _Acquirer(lim, 0)
    await until(lambda: lim.waiting == 2)
    lim.release()  # grants `first`...
    lim.resize(1)  # ...the limit shrinks...
    first.cancel()  # ...and `first` gives its permit back: in_use 2 -> 1, still not below 1
    await _cancelled(first.task)
    assert (lim.in_use, lim.waiting) == (1, 1)
    assert not second.entered
    lim.release()
    await until(lambda: second.entered)
    second.leave.set()
    await _joined(second.task)
    assert lim.in_use == 0


async def test_a_timeout_while_waiting_leaks_nothing() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0):
            await lim.acquire(priority=3)
    assert (lim.in_use, lim.waiting) == (1, 0)
    lim.release()
    assert lim.try_acquire()


async def test_waiters_cancelled_behind_a_busy_limiter_do_not_pile_up() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    stays = _Acquirer(lim, 5)  # keeps the queue busy, so dead entries never reach the top
    for _ in range(1000):
        gone = asyncio.ensure_future(lim.acquire())
        await until(lambda: lim.waiting == 2)
        gone.cancel()
        await _cancelled(gone)
    assert lim.waiting == 1
    assert len(lim._waiters) <= 2 * _COMPACT_AFTER + 1  # compacted, however many gave up
    stays.leave.set()
    lim.release()
    await _joined(stays.task)
    assert (lim.in_use, lim.acquired) == (0, 2)


# (operation, argument); the weights favour arrivals, yields and cancellations
_OPS = st.tuples(
    st.sampled_from(
        ["spawn"] * 5
        + ["step"] * 3
        + ["cancel"] * 2
        + ["leave"] * 2
        + ["grant_then_cancel"] * 2
        + ["take", "resize", "quiet"]
    ),
    st.integers(0, 99),
)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.lists(_OPS, min_size=20, max_size=80))
def test_no_permit_is_ever_lost(capacity: int, ops: list[tuple[str, int]]) -> None:
    """A random schedule: acquirers of random priority arrive, leave, and are cancelled while
    waiting, while holding, or between being granted a permit and resuming; the limit is
    resized. Whenever the loop is quiet, every permit is accounted for and none sits idle
    while someone waits; at the end all is returned and every uncancelled acquirer got in."""

    async def scenario() -> None:
        lim = Limiter("p", capacity)
        held = 0  # permits the test itself holds
        for _ in range(capacity):
            assert lim.try_acquire()
            held += 1
        acquirers: list[_Acquirer] = []

        async def quiet() -> None:
            await _settle(4 * len(acquirers) + 8)
            holding = sum(a.holding for a in acquirers)
            waiting = sum(a.waiting for a in acquirers)
            assert lim.in_use == holding + held
            assert lim.waiting == waiting
            assert waiting == 0 or lim.in_use >= lim.capacity

        for op, arg in ops:
            if op == "spawn":
                acquirers.append(_Acquirer(lim, priority=arg % 5 - 2))
            elif op == "step":
                await _settle(arg % 3 + 1)
            elif op == "cancel" and acquirers:
                acquirers[arg % len(acquirers)].cancel()
            elif op == "leave" and acquirers:
                acquirers[arg % len(acquirers)].leave.set()
            elif op == "grant_then_cancel" and held:
                lim.release()  # hands the permit to the first live waiter, if any...
                held -= 1
                queued = [(-a.priority, i) for i, a in enumerate(acquirers) if a.waiting]
                queued = [q for q in queued if not acquirers[q[1]].cancel_requested]
                if queued:
                    acquirers[min(queued)[1]].cancel()  # ...who is cancelled before resuming
            elif op == "take" and lim.try_acquire():
                held += 1
            elif op == "resize":
                lim.resize(arg % 4 + 1)
            elif op == "quiet":
                await quiet()

        await quiet()
        for a in acquirers:
            a.leave.set()
        for _ in range(held):
            lim.release()
        held = 0
        await quiet()
        for a in acquirers:
            assert a.task.done()
            if a.cancel_requested:
                assert a.task.cancelled()  # CancelledError was never swallowed
            else:
                assert a.entered  # every survivor got in...
                assert a.task.result() is None  # ...and left cleanly
        assert (lim.in_use, lim.waiting) == (0, 0)
        assert lim.stats()["waiting_by_priority"] == {}

    asyncio.run(scenario())
