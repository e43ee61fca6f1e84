"""Graceful shutdown: shutdown_timeout, then cancel; a child that swallows it is abandoned."""

from __future__ import annotations

import asyncio
import contextlib

from treadle import State
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import wait_state


class SlowStop(Loop):
    """A loop whose run takes an hour: a graceful stop cannot finish, cancellation can."""

    def __init__(self) -> None:
        super().__init__(name="slow", interval=0)
        self.entered = asyncio.Event()
        self.cancelled = False

    async def run_once(self) -> None:
        self.entered.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled = True
            raise


async def test_a_child_past_its_shutdown_timeout_is_cancelled() -> None:
    slow = SlowStop()
    sup = Supervisor([ChildSpec(slow, shutdown_timeout=0.01)])
    async with sup:
        await slow.entered.wait()
    assert slow.cancelled
    assert sup.child_state("slow") is State.STOPPED
    assert sup.state is State.STOPPED


async def test_a_child_that_swallows_cancellation_is_abandoned_not_awaited() -> None:
    release = asyncio.Event()
    entered = asyncio.Event()

    async def stubborn() -> None:
        entered.set()
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):  # the bug under test
                await release.wait()

    sup = Supervisor([ChildSpec(stubborn, shutdown_timeout=0.01)], cancel_grace=0.01)
    async with sup:
        await entered.wait()
    assert sup.state is State.STOPPED  # the supervisor did not hang
    assert sup.child_state("stubborn") is State.FAILED
    assert len(sup.abandoned) == 1
    assert sup.status()["abandoned"] == 1
    release.set()  # let the stubborn task end so the test leaves nothing behind
    (task,) = sup.abandoned
    await asyncio.wait({task})
    assert not sup.abandoned


async def test_stop_is_idempotent_and_concurrent_callers_wait() -> None:
    slow = SlowStop()
    sup = Supervisor([ChildSpec(slow, shutdown_timeout=0.05)])
    await sup.start()
    await slow.entered.wait()
    await asyncio.gather(sup.stop(), sup.stop(), sup.stop())
    assert sup.state is State.STOPPED
    assert slow.cancelled
    await sup.stop()


async def test_stop_cancels_pending_restarts() -> None:
    async def dies() -> None:
        raise RuntimeError("x")

    from treadle import Backoff

    sup = Supervisor([ChildSpec(dies, backoff=Backoff(initial=3600, max=3600))])
    async with sup:
        await wait_state(sup, "dies", State.BACKOFF)
    assert sup.child_state("dies") is State.STOPPED


async def test_supervisor_can_start_again_after_stop() -> None:
    runs: list[int] = []

    async def child() -> None:
        runs.append(1)
        await asyncio.Event().wait()

    sup = Supervisor([child])
    for _ in range(2):
        async with sup:
            await sup.wait_running()
    assert runs == [1, 1]


def test_shutdown_timeout_defaults_to_what_the_target_needs() -> None:
    import math

    from treadle import ProcessSpec
    from treadle.supervisor._child import Child

    async def worker() -> None:
        await asyncio.sleep(0)

    sup = Supervisor(
        [
            ChildSpec(worker),
            ChildSpec(ProcessSpec(argv=["sleep", "1"], stop_timeout=7), name="proc"),
            ChildSpec(Supervisor(name="nested")),
            ChildSpec(worker, name="explicit", shutdown_timeout=0.5),
        ]
    )
    timeouts = {name: c.shutdown_timeout() for name, c in sup._children.items()}
    assert timeouts == {"worker": 5.0, "proc": 8.0, "nested": math.inf, "explicit": 0.5}
    assert all(isinstance(c, Child) for c in sup._children.values())


async def test_overlapping_stops_each_see_the_children_end() -> None:
    """A child stopped by two callers at once (removed while the tree stops, here) ends
    once, and both callers return when it has: each waits on its own group of children."""
    release = asyncio.Event()
    stopping = asyncio.Event()

    class Lingers(Loop):
        async def run_once(self) -> None:
            pass

        async def on_stop(self) -> None:
            stopping.set()
            await release.wait()  # a graceful stop that takes a while

    sup = Supervisor([Lingers(name="a", interval=3600), Lingers(name="b", interval=3600)])
    await sup.start()
    await sup.wait_running()
    removing = asyncio.ensure_future(sup.remove("a"))
    await stopping.wait()
    stopped = asyncio.ensure_future(sup.stop())
    await asyncio.sleep(0)  # both are waiting now (nothing to await: they wait on each other)
    assert not removing.done()
    assert not stopped.done()
    release.set()
    await asyncio.gather(removing, stopped)
    assert sup.children == ["b"]
    assert sup.child_state("b") is State.STOPPED
    assert sup._stopping == []
