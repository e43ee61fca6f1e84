"""The bus: glob topics, overflow policies, blocking publish with timeout, request/reply."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from treadle import Bus, BusTimeout, ConfigError, Message, Overflow, Subscription


def test_patterns_match_dot_separated_topics() -> None:
    bus = Bus()
    life = bus.subscribe("lifecycle.root.*")
    everything = bus.subscribe()
    exact = bus.subscribe("metrics")
    assert bus.publish_nowait("lifecycle.root.worker", 1) == 2
    assert bus.publish_nowait("lifecycle.other.worker", 2) == 1
    assert bus.publish_nowait("metrics", 3) == 2
    assert [m.payload for m in _drain(life)] == [1]
    assert [m.payload for m in _drain(everything)] == [1, 2, 3]
    assert [m.payload for m in _drain(exact)] == [3]


def test_nobody_listening_costs_nothing_and_delivers_nothing() -> None:
    bus = Bus()
    assert not bus.has_subscribers
    assert bus.publish_nowait("x", 1) == 0
    with bus.subscribe("y"):
        assert bus.has_subscribers
        assert bus.publish_nowait("x", 1) == 0
    assert not bus.has_subscribers


def test_drop_oldest_keeps_the_newest() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=2, overflow=Overflow.DROP_OLDEST)
    for i in range(5):
        bus.publish_nowait("t", i)
    assert [m.payload for m in _drain(sub)] == [3, 4]
    assert sub.stats()["dropped"] == 3
    assert sub.stats()["received"] == 5


def test_drop_newest_keeps_what_is_queued() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=2, overflow="drop_newest")
    delivered = [bus.publish_nowait("t", i) for i in range(5)]
    assert delivered == [1, 1, 0, 0, 0]
    assert [m.payload for m in _drain(sub)] == [0, 1]
    assert sub.stats()["dropped"] == 3


async def test_block_waits_for_the_reader() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=1, overflow=Overflow.BLOCK, block_timeout=10)
    await bus.publish("t", 1)
    publisher = asyncio.ensure_future(bus.publish("t", 2))
    await asyncio.sleep(0)
    assert not publisher.done()  # blocked: the queue is full
    assert (await sub.get()).payload == 1  # reading makes room
    assert await publisher == 1
    assert (await sub.get()).payload == 2
    assert sub.dropped == 0


async def test_block_gives_up_after_its_timeout_and_counts_the_drop() -> None:
    bus = Bus()
    sub = bus.subscribe(maxsize=1, overflow=Overflow.BLOCK, block_timeout=0.01)
    await bus.publish("t", 1)
    assert await bus.publish("t", 2) == 0  # never blocks forever
    assert sub.dropped == 1
    assert bus.publish_nowait("t", 3) == 0  # the non-waiting path drops at once
    assert sub.dropped == 2


async def test_async_iteration_ends_when_closed() -> None:
    bus = Bus()
    sub = bus.subscribe()
    got: list[object] = []

    async def read() -> None:
        async for msg in sub:
            got.append(msg.payload)
            if len(got) == 2:
                sub.close()

    reader = asyncio.ensure_future(read())
    bus.publish_nowait("t", "a")
    bus.publish_nowait("t", "b")
    bus.publish_nowait("t", "c")
    await reader
    assert got == ["a", "b"]
    assert bus.publish_nowait("t", "d") == 0


async def test_close_wakes_a_waiting_reader() -> None:
    bus = Bus()
    sub = bus.subscribe()
    reader = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    sub.close()
    with pytest.raises(StopAsyncIteration):
        await reader


async def test_request_reply() -> None:
    bus = Bus()
    service = bus.subscribe("svc.echo")

    async def serve() -> None:
        msg = await service.get()
        bus.reply(msg, f"echo {msg.payload}")

    server = asyncio.ensure_future(serve())
    assert await bus.request("svc.echo", "hi", timeout=5) == "echo hi"
    await server
    assert [s["pattern"] for s in bus.stats()["subscriptions"]] == ["svc.echo"]  # cleaned up


async def test_request_without_reply_times_out_and_cleans_up() -> None:
    bus = Bus()
    with pytest.raises(BusTimeout, match="nobody subscribes"):
        await bus.request("svc.none", 1, timeout=1)
    with bus.subscribe("svc.mute"), pytest.raises(BusTimeout, match=r"no reply in 0\.01s"):
        await bus.request("svc.mute", 1, timeout=0.01)
    assert bus.stats()["subscriptions"] == []


def test_reply_needs_a_request() -> None:
    bus = Bus()
    sub = bus.subscribe()
    bus.publish_nowait("t", 1)
    msg = sub.get_nowait()
    assert msg is not None
    with pytest.raises(ValueError, match="asked for no reply"):
        bus.reply(msg, 2)


def test_bad_options_name_the_field() -> None:
    bus = Bus()
    with pytest.raises(ConfigError, match="maxsize"):
        bus.subscribe(maxsize=0)
    with pytest.raises(ConfigError, match="overflow"):
        bus.subscribe(overflow="explode")


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.sampled_from(["a.x", "a.y", "b.x"]), max_size=200),
    st.integers(min_value=1, max_value=20),
    st.sampled_from([Overflow.DROP_OLDEST, Overflow.DROP_NEWEST, Overflow.BLOCK]),
    st.lists(st.integers(min_value=0, max_value=5), max_size=50),
)
def test_nothing_is_lost_without_being_counted(
    topics: list[str], maxsize: int, overflow: Overflow, reads: list[int]
) -> None:
    bus = Bus()
    sub = bus.subscribe("a.*", maxsize=maxsize, overflow=overflow)
    read = 0
    for i, topic in enumerate(topics):
        bus.publish_nowait(topic, i)
        if i < len(reads):
            for _ in range(reads[i]):
                read += sub.get_nowait() is not None
    matching = sum(1 for t in topics if t.startswith("a."))
    queued = sub.stats()["queued"]
    assert queued <= maxsize
    assert read + queued + sub.dropped == matching
    assert sub.received - (sub.dropped if overflow is Overflow.DROP_OLDEST else 0) == read + queued


def _drain(sub: Subscription) -> list[Message]:
    out = []
    while (msg := sub.get_nowait()) is not None:
        out.append(msg)
    return out
