"""When a loop runs next: the tick's slow path, one decision for every kind of wait.

Owns :func:`pace`, which the tick calls whenever the loop's attention flag is up (after a
stop or pause was asked, while a wait is pending, for a gated or disabled loop, after a
setting changed): stop, wait, park while paused, or run now. Every wait (the interval, a
backoff, the gate's poll, the initial delay) is one deadline, ``_since + _after``: a time
the loop has already (a run's end, a failure's) and a span (None: the loop's interval, read
when it is waited, so that changing the interval re-times the wait). Neither is a new
float: an idle loop keeps no number for its wait. It lowers the flag when nothing will need
it before the next run. It arranges a wait but does not await it (the tick awaits in its
own frame, so that an idle loop's task stays one frame deep) nor count anything.
"""

from __future__ import annotations

import asyncio
import enum
import math
import time
from typing import TYPE_CHECKING, Final

from ._alarms import SHORT, Bucket, alarms, no_context

if TYPE_CHECKING:
    from ._loop import Loop

__all__ = ["GATE_POLL", "STOP", "Stop", "pace", "woken"]


class Stop(enum.Enum):
    """What :func:`pace` returns for "stop": the tick leaves its loop."""

    STOP = "stop"


STOP: Final = Stop.STOP

_PARK: Final = math.inf
"""Wait until woken (paused): no timer."""

GATE_POLL: Final = 1.0
"""How often a gated loop with interval 0 asks ``should_run()`` again."""

_clock: Final = time.perf_counter


def pace(loop: Loop) -> asyncio.Future[None] | Stop | None:
    """What ``loop`` does now: :data:`STOP`; None, run ``run_once`` now; or wait: the
    future to await, after which the tick asks again and calls :func:`woken` (anything
    that changes what the loop waits for wakes it early: ``Loop._interrupt``)."""
    if loop._stop_requested:
        return STOP
    since = loop._since
    if since is not None:
        after = loop._after
        remaining = since + (loop._interval if after is None else after) - _clock()
        if remaining > 0 and not loop._paused:
            return _sleep(loop, remaining)
        loop._since = loop._after = None
        if loop._extra is not None:
            loop._extra.backoff_s = None
    if loop._paused:
        return _sleep(loop, _PARK)
    gated = "should_run" in loop._written or loop._opts.gate is not None
    if (gated or not loop._enabled) and not (loop._enabled and loop.should_run()):
        loop._gated = True
        loop._since = loop._beat = _clock()
        loop._after = None if loop._interval else GATE_POLL
        return _sleep(loop, loop._interval or GATE_POLL)
    loop._gated = False
    loop._attention = gated  # a gate is asked again before every run
    return None


def _sleep(loop: Loop, seconds: float) -> asyncio.Future[None]:
    """The future a wait of ``seconds`` (:data:`_PARK`: until woken) completes. A wait of
    :data:`~._alarms.SHORT` or more is one of the event loop's :class:`~._alarms.Alarms`;
    a shorter one has a timer of its own."""
    events = asyncio.get_running_loop()
    fut = loop._waker = events.create_future()
    if seconds == _PARK:
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
