"""treadle.compat.p2p: every example of seed 004's README, BackoffConfig and LoopStats.

Expected values come from the seed's real module (RingRift ``scripts/p2p/loops/base.py``):
each test that pins one names what it pins. BaseLoop is tested in ``test_p2p_loop.py``,
LoopManager in ``test_p2p_manager.py``.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import treadle.compat.p2p as p2p
from treadle import ConfigError
from treadle.compat.p2p import BackoffConfig, BaseLoop, LoopStats

from ._p2p_examples import (
    STATUS_KEYS,
    MyLoop,
    Orchestrator,
    QueuePopulatorLoop,
    SelfplayScheduler,
    StandInLoop,
)

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

    assert set(status) == STATUS_KEYS  # the README's keys, and the module's beside them
    assert status["name"] == "queue_populator"
    assert (status["running"], status["paused"], status["enabled"]) == (True, False, True)
    assert status["interval"] == 60.0
    assert (status["run_count"], status["error_count"], status["consecutive_errors"]) == (1, 0, 0)
    assert status["average_duration_ms"] > 0
    assert 0 < status["last_run_time"] <= time.time()
    assert status["last_error"] is None
    assert status["status"] == "running"
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


_BAD: list[tuple[dict[str, Any], str, str]] = [
    # The seed module's messages, word for word (its __post_init__).
    ({"initial_delay": 0.0}, "initial_delay", "initial_delay must be > 0"),
    ({"initial_delay": -1.0}, "initial_delay", "initial_delay must be > 0"),
    ({"initial_delay": 2.0, "max_delay": 1.0}, "max_delay", "max_delay must be >= initial_delay"),
    ({"multiplier": 1.0}, "multiplier", "multiplier must be > 1"),
    ({"multiplier": 0.5}, "multiplier", "multiplier must be > 1"),
    ({"jitter": -0.1}, "jitter", "jitter must be between 0 and 1"),
    ({"jitter": 1.5}, "jitter", "jitter must be between 0 and 1"),
    # Treadle's own refusals (the seed's module accepts these, and its delays become nan/inf).
    ({"max_delay": math.inf}, "max_delay", "max_delay must be a finite number, got inf"),
    ({"initial_delay": math.nan}, "initial_delay", "initial_delay must be a finite number"),
    ({"multiplier": "2"}, "multiplier", "multiplier must be a finite number, got '2'"),
]


@pytest.mark.parametrize(("kwargs", "field", "message"), _BAD)
def test_backoff_config_refuses_with_the_seed_message(
    kwargs: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)) as info:
        BackoffConfig(**kwargs)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ConfigError)
    assert info.value.field == field


def test_backoff_config_defaults() -> None:
    """The seed module's defaults: 1 s, 300 s, 1.5 (reduced from 2.0 in Jan 2026), 10%."""
    config = BackoffConfig()
    assert (config.initial_delay, config.max_delay) == (1.0, 300.0)
    assert (config.multiplier, config.jitter) == (1.5, 0.1)
    exact = BackoffConfig(jitter=0)
    assert [exact.calculate_delay(n) for n in (0, 1, 2, 3)] == [0.0, 1.0, 1.5, 2.25]
    assert (
        BackoffConfig(initial_delay=1.0, max_delay=10.0, multiplier=2.0, jitter=0).calculate_delay(
            5
        )
        == 10.0
    )


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
    assert BackoffConfig(jitter=False).calculate_delay(3) == 2.25


# -- LoopStats -------------------------------------------------------------------------------


def test_loop_stats_is_a_dataclass_users_construct() -> None:
    """The seed's LoopStats: its fields, defaults and derived figures (its module's tests)."""
    stats = LoopStats(name="test_loop")
    assert (stats.total_runs, stats.successful_runs, stats.failed_runs) == (0, 0, 0)
    assert (stats.consecutive_errors, stats.consecutive_timeouts, stats.total_timeouts) == (0, 0, 0)
    assert (stats.last_run_time, stats.last_success_time, stats.last_error_time) == (0, 0, 0)
    assert (stats.last_error_message, stats.total_run_duration, stats.last_run_duration) == (
        "",
        0.0,
        0.0,
    )
    assert stats.success_rate == 100.0  # no runs: 100%
    assert stats.avg_run_duration == 0.0
    assert LoopStats(name="t", total_runs=10, successful_runs=7).success_rate == 70.0
    assert LoopStats(name="t", total_runs=10, successful_runs=0).success_rate == 0.0
    # the mean of successful runs: total duration / successful runs
    assert LoopStats(name="t", successful_runs=5, total_run_duration=10.0).avg_run_duration == 2.0
    stats.total_runs += 1  # a plain, mutable record
    assert stats == LoopStats(name="test_loop", total_runs=1)


def test_loop_stats_to_dict() -> None:
    stats = LoopStats(
        name="my_loop",
        total_runs=10,
        successful_runs=8,
        failed_runs=2,
        consecutive_errors=1,
        consecutive_timeouts=1,
        total_timeouts=1,
        last_run_time=1000.0,
        last_success_time=1001.0,
        last_error_time=999.0,
        last_error_message="test error",
        total_run_duration=5.0,
        last_run_duration=0.5,
    )
    assert stats.to_dict() == {
        "name": "my_loop",
        "total_runs": 10,
        "successful_runs": 8,
        "failed_runs": 2,
        "consecutive_errors": 1,
        "consecutive_timeouts": 1,
        "total_timeouts": 1,
        "last_run_time": 1000.0,
        "last_success_time": 1001.0,
        "last_error_time": 999.0,
        "last_error_message": "test error",
        "success_rate": 80.0,
        "avg_run_duration_ms": (5.0 / 8) * 1000,
        "last_run_duration_ms": 500.0,
    }


@dataclass
class DiscoveryStats(LoopStats):
    """As the seed's TailscaleDiscoveryLoop extends LoopStats (a dataclass of its own)."""

    peers_discovered: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "peers_discovered": self.peers_discovered}


class Discovery(BaseLoop):
    def __init__(self) -> None:
        super().__init__(name="tailscale_discovery", interval=0.0)
        self._stats = DiscoveryStats(name="tailscale_discovery")  # the seed's loops do this
        self.ran = asyncio.Event()

    async def _run_once(self) -> None:
        self._stats.peers_discovered += 1
        if self._stats.peers_discovered == 2:
            self.ran.set()


async def test_a_subclass_keeps_its_own_stats_and_the_loop_fills_in_the_rest() -> None:
    loop = Discovery()
    loop.start_background()
    await loop.ran.wait()
    await loop.stop_async()
    assert isinstance(loop.stats, DiscoveryStats)
    assert loop.stats.peers_discovered == 2
    assert (loop.stats.total_runs, loop.stats.successful_runs) == (2, 2)
    assert loop.get_status()["stats"]["peers_discovered"] == 2
    loop.reset_stats()  # as in the seed: a plain LoopStats again
    assert type(loop.stats) is LoopStats


def test_an_incompatible_stats_object_warns() -> None:
    loop = StandInLoop("x")
    with pytest.warns(UserWarning, match="Assigning incompatible type to _stats"):
        loop._stats = object()
    assert loop.get_status()["run_count"] == 0  # the figures still come from the loop


def test_exports() -> None:
    """The seed's four names, and the health-check types its loops return."""
    assert p2p.__all__ == sorted(p2p.__all__)
    assert {name: getattr(p2p, name).__name__ for name in p2p.__all__} == {
        n: n for n in p2p.__all__
    }
