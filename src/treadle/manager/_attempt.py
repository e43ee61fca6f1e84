"""One attempt of a task, from its start to its outcome: :func:`attempt` and :func:`on_worker`.

Owns the driving of an attempt once its target is built: it waits for the target to come
up, tells the runner's :class:`~treadle.manager.Reporter` (the "started" event), admits a
warm function task once that event is durable, passes on a pause or stop asked meanwhile,
bounds the attempt by its timeout with one timer, and ends with the runner's outcome. Two
paths: a process or a loop runs in a task of the attempt's own, with a future to say it
came up; a function task on a warm worker (most of them) runs in its runner's own task,
what follows its "started" event being a callback of that write: the fewest turns of the
manager's loop per task, which is what a busy manager's loop spends its time on.

It does not own the retries, the result, nor what the target is (``_runner``), nor the
worker's side (``_warm``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..loop import Loop
from ..process import Process
from ._warm import WorkerTask

if TYPE_CHECKING:
    from ..broker import Result
    from ._runner import TaskRunner

__all__ = ["attempt", "on_worker"]


async def attempt(
    runner: TaskRunner, target: Process | Loop, started: Callable[[], None]
) -> Result:
    """An attempt of a process or a loop (see the module's docstring)."""
    spec = runner.spec
    loop = asyncio.get_running_loop()
    # One future says the attempt came up (True) or ended first (False), one task runs
    # it, and a timer (not a wait with a timeout) bounds it: the fewest turns of the
    # loop per attempt, which is what a busy manager's loop spends its time on.
    up: asyncio.Future[bool] = loop.create_future()

    def is_up() -> None:
        if not up.done():
            up.set_result(True)

    job = loop.create_task(_drive(target, is_up, up))
    timed_out = False

    def expire() -> None:
        nonlocal timed_out
        if not job.done():
            timed_out = True
            target.request_stop()

    timer: asyncio.TimerHandle | None = None
    try:
        if await up:
            runner.started_at = time.time()
            pid = target.pid if isinstance(target, Process) else None
            await runner.reporter.started(runner, runner.attempt, pid)
            if runner.attempt == 1:
                started()
            if runner.paused:
                target.pause()
            if runner.stopping:
                target.request_stop()
        timeout = spec.limits.timeout
        if timeout is not None and not job.done():
            timer = loop.call_later(timeout, expire)
        if not job.done():
            await _ended(job)
    finally:
        if timer is not None:
            timer.cancel()
        if not job.done():  # cancelled while waiting: take the attempt down with us
            job.cancel()
            await asyncio.wait([job])
    return runner.outcome(target, job.exception(), timed_out)


async def on_worker(runner: TaskRunner, target: WorkerTask, started: Callable[[], None]) -> Result:
    """An attempt on a warm worker, run in the runner's own task (the lean path of most
    function tasks: no task of the attempt's own, no future to say it came up). Its
    "started" event is joined to the next batch once it has a worker, and what follows
    its being written (its admission, its timeout's start, a pause or stop asked
    meanwhile) is a callback of that write; the worker runs meanwhile unless the task
    must be admitted first (see :class:`WorkerTask`)."""
    loop = asyncio.get_running_loop()
    timeout = runner.spec.limits.timeout
    number = runner.attempt
    written: asyncio.Future[None] | None = None
    timer: asyncio.TimerHandle | None = None
    ended = timed_out = False

    def expire() -> None:
        nonlocal timed_out
        if not ended:
            timed_out = True
            target.request_stop()

    def durable(fut: asyncio.Future[None]) -> None:
        nonlocal timer
        if fut.cancelled():
            return  # its runner was cancelled meanwhile: the attempt is over
        target.admit()  # it may have run from now on, as recovery will assume
        if number == 1:
            started()
        if runner.paused:
            target.pause()
        if runner.stopping:
            target.request_stop()
        if timeout is not None and not ended:
            timer = loop.call_later(timeout, expire)

    def is_up() -> None:
        nonlocal written
        runner.started_at = time.time()
        written = runner.reporter.started_soon(runner, number, target.pid)
        written.add_done_callback(durable)

    exc: BaseException | None = None
    try:
        await target.run(is_up)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001 (the attempt's outcome)
        exc = e
    finally:
        ended = True
        if timer is not None:
            timer.cancel()
    if written is not None and not written.done():
        await written  # its result follows its "started" event
    return runner.outcome(target, exc, timed_out)


async def _drive(
    target: Process | Loop, is_up: Callable[[], None], up: asyncio.Future[bool]
) -> None:
    """Run ``target``; ``up`` says False if it ended before it came up."""
    try:
        await target.run(is_up)
    finally:
        if not up.done():
            up.set_result(False)


async def _ended(job: asyncio.Task[None]) -> None:
    """Wait for ``job`` to end, whatever it ends with (its outcome is read from it). A
    cancellation of the waiter is the waiter's (and ``job``, awaited, is cancelled too)."""
    try:
        await job
    except asyncio.CancelledError:
        if _cancelling():
            raise
    except Exception:  # noqa: BLE001 (the attempt's outcome: read from the job)
        pass
    if _cancelling():  # cancelled, and the target ended on it without saying so
        raise asyncio.CancelledError


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
