"""The supervisor's monitor: stuck children, health checks, faults, memory pressure.

Owns :func:`monitor`, one task per supervisor, alive only while some child needs watching
(a ``heartbeat_timeout`` or ``health_interval``) or a soft memory limit is set. Each turn:

- a busy child whose heartbeat is older than its ``heartbeat_timeout`` is stuck: its stack
  is captured, it is cancelled, and its exit is a failure that restarts it by policy;
- due health checks run concurrently, each bounded by ``health_timeout``; the first passing
  one makes a child ready; ``health_failures`` failing in a row stop it, gracefully;
- a faulted child still running past its deadline is cancelled, then abandoned (reported,
  never waited on), exactly as in shutdown;
- above ``memory_soft_limit`` (RSS) running children below ``degrade_priority`` are paused,
  and resumed once RSS is back under 90% of the limit.

It does not decide what a fault means: a child it takes down exits as any other, and
``_restarts`` restarts it by its policy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from .._lifecycle import UP, State
from .._runnable import implements
from ..health._health import Health
from ..health._stack import task_stack
from ._child import Child
from ._records import Fault
from ._report import process_rss
from ._shutdown import abandon

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["Checkable", "Heartbeating", "ensure_monitor", "monitor", "needs_monitor"]

_log = logging.getLogger("treadle.health")
_MAX_TICK = 1.0
_MIN_TICK = 0.005
_RESUME_BELOW = 0.9  # of the soft limit


@runtime_checkable
class Heartbeating(Protocol):
    @property
    def last_beat(self) -> float | None: ...

    @property
    def busy(self) -> bool: ...


@runtime_checkable
class Checkable(Protocol):
    async def health(self) -> Health: ...


def needs_monitor(sup: Supervisor, children: Iterable[Child] | None = None) -> bool:
    """Whether the tree needs its monitor: a memory limit, or one of ``children`` (all of
    them, by default) with a heartbeat timeout or health checks."""
    return sup.memory_soft_limit is not None or any(
        c.spec.heartbeat_timeout is not None or c.spec.health_interval is not None
        for c in (sup._children.values() if children is None else children)
    )


def ensure_monitor(sup: Supervisor, added: Iterable[Child] | None = None) -> None:
    """Start the monitor if some child needs it now and it is not running; ``added``: only
    these children are new (the others were looked at when they came)."""
    if sup._monitor is None and needs_monitor(sup, added):
        assert sup._loop is not None
        sup._monitor = sup._loop.create_task(monitor(sup), name=f"{sup.path}:monitor")


def _tick(sup: Supervisor) -> float:
    tick = _MAX_TICK
    for c in sup._children.values():
        if c.spec.heartbeat_timeout is not None:
            tick = min(tick, c.spec.heartbeat_timeout / 4)
        if c.spec.health_interval is not None:
            tick = min(tick, c.spec.health_interval / 2)
    return max(_MIN_TICK, tick)


async def monitor(sup: Supervisor) -> None:
    """Watch ``sup``'s children until cancelled (the supervisor stops it)."""
    loop = asyncio.get_running_loop()
    checks: set[asyncio.Task[None]] = set()
    try:
        while True:
            now = time.perf_counter()
            for child in list(sup._children.values()):
                if child.fault is not None:
                    _escalate_fault(sup, child, loop.time())
                elif child.task is not None and child.state in UP:
                    _check_stuck(sup, child, now)
                    if _check_due(child, now):
                        task = loop.create_task(_run_check(sup, child))
                        checks.add(task)
                        task.add_done_callback(checks.discard)
            if sup.memory_soft_limit is not None:
                _memory_pressure(sup)
            await asyncio.sleep(_tick(sup))
    finally:
        for task in checks:
            task.cancel()


def _check_stuck(sup: Supervisor, child: Child, now: float) -> None:
    timeout = child.spec.heartbeat_timeout
    target = child.target
    if timeout is None or child.state is State.PAUSED or not implements(target, Heartbeating):
        return
    beating = cast(Heartbeating, target)
    beat = beating.last_beat
    if not beating.busy or beat is None or now - beat <= timeout:
        return
    assert child.task is not None
    stack = task_stack(child.task)
    reason = f"stuck: no heartbeat for {now - beat:.3g}s (heartbeat_timeout={timeout:g}s)"
    _log.error("%s.%s %s\n%s", sup.path, child.name, reason, stack)
    fault(sup, child, reason, stack, cancel=True)


def fault(sup: Supervisor, child: Child, reason: str, stack: str | None, *, cancel: bool) -> None:
    """Take ``child`` down for ``reason``: cancel it (stuck) or stop it gracefully."""
    task = child.task
    if task is None or child.fault is not None:
        return
    loop = asyncio.get_running_loop()
    if cancel:
        child.fault = Fault(reason, stack, loop.time() + sup.cancel_grace, cancelled=True)
        task.cancel(msg=f"treadle: {reason}")
    else:
        child.fault = Fault(reason, stack, loop.time() + child.shutdown_timeout(), False)
        if child.target is not None:
            child.target.request_stop()


def _escalate_fault(sup: Supervisor, child: Child, now: float) -> None:
    f = child.fault
    task = child.task
    if f is None or task is None or now < f.deadline:
        return
    if not f.cancelled:
        f.cancelled = True
        f.deadline = now + sup.cancel_grace
        task.cancel(msg=f"treadle: {f.reason}")
    else:
        child.fault = None
        abandon(sup, child, task)


def _check_due(child: Child, now: float) -> bool:
    check = child.check
    return (
        check is not None
        and not check.running
        and now >= check.next_at
        and implements(child.target, Checkable)
    )


async def _run_check(sup: Supervisor, child: Child) -> None:
    target = child.target
    checkable = cast(Checkable, target)
    spec = child.spec
    check = child.check
    assert check is not None
    check.running = True
    try:
        try:
            async with asyncio.timeout(spec.health_timeout):
                verdict = await checkable.health()
        except TimeoutError:
            verdict = Health.unhealthy(f"health check timed out after {spec.health_timeout:g}s")
        except Exception as exc:  # noqa: BLE001 - a failing check is a verdict, not a crash
            verdict = Health.unhealthy(f"health check raised {type(exc).__name__}: {exc}")
    finally:
        check.running = False
    assert spec.health_interval is not None
    check.next_at = time.perf_counter() + spec.health_interval
    if child.check is not check or child.target is not target or child.state not in UP:
        return  # it restarted or stopped meanwhile: this verdict is about the past
    changed = check.verdict != verdict
    check.verdict = verdict
    if changed:
        sup._events.health(child, verdict)
    if verdict.ok:
        check.failures = 0
        child.set_ready(True)
        return
    check.failures += 1
    if check.failures >= spec.health_failures:
        reason = f"unhealthy {check.failures} checks in a row: {verdict.reason}"
        _log.error("%s.%s %s", sup.path, child.name, reason)
        fault(sup, child, reason, None, cancel=False)


def _memory_pressure(sup: Supervisor) -> None:
    limit = sup.memory_soft_limit
    assert limit is not None
    rss = process_rss(sup)
    if rss > limit:
        for child in sup._children.values():
            if (
                child.state is State.RUNNING
                and child.spec.priority < sup.degrade_priority
                and child.pausable
            ):
                child.degraded = True
                sup.pause(child.name, reason=f"memory soft limit: rss {rss} > {limit} bytes")
    elif rss < limit * _RESUME_BELOW:
        for child in sup._children.values():
            if child.degraded and child.state is State.PAUSED:
                child.degraded = False
                sup.resume(child.name, reason=f"memory back under the soft limit: rss {rss}")
