"""Loop(run_timeout=...): a run past its bound is cancelled and fails with RunTimedOut."""

from __future__ import annotations

import asyncio

import pytest

from treadle import Backoff, ConfigError, Jitter, RunTimedOut, State
from treadle.loop import Loop

SLOW = Backoff(initial=30, max=30, jitter=Jitter.NONE)


class Scripted(Loop):
    """Each run takes the next step: "hang" (until cancelled), "swallow" (hang, but catch the
    cancellation and return), "ok", or an exception to raise. Failures go to ``failures``."""

    def __init__(self, steps: list[object], **options: object) -> None:
        options.setdefault("interval", 0)
        options.setdefault("backoff", SLOW)
        super().__init__(**options)  # type: ignore[arg-type]
        self.steps = list(steps)
        self.failures = asyncio.Queue[Exception]()
        self.done = asyncio.Event()
        self.cancelled_runs = 0
        self.seen: list[tuple[int, int, int, int]] = []  # counters as on_error saw them

    async def run_once(self) -> None:
        step = self.steps.pop(0) if self.steps else "idle"
        if step == "idle":
            self.done.set()
            await asyncio.Event().wait()
        elif step == "hang":
            await asyncio.Event().wait()
        elif step == "swallow":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled_runs += 1
        elif isinstance(step, Exception):
            raise step

    async def on_error(self, exc: Exception) -> None:
        m = self.metrics
        self.seen.append((m.timeouts, m.consecutive_timeouts, m.errors, m.consecutive_errors))
        self.failures.put_nowait(exc)


async def test_a_run_past_its_timeout_fails_and_the_next_comes_after_the_interval() -> None:
    lp = Scripted(["hang", "hang", "ok"], run_timeout=0.01, interval=0)
    task = lp.start()
    first = await lp.failures.get()
    assert isinstance(first, RunTimedOut)
    assert isinstance(first, TimeoutError)
    assert str(first) == "Timeout after 0.01s"
    status = lp.status()
    assert status["backoff_s"] is None  # not backed off: it waited its run_timeout already
    await lp.failures.get()
    assert lp.seen == [(1, 1, 1, 1), (2, 2, 2, 2)]
    m = lp.metrics
    assert m.last_error is not None
    assert m.last_error.type == "RunTimedOut"
    lp.run_timeout = None  # the "idle" run must not time out
    await lp.done.wait()
    assert (m.runs, m.timeouts, m.consecutive_timeouts, m.consecutive_errors) == (3, 2, 0, 0)
    await lp.stop(timeout=0.01)
    assert task.cancelled()  # stop() cancelled the idle run: not a timeout
    assert m.timeouts == 2


async def test_its_own_timeout_error_is_an_ordinary_error() -> None:
    lp = Scripted([TimeoutError("socket")], run_timeout=30)
    lp.start()
    exc = await lp.failures.get()
    assert type(exc) is TimeoutError
    await asyncio.sleep(0)  # into the backoff sleep
    assert lp.status()["backoff_s"] == 30
    assert (lp.metrics.errors, lp.metrics.timeouts) == (1, 0)
    await lp.stop()


async def test_timeouts_do_not_grow_the_backoff_of_later_errors() -> None:
    boom = RuntimeError("boom")
    backoff = Backoff(initial=10, max=1000, multiplier=2, jitter=Jitter.NONE)
    lp = Scripted(["hang", "hang", boom], run_timeout=0.01, backoff=backoff)
    lp.start()
    for _ in range(3):
        await lp.failures.get()
    await asyncio.sleep(0)
    assert lp.metrics.consecutive_errors == 3
    assert lp.status()["backoff_s"] == 10  # the first error: delay(1), not delay(3)
    await lp.stop()


async def test_a_run_that_swallows_the_cancellation_ends_normally() -> None:
    lp = Scripted(["swallow"], run_timeout=0.01)
    task = lp.start()
    await lp.done.wait()  # the next run began: the swallowing one ended as a success
    assert lp.cancelled_runs == 1
    assert (lp.metrics.runs, lp.metrics.timeouts, lp.metrics.errors) == (1, 0, 0)
    assert task.cancelling() == 0  # our cancellation was taken back
    lp.request_stop()
    task.cancel()
    await asyncio.wait({task})


async def test_someone_elses_cancellation_propagates() -> None:
    lp = Scripted(["hang"], run_timeout=30)
    task = lp.start()
    await asyncio.sleep(0)
    assert lp.busy
    task.cancel()
    await asyncio.wait({task})
    assert task.cancelled()
    assert lp.metrics.timeouts == 0
    assert lp.state is State.STOPPED


async def test_no_timer_outlives_the_run() -> None:
    """run_forever awaited in a task that goes on to other things: they are never cancelled."""

    class Once(Loop):
        async def run_once(self) -> None:
            self.request_stop()  # this run is the last

    lp = Once(interval=0, run_timeout=0.02)
    await lp.run_forever()  # armed the timer for 0.02 s, and returned at once
    assert lp.state is State.STOPPED
    await asyncio.sleep(0.05)  # past that deadline: nothing cancels this task
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_shortening_the_timeout_holds_the_run_under_way_to_it() -> None:
    lp = Scripted(["hang"], run_timeout=3600)
    lp.start()
    await asyncio.sleep(0)
    assert lp.busy
    lp.run_timeout = 0.01
    assert isinstance(await lp.failures.get(), RunTimedOut)
    assert lp.run_timeout == 0.01
    await lp.stop(timeout=0.01)


def test_run_timeout_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="run_timeout: must be > 0"):
        Scripted([], run_timeout=0)
    lp = Scripted([], run_timeout=None)
    with pytest.raises(ConfigError):
        lp.run_timeout = -1
    assert lp.run_timeout is None
