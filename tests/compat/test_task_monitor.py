"""treadle.compat.task_monitor: seed 003's examples as written, then its behaviour for real.

Every task here is a real asyncio Task; waits are on events (a factory call, a log record),
never on a sleep that hopes something has happened by then.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadle import ConfigError, InvalidTransition, TreadleError
from treadle.compat import _task_monitor_restarts as restarts
from treadle.compat import task_monitor
from treadle.compat.task_monitor import (
    TaskMonitor,
    get_io_semaphore_stats,
    io_semaphore,
    set_io_semaphore_count,
    with_io_semaphore,
)
from treadle.limits import default_limits

from ._task_monitor_support import FakeClock, Worker, extra, says, watching

STATS_KEYS = {
    "enabled",
    "restart_count",
    "is_restarting",
    "task_done",
    "task_cancelled",
    "last_restart_time",
}


@pytest.fixture
def io_count() -> Iterator[int]:
    """The process-wide "io" limiter's count, restored after the test."""
    before = get_io_semaphore_stats()
    assert before["in_use"] == 0
    yield before["count"]
    set_io_semaphore_count(before["count"])
    assert get_io_semaphore_stats()["in_use"] == 0


def only_this_task_left() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


# -- the seed's examples, adapted only in their imports ----------------------------------------


async def test_seed_api_example() -> None:
    async def component_coroutine() -> None:
        await asyncio.Event().wait()

    # Create monitor
    monitor = TaskMonitor(max_restart_attempts=5, base_backoff=2.0, max_backoff=60.0)

    # Set restart factories
    restart_factories = {
        "component_name": lambda: asyncio.create_task(component_coroutine()),
    }
    monitor.set_restart_factories(restart_factories)

    # Register tasks for monitoring
    task = asyncio.create_task(component_coroutine())
    monitor.register("component_name", task)

    # Enable restart for specific components
    monitor.enable(["component_name"])

    # Get statistics
    stats = monitor.get_component_stats()

    # Clean shutdown
    await monitor.close()

    assert stats == {
        "component_name": {
            "enabled": True,
            "restart_count": 0,
            "is_restarting": False,
            "task_done": False,
            "task_cancelled": False,
            "last_restart_time": None,
        }
    }
    assert task.cancelled()
    assert only_this_task_left()


async def test_seed_io_example(io_count: int, capsys: pytest.CaptureFixture[str]) -> None:
    # the seed's import line names three of the four functions it uses; here it names all four
    from treadle.compat.task_monitor import (
        get_io_semaphore_stats,
        io_semaphore,
        set_io_semaphore_count,
        with_io_semaphore,
    )

    async def some_io_operation() -> str:
        await asyncio.sleep(0)
        return "done"

    # Basic usage
    async with io_semaphore():
        # Perform I/O operation here
        result = await some_io_operation()

    # Configure semaphore count
    set_io_semaphore_count(10)

    # Get usage statistics
    stats = get_io_semaphore_stats()
    print(f"Available: {stats['available']}, Waiting: {stats['waiting']}")

    # Backward compatibility
    semaphore = await with_io_semaphore()
    async with semaphore:
        # Direct semaphore usage
        pass

    assert result == "done"
    assert capsys.readouterr().out == "Available: 10, Waiting: 0\n"
    assert get_io_semaphore_stats() == {"available": 10, "waiting": 0, "count": 10, "in_use": 0}


async def test_seed_stats_example() -> None:
    """The seed's statistics: perception, restarted twice, running again."""
    worker = Worker()
    task_monitor = TaskMonitor(base_backoff=0.001)
    task_monitor.set_restart_factories({"perception": worker.factory})
    task_monitor.register("perception", worker.factory())
    task_monitor.enable(["perception"])
    for n in (2, 3):
        worker.fail(RuntimeError("Connection lost"))
        await worker.started(n)
    stats = task_monitor.get_component_stats()
    last = stats["perception"]["last_restart_time"]
    assert isinstance(last, float)
    assert stats == {
        "perception": {
            "enabled": True,
            "restart_count": 2,
            "is_restarting": False,
            "task_done": False,
            "task_cancelled": False,
            "last_restart_time": last,
        }
    }
    await task_monitor.close()


async def test_seed_restart_log_lines_word_for_word() -> None:
    """The seed's INFO lines, with its defaults (2 s, then 4 s: this test waits the 2 s)."""
    worker = Worker()
    monitor = TaskMonitor()
    monitor.set_restart_factories({"perception": worker.factory})
    monitor.register("perception", worker.factory())
    monitor.enable(["perception"])
    with watching() as logs:
        worker.fail(RuntimeError("Connection lost"))
        first = await logs.next(says("Restarting"))
        assert first.getMessage() == "Restarting component perception (attempt 1) after 2.0s delay"
        done = await logs.next(says("Successfully"))
        assert done.getMessage() == "Successfully restarted component perception"
        assert extra(done, "component", "new_task_id", "restart_count") == (
            "perception",
            id(worker.tasks[1]),
            1,
        )
        worker.fail(RuntimeError("Connection lost"))
        second = await logs.next(says("Restarting"))
    await monitor.close()
    assert second.levelno == logging.INFO
    assert second.getMessage() == "Restarting component perception (attempt 2) after 4.0s delay"
    assert extra(second, "component", "attempt", "backoff", "reason") == (
        "perception",
        2,
        4.0,
        "RuntimeError: Connection lost",
    )
    assert len(worker.tasks) == 2  # close() cancelled the pending 4 s restart
    assert only_this_task_left()


async def test_rate_limit_stops_auto_restart_with_the_seeds_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="treadle.compat.task_monitor")
    worker = Worker()
    monitor = TaskMonitor(max_restart_attempts=5, base_backoff=0.0)
    monitor.set_restart_factories({"perception": worker.factory})
    monitor.register("perception", worker.factory())
    monitor.enable(["perception"])
    with watching() as logs:
        for n in range(2, 7):
            worker.fail(RuntimeError("Persistent failure"))
            await worker.started(n)
        worker.fail(RuntimeError("Persistent failure"))
        limit = await logs.next(says("Component perception has exceeded"))
    assert limit.levelno == logging.ERROR
    assert limit.getMessage() == (
        "Component perception has exceeded restart limit (5 attempts per hour). "
        "Stopping auto-restart."
    )
    assert extra(limit, "component", "restart_count", "reason") == (
        "perception",
        5,
        "RuntimeError: Persistent failure",
    )
    assert [r.getMessage() for r in caplog.records].count(limit.getMessage()) == 1
    assert len(worker.tasks) == 6  # the first and five restarts; the sixth failure stays down
    stats = monitor.get_component_stats()["perception"]
    assert (stats["restart_count"], stats["task_done"], stats["is_restarting"]) == (5, True, False)
    await monitor.close()


# -- the pure rules, over all inputs ------------------------------------------------------------


@given(
    base=st.floats(min_value=0, max_value=100, allow_nan=False),
    extra=st.floats(min_value=0, max_value=1000, allow_nan=False),
    attempt=st.integers(min_value=1, max_value=2000),
)
def test_backoff_doubles_from_base_up_to_max(base: float, extra: float, attempt: int) -> None:
    monitor = TaskMonitor(base_backoff=base, max_backoff=base + extra)
    grown = base * 2.0 ** (attempt - 1) if attempt <= 1000 else float("inf")
    expected = 0.0 if base == 0 else min(base + extra, grown)
    assert monitor.restart_delay(attempt) == expected
    assert monitor.restart_delay(attempt + 1) >= monitor.restart_delay(attempt)


async def _drive(max_attempts: int, gaps: list[float]) -> list[bool]:
    """Fail a component at the given clock gaps; whether each failure was restarted."""
    clock = FakeClock()
    worker = Worker()
    monitor = TaskMonitor(max_attempts, base_backoff=0.0, clock=clock)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.enable(["c"])
    monitor.register("c", worker.factory())
    outcomes = []
    with watching() as logs:
        for gap in gaps:
            clock.now += gap
            worker.fail(RuntimeError("boom"))
            record = await logs.next(lambda r: r.getMessage().startswith(("Succ", "Component c")))
            restarted = record.getMessage().startswith("Succ")
            outcomes.append(restarted)
            if not restarted:  # the caller starts it again by hand, as the seed's would
                monitor.register("c", worker.factory())
    await monitor.close()
    return outcomes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    max_attempts=st.integers(min_value=0, max_value=6),
    gaps=st.lists(st.floats(min_value=0, max_value=2400, allow_nan=False), max_size=25),
)
def test_at_most_max_restarts_in_any_hour(max_attempts: int, gaps: list[float]) -> None:
    outcomes = asyncio.run(_drive(max_attempts, gaps))
    now, accepted = 1000.0, list[float]()
    for gap, restarted in zip(gaps, outcomes, strict=True):
        now += gap
        in_the_last_hour = sum(1 for t in accepted if t > now - 3600)
        assert restarted == (in_the_last_hour < max_attempts)
        if restarted:
            accepted.append(now)


# -- restarts, for real ----------------------------------------------------------------------------


async def test_failing_component_is_restarted_after_each_growing_delay() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.01, max_backoff=0.04)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    loop = asyncio.get_running_loop()
    delays, waited = [], []
    with watching() as logs:
        for n in range(2, 6):
            failed_at = loop.time()
            worker.fail(ValueError(f"failure {n - 1}"))
            delays.append(extra(await logs.next(says("Restarting")), "backoff")[0])
            await worker.started(n)
            waited.append(loop.time() - failed_at)
    assert delays == [0.01, 0.02, 0.04, 0.04]
    assert all(w >= d for w, d in zip(waited, delays, strict=True)), (waited, delays)
    assert monitor.get_component_stats()["c"]["restart_count"] == 4
    await monitor.close()


async def test_is_restarting_lets_one_restart_through_a_race() -> None:
    """During the backoff the caller registers tasks of its own that fail at once: their
    ends must not start more restarts; exactly one factory call follows."""
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.3)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("first"))
        await logs.next(says("Restarting"))
        assert monitor.get_component_stats()["c"]["is_restarting"]
        racers = []
        for i in range(10):
            racer = worker.factory()
            monitor.register("c", racer)
            worker.fail(RuntimeError(f"racer {i}"))
            racers.append(racer)
        await asyncio.wait(racers)  # their done-callbacks (the monitor's first) have run
        await logs.next(says("Component c is already restarting"))
        assert monitor.get_component_stats()["c"]["is_restarting"]
        await worker.started(12)  # 1 first + 10 racers + 1 restart
        await logs.next(says("Successfully"))
    assert logs.messages().count("Restarting component c (attempt 1) after 0.3s delay") == 1
    assert not any(m.startswith("Restarting component c (attempt 2") for m in logs.messages())
    stats = monitor.get_component_stats()["c"]
    assert (stats["restart_count"], stats["is_restarting"], stats["task_done"]) == (1, False, False)
    await monitor.close()
    assert len(worker.tasks) == 12


async def test_a_live_task_registered_during_the_backoff_makes_the_restart_moot() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.01)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("Restarting"))
        monitor.register("c", worker.factory())  # the caller restarted it by hand
        await logs.next(says("Component c is running again; restart skipped"))
    assert len(worker.tasks) == 2
    assert not monitor.get_component_stats()["c"]["task_done"]
    await monitor.close()


async def test_a_task_cancelled_by_someone_else_is_restarted() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.001)
    monitor.set_restart_factories({"c": worker.factory})
    first = worker.factory()
    monitor.register("c", first)
    monitor.enable(["c"])
    with watching() as logs:
        first.cancel("operator")
        restarting = await logs.next(says("Restarting"))
        await worker.started(2)
    assert extra(restarting, "reason") == ("CancelledError: operator",)
    stats = monitor.get_component_stats()["c"]
    assert (stats["restart_count"], stats["task_done"], stats["task_cancelled"]) == (
        1,
        False,
        False,
    )
    await monitor.close()
    assert monitor.get_component_stats()["c"]["task_cancelled"]


async def test_components_not_enabled_are_not_restarted() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.0)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.register("c", worker.factory())
    monitor.enable(["other"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        ended = await logs.next(says("Component c ended"))
    assert ended.levelno == logging.WARNING
    assert ended.getMessage() == (
        "Component c ended (RuntimeError: down); auto-restart is not enabled for it"
    )
    assert monitor.get_component_stats()["c"] == {
        "enabled": False,
        "restart_count": 0,
        "is_restarting": False,
        "task_done": True,
        "task_cancelled": False,
        "last_restart_time": None,
    }
    assert len(worker.tasks) == 1
    await monitor.close()


async def test_a_normal_return_is_not_a_failure() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.0)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.enable("c")  # one name as a string is one name
    monitor.register("c", worker.factory())
    with watching() as logs:
        worker.finish()
        await logs.next(says("Component c finished"))
    assert monitor.get_component_stats()["c"]["enabled"]
    assert len(worker.tasks) == 1
    await monitor.close()


async def test_no_factory_means_no_restart() -> None:
    monitor = TaskMonitor(base_backoff=0.0)
    worker = Worker()
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("No restart factory for component c; not restarting"))
    assert monitor.get_component_stats()["c"]["restart_count"] == 0
    await monitor.close()


async def test_a_failing_factory_is_a_failed_restart_and_is_retried() -> None:
    worker = Worker()
    calls = 0

    def flaky() -> asyncio.Task[None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("port in use")
        return worker.factory()

    monitor = TaskMonitor(base_backoff=0.001)
    monitor.set_restart_factories({"c": flaky})
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        failed = await logs.next(says("Failed to restart component c"))
        second = await logs.next(says("Restarting"))
        await worker.started(2)
    assert failed.levelno == logging.ERROR
    assert second.getMessage() == "Restarting component c (attempt 2) after 0.002s delay"
    assert extra(second, "reason") == ("OSError: port in use",)
    assert monitor.get_component_stats()["c"]["restart_count"] == 2
    await monitor.close()


# -- close ---------------------------------------------------------------------------------------


async def test_close_cancels_every_task_and_every_pending_restart() -> None:
    workers = {name: Worker() for name in ("a", "b", "c")}
    monitor = TaskMonitor(base_backoff=30.0)
    monitor.set_restart_factories({n: w.factory for n, w in workers.items()})
    for name, worker in workers.items():
        monitor.register(name, worker.factory())
    monitor.enable(workers)
    with watching() as logs:
        workers["c"].fail(RuntimeError("down"))  # c is now in a 30 s backoff
        await logs.next(says("Restarting component c"))
    assert monitor.get_component_stats()["c"]["is_restarting"]
    await asyncio.gather(monitor.close(), monitor.close())  # concurrent closes are one close
    await monitor.close()
    assert only_this_task_left()
    stats = monitor.get_component_stats()
    assert {n: (s["task_done"], s["task_cancelled"]) for n, s in stats.items()} == {
        "a": (True, True),
        "b": (True, True),
        "c": (True, False),
    }
    assert not stats["c"]["is_restarting"]
    assert [len(w.tasks) for w in workers.values()] == [1, 1, 1]  # c's restart never came
    assert "closed" in repr(monitor)
    with pytest.raises(TreadleError, match="task monitor is closed: cannot register 'd'"):
        monitor.register("d", workers["a"].tasks[0])
    with pytest.raises(TreadleError, match="closed"):
        monitor.enable(["a"])


async def test_a_closed_monitor_ignores_ends_during_close() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.0)
    monitor.set_restart_factories({"c": worker.factory})
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    await monitor.close()
    assert len(worker.tasks) == 1  # the cancellation by close() is not a failure to restart


def test_lifecycle_table() -> None:
    states = list(restarts._State)
    for old in states:
        for new in states:
            monitor = TaskMonitor()
            monitor._state = old
            if new in restarts._TRANSITIONS[old]:
                monitor._set_state(new)
                assert monitor._state is new
            else:
                with pytest.raises(InvalidTransition, match=f"{old.value} to {new.value}"):
                    monitor._set_state(new)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"base_backoff": -1.0}, "base_backoff"),
        ({"max_backoff": float("nan")}, "max_backoff"),
        ({"base_backoff": 10.0, "max_backoff": 5.0}, "max_backoff"),
        ({"max_restart_attempts": -1}, "max_restart_attempts"),
    ],
)
def test_bad_arguments_name_the_seeds_parameter(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        TaskMonitor(**kwargs)
    assert info.value.field == field


def test_public_face_exports_what_it_says() -> None:
    public = {n for n in vars(task_monitor) if not n.startswith("_")}
    assert public - {"annotations"} == set(task_monitor.__all__)


# -- io_semaphore ---------------------------------------------------------------------------------


def test_default_count_is_one_per_cpu_in_a_fresh_process() -> None:
    code = (
        "from treadle.compat.task_monitor import get_io_semaphore_stats as s; print(s()['count'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) == max(1, os.cpu_count() or 8)


async def test_io_semaphore_admits_n_and_the_next_one_waits(io_count: int) -> None:
    set_io_semaphore_count(3)
    gate = asyncio.Event()
    inside: set[int] = set()
    most = 0
    entered = [asyncio.Event() for _ in range(4)]
    asking = asyncio.Event()

    async def io(i: int) -> None:
        nonlocal most
        if i == 3:
            asking.set()  # and in the same step, asks: once we see it, it is queued
        async with io_semaphore():
            inside.add(i)
            most = max(most, len(inside))
            entered[i].set()
            await gate.wait()
            inside.discard(i)

    tasks = [asyncio.create_task(io(i)) for i in range(4)]
    await asyncio.gather(asking.wait(), *(entered[i].wait() for i in range(3)))
    assert inside == {0, 1, 2}
    assert get_io_semaphore_stats() == {"available": 0, "waiting": 1, "count": 3, "in_use": 3}
    assert default_limits().get(task_monitor.IO_LIMITER).waiting == 1  # the process-wide one
    gate.set()
    await asyncio.gather(*tasks)
    assert most == 3
    assert entered[3].is_set()
    assert get_io_semaphore_stats() == {"available": 3, "waiting": 0, "count": 3, "in_use": 0}


async def test_set_io_semaphore_count_takes_effect_at_once(io_count: int) -> None:
    set_io_semaphore_count(1)
    gate = asyncio.Event()
    entered = [asyncio.Event() for _ in range(3)]
    asked = [asyncio.Event() for _ in range(3)]

    async def io(i: int) -> None:
        asked[i].set()
        async with io_semaphore():
            entered[i].set()
            await gate.wait()

    tasks = [asyncio.create_task(io(i)) for i in range(3)]
    await asyncio.gather(entered[0].wait(), *(a.wait() for a in asked))
    assert get_io_semaphore_stats()["waiting"] == 2
    set_io_semaphore_count(3)  # growing wakes both waiters now
    await asyncio.gather(entered[1].wait(), entered[2].wait())
    assert get_io_semaphore_stats() == {"available": 0, "waiting": 0, "count": 3, "in_use": 3}
    set_io_semaphore_count(2)  # shrinking lets the holders finish
    assert get_io_semaphore_stats() == {"available": 0, "waiting": 0, "count": 2, "in_use": 3}
    gate.set()
    await asyncio.gather(*tasks)
    assert get_io_semaphore_stats()["available"] == 2
    with pytest.raises(ConfigError):
        set_io_semaphore_count(0)


async def test_with_io_semaphore_is_a_semaphore_on_the_same_limit(io_count: int) -> None:
    set_io_semaphore_count(2)
    semaphore = await with_io_semaphore()
    assert not semaphore.locked()
    assert await semaphore.acquire() is True
    async with semaphore:
        assert semaphore.locked()
        asking = asyncio.Event()

        async def take() -> bool:
            asking.set()
            return await semaphore.acquire()

        waiter = asyncio.create_task(take())
        await asking.wait()
        assert get_io_semaphore_stats()["waiting"] == 1
        assert not waiter.done()
    assert await waiter is True  # the block's permit went straight to the waiter
    semaphore.release()
    semaphore.release()
    assert get_io_semaphore_stats() == {"available": 2, "waiting": 0, "count": 2, "in_use": 0}


# -- "Supervisor Integration": the agent Supervisor's pattern, TaskGroup replaced ------------


class AgentSupervisor:
    """The seed's agent Supervisor as its README describes it: six components, each its own
    task (no TaskGroup: one failing cancels no sibling), four enabled for restart, the
    monitor closed in the ``finally`` of ``run``, which returns the same history."""

    COMPONENTS = (
        "perception",
        "perception_watchdog",
        "decision_loop",
        "actuation_loop",
        "pause_handler",
        "load_shedding_monitor",
    )
    RESTARTABLE = ("perception", "decision_loop", "actuation_loop", "perception_watchdog")

    def __init__(self) -> None:
        self.workers = {name: Worker() for name in self.COMPONENTS}
        self.history: list[str] = []
        self.stop = asyncio.Event()
        self._task_monitor = TaskMonitor(max_restart_attempts=5, base_backoff=0.01)

    async def run(self) -> list[str]:
        self.history.append("on_run_start")
        monitor = self._task_monitor
        try:
            monitor.set_restart_factories({n: w.factory for n, w in self.workers.items()})
            for name, worker in self.workers.items():
                monitor.register(name, worker.factory())
            monitor.enable(list(self.RESTARTABLE))
            await self.stop.wait()
        finally:
            await monitor.close()
            self.history.append("on_run_end")
        return self.history


async def test_the_supervisor_pattern_restarts_one_component_and_spares_its_siblings() -> None:
    agent = AgentSupervisor()
    run = asyncio.create_task(agent.run())
    perception = agent.workers["perception"]
    await agent.workers["load_shedding_monitor"].started(1)  # the last one registered
    siblings = {n: w.current for n, w in agent.workers.items() if n != "perception"}
    with watching() as logs:
        perception.fail(RuntimeError("Connection lost"))
        await logs.next(says("Successfully restarted"))
    assert len(perception.tasks) == 2
    assert not perception.current.done()
    assert all(not task.done() for task in siblings.values())  # nothing cascaded
    stats = agent._task_monitor.get_component_stats()
    assert stats["perception"]["restart_count"] == 1
    assert {n for n, s in stats.items() if s["enabled"]} == set(AgentSupervisor.RESTARTABLE)

    with watching() as logs:  # not enabled: it stays down, and so does nothing else
        agent.workers["pause_handler"].fail(RuntimeError("boom"))
        await asyncio.wait({agent.workers["pause_handler"].current})
    assert not any(says("Restarting")(r) for r in logs.records)
    assert len(agent.workers["pause_handler"].tasks) == 1

    agent.stop.set()
    assert await run == ["on_run_start", "on_run_end"]  # the same history, hooks intact
    assert all(w.current.done() for w in agent.workers.values())  # clean shutdown
    assert only_this_task_left()
