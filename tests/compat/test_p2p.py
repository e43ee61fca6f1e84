"""treadle.compat.p2p: every example of seed 004's README, then the behaviour behind them."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import treadle.compat.p2p as p2p
from treadle import ConfigError, DependencyError, DuplicateChild, InvalidTransition, State
from treadle.compat.p2p import BackoffConfig, BaseLoop
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._p2p_examples import MyLoop, Orchestrator, QueuePopulatorLoop, SelfplayScheduler, StandInLoop

STATUS_KEYS = {
    "name",
    "running",
    "paused",
    "enabled",
    "interval",
    "run_count",
    "error_count",
    "consecutive_errors",
    "average_duration_ms",
    "last_run_time",
    "last_error",
}
MANAGER_KEYS = {"total_loops", "running_loops", "paused_loops", "error_loops", "loops"}


# -- the README's examples, adapted only in their imports ------------------------------------


async def test_readme_single_loop() -> None:
    from ._p2p_examples import QueuePopulatorLoop  # the seed's own loop: a stand-in

    orchestrator = Orchestrator()
    loop = QueuePopulatorLoop(
        get_role=lambda: orchestrator.role,
        get_selfplay_scheduler=lambda: orchestrator.selfplay_scheduler,
        notifier=orchestrator.notifier,
    )
    async with asyncio.TaskGroup() as tg:
        blocking = tg.create_task(loop.run_forever())  # Blocks until stopped
        await orchestrator.selfplay_scheduler.populated.wait()
        assert not blocking.done()
        loop.stop()
    assert orchestrator.selfplay_scheduler.queued == ["hex8_2p"]
    assert orchestrator.notifier.sent == ["queued hex8_2p"]
    assert not loop.running


async def test_readme_loop_manager(capsys: pytest.CaptureFixture[str]) -> None:
    from treadle.compat.p2p import BackoffConfig, LoopManager  # noqa: F401 - as the README

    from ._p2p_examples import QueuePopulatorLoop

    role, scheduler = "leader", SelfplayScheduler()
    manager = LoopManager()

    # Register loops
    manager.register(
        QueuePopulatorLoop(
            get_role=lambda: role,
            get_selfplay_scheduler=lambda: scheduler,
        )
    )

    # Start all loops
    await manager.start_all()

    # Check status
    status = manager.get_status()
    print(f"Running: {status['running_loops']}")

    # Stop all loops gracefully
    await manager.stop_all()

    assert capsys.readouterr().out == "Running: 1\n"
    assert scheduler.queued == ["hex8_2p"]
    assert manager.get_status()["running_loops"] == 0


async def test_readme_custom_loop() -> None:
    class Watched(MyLoop):
        ran = asyncio.Event()

        async def _run_once(self) -> None:
            await super()._run_once()
            self.ran.set()

    loop = Watched()  # type: ignore[no-untyped-call]  # the README's __init__ is untyped
    assert (loop.name, loop.interval) == ("my_loop", 30.0)
    assert loop.backoff_config == BackoffConfig(5.0, 300.0, 2.0, 0.1)
    loop.start_background()
    await loop.ran.wait()
    assert await loop.stop_async()
    assert loop.get_status()["run_count"] == 1
    with pytest.raises(TypeError, match="abstract"):
        BaseLoop("no_run_once", 1.0)  # type: ignore[abstract]


def test_readme_queue_populator_usage() -> None:
    orchestrator = Orchestrator()
    loop = QueuePopulatorLoop(
        get_role=lambda: orchestrator.role,
        get_selfplay_scheduler=lambda: orchestrator.selfplay_scheduler,
        notifier=orchestrator.notifier,
        config_path=Path("config/unified_loop.yaml"),  # Optional
        interval=60.0,  # Optional
    )
    assert loop.interval == 60.0
    assert loop.get_status()["name"] == "queue_populator"
    assert not loop.running


def test_readme_backoff_config() -> None:
    config = BackoffConfig(
        initial_delay=5.0,  # First retry delay (seconds)
        max_delay=300.0,  # Maximum retry delay (seconds)
        multiplier=2.0,  # Backoff multiplier
        jitter=True,  # Add random jitter to prevent thundering herd
    )
    assert config.jitter == 0.1
    assert [round(config.calculate_delay(n, lambda: 0.5), 9) for n in (1, 2, 7, 8)] == [
        5.0,
        10.0,
        300.0,
        300.0,
    ]
    assert 4.5 <= config.calculate_delay(1) < 5.5


async def test_readme_loop_status() -> None:
    orchestrator = Orchestrator()
    loop = QueuePopulatorLoop(
        get_role=lambda: orchestrator.role,
        get_selfplay_scheduler=lambda: orchestrator.selfplay_scheduler,
    )
    loop.start_background()
    await orchestrator.selfplay_scheduler.populated.wait()

    # Single loop
    status = loop.get_status()

    assert set(status) == STATUS_KEYS
    assert status["name"] == "queue_populator"
    assert (status["running"], status["paused"], status["enabled"]) == (True, False, True)
    assert status["interval"] == 60.0
    assert (status["run_count"], status["error_count"], status["consecutive_errors"]) == (1, 0, 0)
    assert status["average_duration_ms"] > 0
    assert abs(status["last_run_time"] - time.time()) < 5
    assert status["last_error"] is None
    assert await loop.stop_async()
    assert loop.get_status()["running"] is False


async def test_readme_manager_status() -> None:
    from treadle.compat.p2p import LoopManager

    scheduler = SelfplayScheduler()
    manager = LoopManager()
    manager.register(QueuePopulatorLoop(lambda: "leader", lambda: scheduler))
    others = [StandInLoop(n) for n in ("elo_sync", "auto_scaling", "model_sync", "job_reaper")]
    for other in others:
        manager.register(other)
    await manager.start_all()

    # LoopManager
    manager_status = manager.get_status()

    assert set(manager_status) == MANAGER_KEYS
    assert manager_status["total_loops"] == 5
    assert manager_status["running_loops"] == 5
    assert (manager_status["paused_loops"], manager_status["error_loops"]) == (0, 0)
    assert set(manager_status["loops"]) == {"queue_populator", *(o.name for o in others)}
    assert all(set(s) == STATUS_KEYS for s in manager_status["loops"].values())
    assert set(manager.get_all_status()) == set(manager_status["loops"])
    assert all((await manager.stop_all()).values())


async def test_readme_migration_after() -> None:
    from treadle.compat.p2p import BaseLoop

    asked = asyncio.Event()

    def get_dependency() -> Any:
        asked.set()
        return "dependency"

    class MyLoop(BaseLoop):
        def __init__(self, get_dependency: Callable[[], Any]):
            super().__init__(name="my_loop", interval=60.0)
            self._get_dependency = get_dependency

        async def _run_once(self) -> None:
            dependency = self._get_dependency()
            # Logic using dependency
            assert dependency == "dependency"

    loop = MyLoop(get_dependency)
    loop.start_background()
    await asked.wait()
    assert await loop.stop_async()
    assert loop.stats.successful_runs == 1


# -- BackoffConfig ---------------------------------------------------------------------------


def _const(r: float) -> Callable[[], float]:
    return lambda: r


def _base(c: BackoffConfig, n: int) -> float:
    return min(c.max_delay, c.initial_delay * c.multiplier ** (n - 1))


@given(
    initial=st.floats(1e-3, 1e3),
    extra=st.floats(0.0, 1e5),
    multiplier=st.floats(1.01, 10.0),
    jitter=st.floats(0.0, 1.0),
    n=st.integers(1, 200),
    r=st.floats(0.0, 1.0, exclude_max=True),
)
def test_delay_grows_by_multiplier_to_max_within_jitter(
    initial: float, extra: float, multiplier: float, jitter: float, n: int, r: float
) -> None:
    c = BackoffConfig(initial, initial + extra, multiplier, jitter)
    base = _base(c, n)
    delay = c.calculate_delay(n, lambda: r)
    assert base * (1 - jitter) * (1 - 1e-9) <= delay <= base * (1 + jitter) * (1 + 1e-9)
    exact = BackoffConfig(initial, initial + extra, multiplier, 0.0)
    assert math.isclose(exact.calculate_delay(n), base, rel_tol=1e-9)
    if n > 1:
        grown = min(exact.max_delay, exact.calculate_delay(n - 1) * multiplier)
        assert math.isclose(exact.calculate_delay(n), grown, rel_tol=1e-9)
    assert c.calculate_delay(0) == c.calculate_delay(-n) == 0.0


@given(jitter=st.floats(0.01, 1.0), rs=st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=20))
def test_jitter_spreads_both_ways(jitter: float, rs: list[float]) -> None:
    c = BackoffConfig(10.0, 10.0, 2.0, jitter)
    delays = [c.calculate_delay(1, _const(r)) for r in [0.0, *rs]]
    assert math.isclose(min(delays), 10.0 * (1 - jitter), rel_tol=1e-9)
    assert all(d < 10.0 * (1 + jitter) * (1 + 1e-9) for d in delays)


_BAD: list[tuple[dict[str, Any], str]] = [
    ({"initial_delay": 0.0}, "initial_delay"),
    ({"initial_delay": -1.0}, "initial_delay"),
    ({"initial_delay": 2.0, "max_delay": 1.0}, "max_delay"),
    ({"multiplier": 1.0}, "multiplier"),
    ({"multiplier": 0.5}, "multiplier"),
    ({"jitter": -0.1}, "jitter"),
    ({"jitter": 1.5}, "jitter"),
    ({"max_delay": math.inf}, "max_delay"),
    ({"initial_delay": math.nan}, "initial_delay"),
    ({"multiplier": "2"}, "multiplier"),
]


@pytest.mark.parametrize(("kwargs", "field"), _BAD)
def test_backoff_config_names_the_bad_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=f"^{field}: ") as info:
        BackoffConfig(**kwargs)
    assert isinstance(info.value, ConfigError)
    assert info.value.field == field


@given(
    initial=st.floats(allow_nan=True, allow_infinity=True),
    maximum=st.floats(allow_nan=True, allow_infinity=True),
    multiplier=st.floats(allow_nan=True, allow_infinity=True),
    jitter=st.floats(allow_nan=True, allow_infinity=True),
)
def test_backoff_config_accepts_exactly_the_valid(
    initial: float, maximum: float, multiplier: float, jitter: float
) -> None:
    valid = (
        all(math.isfinite(v) for v in (initial, maximum, multiplier, jitter))
        and initial > 0
        and maximum >= initial
        and multiplier > 1
        and 0 <= jitter <= 1
        and math.isfinite(maximum * (1 + jitter))
    )
    if valid:
        assert BackoffConfig(initial, maximum, multiplier, jitter).jitter == jitter
    else:
        with pytest.raises(ConfigError):
            BackoffConfig(initial, maximum, multiplier, jitter)


def test_jitter_as_a_boolean() -> None:
    assert BackoffConfig(jitter=True).jitter == 0.1
    assert BackoffConfig(jitter=False).jitter == 0.0
    assert BackoffConfig(jitter=False).calculate_delay(3) == 4.0


# -- BaseLoop --------------------------------------------------------------------------------


class Scripted(BaseLoop):
    """Runs ``script``: each entry an exception to raise, or None for a success."""

    def __init__(self, script: list[Exception | None] | None = None, **kw: Any) -> None:
        kw.setdefault("interval", 0.0)
        kw.setdefault("backoff_config", FAST)
        super().__init__(kw.pop("name", "scripted"), **kw)
        self.script = list(script or [])
        self.events: list[str] = []
        self.runs = asyncio.Queue[int]()
        self.calls = 0
        self.release = asyncio.Event()
        self.hang = False
        self.pause_at: int | None = None

    async def _run_once(self) -> None:
        self.calls += 1
        await self.runs.put(self.calls)
        if self.calls == self.pause_at:
            self.pause()  # this run finishes, then the loop idles
        if self.hang:
            await self.release.wait()
        step = self.script.pop(0) if self.script else None
        if step is not None:
            raise step

    async def _on_start(self) -> None:
        self.events.append("start")

    async def _on_stop(self) -> None:
        self.events.append("stop")

    async def _on_error(self, error: Exception) -> None:
        self.events.append(f"error {error}")


FAST = BackoffConfig(initial_delay=0.001, max_delay=0.002, multiplier=2.0, jitter=0.0)
SLOW = BackoffConfig(initial_delay=0.02, max_delay=0.02, multiplier=2.0, jitter=0.0)


async def _runs(loop: Scripted, n: int) -> None:
    """Wait until ``loop`` has begun its n-th run (each run puts its number)."""
    while loop.calls < n:
        await loop.runs.get()


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
    await _runs(loop, 2)
    loop.pause()
    assert loop.get_status()["paused"] is True
    assert loop.get_status()["running"] is True  # paused is still running (treadle's UP)
    parked = loop.calls
    for _ in range(20):
        await asyncio.sleep(0)  # let the event loop turn: a paused loop does not run
    assert loop.calls == parked
    loop.resume()
    assert loop.get_status()["paused"] is False
    await _runs(loop, parked + 1)
    assert await loop.stop_async()


async def test_stop_is_graceful_and_a_no_op_when_not_running() -> None:
    loop = Scripted()
    loop.stop()  # not running: nothing to do, and nothing left over for the next run
    async with asyncio.TaskGroup() as tg:
        tg.create_task(loop.run_forever())
        await _runs(loop, 3)
        loop.stop()
    assert loop.events == ["start", "stop"]
    assert loop.treadle_loop.state is State.STOPPED


async def test_stop_async_cancels_a_background_loop_after_the_timeout() -> None:
    loop = Scripted()
    loop.hang = True
    task = loop.start_background()
    assert loop.start_background() is task  # already running: the same task
    await _runs(loop, 1)
    assert await loop.stop_async(timeout=0.05) is False
    assert task.cancelled()
    assert loop.events == ["start", "stop"]  # on_stop ran all the same
    assert not loop.running


async def test_stop_async_waits_for_a_run_in_another_task() -> None:
    loop = Scripted()
    loop.hang = True
    async with asyncio.TaskGroup() as tg:
        runner = tg.create_task(loop.run_forever())
        await _runs(loop, 1)
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


async def test_second_run_forever_warns_and_start_background_refuses(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = Scripted()
    async with asyncio.TaskGroup() as tg:
        tg.create_task(loop.run_forever())
        await _runs(loop, 1)
        with caplog.at_level(logging.WARNING, "treadle.compat.p2p"):
            await loop.run_forever()
        assert "already running" in caplog.text
        with pytest.raises(InvalidTransition):
            loop.start_background()
        loop.stop()


async def test_disabled_loop_idles_until_enabled() -> None:
    loop = Scripted(enabled=False, interval=0.01)
    loop.start_background()
    while not loop.treadle_loop.status()["gated"]:  # noqa: ASYNC110 - no event says "gated"
        await asyncio.sleep(0)
    status = loop.get_status()
    assert (status["running"], status["enabled"], status["run_count"]) == (True, False, 0)
    loop.enabled = True  # treadle wakes it at once
    await _runs(loop, 1)
    assert loop.get_status()["enabled"] is True
    assert await loop.stop_async()


async def test_interval_changes_from_inside_a_run() -> None:
    class Adaptive(Scripted):
        async def _run_once(self) -> None:
            await super()._run_once()
            self.interval = 300.0  # all targets met: 60 s -> 300 s

    loop = Adaptive(interval=60.0)
    loop.start_background()
    await _runs(loop, 1)
    assert loop.get_status()["interval"] == 300.0
    with pytest.raises(ConfigError):
        loop.interval = -1
    assert await loop.stop_async()


async def test_stats_and_status_after_real_runs() -> None:
    loop = Scripted([None, RuntimeError("boom 2"), None, KeyError("k"), None, RuntimeError()])
    loop.pause_at = 6
    loop.start_background()
    await _runs(loop, 6)
    while loop.stats.total_runs < 6:  # noqa: ASYNC110 - the 6th run is ending: let it
        await asyncio.sleep(0)
    stats = loop.stats
    assert (stats.total_runs, stats.successful_runs, stats.failed_runs) == (6, 3, 3)
    assert stats.consecutive_errors == 1
    assert stats.success_rate == 50.0
    assert stats.last_error_message == "RuntimeError"  # str() empty: the type
    assert 0 < stats.avg_run_duration < 1
    assert abs(stats.last_error_time - time.time()) < 5
    assert set(stats.to_dict()) >= {"total_runs", "success_rate", "avg_run_duration_ms"}
    status = loop.get_status()
    assert (status["run_count"], status["error_count"], status["consecutive_errors"]) == (6, 3, 1)
    assert status["last_error"] == "RuntimeError"
    assert status["average_duration_ms"] == pytest.approx(stats.avg_run_duration * 1000)
    assert loop.treadle_loop.last_beat is not None  # treadle's heartbeats
    assert await loop.stop_async()


def test_fresh_stats() -> None:
    loop = Scripted()
    assert loop.stats.success_rate == 100.0
    assert loop.stats.avg_run_duration == 0.0
    status = loop.get_status()
    assert set(status) == STATUS_KEYS
    assert (status["run_count"], status["last_run_time"], status["last_error"]) == (0, 0.0, None)
    assert repr(loop) == "<Scripted 'scripted' pending>"


async def test_health_check() -> None:
    boom = RuntimeError("boom")
    loop = Scripted([None, boom, boom, boom], backoff_config=SLOW)
    assert loop.health_check()["status"] == "degraded"  # pending, as treadle says
    loop.start_background()
    errors = asyncio.Queue[Exception]()
    loop.add_error_callback(errors.put_nowait)
    await errors.get()
    check = loop.health_check()
    assert (check["healthy"], check["status"]) == (True, "degraded")
    assert "1 consecutive errors" in check["message"]
    await errors.get()
    await errors.get()
    check = loop.health_check()
    assert (check["healthy"], check["status"]) == (False, "unhealthy")
    assert check["details"]["failed_runs"] == 3
    await _runs(loop, 5)
    loop.pause()
    assert loop.health_check()["status"] == "degraded"
    assert await loop.stop_async()
    assert loop.health_check() | {"details": None} == {
        "healthy": True,
        "status": "healthy",
        "message": "stopped",
        "details": None,
    }


async def test_subclass_attributes_cannot_clobber_treadle() -> None:
    class Nosy(Scripted):
        async def _on_start(self) -> None:
            self._state, self._task, self._name, self._interval = "mine", "mine", "x", -1
            self._paused, self._enabled, self.metrics = True, False, None
            await super()._on_start()

    loop = Nosy()
    loop.start_background()
    await _runs(loop, 3)
    assert (loop.name, loop.interval, loop.running) == ("scripted", 0.0, True)
    assert await loop.stop_async()


async def test_the_treadle_loop_runs_under_a_treadle_supervisor() -> None:
    loop = Scripted(name="native")
    assert isinstance(loop.treadle_loop, Loop)
    async with Supervisor([ChildSpec(loop.treadle_loop)]) as sup:
        await _runs(loop, 2)
        assert sup.child_state("native") is State.RUNNING
    assert loop.events == ["start", "stop"]


# -- LoopManager -----------------------------------------------------------------------------


class Ordered(Scripted):
    def __init__(self, name: str, log: list[str], depends_on: list[str] | None = None) -> None:
        super().__init__(name=name, interval=60.0, depends_on=depends_on)
        self.log = log

    async def _on_start(self) -> None:
        await asyncio.sleep(0)  # a start that yields: a dependant must still wait for it
        self.log.append(f"start {self.name}")

    async def _on_stop(self) -> None:
        self.log.append(f"stop {self.name}")


async def test_manager_starts_by_depends_on_and_stops_in_reverse() -> None:
    log: list[str] = []
    manager = p2p.LoopManager()
    for loop in [
        Ordered("d", log, ["a", "c"]),
        Ordered("c", log, ["b"]),
        Ordered("b", log, ["a"]),
        Ordered("a", log),
    ]:
        manager.register(loop)
    assert await manager.start_all() == dict.fromkeys("dcba", True)
    assert log == ["start a", "start b", "start c", "start d"]
    assert await manager.stop_all() == dict.fromkeys("dcba", True)
    assert log[4:] == ["stop d", "stop c", "stop b", "stop a"]


async def test_manager_reports_a_cycle_and_starts_nothing() -> None:
    log: list[str] = []
    manager = p2p.LoopManager()
    manager.register(Ordered("a", log, ["c"]))
    manager.register(Ordered("b", log, ["a"]))
    manager.register(Ordered("c", log, ["b"]))
    manager.register(Ordered("free", log))
    with pytest.raises(DependencyError, match="cycle: a -> c -> b -> a"):
        await manager.start_all()
    assert log == []
    assert not manager.is_started
    assert await manager.stop_all() == {}


async def test_manager_self_dependency_and_unknown_dependencies() -> None:
    manager = p2p.LoopManager()
    manager.register(Ordered("me", [], ["me"]))
    with pytest.raises(ConfigError, match="cannot depend on itself"):
        await manager.start_all()
    with pytest.raises(ConfigError, match="depends_on: must be a list of names"):
        Scripted(depends_on="a")
    manager = p2p.LoopManager()
    manager.register(Ordered("lonely", [], ["not_registered"]))  # ignored, as in the seed
    assert await manager.start_all() == {"lonely": True}
    await manager.stop_all()


async def test_manager_restart_loop() -> None:
    log: list[str] = []
    manager = p2p.LoopManager()
    loop = Ordered("a", log)
    manager.register(loop)
    assert await manager.restart_loop("a") is False  # not started
    await manager.start_all()
    assert await manager.restart_loop("a") is True
    assert log == ["start a", "stop a", "start a"]
    assert loop.stats.total_runs == 2  # the stats live on across runs
    loop.stop()  # a stopped loop stays stopped (temporary)...
    assert await loop.stop_async()
    assert manager.get_status()["running_loops"] == 0
    assert await manager.restart_loop("a") is True  # ...until restarted
    assert await manager.restart_loop("nope") is False
    await manager.stop_all()


async def test_manager_a_failed_start_and_its_dependants() -> None:
    class BadStart(Ordered):
        async def _on_start(self) -> None:
            raise RuntimeError("no config")

    manager = p2p.LoopManager()
    manager.register(BadStart("bad", []))
    manager.register(Ordered("needs_bad", [], ["bad"]))
    manager.register(Ordered("fine", []))
    started = await manager.start_all(startup_timeout=0.2)
    assert started == {"bad": False, "needs_bad": False, "fine": True}
    status = manager.get_status()
    assert (status["running_loops"], status["error_loops"]) == (1, 1)
    health = manager.health_check()
    assert (health["healthy"], health["status"]) == (False, "unhealthy")
    assert "bad: unhealthy (failed)" in health["message"]
    assert await manager.stop_all() == {"bad": True, "needs_bad": True, "fine": True}


async def test_manager_health_check_and_status_counts() -> None:
    manager = p2p.LoopManager()
    patient = BackoffConfig(initial_delay=30.0, max_delay=30.0)
    flaky = Scripted([RuntimeError("boom")], name="flaky", interval=60.0, backoff_config=patient)
    napping = Scripted(name="napping", interval=60.0)
    for loop in (flaky, napping):
        manager.register(loop)
    health = manager.health_check()
    assert (health["started"], health["running_loops"]) == (False, 0)
    errors = asyncio.Queue[Exception]()
    flaky.add_error_callback(errors.put_nowait)
    await manager.start_all()
    await errors.get()
    napping.pause()
    status = manager.get_status()
    assert (status["running_loops"], status["paused_loops"], status["error_loops"]) == (2, 1, 1)
    health = manager.health_check()
    assert set(health) == {
        "healthy",
        "status",
        "message",
        "started",
        "total_loops",
        "running_loops",
        "error_loops",
        "loops",
    }
    assert (health["healthy"], health["status"], health["started"]) == (True, "degraded", True)
    assert "flaky: degraded" in health["message"]
    assert "napping: degraded" in health["message"]
    assert health["loops"]["napping"]["status"] == "degraded"
    await manager.stop_all()
    assert manager.health_check()["status"] == "healthy"  # stopped is healthy, as treadle says


async def test_manager_register_get_unregister(caplog: pytest.LogCaptureFixture) -> None:
    manager = p2p.LoopManager()
    first, second = StandInLoop("x"), StandInLoop("x")
    manager.register(first)
    with caplog.at_level(logging.WARNING, "treadle.compat.p2p"):
        manager.register(second)
    assert "replacing" in caplog.text
    assert manager.get("x") is second
    assert manager.loop_names == ["x"]
    assert manager.get("nope") is None
    assert manager.unregister("nope") is None
    await manager.start_all()
    assert await manager.start_all() == {"x": True}  # already started: the status
    late = StandInLoop("late")
    manager.register(late)  # started at once
    await late.ran.wait()
    with pytest.raises(DuplicateChild):
        manager.register(StandInLoop("late"))
    assert manager.unregister("late") is late
    assert await late.stop_async(timeout=5)
    assert manager.loop_names == ["x"]
    assert manager.get("late") is None
    assert await manager.stop_all() == {"x": True}
    assert await manager.start_all() == {"x": True}  # a manager starts again
    assert await manager.stop_all() == {"x": True}


async def test_manager_stop_all_cancels_a_loop_that_will_not_stop() -> None:
    manager = p2p.LoopManager(shutdown_timeout=0.05)
    stuck = Scripted(name="stuck")
    stuck.hang = True
    manager.register(stuck)
    await manager.start_all()
    await _runs(stuck, 1)
    assert await manager.stop_all() == {"stuck": True}
    assert stuck.events == ["start", "stop"]
    assert manager.supervisor is None


def test_exports() -> None:
    assert p2p.__all__ == sorted(p2p.__all__)
    assert {name: getattr(p2p, name).__name__ for name in p2p.__all__} == {
        n: n for n in p2p.__all__
    }
