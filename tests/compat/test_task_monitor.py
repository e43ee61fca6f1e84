"""treadle.compat.task_monitor: seed 003's examples as written, then the real module's
behaviour (``jennylv001/ag`` at ``c0fae77``: ``agent/task_monitor.py``, ``concurrency/io.py``).

Each scenario pins one behaviour of the real module, named in its docstring; where the real
module is buggy the test pins treadle's behaviour and says so (docs/seeds.md lists them).
Every task here is a real asyncio Task; waits are on events (a factory call, a log record, a
supervisor state), never on a sleep that hopes something has happened by then.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from treadle import ConfigError, State
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

from ..supervisor._support import wait_state
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
    assert before["in_use"] in (0, None)
    count = before["count"] or max(1, os.cpu_count() or 8)
    yield count
    set_io_semaphore_count(count)
    assert get_io_semaphore_stats()["in_use"] == 0


def only_this_task_left() -> bool:
    return asyncio.all_tasks() == {asyncio.current_task()}


def monitored(
    worker: Worker, name: str = "c", *, enabled: bool = True, **kwargs: Any
) -> TaskMonitor:
    """A monitor with ``worker``'s factory and its first task registered as ``name``."""
    monitor = TaskMonitor(**kwargs)
    monitor.set_restart_factories({name: worker.factory})
    monitor.register(name, worker.factory())
    if enabled:
        monitor.enable([name])
    return monitor


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
    assert get_io_semaphore_stats() == {
        "initialized": True,
        "count": 10,
        "available": 10,
        "waiting": 0,
        "in_use": 0,
    }


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
    """The seed's INFO lines, with its defaults (2 s, then 4 s: this test waits the 2 s).
    The reason is the real module's ``str(exception)``: the seed's "RuntimeError: ..." is not
    what its code writes."""
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
        "Connection lost",
    )
    assert len(worker.tasks) == 2  # close() cancelled the pending 4 s restart
    assert only_this_task_left()


async def test_rate_limit_stops_auto_restart_with_the_seeds_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="agent.task_monitor")
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
        "Persistent failure",
    )
    assert [r.getMessage() for r in caplog.records].count(limit.getMessage()) == 1
    assert len(worker.tasks) == 6  # the first and five restarts; the sixth failure stays down
    stats = monitor.get_component_stats()["perception"]
    assert (stats["restart_count"], stats["task_done"], stats["is_restarting"]) == (5, True, False)
    await monitor.close()


# -- the rules, over all inputs ---------------------------------------------------------------


@given(
    base=st.floats(min_value=0, max_value=100, allow_nan=False),
    extra=st.floats(min_value=0, max_value=1000, allow_nan=False),
    attempt=st.integers(min_value=1, max_value=2000),
)
@example(base=5e-324, extra=1.0, attempt=1001)  # still below the cap after 1,000 doublings
def test_backoff_doubles_from_base_up_to_max(base: float, extra: float, attempt: int) -> None:
    """The real module's ``min(base_backoff * 2**n, max_backoff)``, n restarts made before."""
    monitor = TaskMonitor(base_backoff=base, max_backoff=base + extra)
    try:  # a power past float range is past any cap (the real module raises there)
        grown = base * 2.0 ** (attempt - 1)
    except OverflowError:
        grown = float("inf")
    expected = 0.0 if base == 0 else min(base + extra, grown)
    assert monitor.restart_delay(attempt) == expected
    assert monitor.restart_delay(attempt + 1) >= monitor.restart_delay(attempt)


async def _drive(max_attempts: int, gaps: list[float]) -> list[bool]:
    """Fail a component at the given clock gaps; whether each failure was restarted."""
    clock = FakeClock()
    worker = Worker()
    monitor = monitored(worker, max_restart_attempts=max_attempts, base_backoff=0.0, clock=clock)
    outcomes = []
    with watching() as logs:
        for gap in gaps:
            clock.now += gap
            worker.fail(RuntimeError("boom"))
            record = await logs.next(says(("Successfully", "Component c has exceeded")))
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
    """ "Maximum restart attempts per component per hour", as a sliding hour (treadle's
    Intensity). The real module keeps counting until an hour passes with no restart at all,
    so a component failing every 50 minutes is given up after five: a bug, not kept."""
    outcomes = asyncio.run(_drive(max_attempts, gaps))
    now, accepted = 1000.0, list[float]()
    for gap, restarted in zip(gaps, outcomes, strict=True):
        now += gap
        in_the_last_hour = sum(1 for t in accepted if t > now - 3600)
        assert restarted == (in_the_last_hour < max_attempts)
        if restarted:
            accepted.append(now)


async def test_counts_and_backoff_start_afresh_after_an_hour() -> None:
    """The real module resets a component's count, and with it the backoff, when its last
    restart is more than an hour old (treadle: when the restarted task ran an hour). Before,
    treadle kept doubling for the life of the process: every restart after the fifth, 60 s."""
    clock = FakeClock()
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.001, max_backoff=0.004, clock=clock)
    restarting = []
    with watching() as logs:
        for n in range(2, 10):
            if n in (5, 9):  # the task running now runs an hour before it fails
                await monitor.supervisor.wait_running("c")
                clock.now += 3600
            worker.fail(RuntimeError("boom"))
            restarting.append(await logs.next(says("Restarting")))
            await worker.started(n)
    attempts = [extra(r, "attempt", "backoff") for r in restarting]
    assert attempts == [
        (1, 0.001),
        (2, 0.002),
        (3, 0.004),
        (1, 0.001),  # an hour's run: counted afresh
        (2, 0.002),
        (3, 0.004),
        (4, 0.004),  # capped at max_backoff
        (1, 0.001),
    ]
    assert monitor.get_component_stats()["c"]["restart_count"] == 1
    await monitor.close()


# -- restarts, for real ----------------------------------------------------------------------------


async def test_failing_component_is_restarted_after_each_growing_delay() -> None:
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.01, max_backoff=0.04)
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
    # uvloop's clock counts whole milliseconds: 1.02 - 1.00 may come out at 0.01999...
    assert all(w >= d - 0.001 for w, d in zip(waited, delays, strict=True)), (waited, delays)
    assert monitor.get_component_stats()["c"]["restart_count"] == 4
    await monitor.close()


async def test_restart_count_rises_when_the_restarted_task_exists() -> None:
    """The real module adds to ``_restart_counts`` after its factory made the task, not when
    it decides to restart; ``is_restarting`` is set for the backoff."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.05)
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("Restarting"))
        during = monitor.get_component_stats()["c"]
        await logs.next(says("Successfully"))
    after = monitor.get_component_stats()["c"]
    assert (during["restart_count"], during["is_restarting"], during["task_done"]) == (
        0,
        True,
        True,
    )
    assert during["last_restart_time"] is None
    assert (after["restart_count"], after["is_restarting"], after["task_done"]) == (1, False, False)
    assert isinstance(after["last_restart_time"], float)
    await monitor.close()


async def test_backoff_is_written_in_the_types_it_was_given() -> None:
    """The real line is an f-string of ``min(base_backoff * 2**n, max_backoff)``: integer
    arguments say ``0s``, float ones ``0.0s``."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0, max_backoff=60)
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        record = await logs.next(says("Restarting"))
        await worker.started(2)
    assert record.getMessage() == "Restarting component c (attempt 1) after 0s delay"
    assert extra(record, "backoff") == (0,)
    await monitor.close()


async def test_each_end_of_a_task_has_the_real_modules_line() -> None:
    """``_on_task_done``: an exception is an ERROR with ``str(exception)``; a cancellation a
    DEBUG line, with the reason "Task was cancelled"; a normal return an INFO line and no
    restart. All on the logger ``agent.task_monitor``."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.0)
    with watching() as logs:
        worker.fail(RuntimeError("Connection lost"))
        failed = await logs.next(says("Task for component c"))
        first = await logs.next(says("Restarting"))
        await worker.started(2)
        worker.current.cancel()
        cancelled = await logs.next(says("Task for component c"))
        second = await logs.next(says("Restarting"))
        await worker.started(3)
        worker.finish()
        finished = await logs.next(says("Task for component c"))
    assert {r.name for r in logs.records} == {"agent.task_monitor"}
    assert (failed.levelno, failed.getMessage()) == (
        logging.ERROR,
        "Task for component c failed with exception: Connection lost",
    )
    assert extra(first, "reason") == ("Connection lost",)
    assert (cancelled.levelno, cancelled.getMessage()) == (
        logging.DEBUG,
        "Task for component c was cancelled",
    )
    assert extra(second, "reason") == ("Task was cancelled",)
    assert (finished.levelno, finished.getMessage()) == (
        logging.INFO,
        "Task for component c completed normally",
    )
    assert len(worker.tasks) == 3
    await monitor.close()


async def test_configuration_has_the_real_modules_lines() -> None:
    """``register``, ``set_restart_factories``, ``enable`` (newly enabled names only) and
    ``close`` each write the real module's INFO (close: and DEBUG) lines."""
    worker = Worker()
    monitor = TaskMonitor()
    with watching() as logs:
        monitor.set_restart_factories({"c": worker.factory})
        monitor.register("c", worker.factory())
        monitor.enable(["c"])
        monitor.enable(["c"])
        await monitor.close()
    assert logs.messages() == [
        "Set restart factories for components: ['c']",
        "Registered task for component: c",
        "Enabled restart monitoring for components: ['c']",
        "Closing TaskMonitor, cancelling all tasks",
        "Cancelling task for component: c",
    ]


async def test_set_restart_factories_merges() -> None:
    """``_restart_factories.update(factories)``: a later call adds, it does not replace."""
    a, b = Worker(), Worker()
    monitor = TaskMonitor(base_backoff=0.0)
    monitor.set_restart_factories({"a": a.factory})
    monitor.set_restart_factories({"b": b.factory})
    monitor.register("a", a.factory())
    monitor.register("b", b.factory())
    monitor.enable(["a", "b"])
    a.fail(RuntimeError("down"))
    b.fail(RuntimeError("down"))
    await asyncio.gather(a.started(2), b.started(2))
    await monitor.close()


async def test_registering_again_cancels_the_task_before() -> None:
    """The real module warns and cancels the task registered before under that name. Its
    cancellation then restarts the component there (its done-callback still fires), and the
    restart's task replaces the caller's without cancelling it: treadle lets the replaced
    task go, counts no restart, and watches the new one."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.0)
    first = worker.current
    with watching() as logs:
        monitor.register("c", worker.factory())
        replaced = await logs.next(says("Component c already"))
        await asyncio.wait({first})
        worker.fail(RuntimeError("down"))  # the new one fails: restarted
        await logs.next(says("Successfully"))
    assert (replaced.levelno, replaced.getMessage()) == (
        logging.WARNING,
        "Component c already registered, replacing existing task",
    )
    assert first.cancelled()
    assert len(worker.tasks) == 3
    assert logs.messages().count("Restarting component c (attempt 1) after 0.0s delay") == 1
    assert monitor.get_component_stats()["c"]["restart_count"] == 1
    await monitor.close()


async def test_a_failure_just_after_a_restart_is_restarted() -> None:
    """The real module keeps ``is_restarting`` set for a 3 s grace period after a restart and
    drops any failure in it: the component stays down for good. A bug: treadle restarts it."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.0)
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("Successfully"))
        worker.fail(RuntimeError("down again"))
        again = await logs.next(says("Restarting"))
        await worker.started(3)
    assert extra(again, "attempt", "reason") == (2, "down again")
    await monitor.close()


async def test_is_restarting_lets_one_restart_through_a_race() -> None:
    """During the backoff the caller registers tasks of its own that fail at once: the
    restart already decided is the only one (the real module: its ``is_restarting``), and
    since the last of them has ended when it comes, its factory makes the task."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.3)
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
        await asyncio.wait(racers)
        assert monitor.get_component_stats()["c"]["is_restarting"]
        await worker.started(12)  # 1 first + 10 racers + 1 restart
        await logs.next(says("Successfully"))
    assert logs.messages().count("Restarting component c (attempt 1) after 0.3s delay") == 1
    assert not any(m.startswith("Restarting component c (attempt 2") for m in logs.messages())
    stats = monitor.get_component_stats()["c"]
    assert (stats["restart_count"], stats["is_restarting"], stats["task_done"]) == (1, False, False)
    await monitor.close()
    assert len(worker.tasks) == 12


async def test_a_live_task_registered_during_the_backoff_is_the_restart() -> None:
    """The real module's pending restart replaces a task the caller registered during the
    backoff without cancelling it (it runs on, unwatched): treadle's restart takes the
    caller's task instead of calling the factory, and counts as the restart it is."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.01)
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("Restarting"))
        monitor.register("c", worker.factory())  # the caller restarted it by hand
        await monitor.supervisor.wait_running("c")
    assert len(worker.tasks) == 2
    stats = monitor.get_component_stats()["c"]
    assert (stats["task_done"], stats["restart_count"]) == (False, 1)
    assert isinstance(stats["last_restart_time"], float)
    assert monitor._tasks["c"] is worker.current
    await monitor.close()


async def test_a_task_cancelled_by_someone_else_is_restarted() -> None:
    """``task.cancelled()`` in the done-callback restarts an enabled component, with the
    reason "Task was cancelled"."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.001)
    with watching() as logs:
        worker.current.cancel("operator")
        restarting = await logs.next(says("Restarting"))
        await worker.started(2)
    assert extra(restarting, "reason") == ("Task was cancelled",)
    stats = monitor.get_component_stats()["c"]
    assert (stats["restart_count"], stats["task_done"], stats["task_cancelled"]) == (
        1,
        False,
        False,
    )
    await monitor.close()
    assert worker.current.cancelled()


async def test_components_not_enabled_are_not_restarted() -> None:
    worker = Worker()
    monitor = monitored(worker, enabled=False, base_backoff=0.0)
    monitor.enable(["other"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        ended = await logs.next(says("Task for component c"))
    assert ended.levelno == logging.ERROR
    assert ended.getMessage() == "Task for component c failed with exception: down"
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


async def test_enablement_is_read_when_a_task_ends() -> None:
    """The real module checks ``_enabled_components`` in the task's done-callback: its own
    code turns restart off by discarding a name there (``final_validation.py``)."""
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.0)
    monitor._enabled_components.discard("c")
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("Task for component c"))
        await wait_state(monitor.supervisor, "c", State.FAILED)
    assert not any(says("Restarting")(r) for r in logs.records)
    monitor.enable(["c"])
    monitor.register("c", worker.factory())
    worker.fail(RuntimeError("down"))
    await worker.started(3)
    await monitor.close()


async def test_a_normal_return_is_not_a_failure() -> None:
    worker = Worker()
    monitor = monitored(worker, enabled=False, base_backoff=0.0)
    monitor.enable("c")  # one name as a string is one name (the real module: "c" is {"c"})
    with watching() as logs:
        worker.finish()
        await logs.next(says("Task for component c completed normally"))
    assert monitor.get_component_stats()["c"]["enabled"]
    assert len(worker.tasks) == 1
    await monitor.close()


async def test_no_factory_is_a_failed_restart_tried_again_up_to_the_limit() -> None:
    """The real module logs "No restart factory found" after the backoff and gives up for
    good. treadle retries by backoff and the limit, as for any failed restart, so a factory
    set meanwhile is used (the next test)."""
    worker = Worker()
    monitor = TaskMonitor(max_restart_attempts=2, base_backoff=0.0)
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        limit = await logs.next(says("Component c has exceeded"))
    assert logs.messages(logging.INFO) == [
        "Task for component c failed with exception: down",
        "Restarting component c (attempt 1) after 0.0s delay",
        "No restart factory found for component c",
        "Restarting component c (attempt 2) after 0.0s delay",
        "No restart factory found for component c",
        limit.getMessage(),
    ]
    assert extra(limit, "reason") == ("No restart factory found for component c",)
    stats = monitor.get_component_stats()["c"]
    assert (stats["restart_count"], stats["is_restarting"], stats["task_done"]) == (2, False, True)
    await monitor.close()


async def test_a_factory_set_during_the_backoff_is_used() -> None:
    worker = Worker()
    monitor = TaskMonitor(base_backoff=0.001)
    monitor.register("c", worker.factory())
    monitor.enable(["c"])
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        await logs.next(says("No restart factory found for component c"))
        monitor.set_restart_factories({"c": worker.factory})  # before the 2 ms backoff ends
        await worker.started(2)
    assert monitor.get_component_stats()["c"]["restart_count"] == 2
    await monitor.close()


async def test_a_failing_factory_is_a_failed_restart_and_is_retried() -> None:
    """The real module logs "Failed to create new task" and gives up for good; treadle
    retries, with the next backoff."""
    worker = Worker()
    calls = 0

    def flaky() -> asyncio.Task[None]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("port in use")
        return worker.factory()

    monitor = monitored(worker, base_backoff=0.001)
    monitor.set_restart_factories({"c": flaky})
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        failed = await logs.next(says("Failed to create new task for component c"))
        second = await logs.next(says("Restarting"))
        await worker.started(2)
    assert (failed.levelno, failed.getMessage()) == (
        logging.ERROR,
        "Failed to create new task for component c: port in use",
    )
    assert second.getMessage() == "Restarting component c (attempt 2) after 0.002s delay"
    assert extra(second, "reason") == ("port in use",)
    assert monitor.get_component_stats()["c"]["restart_count"] == 2
    await monitor.close()


async def test_a_factory_must_return_a_task() -> None:
    """``isinstance(new_task, asyncio.Task)`` or the real module's error line (it then gives
    up; treadle retries, and closes the coroutine so that it is not reported unawaited)."""
    worker = Worker()
    made = False

    def coroutine_not_task() -> Any:
        nonlocal made
        if made:
            return worker.factory()
        made = True
        return asyncio.sleep(0)

    monitor = monitored(worker, base_backoff=0.0)
    monitor.set_restart_factories({"c": coroutine_not_task})
    with watching() as logs:
        worker.fail(RuntimeError("down"))
        wrong = await logs.next(says("Factory for c"))
        await worker.started(2)
    assert (wrong.levelno, wrong.getMessage()) == (
        logging.ERROR,
        "Factory for c returned non-Task object: <class 'coroutine'>",
    )
    await monitor.close()


async def test_the_names_the_real_projects_code_reads() -> None:
    """The real agent Supervisor reads ``_task_monitor._tasks.get(name)`` for the current
    tasks; the real tests read ``_restart_counts``, ``_max_restart_attempts``, ``_closed``."""
    worker = Worker()
    monitor = monitored(worker, max_restart_attempts=3, base_backoff=0.0)
    assert monitor._tasks == {"c": worker.current}
    assert (monitor._restart_counts, monitor._max_restart_attempts) == ({"c": 0}, 3)
    worker.fail(RuntimeError("down"))
    await worker.started(2)
    assert monitor._tasks.get("c") is worker.current
    assert monitor._restart_counts == {"c": 1}
    assert not monitor._closed
    await monitor.close()
    assert monitor._closed
    assert monitor._tasks == {}


async def test_a_component_name_need_not_be_a_child_name() -> None:
    """Any string names a component in the real module; treadle's child names may not hold
    ``[ ] * ?``, so the child's name is escaped."""
    worker = Worker()
    monitor = monitored(worker, "worker[1]*", base_backoff=0.0)
    worker.fail(RuntimeError("down"))
    await worker.started(2)
    assert list(monitor.get_component_stats()) == ["worker[1]*"]
    assert monitor.supervisor.children == ["worker%5B1%5D%2A"]
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
    await asyncio.gather(monitor.close(), monitor.close())  # the second waits for the first
    await monitor.close()
    assert only_this_task_left()
    assert [(w.tasks[0].cancelled(), len(w.tasks)) for w in workers.values()] == [
        (True, 1),
        (True, 1),
        (False, 1),  # c had failed; its restart never came
    ]
    assert "closed" in repr(monitor)


async def test_after_close_nothing_raises_and_the_stats_are_empty() -> None:
    """The real ``close()`` clears its tasks: ``get_component_stats()`` is ``{}``; a later
    ``register`` is refused with a warning (the task is left alone); ``enable`` and
    ``set_restart_factories`` are accepted, to no effect."""
    worker = Worker()
    monitor = monitored(worker)
    await monitor.close()
    late = worker.factory()
    with watching() as logs:
        monitor.register("d", late)
        monitor.enable(["d"])
        monitor.set_restart_factories({"d": worker.factory})
    assert monitor.get_component_stats() == {}
    assert (logs.records[0].levelno, logs.records[0].getMessage()) == (
        logging.WARNING,
        "TaskMonitor is closed, ignoring registration of d",
    )
    assert not late.done()
    late.cancel()
    await asyncio.wait({late})


async def test_a_closed_monitor_ignores_ends_during_close() -> None:
    worker = Worker()
    monitor = monitored(worker, base_backoff=0.0)
    await monitor.close()
    assert len(worker.tasks) == 1  # the cancellation by close() is not a failure to restart


async def test_close_warns_of_a_task_that_ignores_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real ``close()`` waits 5 s for the cancelled tasks, then warns and returns
    (here the 5 s are 50 ms); treadle's supervisor also reports it, abandoned."""
    monkeypatch.setattr(restarts, "_CLOSE_WAIT", 0.05)
    release = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await release.wait()
                return
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    monitor = TaskMonitor()
    monitor.register("s", task)
    with watching() as logs:
        await monitor.close()
    assert logs.messages(logging.WARNING) == [
        "Some tasks did not complete within timeout during shutdown"
    ]
    assert not task.done()
    release.set()
    await task


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


def io_stats(**counts: int) -> dict[str, Any]:
    return {"initialized": True, **counts}


def test_default_count_is_one_per_cpu_in_a_fresh_process() -> None:
    """``get_io_semaphore_stats()`` before first use: ``initialized`` False and no counts;
    the semaphore is made when ``io_semaphore()`` is entered, not when it is called, with
    ``max(1, os.cpu_count())`` permits."""
    code = """
import asyncio, json
from treadle.compat.task_monitor import get_io_semaphore_stats, io_semaphore

async def main():
    before = get_io_semaphore_stats()
    block = io_semaphore()
    called = get_io_semaphore_stats()
    async with block:
        inside = get_io_semaphore_stats()
    print(json.dumps([before, called, inside]))

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, called, inside = json.loads(out.stdout)
    unused = {"initialized": False, "count": None, "available": None, "waiting": None}
    assert before == called == unused | {"in_use": None}
    cpus = max(1, os.cpu_count() or 8)
    assert inside == {
        "initialized": True,
        "count": cpus,
        "available": cpus - 1,
        "waiting": 0,
        "in_use": 1,
    }


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
    assert get_io_semaphore_stats() == io_stats(available=0, waiting=1, count=3, in_use=3)
    assert default_limits().get(task_monitor.IO_LIMITER).waiting == 1  # the process-wide one
    gate.set()
    await asyncio.gather(*tasks)
    assert most == 3
    assert entered[3].is_set()
    assert get_io_semaphore_stats() == io_stats(available=3, waiting=0, count=3, in_use=0)


async def test_set_io_semaphore_count_takes_effect_at_once(io_count: int) -> None:
    """The real module replaces its semaphore: waiters on the old one stay queued behind
    its holders, and old and new each admit ``count`` (a bug). treadle resizes the one limit:
    growing admits waiters at once, shrinking lets holders finish."""
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
    assert get_io_semaphore_stats() == io_stats(available=0, waiting=0, count=3, in_use=3)
    set_io_semaphore_count(2)  # shrinking lets the holders finish
    assert get_io_semaphore_stats() == io_stats(available=0, waiting=0, count=2, in_use=3)
    gate.set()
    await asyncio.gather(*tasks)
    assert get_io_semaphore_stats()["available"] == 2
    with pytest.raises(ValueError, match="Semaphore count must be at least 1"):
        set_io_semaphore_count(0)  # the real module's ValueError (a ConfigError here)
    assert get_io_semaphore_stats()["count"] == 2


async def test_with_io_semaphore_is_a_semaphore_on_the_same_limit(io_count: int) -> None:
    set_io_semaphore_count(2)
    semaphore = await with_io_semaphore()
    assert isinstance(semaphore, asyncio.Semaphore)  # the real module returns one
    assert await with_io_semaphore() is semaphore
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
    assert get_io_semaphore_stats() == io_stats(available=2, waiting=0, count=2, in_use=0)


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
