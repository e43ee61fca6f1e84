"""Loop: runs, backoff, gate, pause/resume, stop, hooks, heartbeats, metrics."""

from __future__ import annotations

import asyncio
import json

import pytest

from treadle import Backoff, ConfigError, Jitter, LoopFailed, State
from treadle.loop import FunctionLoop, Loop, loop
from treadle.supervisor import ChildSpec, Supervisor

FAST = Backoff(initial=0.001, max=0.002, jitter=Jitter.NONE)


class Counter(Loop):
    def __init__(self, target: int = 3, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.target = target
        self.reached = asyncio.Event()
        self.calls = 0

    async def run_once(self) -> None:
        self.calls += 1
        if self.calls >= self.target:
            self.reached.set()


async def test_runs_until_stopped_and_counts() -> None:
    lp = Counter(target=5, interval=0)
    lp.start()
    await lp.reached.wait()
    await lp.stop()
    assert lp.state is State.STOPPED
    assert lp.metrics.runs >= 5
    assert lp.metrics.errors == 0
    assert lp.metrics.summary()["samples"] >= 5


async def test_errors_back_off_and_recover() -> None:
    seen: list[float | None] = []

    class Flaky(Loop):
        calls = 0

        async def run_once(self) -> None:
            self.calls += 1
            if self.calls <= 3:
                raise RuntimeError(f"boom {self.calls}")
            seen.append(self.metrics.consecutive_errors)
            done.set()

        async def on_error(self, exc: Exception) -> None:
            seen.append(self.metrics.consecutive_errors)

    done = asyncio.Event()
    lp = Flaky(interval=0, backoff=FAST)
    lp.start()
    await done.wait()
    await lp.stop()
    assert seen[:4] == [1, 2, 3, 3]  # on_error saw 1,2,3; the success ran with 3 still set
    assert lp.metrics.errors == 3
    assert lp.metrics.consecutive_errors == 0
    assert lp.metrics.last_error is not None
    assert lp.metrics.last_error.type == "RuntimeError"
    assert lp.metrics.last_error.message == "boom 3"
    assert "boom 3" in lp.metrics.last_error.traceback


async def test_backoff_delay_is_reported_while_waiting() -> None:
    class Failing(Loop):
        async def run_once(self) -> None:
            failed.set()
            raise ValueError("x")

    failed = asyncio.Event()
    lp = Failing(interval=0, backoff=Backoff(initial=30, max=30, jitter=Jitter.NONE))
    lp.start()
    await failed.wait()
    await asyncio.sleep(0)  # let it reach the backoff sleep
    assert lp.status()["backoff_s"] == 30
    await lp.stop(timeout=1)  # stop wakes the backoff sleep: no 30 s wait
    assert lp.state is State.STOPPED


async def test_max_consecutive_errors_fails_the_loop() -> None:
    @loop(interval=0, backoff=FAST, max_consecutive_errors=2)
    async def broken() -> None:
        raise KeyError("k")

    with pytest.raises(LoopFailed) as info:
        await broken.run_forever()
    assert isinstance(info.value.__cause__, KeyError)
    assert broken.state is State.FAILED
    assert broken.metrics.errors == 2


async def test_gate_idles_instead_of_running() -> None:
    leader = False
    runs = asyncio.Event()

    @loop(interval=0.001, should_run=lambda: leader)
    async def leader_only() -> None:
        runs.set()

    leader_only.start()
    for _ in range(20):
        await asyncio.sleep(0.002)
    assert leader_only.metrics.runs == 0
    assert leader_only.status()["gated"] is True
    assert leader_only.metrics.errors == 0
    leader = True
    await runs.wait()
    await leader_only.stop()
    assert leader_only.metrics.runs >= 1


async def test_disabled_loop_idles_until_enabled() -> None:
    lp = Counter(target=1, interval=0.001, enabled=False)
    lp.start()
    await asyncio.sleep(0.01)
    assert lp.calls == 0
    lp.enabled = True
    await lp.reached.wait()
    await lp.stop()


async def test_adaptive_interval_changes_its_own_pace() -> None:
    class Adaptive(Loop):
        async def run_once(self) -> None:
            if self.metrics.runs == 0:
                self.interval = 3600  # all targets met: slow down
                ran_once.set()
            if self.metrics.runs == 2:
                ran_thrice.set()

    ran_once = asyncio.Event()
    ran_thrice = asyncio.Event()
    lp = Adaptive(interval=0)
    lp.start()
    await ran_once.wait()
    await asyncio.sleep(0.01)
    assert lp.interval == 3600
    assert lp.metrics.runs == 1  # it is sleeping the new interval
    lp.interval = 0  # and an outside change wakes it
    await ran_thrice.wait()
    await lp.stop()


async def test_pause_and_resume() -> None:
    lp = Counter(target=1, interval=0)
    lp.start()
    await lp.reached.wait()
    lp.pause()
    assert lp.state is State.PAUSED
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    frozen = lp.metrics.runs
    for _ in range(50):
        await asyncio.sleep(0)
    assert lp.metrics.runs == frozen
    lp.target = lp.calls + 3
    lp.reached.clear()
    lp.resume()
    assert lp.status()["state"] == "running"
    await lp.reached.wait()
    await lp.stop()


async def test_hooks_run_once_each_in_order() -> None:
    calls: list[str] = []

    class Hooked(Loop):
        async def on_start(self) -> None:
            calls.append("start")

        async def run_once(self) -> None:
            calls.append("run")
            self.request_stop()

        async def on_stop(self) -> None:
            calls.append("stop")

    lp = Hooked(interval=0)
    await lp.run_forever()
    assert calls == ["start", "run", "stop"]
    assert lp.state is State.STOPPED
    await lp.run_forever()  # a stopped loop runs again
    assert calls == ["start", "run", "stop"] * 2


async def test_failing_on_start_fails_without_on_stop() -> None:
    calls: list[str] = []

    class BadStart(Loop):
        async def on_start(self) -> None:
            raise OSError("no db")

        async def run_once(self) -> None:
            calls.append("run")

        async def on_stop(self) -> None:
            calls.append("stop")

    lp = BadStart()
    with pytest.raises(OSError, match="no db"):
        await lp.run_forever()
    assert lp.state is State.FAILED
    assert calls == []


async def test_stop_cancels_a_run_that_outlives_the_timeout() -> None:
    entered = asyncio.Event()

    class Slow(Loop):
        async def run_once(self) -> None:
            entered.set()
            await asyncio.sleep(3600)

    lp = Slow(interval=0)
    lp.start()
    await entered.wait()
    assert lp.busy
    await lp.stop(timeout=0.01)
    assert lp.state is State.STOPPED
    assert not lp.busy


async def test_heartbeat_advances_inside_a_long_run() -> None:
    beat = asyncio.Event()
    go_on = asyncio.Event()

    class Long(Loop):
        async def run_once(self) -> None:
            first = self.last_beat
            await asyncio.sleep(0.001)
            self.beat()
            assert self.last_beat is not None
            assert first is not None
            assert self.last_beat > first
            beat.set()
            await go_on.wait()

    lp = Long(interval=0)
    lp.start()
    await beat.wait()
    assert lp.busy
    go_on.set()
    await lp.stop()


async def test_status_is_json_safe() -> None:
    @loop(interval=0, backoff=FAST)
    async def sometimes() -> None:
        if sometimes.metrics.runs % 2:
            raise RuntimeError("odd")
        if sometimes.metrics.runs > 6:
            sometimes.request_stop()

    await sometimes.run_forever()
    s = sometimes.status()
    json.dumps(s)
    assert s["name"] == "sometimes"
    assert s["kind"] == "loop"
    assert s["state"] == "stopped"
    assert s["runs"] >= 7
    assert s["errors"] >= 3
    assert s["last_error"]["type"] == "RuntimeError"
    assert set(s["duration"]) == {"mean_ms", "p50_ms", "p95_ms", "max_ms", "samples"}
    assert s["last_run_ts"] is not None


async def test_initial_delay_postpones_the_first_run() -> None:
    lp = Counter(target=1, interval=0, initial_delay=3600)
    lp.start()
    await asyncio.sleep(0.01)
    assert lp.calls == 0
    await lp.stop(timeout=1)  # stop wakes the initial delay
    assert lp.state is State.STOPPED


async def test_stop_reraises_the_loops_failure() -> None:
    lp = FunctionLoop(_raise_type_error, interval=0, backoff=FAST, max_consecutive_errors=1)
    task = lp.start()
    await asyncio.wait({task})
    with pytest.raises(LoopFailed):
        await lp.stop()


async def _raise_type_error() -> None:
    raise TypeError("t")


async def test_cancellation_is_not_swallowed() -> None:
    lp = Counter(target=10**9, interval=0)
    task = lp.start()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lp.state is State.STOPPED


def test_bad_options_name_the_field() -> None:
    for kwargs, field in [
        ({"interval": -1}, "interval"),
        ({"initial_delay": -1}, "initial_delay"),
        ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
        ({"window": 0}, "window"),
    ]:
        with pytest.raises(ConfigError) as info:
            Counter(**kwargs)
        assert info.value.field == field


async def test_run_once_must_be_written() -> None:
    with pytest.raises(NotImplementedError):
        await Loop(interval=0, max_consecutive_errors=1).run_once()


def test_shared_default_options_are_never_changed_through_one_loop() -> None:
    a, b = Counter(), Counter()
    a.hook_timeout = 1.5
    assert a.hook_timeout == 1.5
    assert b.hook_timeout == 5.0  # b still has the shared defaults
    c = Counter(hook_timeout=2.0, cpu_time=True)
    assert c.hook_timeout == 2.0
    assert c.metrics.cpu_s == 0.0


async def test_failed_runs_keep_their_place_in_the_duration_window() -> None:
    class Alternating(Loop):
        async def run_once(self) -> None:
            if self.metrics.runs % 2:
                await asyncio.sleep(0.02)  # a slow run that fails
                raise RuntimeError("slow failure")
            if self.metrics.runs >= 12:
                self.request_stop()

    lp = Alternating(interval=0, backoff=FAST, window=4)
    await lp.run_forever()
    window = lp.metrics.durations()
    assert len(window) == 4
    slow = [d for d in window if d >= 0.015]
    assert len(slow) == 2  # half the last four runs failed slowly; none overwritten


async def test_a_loop_run_again_in_place_keeps_its_window_of_durations() -> None:
    # A supervisor restarts a Loop instance in place: its second run() continues the
    # first's counters and duration window (the first tick of a run must pick it up, not
    # start a ring whose first entry would be all the time spent so far).
    class Short(Counter):
        async def run_once(self) -> None:
            await asyncio.sleep(0.005)
            await super().run_once()

    lp = Short(target=10, interval=0)  # default options: the first tick's fast path
    async with Supervisor([ChildSpec(lp, name="short")]) as sup:
        await lp.reached.wait()
        runs = lp.metrics.runs
        lp.target, lp.reached = lp.calls + 2, asyncio.Event()
        await sup.restart("short")
        await lp.reached.wait()
        await sup.terminate("short")
    assert lp.metrics.runs >= runs + 2
    window = lp.metrics.durations()
    assert len(window) == lp.metrics.runs  # one window (of 128), continued
    assert max(window) < 0.04, window  # runs of ~5 ms; 10 of them together are >= 50 ms


async def test_name_and_backoff_can_be_changed() -> None:
    """The next failure waits by the backoff set after the loop was built."""

    class Failing(Loop):
        async def run_once(self) -> None:
            raise ValueError("x")

        async def on_error(self, exc: Exception) -> None:
            failed.set()

    failed = asyncio.Event()
    lp = Failing(name="before", interval=0, backoff=FAST)
    lp.name = "after"
    lp.backoff = Backoff(initial=30, max=30, jitter=Jitter.NONE)
    assert (lp.name, lp.backoff.initial) == ("after", 30)
    lp.start()
    await failed.wait()
    await asyncio.sleep(0)
    assert lp.status()["backoff_s"] == 30
    assert lp.status()["name"] == "after"
    await lp.stop()
