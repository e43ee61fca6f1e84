"""A manager's running tasks: their lifecycle, PAUSE and RESUME by its rules, and a stop
that asks, then cancels past the task's patience, and always ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from treadle._exceptions import InvalidTransition
from treadle._lifecycle import State
from treadle.manager._running import Running


class Runner:
    """What Running drives of a TaskRunner: a name, run, request_stop, pause, resume."""

    def __init__(self, name: str, *, obeys: bool = True) -> None:
        self.name = name
        self.obeys = obeys  # False: it ignores request_stop (only a cancellation ends it)
        self.calls: list[str] = []
        self.up = asyncio.Event()
        self.stop = asyncio.Event()

    async def run(self, started: Callable[[], None]) -> None:
        started()
        self.up.set()
        try:
            await self.stop.wait()
        except asyncio.CancelledError:
            self.calls.append("cancelled")
            raise

    def request_stop(self) -> None:
        self.calls.append("stop")
        if self.obeys:
            self.stop.set()

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


async def test_a_task_is_paused_and_resumed_by_the_lifecycle_rules() -> None:
    running = Running()
    runner = Runner("T1")
    running.start(runner, shutdown_timeout=5)  # type: ignore[arg-type]
    assert running.state("T1") is State.STARTING
    await runner.up.wait()
    assert running.state("T1") is State.RUNNING
    running.pause("T1")
    assert running.state("T1") is State.PAUSED
    with pytest.raises(InvalidTransition, match="paused"):
        running.pause("T1")
    running.resume("T1")
    with pytest.raises(InvalidTransition):
        running.resume("T1")
    assert runner.calls == ["pause", "resume"]
    runner.stop.set()  # it ends by itself: forgotten
    await running.stop()  # (returns once every task has ended)
    assert len(running) == 0
    assert running.state("T1") is State.STOPPED
    with pytest.raises(InvalidTransition):
        running.pause("T1")


async def test_pausing_all_pauses_the_running_ones_only() -> None:
    running = Running()
    a, b = Runner("T1"), Runner("T2")
    for runner in (a, b):
        running.start(runner, shutdown_timeout=5)  # type: ignore[arg-type]
        await runner.up.wait()
    running.pause("T1")
    running.pause()  # the manager pauses: T2 too, T1 already is
    assert (running.state("T1"), running.state("T2")) == (State.PAUSED, State.PAUSED)
    running.resume()
    assert (running.state("T1"), running.state("T2")) == (State.RUNNING, State.RUNNING)
    assert a.calls == b.calls == ["pause", "resume"]
    await running.stop()


async def test_stop_asks_then_cancels_a_task_past_its_patience() -> None:
    running = Running()
    polite, stubborn = Runner("T1"), Runner("T2", obeys=False)
    running.start(polite, shutdown_timeout=30)  # type: ignore[arg-type]
    running.start(stubborn, shutdown_timeout=0.01)  # type: ignore[arg-type]
    await polite.up.wait()
    await stubborn.up.wait()
    await running.stop()
    assert polite.calls == ["stop"]
    assert stubborn.calls == ["stop", "cancelled"]
    assert len(running) == 0
