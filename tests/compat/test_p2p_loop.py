"""treadle.compat.p2p's BaseLoop: the seed's loop, as its real module behaves.

Expected values come from RingRift's ``scripts/p2p/loops/base.py`` (the seed's real
module); each test that pins one of them says what in it.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest

from treadle import ConfigError, State
from treadle.compat.p2p import (
    BackoffConfig,
    CoordinatorStatus,
    HealthCheckResult,
    LoopStats,
)
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._p2p_examples import (
    FAST,
    PATIENT,
    SLOW,
    STATUS_KEYS,
    MetricsRecorder,
    Scripted,
    ran,
    runs,
)


async def test_errors_back_off_by_multiplier_up_to_max() -> None:
    config = BackoffConfig(initial_delay=0.01, max_delay=0.04, multiplier=2.0, jitter=0.0)
    loop = Scripted([RuntimeError(f"boom {i}") for i in range(5)], backoff_config=config)
    errors = asyncio.Queue[Exception]()
    loop.add_error_callback(errors.put_nowait)
    delays = []
    loop.start_background()
    for _ in range(5):
        await errors.get()
        delays.append(loop.treadle_loop.status()["backoff_s"])  # the sleep now under way
    assert delays == pytest.approx([0.01, 0.02, 0.04, 0.04, 0.04])
    assert await loop.stop_async()


async def test_backoff_jitter_within_the_fraction_and_resets_on_success() -> None:
    config = BackoffConfig(initial_delay=0.01, max_delay=0.02, multiplier=2.0, jitter=0.5)
    boom = RuntimeError("boom")
    loop = Scripted([boom, boom, None, boom], backoff_config=config)
    errors = asyncio.Queue[Exception]()
    loop.add_error_callback(errors.put_nowait)
    loop.start_background()
    delays = []
    for _ in range(3):
        await errors.get()
        delays.append(loop.treadle_loop.status()["backoff_s"])
    assert 0.005 <= delays[0] <= 0.015
    assert 0.01 <= delays[1] <= 0.03
    assert 0.005 <= delays[2] <= 0.015  # the success in between reset the count
    assert await loop.stop_async()


async def test_error_callbacks_get_the_exception_after_on_error() -> None:
    boom = ValueError("boom")
    loop = Scripted([boom, boom], backoff_config=SLOW)
    seen: list[object] = []
    errors = asyncio.Queue[Exception]()

    def record(exc: Exception) -> None:
        seen.append(exc)
        loop.events.append("callback")

    def broken(exc: Exception) -> None:
        raise RuntimeError("a broken callback")

    loop.add_error_callback(record)
    loop.add_error_callback(broken)
    loop.add_error_callback(errors.put_nowait)  # after the broken one: it was still called
    loop.start_background()
    assert await errors.get() is boom
    assert await errors.get() is boom
    assert seen == [boom, boom]
    assert loop.events == ["start", "error boom", "callback", "error boom", "callback"]
    loop.remove_error_callback(record)
    loop.remove_error_callback(record)  # unknown: ignored, as in the seed
    loop.script = [KeyError("third")]
    assert isinstance(await errors.get(), KeyError)
    assert seen == [boom, boom]
    assert await loop.stop_async()


async def test_pause_and_resume() -> None:
    loop = Scripted()
    loop.start_background()
    await runs(loop, 2)
    loop.pause()
    assert loop.get_status()["paused"] is True
    assert loop.get_status()["running"] is True  # paused is still running (treadle's UP)
    parked = loop.calls
    for _ in range(20):
        await asyncio.sleep(0)  # let the event loop turn: a paused loop does not run
    assert loop.calls == parked
    loop.resume()
    assert loop.get_status()["paused"] is False
    await runs(loop, parked + 1)
    assert await loop.stop_async()


async def test_stop_is_graceful_and_a_no_op_when_not_running() -> None:
    loop = Scripted()
    loop.stop()  # not running: nothing to do, and nothing left over for the next run
    async with asyncio.TaskGroup() as tg:
        tg.create_task(loop.run_forever())
        await runs(loop, 3)
        loop.stop()
    assert loop.events == ["start", "stop"]
    assert loop.treadle_loop.state is State.STOPPED


async def test_stop_async_cancels_a_background_loop_after_the_timeout() -> None:
    loop = Scripted()
    loop.hang = True
    task = loop.start_background()
    assert loop.start_background() is task  # already running: the same task
    await runs(loop, 1)
    assert await loop.stop_async(timeout=0.05) is False
    assert task.cancelled()
    assert loop.events == ["start", "stop"]  # on_stop ran all the same
    assert not loop.running


async def test_stop_async_waits_for_a_run_in_another_task() -> None:
    loop = Scripted()
    loop.hang = True
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(loop.run_forever())
        await runs(loop, 1)
        assert await loop.stop_async(timeout=0.05) is False  # not our task: not cancelled
        assert not runner.done()
        loop.release.set()
        assert await loop.stop_async(timeout=5) is True
        assert runner.done()
    assert await loop.stop_async() is True  # stopped already


async def test_stop_async_raises_a_failed_start() -> None:
    class BadStart(Scripted):
        async def _on_start(self) -> None:
            raise RuntimeError("no config")

    loop = BadStart()
    task = loop.start_background()
    await asyncio.wait({task})
    with pytest.raises(RuntimeError, match="no config"):
        await loop.stop_async()
    assert loop.treadle_loop.state is State.FAILED
    assert loop.events == ["stop"]  # the seed's run_forever calls _on_stop in its finally
    assert not loop.running


async def test_a_second_run_warns_and_returns(caplog: pytest.LogCaptureFixture) -> None:
    """The seed's run_forever returns at once when the loop runs; start_background then
    starts a task that does just that."""
    loop = Scripted()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(loop.run_forever())
        await runs(loop, 1)
        with caplog.at_level(logging.WARNING, "treadle.compat.p2p"):
            await loop.run_forever()
            task = loop.start_background()
            await asyncio.wait({task})
        assert caplog.text.count("already running") == 2
        assert task.result() is None
        assert loop.running  # the first run goes on
        loop.stop()


async def test_disabled_loop_idles_until_enabled() -> None:
    loop = Scripted(enabled=False, interval=0.01)
    loop.start_background()
    while not loop.treadle_loop.status()["gated"]:  # noqa: ASYNC110 - no event says "gated"
        await asyncio.sleep(0)
    status = loop.get_status()
    assert (status["running"], status["enabled"], status["run_count"]) == (True, False, 0)
    loop.enabled = True  # treadle wakes it at once
    await runs(loop, 1)
    assert loop.get_status()["enabled"] is True
    assert await loop.stop_async()


async def test_interval_changes_from_inside_a_run() -> None:
    class Adaptive(Scripted):
        async def _run_once(self) -> None:
            await super()._run_once()
            self.interval = 300.0  # all targets met: 60 s -> 300 s

    loop = Adaptive(interval=60.0)
    loop.start_background()
    await runs(loop, 1)
    assert loop.get_status()["interval"] == 300.0
    with pytest.raises(ConfigError):
        loop.interval = -1
    assert await loop.stop_async()


async def test_stats_and_status_after_real_runs() -> None:
    loop = Scripted([None, RuntimeError("boom 2"), None, KeyError("k"), None, RuntimeError()])
    loop.pause_at = 6
    loop.start_background()
    await runs(loop, 6)
    while loop.stats.total_runs < 6:  # noqa: ASYNC110 - the 6th run is ending: let it
        await asyncio.sleep(0)
    stats = loop.stats
    assert (stats.total_runs, stats.successful_runs, stats.failed_runs) == (6, 3, 3)
    assert stats.consecutive_errors == 1
    assert stats.success_rate == 50.0
    assert stats.last_error_message == ""  # the seed's str(e): empty for RuntimeError()
    durations = loop.treadle_loop.metrics.durations()  # treadle's, as it timed the runs
    assert stats.total_run_duration == durations[0] + durations[2] + durations[4]
    assert stats.avg_run_duration == stats.total_run_duration / 3  # successful runs only
    assert stats.last_run_duration == durations[4]  # the last success's
    assert 0 < stats.last_success_time <= stats.last_error_time <= time.time()
    assert stats.last_success_time < stats.last_run_time  # the last run began after it
    status = loop.get_status()
    assert (status["run_count"], status["error_count"], status["consecutive_errors"]) == (6, 3, 1)
    assert status["last_error"] is None  # the README's: None without a message
    assert status["average_duration_ms"] == stats.avg_run_duration * 1000
    assert status["stats"] == stats.to_dict()
    assert loop.treadle_loop.last_beat is not None  # treadle's heartbeats
    assert await loop.stop_async()


def test_fresh_stats() -> None:
    loop = Scripted()
    assert loop.stats.success_rate == 100.0
    assert loop.stats.avg_run_duration == 0.0
    status = loop.get_status()
    assert set(status) == STATUS_KEYS
    assert (status["run_count"], status["last_run_time"], status["last_error"]) == (0, 0.0, None)
    assert (status["status"], status["stats"]) == ("stopped", LoopStats(name="scripted").to_dict())
    assert status["backoff"] == {"initial_delay": 0.001, "max_delay": 0.002, "multiplier": 2.0}
    assert repr(loop) == "<Scripted 'scripted' pending>"


async def test_subclass_attributes_cannot_clobber_treadle() -> None:
    class Nosy(Scripted):
        async def _on_start(self) -> None:
            # _running, _stats and _task are the seed's names: only those are shared.
            self._state, self._config, self._name, self._interval = "mine", "mine", "x", -1
            self._paused, self._enabled, self.metrics = True, False, None
            await super()._on_start()

    loop = Nosy()
    loop.start_background()
    await runs(loop, 3)
    assert (loop.name, loop.interval, loop.running) == ("scripted", 0.0, True)
    assert await loop.stop_async()


async def test_the_treadle_loop_runs_under_a_treadle_supervisor() -> None:
    loop = Scripted(name="native")
    assert isinstance(loop.treadle_loop, Loop)
    async with Supervisor([ChildSpec(loop.treadle_loop)]) as sup:
        await runs(loop, 2)
        assert sup.child_state("native") is State.RUNNING
    assert loop.events == ["start", "stop"]


# -- the seed module's BaseLoop: what its README does not say --------------------------------


def test_constructor_defaults() -> None:
    """BaseLoop.__init__: its keywords and defaults; run_timeout max(10 * interval, 300)."""
    loop = Scripted(name="my_loop", interval=30.0)
    assert (loop.name, loop.interval, loop.enabled, loop.running) == ("my_loop", 30.0, True, False)
    assert (loop.depends_on, loop.metrics_manager, loop.executor_category) == ([], None, None)
    assert loop.run_timeout == 300.0
    assert Scripted(interval=60.0).run_timeout == 600.0
    assert Scripted(run_timeout=5.0).run_timeout == 5.0
    assert isinstance(Scripted(backoff_config=None).backoff_config, BackoffConfig)
    loop = Scripted(
        depends_on=["loop_a", "loop_b"],
        enabled=False,
        executor_category="sync",
        metrics_manager=MetricsRecorder(),
    )
    assert (loop.depends_on, loop.enabled, loop.executor_category) == (
        ["loop_a", "loop_b"],
        False,
        "sync",
    )
    assert isinstance(loop.metrics_manager, MetricsRecorder)
    with pytest.raises(ConfigError, match="depends_on: must be a list of names"):
        Scripted(depends_on="a")


async def test_name_and_backoff_config_are_assignable() -> None:
    """Plain attributes in the seed's module: a new backoff_config rules the next error."""
    errors = asyncio.Queue[Exception]()
    loop = Scripted([RuntimeError("boom")], backoff_config=FAST)
    loop.name = "renamed"
    loop.backoff_config = PATIENT
    loop.run_timeout = 60.0
    loop.add_error_callback(errors.put_nowait)
    loop.start_background()
    await errors.get()
    assert loop.treadle_loop.status()["backoff_s"] == 30.0
    assert (loop.name, loop.get_status()["name"], loop.run_timeout) == ("renamed", "renamed", 60)
    assert loop.get_status()["backoff"]["initial_delay"] == 30.0
    assert loop.stats.name == "scripted"  # the stats keep the name they were made with
    assert await loop.stop_async()


class Stepping(Scripted):
    """Each run takes the next of ``steps``: "ok", "hang" (until cancelled) or "error";
    once they are done it pauses. Counts its calls to _on_consecutive_timeouts."""

    def __init__(self, steps: list[str], **kw: Any) -> None:
        super().__init__(**kw)
        self.steps = steps
        self.timeouts_seen: list[int] = []

    async def _run_once(self) -> None:
        await super()._run_once()
        step = self.steps.pop(0)
        if not self.steps:
            self.pause()
        if step == "hang":
            await asyncio.Event().wait()
        elif step == "error":
            raise RuntimeError("boom")

    async def _on_consecutive_timeouts(self) -> None:
        self.timeouts_seen.append(self.stats.consecutive_timeouts)


async def test_a_run_past_run_timeout_is_a_timeout_not_an_error() -> None:
    """The seed's TimeoutError branch: counted as a failed run and a timeout, the message
    "Timeout after {run_timeout}s", no _on_error and no callbacks, the normal interval
    after it, and _on_consecutive_timeouts from the third in a row."""
    manager = MetricsRecorder()
    callbacks: list[Exception] = []
    steps = ["error", "hang", "hang", "hang", "hang"]
    loop = Stepping(steps, run_timeout=0.01, metrics_manager=manager, backoff_config=FAST)
    loop.add_error_callback(callbacks.append)
    loop.start_background()
    await ran(loop, 5)
    stats = loop.stats
    assert loop.timeouts_seen == [3, 4]
    assert (stats.total_runs, stats.failed_runs, stats.successful_runs) == (5, 5, 0)
    assert (stats.total_timeouts, stats.consecutive_timeouts) == (4, 4)
    assert stats.consecutive_errors == 1  # the error before them; timeouts leave it be
    assert stats.last_error_message == "Timeout after 0.01s"
    assert loop.events == ["start", "error boom"]  # _on_error for the error only
    assert len(callbacks) == 1
    timeouts = [r for r in manager.records if r[0] == "loop_scripted_timeouts"]
    assert timeouts == [("loop_scripted_timeouts", 1, {"timeout_seconds": 0.01})] * 4
    assert ("loop_scripted_errors", 1, {"error": "boom"}) in manager.records
    assert await loop.stop_async()


async def test_after_a_timeout_the_next_run_comes_after_the_interval() -> None:
    loop = Stepping(["hang", "ok"], run_timeout=0.01, interval=30.0, backoff_config=FAST)
    loop.start_background()
    await ran(loop, 1)
    assert loop.treadle_loop.status()["backoff_s"] is None  # not backing off: the interval
    assert loop.treadle_loop.metrics.timeouts == 1
    assert await loop.stop_async()


async def test_a_success_ends_both_streaks() -> None:
    loop = Stepping(["error", "hang", "ok"], run_timeout=0.01)
    loop.start_background()
    await ran(loop, 3)
    stats = loop.stats
    assert (stats.consecutive_errors, stats.consecutive_timeouts) == (0, 0)
    assert (stats.total_timeouts, stats.failed_runs, stats.successful_runs) == (1, 2, 1)
    assert stats.last_success_time > stats.last_error_time > 0
    assert await loop.stop_async()


async def test_a_metrics_manager_gets_each_runs_duration() -> None:
    """record_metric(f"loop_{name}_duration_ms", ms) after each successful run."""
    manager = MetricsRecorder()
    loop = Scripted(name="timed", metrics_manager=manager, interval=60.0)
    loop.start_background()
    await manager.recorded.wait()
    (name, value, metadata), *_ = manager.records
    assert (name, metadata) == ("loop_timed_duration_ms", None)
    assert value == pytest.approx(loop.stats.last_run_duration * 1000, rel=0.5, abs=1.0)
    loop.metrics_manager = None  # settable: no recording (and no timing frame) from now on
    assert await loop.stop_async()


async def test_reset_stats() -> None:
    """reset_stats() and reset_stats_async(): a fresh LoopStats; counting goes on from 0."""
    loop = Scripted([RuntimeError("a"), RuntimeError("b")])
    loop.pause_at = 3
    loop.start_background()
    await ran(loop, 3)
    assert (loop.stats.total_runs, loop.stats.failed_runs) == (3, 2)
    loop.reset_stats()
    fresh = LoopStats(name="scripted")
    assert loop.stats == fresh
    loop.script = [RuntimeError("c")]
    loop.pause_at = 5
    loop.resume()
    await ran(loop, 2)
    stats = loop.stats
    assert (stats.total_runs, stats.failed_runs, stats.consecutive_errors) == (2, 1, 0)
    assert stats.last_error_message == "c"
    await loop.reset_stats_async()
    assert loop.stats == fresh
    assert loop.treadle_loop.metrics.runs == 5  # treadle's own counts go on
    assert await loop.stop_async()


async def test_start_background_async() -> None:
    """The task once the loop runs (from before _on_start, as the seed's flag); None when it
    failed to start."""

    class BadStart(Scripted):
        async def _on_start(self) -> None:
            raise RuntimeError("no config")

    loop = Scripted(interval=60.0)
    task = await loop.start_background_async(timeout=1.0)
    assert task is not None
    assert loop.running
    assert await loop.start_background_async() is task  # running: the same task
    assert await loop.stop_async()
    bad = BadStart()
    assert await bad.start_background_async(timeout=1.0) is None
    with pytest.raises(RuntimeError, match="no config"):
        await bad.stop_async()


async def test_the_seed_names_subclasses_use() -> None:
    """_running and _stats are read by the seed's loops; _task set by those that start
    themselves (its AutonomousQueueLoop overrides start_background)."""

    class SelfStarting(Scripted):
        def start_background(self) -> asyncio.Task[Any]:
            self._task = asyncio.get_running_loop().create_task(self.run_forever())
            return self._task

        async def _run_once(self) -> None:
            assert self._running
            assert self._stats.name == "scripted"
            await super()._run_once()

    loop = SelfStarting()
    loop.hang = True
    task = loop.start_background()
    await runs(loop, 1)
    assert loop._task is task
    assert await loop.stop_async(timeout=0.01) is False  # it hangs: its task is cancelled
    assert task.cancelled()
    assert not loop._running


async def test_status_words() -> None:
    """get_status()["status"]: stopped, running, error (5 errors in a row), degraded (under
    half the runs succeeded), and paused (treadle's pause)."""
    boom = RuntimeError("boom")
    words: list[str] = []
    loop = Scripted([None, boom, boom, boom, boom, boom])
    loop.pause_at = 7
    loop.add_error_callback(lambda exc: words.append(loop.get_status()["status"]))
    assert loop.get_status()["status"] == "stopped"
    loop.start_background()
    await runs(loop, 7)
    await ran(loop, 7)
    # 1 success then errors: 50% (running), 33%, 25%, 20% (degraded), then 5 in a row
    assert words == ["running", "degraded", "degraded", "degraded", "error"]
    assert loop.get_status()["status"] == "paused"
    loop.resume()
    assert loop.get_status()["status"] == "degraded"  # 2 of 7, and no streak
    assert await loop.stop_async()
    assert loop.get_status()["status"] == "stopped"


async def test_health_check() -> None:
    """The seed's HealthCheckResult: healthy when stopped, "Too many consecutive errors"
    above 5, "High failure rate" under 50%, else "operational" with the figures."""
    boom = RuntimeError("boom")
    checks: list[HealthCheckResult] = []
    loop = Scripted([None, None, boom, boom, boom, boom, boom, boom], name="x")
    loop.add_error_callback(lambda exc: checks.append(loop.health_check()))
    stopped = loop.health_check()
    assert (stopped.healthy, stopped.status, stopped.message) == (
        True,
        CoordinatorStatus.STOPPED,
        "Loop x is stopped",
    )
    assert stopped.to_dict() == {
        "healthy": True,
        "status": "stopped",
        "message": "Loop x is stopped",
        "timestamp": stopped.timestamp,
        "details": {},
    }
    loop.start_background()
    await runs(loop, 2)
    await ran(loop, 2)
    ok = loop.health_check()
    assert (ok.healthy, ok.status, ok.message) == (True, "running", "Loop x operational")
    assert ok.details == {
        "total_runs": 2,
        "successful_runs": 2,
        "consecutive_errors": 0,
        "success_rate": "100.0%",
        "last_success": loop.stats.last_success_time,
        "avg_duration_ms": f"{loop.stats.avg_run_duration * 1000:.1f}",
    }
    await runs(loop, 9)
    first, second = checks[0], checks[1]  # 2 of 3 succeeded, then 2 of 4: still healthy
    assert (first.healthy, second.healthy) == (True, True)
    rate = checks[2]  # 2 of 5: under 50%
    assert (rate.healthy, rate.status, rate.message) == (
        False,
        CoordinatorStatus.DEGRADED,
        "High failure rate: 40.0%",
    )
    assert rate.details == {"total_runs": 5, "failed_runs": 3, "success_rate": "40.0%"}
    streak = checks[5]  # the 6th error in a row
    assert (streak.healthy, streak.status) == (False, CoordinatorStatus.ERROR)
    assert streak.message == "Too many consecutive errors: 6"
    assert streak.details == {"last_error": "boom", "consecutive_errors": 6}
    assert checks[4].status == CoordinatorStatus.DEGRADED  # 5 in a row: not yet "error"
    loop.pause()
    paused = loop.health_check()
    assert (paused.healthy, paused.status, paused.message) == (
        True,
        CoordinatorStatus.PAUSED,
        "Loop x is paused",
    )
    assert await loop.stop_async()


async def test_run_in_executor() -> None:
    """A blocking call in a thread, with positional and keyword arguments."""

    def blocking(a: int, *, b: int) -> tuple[int, bool]:
        return a + b, threading.current_thread() is threading.main_thread()

    loop = Scripted(executor_category="sync")
    assert await loop.run_in_executor(blocking, 1, b=2) == (3, False)


async def test_a_stop_before_the_first_run_is_not_lost() -> None:
    loop = Scripted()
    task = loop.start_background()
    loop.stop()  # the task has not run yet
    await asyncio.wait({task})
    assert (loop.calls, loop.events) == (0, ["start", "stop"])
    assert await loop.stop_async()
