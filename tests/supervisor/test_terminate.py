"""terminate(): a child stopped and kept, stopped (OTP's terminate_child), until restart()."""

from __future__ import annotations

import asyncio

from treadle import State
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import FAST, wait_state


class Idle(Loop):
    def __init__(self) -> None:
        super().__init__(interval=3600)

    async def run_once(self) -> None:
        pass


class Crash(Loop):
    def __init__(self) -> None:
        super().__init__(interval=0, max_consecutive_errors=1)
        self.crash = asyncio.Event()

    async def run_once(self) -> None:
        await self.crash.wait()
        raise RuntimeError("boom")


async def test_a_terminated_child_stays_stopped_until_restarted() -> None:
    async with Supervisor([ChildSpec(Idle, name="a", backoff=FAST), Idle]) as sup:
        await sup.wait_running()
        await sup.terminate("a")
        assert sup.child_state("a") is State.STOPPED
        assert sup.children == ["a", "Idle"]  # kept: its spec and its place
        assert sup.terminated == ["a"]
        await asyncio.sleep(0)  # a permanent child would be respawned now: it is not
        assert sup.child_state("a") is State.STOPPED
        await sup.restart("a")
        await wait_state(sup, "a", State.RUNNING)
        assert sup.terminated == []


async def test_a_strategy_does_not_start_a_terminated_child() -> None:
    crash = Crash()
    sup = Supervisor(
        [
            ChildSpec(Idle, name="a", backoff=FAST),
            ChildSpec(crash, name="b", backoff=FAST, shutdown_timeout=0.1),
        ],
        strategy="one_for_all",
    )
    async with sup:
        await sup.wait_running()
        await sup.terminate("a")
        crash.crash.set()  # b fails: one_for_all restarts its siblings, not a stopped one
        await wait_state(sup, "b", State.BACKOFF)
        crash.crash.clear()
        await wait_state(sup, "b", State.RUNNING)
        assert sup.child_state("a") is State.STOPPED


async def test_a_pool_keeps_a_terminated_member_and_its_size() -> None:
    async with Supervisor([ChildSpec(Idle, name="w", replicas=2)]) as sup:
        await sup.wait_running()
        await sup.terminate("w[1]")
        assert await sup.scale("w", 3) == ["w[0]", "w[1]", "w[2]"]
        await wait_state(sup, "w[2]", State.RUNNING)
        assert sup.child_state("w[1]") is State.STOPPED
        assert await sup.scale("w", 1) == ["w[0]"]  # scaled away: forgotten
        assert sup.terminated == []
        assert await sup.scale("w", 2) == ["w[0]", "w[1]"]
        await wait_state(sup, "w[1]", State.RUNNING)


async def test_a_nested_supervisor_started_again_leaves_it_stopped() -> None:
    inner = Supervisor([ChildSpec(Idle, name="x"), ChildSpec(Idle, name="y")], name="inner")
    async with Supervisor([ChildSpec(inner, name="inner", backoff=FAST)]) as sup:
        await sup.wait_running()
        await inner.wait_running()
        await inner.terminate("x")
        await sup.restart("inner")  # a fresh start of the same tree
        await wait_state(inner, "y", State.RUNNING)
        assert inner.child_state("x") is State.STOPPED
        await inner.wait_running()  # "all running" means all not stopped on purpose
