"""When a loop runs next: the tick's slow path, one decision for every kind of wait.

Owns :func:`pace`, which the tick calls whenever the loop's attention flag is up (after a
stop or pause was asked, while a deadline is pending, for a gated or disabled loop, after a
setting changed): stop, wait (the interval, a backoff, the gate's poll and the initial
delay are all one deadline, ``_next_at``), park while paused, or run now. It lowers the flag
when nothing will need it before the next run. It does not wait itself (the tick awaits in
its own frame, so that an idle loop's task stays one frame deep) nor count anything.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._loop import Loop

__all__ = ["GATE_POLL", "PARK", "STOP", "pace"]

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
        loop._backoff_s = None
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
