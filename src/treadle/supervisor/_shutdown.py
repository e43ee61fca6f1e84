"""Stopping children: signal, wait, cancel, and never hang (OTP's shutdown, for asyncio).

Owns :func:`stop_children`. Dependants stop before what they depend on; children on the
same dependency level stop concurrently, each within its own ``shutdown_timeout``. A child
still running then is cancelled; one that is still running ``cancel_grace`` seconds after
that swallows cancellation: it is reported, marked failed and abandoned, never waited on.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import defaultdict
from typing import TYPE_CHECKING

from .._lifecycle import ENDED, State
from ._dependencies import graph, has_dependencies
from ._policy import levels

if TYPE_CHECKING:
    from ._child import Child
    from ._supervisor import Supervisor

__all__ = ["abandon", "stop_children"]

_log = logging.getLogger("treadle.supervisor")


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


async def _stop_together(sup: Supervisor, children: list[Child], reason: str) -> None:
    loop = asyncio.get_running_loop()
    now = loop.time()
    pending: dict[asyncio.Task[None], tuple[Child, float, bool]] = {}
    for child in children:
        if child.timer is not None:  # a restart was scheduled: it will not happen
            child.timer.cancel()
            child.timer = None
        task = child.task
        if task is None:
            if child.state not in ENDED:
                child.move(State.STOPPED, reason)
            continue
        child.stop_reason = reason
        if child.state in (State.STARTING, State.RUNNING, State.PAUSED):
            child.move(State.STOPPING, reason)
            if child.target is not None:
                child.target.request_stop()
        else:  # pending: still waiting for its dependencies, nothing to be graceful about
            task.cancel(msg=f"treadle: {reason}")
        pending[task] = (child, now + child.shutdown_timeout(), False)
    while pending:
        deadline = min(d for _, d, _ in pending.values())
        timeout = None if math.isinf(deadline) else max(0.0, deadline - loop.time())
        done, _ = await asyncio.wait(pending, timeout=timeout)
        for task in done:
            del pending[task]
        now = loop.time()
        for task, (child, d, cancelled) in list(pending.items()):
            if d > now:
                continue
            if not cancelled:
                task.cancel(
                    msg=f"treadle: {child.name} did not stop in {child.shutdown_timeout():g}s"
                )
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
    child.move(State.FAILED, why)
