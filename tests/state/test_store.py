"""StateStore: versions, compare-and-set, watches that coalesce, waiting for a value."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle import VersionConflict
from treadle.state import StateStore, Versioned


def test_versions_count_writes_per_key() -> None:
    s = StateStore()
    assert s.get("leader") is None
    assert s.set("leader", "a") == 1
    assert s.set("leader", "b") == 2
    assert s.set("other", 1) == 1
    assert s.get("leader") == Versioned("b", 2)
    assert s.snapshot() == {
        "leader": {"value": "b", "version": 2},
        "other": {"value": 1, "version": 1},
    }


def test_compare_and_set_lets_exactly_one_racer_win() -> None:
    s = StateStore()
    assert s.set("leader", "node-1", expect=0) == 1  # must be absent
    with pytest.raises(VersionConflict) as info:
        s.set("leader", "node-2", expect=0)
    assert (info.value.key, info.value.expected, info.value.actual) == ("leader", 0, 1)
    assert s.value("leader") == "node-1"
    s.set("leader", "node-2", expect=1)
    assert s.value("leader") == "node-2"


def test_delete_with_and_without_expect() -> None:
    s = StateStore()
    s.set("k", 1)
    with pytest.raises(VersionConflict):
        s.delete("k", expect=7)
    s.delete("k", expect=1)
    assert s.get("k") is None
    s.delete("k")  # missing is fine
    assert s.set("k", 2) == 2  # versions never go back, even across deletion


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers()), max_size=50))
def test_version_is_the_number_of_writes(writes: list[tuple[str, int]]) -> None:
    s = StateStore()
    for key, value in writes:
        s.set(key, value)
    for key in "abc":
        n = sum(1 for k, _ in writes if k == key)
        entry = s.get(key)
        assert (entry.version if entry else 0) == n


async def test_watch_sees_the_current_value_then_changes_in_order() -> None:
    s = StateStore()
    s.set("cfg", {"rate": 1})
    seen: list[Versioned] = []

    async def watcher() -> None:
        async for v in s.watch("cfg"):
            seen.append(v)
            if v.version == 1:
                first.set()
            if v.version == 3:
                return

    first = asyncio.Event()
    task = asyncio.ensure_future(watcher())
    await first.wait()
    s.set("cfg", {"rate": 2})
    await asyncio.sleep(0)
    s.set("cfg", {"rate": 3})
    await task
    assert [v.version for v in seen] == [1, 2, 3]


async def test_a_slow_watcher_skips_to_the_latest() -> None:
    s = StateStore()
    gen = s.watch("k")
    pending = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0)
    for i in range(10):
        s.set("k", i)  # never blocks, however slow the watcher
    assert (await pending).value in range(10)
    s.set("k", "last")
    latest = await gen.__anext__()
    assert latest == Versioned("last", 11)
    await gen.aclose()


async def test_watch_reports_deletion() -> None:
    s = StateStore()
    s.set("k", 1)
    gen = s.watch("k")
    assert await gen.__anext__() == Versioned(1, 1)
    nxt = asyncio.ensure_future(gen.__anext__())
    await asyncio.sleep(0)
    s.delete("k")
    assert await nxt == Versioned(None, 0)
    await gen.aclose()


async def test_wait_for_a_value() -> None:
    s = StateStore()
    waiter = asyncio.ensure_future(s.wait_for("leader", lambda v: v == "me"))
    await asyncio.sleep(0)
    s.set("leader", "them")
    await asyncio.sleep(0)
    assert not waiter.done()
    s.set("leader", "me")
    assert await waiter == Versioned("me", 2)
    assert s._watchers == {} or all(not w for w in s._watchers.values())
