"""When a loop runs next: the tick's slow path, one decision for every kind of wait.

Owns :func:`pace`, which the tick calls whenever the loop's attention flag is up (after a
stop or pause was asked, while a deadline is pending, for a gated or disabled loop, after a
setting changed): stop, wait (the interval, a backoff, the gate's poll and the initial
delay are all one deadline, ``_next_at``), park while paused, or run now. It lowers the flag
when nothing will need it before the next run. It does not wait itself (the tick awaits in
its own frame, so that an idle loop's task stays one frame deep) nor count anything.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import TYPE_CHECKING, Final

from ._alarms import SHORT, Bucket, alarms, no_context

if TYPE_CHECKING:
    from ._loop import Loop

__all__ = ["GATE_POLL", "PARK", "STOP", "pace", "sleep", "woken"]

STOP: Final = -1.0
"""Stop: the tick leaves its loop."""

PARK: Final = math.inf
"""Wait until woken (paused): no timer."""

GATE_POLL: Final = 1.0
"""How often a gated loop with interval 0 asks ``should_run()`` again."""

_clock: Final = time.perf_counter


def pace(loop: Loop) -> float:
    """What ``loop`` does now: :data:`STOP`, wait this many seconds (or :data:`PARK`) and
    then ask again, or 0.0: run ``run_once`` now."""
    if loop._stop_requested:
        return STOP
    if loop._next_at is not None:
        remaining = loop._next_at - _clock()
        if remaining > 0 and not loop._paused:
            return remaining
        loop._next_at = None
        if loop._extra is not None:
            loop._extra.backoff_s = None
    if loop._paused:
        return PARK
    gated = "should_run" in loop._written or loop._opts.gate is not None
    if (gated or not loop._enabled) and not (loop._enabled and loop.should_run()):
        loop._gated = True
        now = loop._beat = _clock()
        wait = loop._interval or GATE_POLL
        loop._next_at = now + wait
        return wait
    loop._gated = False
    loop._attention = gated  # a gate is asked again before every run
    return 0.0


def sleep(loop: Loop, seconds: float) -> asyncio.Future[None]:
    """What the tick awaits to wait ``seconds`` (:data:`PARK`: until woken); anything that
    changes what it waits for wakes it early (``Loop._interrupt``). Call :func:`woken`
    after, however the wait ended. A wait of :data:`~._alarms.SHORT` or more is one of the
    event loop's :class:`~._alarms.Alarms`; a shorter one has a timer of its own."""
    events = asyncio.get_running_loop()
    fut = loop._waker = events.create_future()
    if seconds == PARK:
        pass
    elif seconds >= SHORT:
        loop._timer = alarms(events).add(fut, seconds)
    else:  # _wake needs no context: not a copy of the task's for every timer (64 bytes)
        loop._timer = events.call_later(seconds, _wake, fut, context=no_context())
    return fut


def woken(loop: Loop) -> None:
    """The wait is over: its timer or its alarm goes (if it has not rung)."""
    timer, fut = loop._timer, loop._waker
    if timer is not None:
        loop._timer = None
        if isinstance(timer, Bucket):
            assert fut is not None
            timer.leave(fut)
        else:
            timer.cancel()
    loop._waker = None


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
