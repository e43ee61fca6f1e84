"""Starting and restarting children: the mechanism behind restart types and strategies.

Owns :func:`spawn` (start a child once its dependencies run) and :func:`exited` (what
happens when a child's task ends: record, decide by restart type and intensity, schedule the
restart by strategy: a timer for ``one_for_one``, a control task of the supervisor's, which
its stop cancels, for the others). Decisions come from pure policy (``Backoff``,
``Intensity``, ``_policy.affected``); stopping siblings is ``_shutdown``'s job.
"""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING

from .._exceptions import SupervisorFailed
from .._intensity import Intensity
from .._lifecycle import BACKOFF, FAILED, GIVEN_UP, PENDING, STARTING, STOPPED
from .._runnable import Runnable
from ._context import child_context
from ._dependencies import unmet, wait_for
from ._policy import affected
from ._shutdown import stop_children
from ._spec import Restart, Strategy

if TYPE_CHECKING:
    from ._child import Child
    from ._supervisor import Supervisor

__all__ = ["child_done", "exited", "spawn"]


def spawn(sup: Supervisor, child: Child) -> None:
    """Start ``child`` now, or as soon as its dependencies are ready and a slot is free."""
    child.cancel_restart()
    if sup._closing or sup._children.get(child.name) is not child:
        return
    child.starting()
    assert sup._loop is not None
    waiting = unmet(sup, child) if child.spec.depends_on else []
    context = _context(sup, child) if sup.child_context else None
    if waiting or not sup._slots.try_take(child):
        reason = (
            "waiting for " + ", ".join(n if k == "child" else f"{k}:{n}" for k, n in waiting)
            if waiting
            else f"waiting for a slot (max_concurrent={sup._slots.limit})"
        )
        if child.state is not PENDING:
            child.move(PENDING, reason)
        coro = _start_when_ready(sup, child, waiting)
        task = sup._loop.create_task(coro, name=child.name, context=context)
    else:
        child.move(STARTING, "restart" if child.attempt else "start")
        try:
            target = _instantiate(sup, child)
        except Exception as exc:  # noqa: BLE001 - a failing factory is the child failing
            sup._slots.give_back(child)
            exited(sup, child, exc, cancelled=False)
            return
        coro = target.run(child.started)
        task = sup._loop.create_task(coro, name=child.name, context=context)
    child.task = task
    # The callback runs in the supervisor's own context, not in a copy of this one (64
    # bytes a child); so do the restarts it schedules, whose tasks copy it.
    task.add_done_callback(child, context=sup._context)


def _context(sup: Supervisor, child: Child) -> contextvars.Context:
    """The context of the child's task, when the supervisor names them: one naming it."""
    return child_context(f"{sup.path}.{child.name}")


async def _start_when_ready(sup: Supervisor, child: Child, waiting: list[tuple[str, str]]) -> None:
    reason = "dependencies ready" if waiting else "slot free"
    while waiting:  # a condition met earlier may not hold any more: check them all again
        for kind, name in waiting:
            await wait_for(sup, kind, name)
        waiting = unmet(sup, child)
    await sup._slots.take(child)
    child.move(STARTING, reason)
    await _instantiate(sup, child).run(child.started)


def _instantiate(sup: Supervisor, child: Child) -> Runnable:
    target = child.target = child.instantiate()
    sup._adopt_child(target)
    return target


def child_done(sup: Supervisor, child: Child, task: asyncio.Task[None]) -> None:
    """The child's task ended (its done-callback): what that means, then whoever stops it."""
    if child.task is task:
        child.task = None
        sup._slots.give_back(child)
        if task.cancelled():
            exited(sup, child, None, cancelled=True)
        else:
            exited(sup, child, task.exception(), cancelled=False)
    for stopping in sup._stopping:  # after exited(): they find the child as it ended
        stopping.ended(task)


def exited(sup: Supervisor, child: Child, exc: BaseException | None, cancelled: bool) -> None:
    started_at, child.started_at = child.started_at, None
    record = child.record_exit(exc, cancelled)  # data: formatted when somebody reads it
    if child.stop_reason is not None or sup._closing:
        why, child.stop_reason = child.stop_reason or "supervisor stopping", None
        if exc is not None:
            child.move(FAILED, f"failed while stopping: {exc!r}")
        else:
            child.move(STOPPED, why)
        return
    now = sup._clock()  # how long it ran, and the intensity: only for a restart
    ran = now - started_at if started_at is not None else 0.0
    abnormal = cancelled or exc is not None
    fault, child.fault = child.fault, None
    if fault is not None:  # the supervisor took it down (stuck, unhealthy): not a clean exit
        abnormal = True
        reason = fault.reason
        child.move(FAILED, reason, error=fault.stack)
    elif exc is not None:
        reason = f"{type(exc).__name__}: {exc}"
        child.move(FAILED, reason, error=record.traceback)
    elif cancelled:
        reason = "cancelled unexpectedly"
        child.move(FAILED, reason)
    else:
        reason = "exited"
        child.move(STOPPED, reason)
    restart = child.spec.restart
    if restart is Restart.TEMPORARY or (restart is Restart.TRANSIENT and not abnormal):
        return
    if ran >= child.spec.backoff.reset_after:
        child.attempt = 0
    if child.intensity is None:
        child.intensity = Intensity(sup.intensity, sup.period)
    if not child.intensity.record(now):
        why = f"more than {sup.intensity} restarts in {sup.period:g}s"
        child.move(GIVEN_UP, why)
        if sup.escalate:
            sup._fail(SupervisorFailed(sup.path, child.name, f"was given up: {why}"))
        return
    child.attempt += 1
    delay = child.spec.backoff.delay(child.attempt, sup._rand)
    child.record_restart(reason, delay)
    child.move(BACKOFF, reason, backoff_s=delay)
    loop = sup._loop
    assert loop is not None
    if sup.strategy is Strategy.ONE_FOR_ONE:
        if delay <= 0:
            child.timer = loop.call_soon(spawn, sup, child, context=sup._context)
        else:
            child.timer = loop.call_later(delay, spawn, sup, child, context=sup._context)
    else:
        task = loop.create_task(_group_restart(sup, child, delay))
        sup._control.add(task)  # the supervisor's stop cancels it
        task.add_done_callback(sup._control.discard)


async def _group_restart(sup: Supervisor, failed: Child, delay: float) -> None:
    if sup._group_lock is None:
        sup._group_lock = asyncio.Lock()
    async with sup._group_lock:
        names = affected(sup.strategy, failed.name, list(sup._children))
        others = [sup._children[n] for n in names if n != failed.name and n in sup._children]
        reason = f"{sup.strategy.value}: {failed.name} failed"
        await stop_children(sup, others, reason)
        if delay > 0:
            await asyncio.sleep(delay)
        for child in [failed, *others]:
            if sup._children.get(child.name) is not child or child.name in sup._held:
                continue  # gone, or stopped by an operator meanwhile
            if child is failed or (
                child.spec.restart is not Restart.TEMPORARY and child.state in (STOPPED, FAILED)
            ):
                spawn(sup, child)
