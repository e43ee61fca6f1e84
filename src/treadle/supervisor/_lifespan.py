"""A supervisor's own life: start, stop, run as a child, leave ``async with``, fail.

Owns the supervisor's run state (``_state`` beside the lifecycle's table, the event loop it
runs on, ``_done``, ``_stopped``, ``_failure``, the host task of ``async with``) and what
moves it: starting every child, stopping them all (dependants first, never hanging),
running as a nested child until asked to stop, and failing, which ends the run and, as
``TaskGroup`` does, cancels the task that hosts ``async with`` so that the failure is raised
there. It does not own what happens to one child (``_restarts``, ``_shutdown``) nor an
operator's decisions (``_operations``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from .._exceptions import SupervisorFailed
from .._lifecycle import ENDED, State
from ._monitor import ensure_monitor
from ._restarts import spawn
from ._shutdown import stop_children

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["fail", "finish", "leave", "run", "start", "stop"]

_log = logging.getLogger("treadle.supervisor")


def start(sup: Supervisor) -> None:
    """Start every child (each waits for what it depends on) and return at once."""
    sup._set_state(State.STARTING)
    loop = sup._loop = asyncio.get_running_loop()
    sup._context = contextvars.copy_context()  # its children's tasks start from copies
    sup._closing = False
    sup._failure = None
    sup._done = loop.create_future()
    sup.bus  # noqa: B018 - create the bus before the first event
    for child in list(sup._children.values()):
        child.intensity = None
        child.attempt = 0
        if child.name not in sup._held:
            spawn(sup, child)
    sup._set_state(State.RUNNING)
    ensure_monitor(sup)
    if sup._watchdog is not None and not sup._watchdog.running:
        sup._watchdog.start(loop)


async def stop(sup: Supervisor) -> None:
    """Stop every child, dependants first, each within its ``shutdown_timeout``. A second
    caller waits for the first's stop."""
    if sup._state is State.PENDING:
        sup._set_state(State.STOPPED)
        return
    if sup._stopped is not None:
        await asyncio.shield(sup._stopped)
        return
    if sup._state in ENDED:
        return
    assert sup._loop is not None
    sup._stopped = stopped = sup._loop.create_future()
    sup._closing = True
    sup._set_state(State.STOPPING)
    try:
        if sup._watchdog is not None:
            sup._watchdog.stop()
        if sup._monitor is not None:
            sup._monitor.cancel()
            await asyncio.wait({sup._monitor})
            sup._monitor = None
        for task in sup._control:
            task.cancel()
        if sup._control:
            await asyncio.wait(sup._control)
        await stop_children(sup, list(sup._children.values()), "supervisor stopping")
    except BaseException:
        for child in sup._children.values():  # interrupted: no graceful path left
            if child.task is not None:
                child.task.cancel()
        raise
    finally:
        sup._set_state(State.FAILED if sup._failure else State.STOPPED)
        sup._stopped = None
        stopped.set_result(None)
        finish(sup)


async def leave(sup: Supervisor, et: type[BaseException] | None) -> None:
    """Leave ``async with`` (the body raised ``et``, if not None): stop, then raise the
    failure, if there was one and nothing else is on its way out."""
    host, sup._host = sup._host, None
    await stop(sup)
    failure = sup._failure
    if sup._host_cancelled:
        # We cancelled the body to report a failure (as TaskGroup does): undo our cancel
        # and raise the failure, unless someone else cancelled the host as well.
        sup._host_cancelled = False
        if host is not None and host.uncancel() == 0 and et is asyncio.CancelledError:
            assert failure is not None
            raise failure
    if failure is not None and et is None:
        raise failure


async def run(sup: Supervisor, started: Callable[[], None]) -> None:
    """Run as a child of another supervisor: ``started()`` once every child is up, then
    on until asked to stop (returns) or failed (raises)."""
    start(sup)
    done = sup._done
    assert done is not None
    try:
        ready = asyncio.ensure_future(sup._events.wait_all_up())
        try:
            await asyncio.wait({ready, done}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if not done.done():
            started()
        await asyncio.shield(done)
    finally:
        await stop(sup)
    if sup._failure is not None:
        raise sup._failure


def fail(sup: Supervisor, failure: SupervisorFailed) -> None:
    """End the run with ``failure`` (the first one counts); cancel the host of ``async
    with`` so that it is raised there."""
    if sup._failure is not None:
        return
    sup._failure = failure
    _log.error("%s", failure)
    finish(sup)
    host = sup._host
    if host is not None and not host.done():
        sup._host_cancelled = True
        host.cancel(msg=str(failure))


def finish(sup: Supervisor) -> None:
    """The run is over (asked to stop, failed, or stopped): wake whoever waits for it."""
    if sup._done is not None and not sup._done.done():
        sup._done.set_result(None)
    sup._events.release()  # nobody waits for "all running" once we are done
