"""Supervisor.adopt: a task the caller created, supervised like any child.

Real asyncio tasks throughout; waits are on the child's transitions (its ``on_transition``
or the bus), never on sleeps.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treadle import Backoff, ConfigError, DuplicateChild, Jitter, NotPausable, State, Transition
from treadle.supervisor import Adoption, Restart, Supervisor

from ._support import FAST, wait_state


class Work:
    """Tasks whose ends the test decides: ``fail``, ``finish``; ``restart`` is a factory
    returning a new coroutine (``as_task``: a task) and counts its calls."""

    def __init__(self, *, as_task: bool = False) -> None:
        self.as_task = as_task
        self.gates: list[asyncio.Future[None]] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.calls = 0

    async def _run(self, gate: asyncio.Future[None]) -> None:
        await gate

    def coro(self) -> Any:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.gates.append(gate)
        return self._run(gate)

    def task(self) -> asyncio.Task[None]:
        self.tasks.append(asyncio.create_task(self.coro()))
        return self.tasks[-1]

    def restart(self) -> Any:
        self.calls += 1
        return self.task() if self.as_task else self.coro()

    def fail(self, exc: BaseException | None = None) -> None:
        gate = self.gates[-1]
        gate.set_exception(exc or RuntimeError("boom"))
        gate.exception()  # read here: a task replaced before it reads it leaves it unread

    def finish(self) -> None:
        self.gates[-1].set_result(None)


class Steps:
    """An ``on_transition`` observer that can be awaited: ``await steps.reach(State.X)``."""

    def __init__(self) -> None:
        self.seen: list[Transition] = []
        self._waiter: asyncio.Future[None] | None = None

    def __call__(self, t: Transition) -> None:
        self.seen.append(t)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def reach(self, *states: State, after: int = 0) -> Transition:
        """The first transition to one of ``states`` from index ``after`` on."""
        i = after
        while True:
            while i < len(self.seen):
                if self.seen[i].to in states:
                    return self.seen[i]
                i += 1
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def path(self) -> list[str]:
        return [t.to.value for t in self.seen]


def adopt(sup: Supervisor, work: Work, steps: Steps, **options: Any) -> Adoption:
    options.setdefault("backoff", FAST)
    return sup.adopt(work.task(), restart=work.restart, name="w", on_transition=steps, **options)


async def test_a_failed_adopted_task_is_restarted_through_its_factory() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps)
        first = adoption.task
        await steps.reach(State.RUNNING)
        work.fail(RuntimeError("lost"))
        backoff = await steps.reach(State.BACKOFF)
        await steps.reach(State.RUNNING, after=len(steps.seen))
        new = adoption.task
        assert new is not first
        assert isinstance(new, asyncio.Task)
        assert not new.done()
        assert new.get_name() == "w"
        assert (adoption.state, adoption.attempt, work.calls) == (State.RUNNING, 1, 1)
    assert isinstance(first.exception(), RuntimeError)
    assert (backoff.reason, backoff.attempt) == ("RuntimeError: lost", 1)
    assert adoption.task.cancelled()  # stopping the supervisor cancelled it
    assert steps.path()[-2:] == ["stopping", "stopped"]


async def test_a_factory_returning_a_task_has_it_adopted_as_it_is() -> None:
    work, steps = Work(as_task=True), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps)
        work.fail()
        await steps.reach(State.BACKOFF)
        await steps.reach(State.RUNNING, after=len(steps.seen))
        assert adoption.task is work.tasks[-1]  # the factory's own task, not a new one
        assert work.calls == 1


@pytest.mark.parametrize(
    ("restart_type", "end", "restarted"),
    [
        (Restart.PERMANENT, "finish", True),
        (Restart.TRANSIENT, "finish", False),
        (Restart.TRANSIENT, "cancel", True),  # cancelled by someone else: abnormal
        (Restart.TEMPORARY, "fail", False),
    ],
)
async def test_the_restart_type_decides_as_for_any_child(
    restart_type: Restart, end: str, restarted: bool
) -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps, restart_type=restart_type)
        await steps.reach(State.RUNNING)
        if end == "finish":
            work.finish()
        elif end == "cancel":
            adoption.task.cancel()
        else:
            work.fail()
        ended = await steps.reach(State.STOPPED, State.FAILED)
        # the decision is made in the same step as the end: it has been seen by now
        decided = steps.seen[steps.seen.index(ended) + 1 :]
        assert [t.to for t in decided][:1] == ([State.BACKOFF] if restarted else [])
        if restarted:
            await steps.reach(State.RUNNING, after=len(steps.seen))
    assert work.calls == (1 if restarted else 0)


async def test_backoff_and_intensity_as_for_any_child() -> None:
    """The child's backoff sets each delay; past the supervisor's intensity it is given up."""
    work, steps = Work(), Steps()
    backoff = Backoff(initial=0.001, max=0.004, jitter=Jitter.NONE)
    async with Supervisor(intensity=3) as sup:
        adoption = adopt(sup, work, steps, backoff=backoff)
        mark = 0
        for _ in range(4):
            await steps.reach(State.RUNNING, after=mark)
            mark = len(steps.seen)
            work.fail()
            await steps.reach(State.BACKOFF, State.GIVEN_UP, after=mark)
        assert adoption.state is State.GIVEN_UP
    delays = [t.backoff_s for t in steps.seen if t.to is State.BACKOFF]
    assert delays == [0.001, 0.002, 0.004]
    assert work.calls == 3


async def _drive(runs: list[float], intensity: int, period: float, reset_after: float) -> list[int]:
    """Fail an adopted task after each run of the given length (on an injected clock); the
    attempt each failure was restarted with, 0 where it was given up (then replaced)."""
    now = [0.0]
    work, steps = Work(), Steps()
    backoff = Backoff(initial=0.0, max=0.0, jitter=Jitter.NONE, reset_after=reset_after)
    outcomes = []
    async with Supervisor(intensity=intensity, period=period, clock=lambda: now[0]) as sup:
        adoption = adopt(sup, work, steps, backoff=backoff)
        mark = 0
        for run in runs:
            await steps.reach(State.RUNNING, after=mark)  # its uptime counts from here
            mark = len(steps.seen)
            now[0] += run
            work.fail()
            t = await steps.reach(State.BACKOFF, State.GIVEN_UP, after=mark)
            outcomes.append(t.attempt if t.to is State.BACKOFF else 0)
            if t.to is State.GIVEN_UP:
                adoption.replace(work.task())  # the caller starts it again: no restart counted
    return outcomes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.lists(st.sampled_from([0.0, 10.0, 59.0, 60.0, 200.0]), max_size=15),
    intensity=st.integers(min_value=0, max_value=4),
)
def test_attempts_start_afresh_after_a_long_run_and_intensity_slides(
    runs: list[float], intensity: int
) -> None:
    """The injected clock decides both rules: a run of ``reset_after`` resets the attempt;
    more than ``intensity`` restarts in ``period`` gives the child up."""
    period, reset_after = 100.0, 60.0
    outcomes = asyncio.run(_drive(runs, intensity, period, reset_after))
    now, attempt, restarts, expected = 0.0, 0, list[float](), []
    for run in runs:
        now += run
        if run >= reset_after:
            attempt = 0
        if sum(1 for t in restarts if t > now - period) < intensity:
            restarts.append(now)
            attempt += 1
            expected.append(attempt)
        else:
            expected.append(0)
    assert outcomes == expected


async def test_stop_and_remove_cancel_the_adopted_task() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        kept = adopt(sup, work, steps)
        removed = sup.adopt(work.task(), restart=work.restart, name="r")
        await sup.wait_running()
        await sup.remove("r")
        assert removed.task.cancelled()
        assert not kept.task.done()
    assert kept.task.cancelled()
    assert steps.path()[-1] == "stopped"


async def test_a_task_queued_for_a_restart_is_cancelled_by_a_stop() -> None:
    work, steps = Work(), Steps()
    backoff = Backoff(initial=30.0, max=30.0, jitter=Jitter.NONE)
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps, backoff=backoff)
        work.fail()
        await steps.reach(State.BACKOFF)
        mine = work.task()
        adoption.replace(mine)  # waits for the restart, 30 s away
        assert adoption.task is mine
        assert adoption.state is State.BACKOFF
    await asyncio.wait({mine})
    assert mine.cancelled()
    assert work.calls == 0


async def test_a_task_ignoring_cancellation_is_abandoned_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()

    async def stubborn() -> None:
        while True:
            try:
                await release.wait()
                return
            except asyncio.CancelledError:
                continue

    task = asyncio.create_task(stubborn())
    async with Supervisor(cancel_grace=0.01) as sup:
        sup.adopt(task, restart=stubborn, name="s", shutdown_timeout=0.01)
        await sup.wait_running()
    assert sup.child_state("s") is State.FAILED
    assert len(sup.abandoned) == 1
    assert not task.done()
    assert "s ignored cancellation" in caplog.text
    release.set()
    await task
    await asyncio.wait(set(sup.abandoned) or {task})  # the run ends with what it stood for


async def test_replace_in_a_running_child_counts_no_restart() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps)
        first = adoption.task
        await steps.reach(State.RUNNING)
        second = work.task()
        adoption.replace(second)
        await asyncio.wait({first})
        assert first.cancelled()
        assert adoption.task is second
        assert (adoption.state, adoption.attempt) == (State.RUNNING, 0)
        assert steps.path() == ["starting", "running"]  # the hand-over is no transition
        work.fail()  # the new one is supervised
        await steps.reach(State.BACKOFF)
        await steps.reach(State.RUNNING, after=len(steps.seen))
    assert work.calls == 1


async def test_replace_during_the_backoff_is_the_restart() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps, backoff=Backoff(initial=0.01, jitter=Jitter.NONE))
        work.fail()
        await steps.reach(State.BACKOFF)
        mine = work.task()
        adoption.replace(mine)
        await steps.reach(State.RUNNING, after=len(steps.seen))
        assert adoption.task is mine
        assert adoption.attempt == 1
    assert work.calls == 0  # the factory was not needed


async def test_replace_starts_an_ended_child_again_now() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps, restart_type=Restart.TEMPORARY)
        work.fail()
        await wait_state(sup, "w", State.FAILED)
        adoption.replace(work.task())
        assert adoption.state is State.STARTING
        await steps.reach(State.RUNNING, after=len(steps.seen))
        assert (adoption.attempt, work.calls) == (0, 0)


async def test_restart_type_can_change_before_the_task_ends() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps)
        adoption.restart_type = "temporary"
        assert adoption.restart_type is Restart.TEMPORARY
        work.fail()
        await wait_state(sup, "w", State.FAILED)
        with pytest.raises(ConfigError):
            adoption.restart_type = "sometimes"
    assert work.calls == 0


async def test_a_supervisor_not_running_yet_supervises_it_from_its_start() -> None:
    work, steps = Work(), Steps()
    sup = Supervisor()
    adoption = adopt(sup, work, steps)
    work.fail()
    await asyncio.wait({adoption.task})  # it failed before anyone watched
    async with sup:
        await steps.reach(State.BACKOFF)
        await steps.reach(State.RUNNING, after=len(steps.seen))
    assert work.calls == 1


async def test_what_adopt_refuses() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adopt(sup, work, steps)
        other = work.task()
        with pytest.raises(DuplicateChild):
            sup.adopt(other, restart=work.restart, name="w")
        assert not other.done()  # still the caller's
        other.cancel()
        not_a_task: Any = work.coro()
        with pytest.raises(ConfigError, match="task"):
            sup.adopt(not_a_task, restart=work.restart)
        not_a_task.close()
        with pytest.raises(ConfigError, match="restart"):
            sup.adopt(work.task(), restart=None)  # type: ignore[arg-type]
        work.gates[-1].cancel()


async def test_a_factory_returning_no_awaitable_is_a_failed_start() -> None:
    steps = Steps()
    work = Work()

    def not_awaitable() -> Any:
        return 42

    async with Supervisor(intensity=1) as sup:
        sup.adopt(work.task(), restart=not_awaitable, name="w", backoff=FAST, on_transition=steps)
        work.fail()
        await steps.reach(State.GIVEN_UP)
    failures = [t.reason for t in steps.seen if t.to is State.FAILED]
    assert failures[-1] == "TypeError: 'w': restart factory returned int, not an awaitable"


async def test_an_adopted_child_is_not_paused() -> None:
    work, steps = Work(), Steps()
    async with Supervisor() as sup:
        adoption = adopt(sup, work, steps)
        await sup.wait_running()
        sup.pause()  # every child that can pause: not this one
        assert sup.child_state("w") is State.RUNNING
        with pytest.raises(NotPausable):
            sup.pause("w")
        status = sup.status()["children"]["w"]["target"]
        task = adoption.task
        assert isinstance(task, asyncio.Task)
        assert (status["kind"], status["task"]) == ("adopted", task.get_name())


async def test_an_observer_that_raises_is_logged_and_supervision_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    work, steps = Work(), Steps()

    def broken(t: Transition) -> None:
        steps(t)
        raise ValueError("observer bug")

    async with Supervisor() as sup:
        sup.adopt(work.task(), restart=work.restart, name="w", backoff=FAST, on_transition=broken)
        await steps.reach(State.RUNNING)
        work.fail()
        await steps.reach(State.RUNNING, after=len(steps.seen))
    assert work.calls == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "on_transition" in r.msg]
    assert errors
    assert errors[0].exc_info is not None
