"""Stopping children: signal, wait, cancel, and never hang (OTP's shutdown, for asyncio).

Owns :func:`stop_children`. Dependants stop before what they depend on; children on the
same dependency level stop concurrently, each within its own ``shutdown_timeout``. A child
still running then is cancelled; one that is still running ``cancel_grace`` seconds after
that swallows cancellation: it is reported, marked failed and abandoned, never waited on.
It does not decide whether a stopped child starts again (``_restarts``, the operator's
``_operations``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from typing import TYPE_CHECKING, Final

from .._lifecycle import ENDED, FAILED, PAUSED, RUNNING, STARTING, STOPPED, STOPPING
from ._dependencies import graph, has_dependencies
from ._policy import levels

if TYPE_CHECKING:
    from ._child import Child
    from ._supervisor import Supervisor

__all__ = ["Stopping", "abandon", "stop_children"]

_log = logging.getLogger("treadle.supervisor")
_GRACEFUL: Final = frozenset({STARTING, RUNNING, PAUSED})  # asked to stop, not cancelled


async def stop_children(sup: Supervisor, children: list[Child], reason: str) -> None:
    """Stop ``children`` (already-ended ones are left as they are)."""
    if not children:
        return
    if has_dependencies(sup):
        level = levels(graph(sup))
        by_level: dict[int, list[Child]] = defaultdict(list)
        for child in children:
            by_level[level.get(child.name, 0)].append(child)
        for lvl in sorted(by_level, reverse=True):
            await _stop_together(sup, by_level[lvl], reason)
    else:
        await _stop_together(sup, children, reason)


class Stopping:
    """Children being stopped together: their tasks, each with its child, the deadline of
    the step it is at, and whether it was cancelled. A task leaves when it ends (its child's
    done-callback says so: :meth:`ended`), which wakes :meth:`wait` once none is left: no
    callback of its own on every task, as ``asyncio.wait`` would add."""

    __slots__ = ("_fut", "pending")

    def __init__(self) -> None:
        self.pending: dict[asyncio.Task[None], tuple[Child, float, bool]] = {}
        self._fut: asyncio.Future[None] | None = None

    def ended(self, task: asyncio.Task[None]) -> None:
        if self.pending.pop(task, None) is not None and not self.pending:
            fut = self._fut
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def wait(self, timeout: float | None) -> None:  # noqa: ASYNC109 - deadlines vary
        """Until every task has ended, or ``timeout`` seconds."""
        if self.pending:
            self._fut = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait({self._fut}, timeout=timeout)
            finally:
                self._fut = None


async def _stop_together(sup: Supervisor, children: list[Child], reason: str) -> None:
    loop = asyncio.get_running_loop()
    now = loop.time()
    group = Stopping()
    pending = group.pending
    deadlines: dict[float, float] = {}  # by shutdown timeout: one float, not one a child
    for child in children:
        child.cancel_restart()
        task = child.task
        if task is None:
            if child.state not in ENDED:
                child.move(STOPPED, reason)
            continue
        child.stop_reason = reason
        if child.state in _GRACEFUL:
            child.move(STOPPING, reason)
            if child.target is not None:
                child.target.request_stop()
        else:  # pending: still waiting for its dependencies, nothing to be graceful about
            task.cancel(msg=f"treadle: {reason}")
        timeout = child.shutdown_timeout()
        due = deadlines.get(timeout)
        if due is None:
            due = deadlines[timeout] = now + timeout
        pending[task] = (child, due, False)
    sup._stopping.append(group)
    try:
        while pending:
            first = min(d for _, d, _ in pending.values())
            wait = None if math.isinf(first) else max(0.0, first - loop.time())
            await group.wait(wait)
            _escalate(sup, pending, loop.time())
    finally:
        sup._stopping.remove(group)


def _escalate(
    sup: Supervisor, pending: dict[asyncio.Task[None], tuple[Child, float, bool]], now: float
) -> None:
    """Past its deadline a child is cancelled; past its grace after that, abandoned."""
    for task, (child, d, cancelled) in list(pending.items()):
        if d > now:
            continue
        if not cancelled:
            task.cancel(msg=f"treadle: {child.name} did not stop in {child.shutdown_timeout():g}s")
            pending[task] = (child, now + sup.cancel_grace, True)
        else:
            del pending[task]
            abandon(sup, child, task)


def abandon(sup: Supervisor, child: Child, task: asyncio.Task[None]) -> None:
    """Report a child that ignores cancellation, mark it failed, and stop waiting for it."""
    why = f"ignored cancellation for {sup.cancel_grace}s; abandoned"
    _log.error("%s.%s %s", sup.path, child.name, why)
    child.task = None
    child.stop_reason = None
    sup._slots.give_back(child)
    sup.abandoned.add(task)
    task.add_done_callback(sup.abandoned.discard)
    child.move(FAILED, why)
