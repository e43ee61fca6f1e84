"""The watchdog catches a really blocked loop (a sync sleep) with its stack, and only that.

Blocking the loop with ``time.sleep`` is the point of these tests (ruff's ASYNC251 is off here).
"""
# ruff: noqa: ASYNC251

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from treadle.health import BlockReport, LoopWatchdog
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Restart, Supervisor, run_coroutine


def _watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "treadle-watchdog"]


async def blocking_coroutine() -> None:
    time.sleep(0.6)  # the bug under test: sync sleep on the event loop


async def test_a_blocked_loop_is_reported_with_stack_task_and_duration() -> None:
    seen: list[BlockReport] = []
    # Thresholds leave a wide margin over scheduling noise on a loaded 2-core CI machine.
    async with LoopWatchdog(threshold=0.2, on_block=seen.append) as dog:
        await asyncio.create_task(blocking_coroutine(), name="blocker")
        await asyncio.sleep(0.1)  # let the loop turn so the episode closes
        (report,) = dog.reports
    assert seen == [report]
    assert "blocking_coroutine" in report.stack
    assert "time.sleep(0.6)" in report.stack
    assert report.task is not None
    assert report.task.startswith("blocker (blocking_coroutine")
    assert report.detected_after > 0.2
    assert report.duration is not None
    assert report.duration >= 0.55
    assert dog.stats()["blocks"] == 1
    assert _watchdog_threads() == []  # stop() joined the thread


async def test_a_busy_but_turning_loop_is_not_blocked() -> None:
    async with LoopWatchdog(threshold=0.3) as dog:
        deadline = time.monotonic() + 0.6
        while time.monotonic() < deadline:  # noqa: ASYNC110 - spinning is the point
            await asyncio.sleep(0)  # busy, yet the loop turns all the time
        assert dog.reports == []
        assert dog.running


async def test_a_failing_callback_is_logged_and_watching_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(report: BlockReport) -> None:
        raise RuntimeError("callback bug")

    with caplog.at_level(logging.WARNING, logger="treadle.health"):
        async with LoopWatchdog(threshold=0.1, on_block=broken) as dog:
            time.sleep(0.3)
            await asyncio.sleep(0.1)
            time.sleep(0.3)
            await asyncio.sleep(0.1)
            assert len(dog.reports) == 2
    assert "watchdog on_block callback failed" in caplog.text
    assert "event loop blocked" in caplog.text


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_supervisors_watchdog_works_on_either_event_loop(loop: str) -> None:
    """Whatever loop the suite runs on, both: the report, its stack, the task that blocked
    (read from the loop's thread), and its way onto the bus (a hop from the watcher's)."""

    class Blocker(Loop):
        async def run_once(self) -> None:
            time.sleep(0.4)
            self.request_stop()

    async def main() -> tuple[str, BlockReport]:
        child = ChildSpec(Blocker(name="blocker"), restart=Restart.TEMPORARY)
        sup = Supervisor([child], watchdog=0.1)
        with sup.bus.subscribe("health.supervisor.blocked") as blocked:
            async with sup:
                msg = await blocked.get()
        assert isinstance(msg.payload, BlockReport)
        return type(asyncio.get_running_loop()).__module__, msg.payload

    module, report = run_coroutine(main(), loop=loop)
    # "asyncio" is what asyncio.run makes: uvloop too, under `pytest --event-loop=uvloop`
    uvloop_policy = type(asyncio.get_event_loop_policy()).__module__.startswith("uvloop")
    assert module == ("uvloop" if loop == "uvloop" or uvloop_policy else "asyncio.unix_events")
    assert "time.sleep(0.4)" in report.stack
    assert report.task is not None
    assert report.task.startswith("blocker (Loop.run")
    assert _watchdog_threads() == []
