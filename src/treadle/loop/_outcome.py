"""What a loop's run costs beyond the tick: its start, a failed run, and its end.

Owns the slow paths of :meth:`Loop.run`, each taken once per run of the loop or once per
failure, never per successful tick: :func:`begin` (the state, the initial delay),
:func:`failed` (the failure counted, ``max_consecutive_errors``, ``on_error``, the backoff
or, after a timeout, the interval), the end (:func:`ending`, :func:`on_stop` bounded by
``hook_timeout``, :func:`ended`: the final state); and :func:`around`, what a run goes
through when it has more to it than ``run_once`` (a run timeout, CPU timing). Hooks a
subclass did not write are not awaited at all. It does not own the tick, the waits
(``_pacing``) nor the counters (``_tally``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, Protocol

from .._exceptions import LoopFailed, RunTimedOut
from .._lifecycle import FAILED, PAUSED, RUNNING, STARTING, STOPPED, STOPPING, UP
from ._options import DEFAULT_OPTIONS

if TYPE_CHECKING:
    from ._loop import Loop
    from ._tally import Extra

__all__ = ["Around", "CpuTimed", "around", "begin", "ended", "ending", "failed", "on_stop"]

RunOnce = Callable[[], Coroutine[Any, Any, None]]

_log = logging.getLogger("treadle.loop")
_clock: Final = time.perf_counter


def begin(loop: Loop) -> None:
    """``on_start`` has returned: running (or paused, if asked already). The first run
    comes at once, without a look at pacing, unless something may ask for one: a pause
    or stop, a gate, being disabled, a wait, any option that is not the default (an
    initial delay, CPU timing), the rare record (a run timeout), or runs of before (a
    loop run again in place: the tick must pick up its window of durations)."""
    loop._set_state(PAUSED if loop._paused else RUNNING)
    if loop._opts.initial_delay > 0:
        loop._since, loop._after = _clock(), loop._opts.initial_delay
    loop._attention = (
        loop._paused
        or loop._stop_requested
        or not loop._enabled
        or loop._since is not None
        or "should_run" in loop._written
        or loop._opts is not DEFAULT_OPTIONS
        or loop._extra is not None
        or loop._runs > 0
    )


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
    if "on_error" in loop._written:
        try:
            await loop.on_error(exc)
        except Exception:  # noqa: BLE001 - the hook's own failure is reported, the loop goes on
            _log.exception("loop %s: on_error failed", loop.name)
    loop._attention = True
    if timed_out:  # it has waited its run_timeout already: the interval, as after a success
        loop._since = end
        return
    opts = loop._opts  # on_error may have changed the backoff
    extra = loop._extra_record()
    delay = opts.backoff.delay(n - extra.consecutive_timeouts, opts.rand)
    extra.backoff_s = delay
    loop._since, loop._after = _clock(), delay


def ending(loop: Loop) -> bool:
    """The run is over (stopped, cancelled or failed): what pacing asked is forgotten, and
    one that began (``on_start`` returned) is stopping. True: ``on_stop`` is to be awaited
    (the subclass wrote one)."""
    began = loop._state is not STARTING
    loop._stop_requested = False
    loop._attention = True
    loop._since = loop._after = None
    extra = loop._extra
    if extra is not None:
        extra.backoff_s = None
        if extra.deadline is not None:
            extra.deadline.close()
    if began and loop._state in UP:
        loop._set_state(STOPPING)
    return began and "on_stop" in loop._written


async def on_stop(loop: Loop) -> None:
    """``on_stop``, bounded by ``hook_timeout``; what it raises is logged, not raised."""
    try:
        async with asyncio.timeout(loop._opts.hook_timeout):
            await loop.on_stop()
    except Exception:  # noqa: BLE001 - a hook's failure must not hide how the loop ended
        _log.exception("loop %s: on_stop failed", loop.name)


def ended(loop: Loop, exc: BaseException | None) -> None:
    """Stopped, or failed with ``exc`` (a cancellation is a stop)."""
    failure = exc is not None and not isinstance(exc, asyncio.CancelledError)
    loop._set_state(FAILED if failure else STOPPED)


class Around(Protocol):
    """What a tick awaits instead of ``run_once()`` when a run has more to it."""

    async def run(self, run_once: RunOnce, start: float) -> None: ...


def around(loop: Loop) -> Around | None:
    """What each run goes through (None: nothing, the tick awaits ``run_once`` itself): the
    run timeout's :class:`Deadline`, and CPU timing if ``cpu_time``."""
    deadline = loop._deadline
    if not loop._opts.cpu_time:
        return deadline
    return CpuTimed(loop._extra_record(), deadline)


class CpuTimed:
    """Around each run of a loop with ``cpu_time``: the thread's CPU time in it counts."""

    __slots__ = ("_extra", "_inner")

    def __init__(self, extra: Extra, inner: Around | None) -> None:
        self._extra = extra
        self._inner = inner

    async def run(self, run_once: RunOnce, start: float) -> None:
        since = time.thread_time()
        try:
            if self._inner is None:
                await run_once()
            else:
                await self._inner.run(run_once, start)
        finally:
            extra = self._extra
            extra.cpu_s = (extra.cpu_s or 0.0) + time.thread_time() - since
