"""Limiter: priority then FIFO, resizing, stats, and no permit lost to cancellation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadle import ConfigError, UnknownLimiter
from treadle.limits import Limiter, Limits, default_limits, limiter


async def _queue(lim: Limiter, order: list[str], name: str, prio: int) -> None:
    async with lim(priority=prio):
        order.append(name)


async def test_served_by_priority_then_fifo() -> None:
    lim = Limiter("io", 1)
    await lim.acquire()
    order: list[str] = []
    tasks = [
        asyncio.ensure_future(_queue(lim, order, name, prio))
        for name, prio in [("a0", 0), ("b5", 5), ("c0", 0), ("d5", 5), ("e9", 9)]
    ]
    await asyncio.sleep(0)
    assert lim.stats()["waiting_by_priority"] == {"0": 2, "5": 2, "9": 1}
    lim.release()
    await asyncio.gather(*tasks)
    assert order == ["e9", "b5", "d5", "a0", "c0"]
    assert lim.in_use == 0


async def test_uncontended_path_and_stats() -> None:
    lim = Limiter("cpu", 2)
    async with lim(), lim.slot(priority=3):
        assert lim.in_use == 2
        assert not lim.try_acquire()
    s = lim.stats()
    assert (s["in_use"], s["acquired"], s["waiting"], s["total_wait_s"]) == (0, 2, 0, 0.0)


async def test_resize_up_wakes_waiters_and_down_drains() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    waiters = [asyncio.ensure_future(lim.acquire()) for _ in range(2)]
    await asyncio.sleep(0)
    lim.resize(3)
    await asyncio.gather(*waiters)
    assert lim.in_use == 3
    lim.resize(1)  # holders finish first; nobody new gets in until below 1
    lim.release()
    lim.release()
    assert not lim.try_acquire()
    lim.release()
    assert lim.try_acquire()
    assert lim.stats()["max_wait_s"] >= 0


def test_bad_capacity_and_over_release() -> None:
    with pytest.raises(ConfigError, match="capacity"):
        Limiter("x", 0)
    with pytest.raises(RuntimeError, match="released more than acquired"):
        Limiter("x", 1).release()


async def test_cancelled_waiter_leaves_no_trace() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    waiter = asyncio.ensure_future(lim.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    lim.release()
    assert lim.in_use == 0
    assert lim.waiting == 0


async def test_cancelled_right_after_the_grant_passes_the_permit_on() -> None:
    lim = Limiter("x", 1)
    await lim.acquire()
    first = asyncio.ensure_future(lim.acquire())
    second = asyncio.ensure_future(lim.acquire())
    await asyncio.sleep(0)
    lim.release()  # grants `first`, which has not resumed yet...
    first.cancel()  # ...and is cancelled before it does
    with pytest.raises(asyncio.CancelledError):
        await first
    await second  # the permit went on to the next waiter
    assert lim.in_use == 1


@settings(max_examples=100, deadline=None)
@given(
    st.integers(min_value=1, max_value=4),
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["ok", "cancel_waiting", "cancel_granted"])),
        min_size=1,
        max_size=30,
    ),
)
def test_no_permit_is_ever_lost(capacity: int, plan: list[tuple[int, str]]) -> None:
    async def scenario() -> None:
        lim = Limiter("p", capacity)
        held = 0
        for _ in range(capacity):
            await lim.acquire()
            held += 1
        tasks = [asyncio.ensure_future(lim.acquire(prio)) for prio, _ in plan]
        await asyncio.sleep(0)
        survivors = []
        for task, (_, fate) in zip(tasks, plan, strict=True):
            if fate == "cancel_waiting":
                task.cancel()
            elif fate == "cancel_granted":
                if held:
                    lim.release()  # hand a permit out...
                    held -= 1
                task.cancel()  # ...and cancel whoever may have just got it
            else:
                survivors.append(task)
        while held:
            lim.release()
            held -= 1
        for done in asyncio.as_completed(survivors):  # each survivor gets in, then leaves
            await done
            lim.release()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert lim.in_use == 0
        assert lim.waiting == 0

    asyncio.run(scenario())


async def test_registry_names_its_limiters() -> None:
    limits = Limits(default_capacity=2)
    assert limits.get("default").capacity == 2
    limits.configure("io", 1)
    async with limits.acquire("io", priority=1):
        assert limits.stats()["io"]["in_use"] == 1
    limits.configure("io", 5)
    assert limits.get("io").capacity == 5
    with pytest.raises(
        UnknownLimiter, match=r"no limiter named 'disk' \(configured: \['default', 'io'\]\)"
    ):
        limits.get("disk")


async def test_process_wide_default() -> None:
    assert default_limits() is default_limits()
    async with limiter():
        assert default_limits().get("default").in_use >= 1
