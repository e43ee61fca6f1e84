"""max_concurrent with priorities, and the soft memory limit measured on the real process."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from treadle import State
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import wait_for


async def test_children_beyond_the_limit_wait_by_priority() -> None:
    order: list[str] = []
    release: dict[str, asyncio.Event] = {}

    def job(name: str) -> ChildSpec:
        release[name] = asyncio.Event()

        async def run() -> None:
            order.append(name)
            await release[name].wait()

        return ChildSpec(run, name=name, priority={"low": 0, "mid": 5, "high": 9}.get(name, 1))

    sup = Supervisor(
        [job("first"), job("low"), job("mid"), job("high")],
        max_concurrent=1,
    )
    async with sup:
        await sup.wait_running("first")
        assert sup.child_state("low") is State.PENDING
        assert sup.status()["slots"] == {
            "limit": 1,
            "in_use": 1,
            "waiting": 3,
            "waiting_by_priority": {"0": 1, "5": 1, "9": 1},
        }

        def started(n: int) -> Callable[[], bool]:
            return lambda: len(order) == n

        for n, name in enumerate(("first", "high", "mid"), start=2):
            release[name].set()
            await wait_for(sup, started(n))
        assert order == ["first", "high", "mid", "low"]
        release["low"].set()
    assert sup.status()["slots"]["in_use"] == 0


async def test_stopping_waiting_children_leaks_no_slot() -> None:
    async def hold() -> None:
        await asyncio.Event().wait()

    sup = Supervisor(
        [ChildSpec(hold, name=f"c{i}") for i in range(5)], max_concurrent=2, name="tight"
    )
    async with sup:
        await sup.wait_running("c0", "c1")
        await sup.remove("c3")  # it was waiting for a slot
        await sup.restart("c0")  # gives its slot back and queues behind the others
        await wait_for(sup, lambda: sup._slots.in_use == 2)
        running = [n for n in sup.children if sup.child_state(n) is State.RUNNING]
        assert len(running) == 2
    assert sup.status()["slots"]["in_use"] == 0
    assert sup.status()["slots"]["waiting"] == 0


class Busy(Loop):
    async def run_once(self) -> None:
        pass


async def test_memory_pressure_pauses_low_priority_and_resumes_after() -> None:
    low = Busy(name="low", interval=0.001)
    high = Busy(name="high", interval=0.001)
    sup = Supervisor(
        [ChildSpec(low, priority=0), ChildSpec(high, priority=5)],
        memory_soft_limit=1,  # below any real RSS: pressure at once
        degrade_priority=1,
    )
    async with sup:
        await wait_for(sup, lambda: sup.child_state("low") is State.PAUSED)
        assert sup.child_state("high") is State.RUNNING
        assert sup.status()["children"]["low"]["degraded"] is True
        assert low.state is State.PAUSED
        sup.memory_soft_limit = 1 << 50  # pressure gone
        await wait_for(sup, lambda: sup.child_state("low") is State.RUNNING)
        assert sup.status()["children"]["low"]["degraded"] is False


async def test_dump_has_stacks_bus_and_process() -> None:
    async def waiting() -> None:
        await asyncio.Event().wait()

    async with Supervisor([waiting, Busy(name="b", interval=3600)], name="d") as sup:
        await sup.wait_running()
        with sup.events():
            dump = sup.dump()
    child = dump["children"]["waiting"]
    assert "await asyncio.Event().wait()" in child["stack"]
    assert dump["process"]["rss_bytes"] > 0
    assert dump["process"]["pid"] > 0
    assert dump["bus"]["subscriptions"][0]["pattern"] == "lifecycle.d*"
    assert dump["children"]["b"]["target"]["kind"] == "loop"
