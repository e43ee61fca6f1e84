"""What a loop's run costs beyond the tick: its start, a failed run, and its end.

Owns the slow paths of :meth:`Loop.run`, each taken once per run of the loop or once per
failure, never per successful tick: :func:`begin` (``on_start``, the state, the initial
delay), :func:`failed` (the failure counted, ``max_consecutive_errors``, ``on_error``, the
backoff or, after a timeout, the interval), :func:`end` (``on_stop`` bounded by
``hook_timeout``, the final state). Hooks a subclass did not write are not awaited at all.
It does not own the tick, the waits (``_pacing``) nor the counters (``_metrics``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from .._exceptions import LoopFailed, RunTimedOut
from .._lifecycle import UP, State

if TYPE_CHECKING:
    from ._loop import Loop

__all__ = ["add_cpu", "begin", "end", "failed"]

_log = logging.getLogger("treadle.loop")
_clock: Final = time.perf_counter


async def begin(loop: Loop) -> None:
    """From ``starting``: ``on_start``, then running (or paused, if asked already)."""
    if "on_start" in loop._written:
        await loop.on_start()
    loop._set_state(State.PAUSED if loop._paused else State.RUNNING)
    if loop._opts.initial_delay > 0:
        loop._next_at = _clock() + loop._opts.initial_delay
    loop._attention = True


async def failed(loop: Loop, exc: Exception, start: float) -> None:
    """``run_once`` raised ``exc`` (it began at ``start``): count it, tell ``on_error``,
    and set when the next run may start. Raises :class:`LoopFailed` at the error limit."""
    end = loop._beat = _clock()
    timed_out = isinstance(exc, RunTimedOut)
    n = loop._record_failed(exc, start, end, timed_out=timed_out)
    limit = loop._opts.max_errors
    if limit is not None and n >= limit:
        raise LoopFailed(f"loop {loop.name!r}: {n} consecutive errors") from exc
    _log.warning("loop %s: run failed (%d in a row): %r", loop.name, n, exc)
    try:
        await loop.on_error(exc)
    except Exception:  # noqa: BLE001 - the hook's own failure is reported, the loop goes on
        _log.exception("loop %s: on_error failed", loop.name)
    loop._attention = True
    if timed_out:  # it has waited its run_timeout already: the interval, as after a success
        loop._next_at = end + loop._interval
        return
    opts = loop._opts  # on_error may have changed the backoff
    extra = loop._extra_record()
    delay = opts.backoff.delay(n - extra.consecutive_timeouts, opts.rand)
    loop._backoff_s = delay
    loop._next_at = _clock() + delay


async def end(loop: Loop, began: bool, exc: BaseException | None) -> None:
    """The run is over (stopped, cancelled, or failed with ``exc``): ``on_stop`` if it
    began, then stopped or failed. Whatever pacing asked for is forgotten."""
    loop._stop_requested = False
    loop._attention = True
    loop._next_at = None
    loop._backoff_s = None
    if loop._deadline is not None:
        loop._deadline.close()
    failure = exc is not None and not isinstance(exc, asyncio.CancelledError)
    if began and loop._state in UP:
        loop._set_state(State.STOPPING)
    if began and "on_stop" in loop._written:  # no timer for the default hook
        try:
            async with asyncio.timeout(loop._opts.hook_timeout):
                await loop.on_stop()
        except Exception:  # noqa: BLE001 - a hook's failure must not hide how the loop ended
            _log.exception("loop %s: on_stop failed", loop.name)
    loop._set_state(State.FAILED if failure else State.STOPPED)


def add_cpu(loop: Loop, since: float) -> None:
    """The thread CPU time since ``since`` (``thread_time()``) counts to ``cpu_s``."""
    extra = loop._extra_record()
    extra.cpu_s = (extra.cpu_s or 0.0) + time.thread_time() - since
