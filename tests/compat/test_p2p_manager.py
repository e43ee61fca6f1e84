"""treadle.compat.p2p's LoopManager: the seed's manager, as its real module behaves.

Expected values come from RingRift's ``scripts/p2p/loops/base.py`` (the seed's real
module); each test that pins one of them says what in it.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

import treadle.compat.p2p as p2p
from treadle import State
from treadle.compat._p2p_manager import startup_graph

from ._p2p_examples import PATIENT, Ordered, Scripted, StandInLoop, ran, runs

HEALTH_KEYS = {
    "status",
    "started",
    "loops_running",
    "total_loops",
    "total_runs",
    "total_errors",
    "failing_loops",
    "loop_status",
}


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


async def test_a_cycle_is_a_warning_and_every_loop_starts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The seed's _get_startup_order: a cycle is logged ("Dependency cycle detected: a -> c
    -> b -> a", its _detect_dependency_cycles) and the loops in it start all the same."""
    log: list[str] = []
    manager = p2p.LoopManager()
    manager.register(Ordered("a", log, ["c"]))
    manager.register(Ordered("b", log, ["a"]))
    manager.register(Ordered("c", log, ["b"]))
    manager.register(Ordered("free", log))
    manager.register(Ordered("me", log, ["me"]))  # a loop that needs itself: a cycle too
    with caplog.at_level(logging.WARNING, "treadle.compat.p2p"):
        started = await manager.start_all()
    assert started == dict.fromkeys(["a", "b", "c", "free", "me"], True)
    assert "[loop_manager] Dependency cycle detected: a -> c -> b -> a" in caplog.text
    assert "Dependency cycle detected: me -> me" in caplog.text
    # b -> a closed the cycle and was left out: a needs c, c needs b, so b, c, a in order
    assert [e for e in log if e[-1] in "abc"] == ["start b", "start c", "start a"]
    assert all((await manager.stop_all()).values())


def test_startup_graph() -> None:
    """Unknown names are ignored (the seed's ``if dep in self._loops``); each cycle loses
    the edge that closes it, and is reported once."""
    deps, cycles = startup_graph(
        {"a": ["c", "ghost"], "b": ["a"], "c": ["b"], "d": ["d", "d"], "e": ["a", "d"]}
    )
    assert deps == {"a": ["c"], "b": [], "c": ["b"], "d": [], "e": ["a", "d"]}
    assert cycles == [["a", "c", "b", "a"], ["d", "d"]]
    assert startup_graph({"x": ["y"], "y": []}) == ({"x": ["y"], "y": []}, [])


async def test_unknown_dependencies_are_ignored() -> None:
    manager = p2p.LoopManager()
    manager.register(Ordered("lonely", [], ["not_registered"]))
    assert await manager.start_all() == {"lonely": True}
    await manager.stop_all()


async def test_slow_on_start() -> None:
    """The seed's test_loop_startup_race: start_all waits for a slow _on_start."""

    class Slow(StandInLoop):
        async def _on_start(self) -> None:
            await asyncio.sleep(0.05)

    manager = p2p.LoopManager(name="test_manager")
    slow, fast = Slow("slow_start_loop", interval=1.0), StandInLoop("fast", interval=1.0)
    manager.register(slow)
    manager.register(fast)
    results = await manager.start_all(startup_timeout=5.0)
    assert results == {"slow_start_loop": True, "fast": True}
    assert slow.running
    assert fast.running
    await slow.ran.wait()
    await manager.stop_all()


async def test_restart_loop() -> None:
    """The seed's restart_loop: synchronous; True when running or started again; False for
    an unknown or a disabled loop; the loop runs in its own background task."""
    log: list[str] = []
    manager = p2p.LoopManager()
    loop = Ordered("a", log)
    disabled = Scripted(name="off", enabled=False)
    manager.register(loop)
    manager.register(disabled)
    assert manager.restart_loop("nope") is False
    assert manager.restart_loop("off") is False
    await manager.start_all()
    assert manager.restart_loop("a") is True  # running: nothing to do
    assert log == ["start a"]
    assert await loop.stop_async()  # a loop stopped on its own stays stopped (temporary)
    assert manager.get_status()["running_loops"] == 1  # only "off", idling
    assert manager.restart_loop("a") is True
    task = loop._task
    assert task is not None
    await runs(loop, 2)
    assert log == ["start a", "stop a", "start a"]
    assert loop.stats.total_runs >= 1  # the stats live on across runs
    assert await manager.stop_all() == {"a": True, "off": True}
    assert task.done()  # stop_all stopped it too, though not the supervisor's


async def test_restart_loop_before_start_all() -> None:
    manager = p2p.LoopManager()
    loop = Scripted(name="early", interval=60.0)
    manager.register(loop)
    assert manager.restart_loop("early") is True  # as the seed: start_background
    await runs(loop, 1)
    assert await manager.stop_all() == {}  # not started: the seed's stop_all does nothing
    assert loop.running
    assert await loop.stop_async()


async def test_restart_stopped_loops() -> None:
    """Every enabled loop that is not running is started; name -> running, for those."""
    manager = p2p.LoopManager()
    one, two = Scripted(name="one", interval=60.0), Scripted(name="two", interval=60.0)
    off = Scripted(name="off", enabled=False)
    for loop in (one, two, off):
        manager.register(loop)
    two.start_background()
    await runs(two, 1)
    assert await manager.restart_stopped_loops() == {"one": True}
    await runs(one, 1)
    assert await manager.restart_stopped_loops() == {}
    assert await one.stop_async()
    assert await two.stop_async()


async def test_a_failed_start_and_its_dependants() -> None:
    """The dependant of a loop that failed to start waits for it (treadle's dependency
    rule); restart_stopped_loops starts both."""

    class BadStart(Ordered):
        fail = True

        async def _on_start(self) -> None:
            if self.fail:
                raise RuntimeError("no config")

    manager = p2p.LoopManager()
    bad = BadStart("bad", [])
    manager.register(bad)
    manager.register(Ordered("needs_bad", [], ["bad"]))
    manager.register(Ordered("fine", []))
    started = await manager.start_all(startup_timeout=0.2)
    assert started == {"bad": False, "needs_bad": False, "fine": True}
    status = manager.get_status()
    assert (status["running_loops"], status["error_loops"]) == (1, 1)
    assert manager.get_all_status()["bad"]["status"] == "stopped"
    bad.fail = False
    assert await manager.restart_stopped_loops() == {"bad": True, "needs_bad": True}
    assert await manager.stop_all() == {"bad": True, "needs_bad": True, "fine": True}


async def test_health_check_before_start_and_when_every_loop_died() -> None:
    """The seed's LoopManager.health_check: "stopped" before start_all; "unhealthy" when
    started and no loop runs."""
    manager = p2p.LoopManager()
    loop = Scripted(name="loop1", interval=60.0)
    manager.register(loop)
    health = manager.health_check()
    assert set(health) == HEALTH_KEYS
    assert (health["status"], health["started"], health["loops_running"]) == ("stopped", False, 0)
    await manager.start_all()
    assert manager.health_check()["status"] == "healthy"
    assert await loop.stop_async()
    health = manager.health_check()
    assert (health["status"], health["loops_running"], health["total_loops"]) == (
        "unhealthy",
        0,
        1,
    )
    await manager.stop_all()
    assert manager.health_check()["status"] == "stopped"


async def test_health_check_failing_loops_and_counts() -> None:
    """Degraded when a loop fails more than half its runs (failing_loops), or when one is
    not running; the totals are the loops' stats; loop_status is get_all_status()."""
    manager = p2p.LoopManager()
    flaky = Scripted([RuntimeError("boom")], name="flaky", interval=60.0, backoff_config=PATIENT)
    steady = Scripted(name="steady", interval=60.0)
    for loop in (flaky, steady):
        manager.register(loop)
    errors = asyncio.Queue[Exception]()
    flaky.add_error_callback(errors.put_nowait)
    await manager.start_all()
    await errors.get()
    await ran(steady, 1)
    health = manager.health_check()
    assert (health["status"], health["failing_loops"]) == ("degraded", ["flaky"])
    assert (health["loops_running"], health["total_loops"]) == (2, 2)
    assert (health["total_runs"], health["total_errors"]) == (2, 1)
    assert health["loop_status"] == manager.get_all_status()
    assert json.loads(json.dumps(health)) == health  # the seed's /loops/status serves it
    assert health["loop_status"]["flaky"]["stats"]["failed_runs"] == 1
    flaky.pause()
    status = manager.get_status()
    assert (status["running_loops"], status["paused_loops"], status["error_loops"]) == (2, 1, 1)
    await manager.stop_all()


async def test_register_get_unregister(caplog: pytest.LogCaptureFixture) -> None:
    """The seed's registry: a name registered again is replaced (a warning), also after
    start_all; a loop registered late is not started; unregister does not stop a loop."""
    manager = p2p.LoopManager()
    first, second = StandInLoop("x"), StandInLoop("x")
    manager.register(first)
    with caplog.at_level(logging.WARNING, "treadle.compat.p2p"):
        manager.register(second)
    assert "[loop_manager] Loop 'x' already registered, replacing" in caplog.text
    assert manager.get("x") is second
    assert manager.loop_names == ["x"]
    assert manager.get("nope") is None
    assert manager.unregister("nope") is None
    await manager.start_all()
    assert await manager.start_all() == {"x": True}  # already started: the status
    late = StandInLoop("late")
    manager.register(late)
    assert not late.running  # not started: restart_loop or restart_stopped_loops will
    manager.register(StandInLoop("late"))  # replaced again
    assert manager.unregister("x") is second
    assert second.running  # unregistered, not stopped
    assert manager.loop_names == ["late"]
    assert await manager.stop_all() == {"late": True}
    assert not second.running  # the supervisor ran it: it stopped it
    assert await manager.start_all() == {"late": True}  # a manager starts again
    assert await manager.stop_all() == {"late": True}


async def test_a_loop_already_running_is_left_to_run() -> None:
    """As the seed's start_background_async returns the task already running it."""
    manager = p2p.LoopManager()
    loop = StandInLoop("own")
    manager.register(loop)
    task = loop.start_background()
    await loop.ran.wait()
    assert await manager.start_all() == {"own": True}
    assert manager.supervisor is not None
    assert "own" not in manager.supervisor.children
    assert await manager.stop_all() == {"own": True}
    assert task.done()


async def test_stop_all_cancels_a_loop_that_will_not_stop() -> None:
    manager = p2p.LoopManager(shutdown_timeout=0.05)
    stuck = Scripted(name="stuck")
    stuck.hang = True
    manager.register(stuck)
    await manager.start_all()
    await runs(stuck, 1)
    assert await manager.stop_all() == {"stuck": True}
    assert stuck.events == ["start", "stop"]
    assert stuck.treadle_loop.state is State.STOPPED
    assert manager.supervisor is None
