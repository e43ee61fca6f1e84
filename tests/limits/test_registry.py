"""Limits: named limiters, the always-present default, and the process-wide registry."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator

import pytest

import treadle.limits._registry as registry_module
from treadle import ConfigError, UnknownLimiter
from treadle.limits import Limiter, Limits, default_limits, limiter

from ._support import until


@pytest.fixture
def fresh_default() -> Iterator[None]:
    """Each test that touches the process-wide registry starts from a new one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry_module, "_default", None)
        yield


def test_default_is_always_there_and_sized_to_the_machine() -> None:
    limits = Limits()
    assert limits.names() == ["default"]
    assert "default" in limits
    assert limits.get("default").capacity == max(1, os.cpu_count() or 1)
    assert Limits(default_capacity=3).get("default").capacity == 3


@pytest.mark.parametrize("bad", [0, -2])
def test_a_bad_default_capacity_is_refused_not_replaced(bad: int) -> None:
    with pytest.raises(ConfigError, match="default_capacity") as raised:
        Limits(default_capacity=bad)
    assert raised.value.field == "default_capacity"


def test_configure_creates_then_resizes_the_same_limiter() -> None:
    limits = Limits(default_capacity=2)
    io = limits.configure("io", 1)
    assert isinstance(io, Limiter)
    assert io.name == "io"
    assert limits.configure("io", 5) is io
    assert io.capacity == 5
    limits.configure("default", 7)
    assert limits.get("default").capacity == 7
    assert limits.names() == ["default", "io"]


def test_configure_validates_name_and_capacity() -> None:
    limits = Limits(default_capacity=1)
    with pytest.raises(ConfigError, match="name"):
        limits.configure("", 1)
    with pytest.raises(ConfigError, match="capacity"):
        limits.configure("io", 0)
    assert "io" not in limits
    limits.configure("io", 2)
    with pytest.raises(ConfigError, match="capacity"):
        limits.configure("io", 0)
    assert limits.get("io").capacity == 2


def test_an_unknown_name_says_which_names_exist() -> None:
    limits = Limits(default_capacity=1)
    limits.configure("io", 1)
    with pytest.raises(
        UnknownLimiter, match=r"no limiter named 'disk' \(configured: \['default', 'io'\]\)"
    ):
        limits.get("disk")
    with pytest.raises(LookupError):  # before any ``async with``
        limits.acquire("disk")


async def test_acquire_by_name_and_priority() -> None:
    limits = Limits(default_capacity=4)
    limits.configure("io", 1)
    order: list[str] = []
    go = asyncio.Event()

    async def use(name: str, priority: int) -> None:
        async with limits.acquire("io", priority=priority):
            order.append(name)
            await go.wait()

    async with limits.acquire("io"):
        assert limits.stats()["io"]["in_use"] == 1
        assert limits.stats()["default"]["in_use"] == 0
        tasks = [asyncio.ensure_future(use(n, p)) for n, p in [("low", 0), ("high", 1)]]
        await until(lambda: limits.get("io").waiting == 2)
        assert limits.stats()["io"]["waiting_by_priority"] == {"1": 1, "0": 1}
        go.set()
    await asyncio.gather(*tasks)
    assert order == ["high", "low"]
    assert limits.stats()["io"]["acquired"] == 3


async def test_resizing_through_the_registry_wakes_waiters() -> None:
    limits = Limits(default_capacity=1)
    await limits.get("default").acquire()
    waiter = asyncio.ensure_future(limits.get("default").acquire())
    await until(lambda: limits.get("default").waiting == 1)
    limits.configure("default", 2)
    await waiter
    assert limits.get("default").in_use == 2


def test_stats_is_json_safe_by_name() -> None:
    limits = Limits(default_capacity=2)
    limits.configure("io", 3)
    stats = limits.stats()
    assert json.loads(json.dumps(stats)) == stats
    assert list(stats) == ["default", "io"]
    assert stats["io"]["capacity"] == 3
    assert repr(limits) == (
        "<Limits <Limiter 'default' 0/2 waiting=0>, <Limiter 'io' 0/3 waiting=0>>"
    )


@pytest.mark.usefixtures("fresh_default")
async def test_the_process_wide_registry_and_its_shortcut() -> None:
    assert default_limits() is default_limits()
    default_limits().configure("io", 1)
    async with limiter("io", priority=2):
        assert default_limits().get("io").in_use == 1
    async with limiter():
        assert default_limits().get("default").in_use == 1
    assert default_limits().stats()["io"]["acquired"] == 1
    with pytest.raises(UnknownLimiter):
        limiter("nope")


@pytest.mark.usefixtures("fresh_default")
def test_the_process_wide_registry_outlives_event_loops() -> None:
    async def once() -> int:
        async with limiter():
            return default_limits().get("default").in_use

    assert asyncio.run(once()) == 1
    assert asyncio.run(once()) == 1  # a new loop, the same limiter, nothing held over
    assert default_limits().get("default").acquired == 2
