"""A loop's runs as counters: what its tick writes, on the loop itself.

Owns :class:`Tally`, which a :class:`~treadle.Loop` derives from so that a tick writes one
object: the run count, the end of the last run, the time spent in successful runs, the
failures in a row, and the window of run durations. The durations go to a ring of floats
(doubles in a ``memoryview``: eight bytes each, no object per run, and a store that is
cheaper than an ``array``'s) indexed by the run count, made on a
loop's second run: until then the one run's duration is the time spent in successful runs.
What failures leave (their count, the last error, the last success they hide) and the CPU
time, if measured, are a record apart, made on the first failure.

It does not compute anything for readers (:class:`~treadle.loop.LoopMetrics` does) nor
decide what a failure means (the Loop does).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ._error import ErrorInfo

if TYPE_CHECKING:
    from ._deadline import Deadline

__all__ = ["Extra", "Tally"]


def _ring(window: int) -> memoryview[float]:
    return memoryview(bytearray(8 * window)).cast("d")


class Extra:
    """What only some loops have: failures (from the first one on) and the backoff they
    ask for, a run timeout, CPU time, a task of its own (:meth:`Loop.start`)."""

    __slots__ = (
        "backoff_s",
        "consecutive_timeouts",
        "cpu_s",
        "deadline",
        "errors",
        "last_error",
        "ok_end",
        "ok_took",
        "task",
        "timeouts",
    )

    def __init__(self) -> None:
        self.errors = 0  # failed runs, timeouts included
        self.timeouts = 0  # runs cancelled at their run_timeout
        self.consecutive_timeouts = 0  # of those, since the last success
        self.last_error: ErrorInfo | None = None
        self.ok_end: float | None = None  # the last success, kept once a failure follows it
        self.ok_took: float | None = None
        self.cpu_s: float | None = None  # thread CPU time inside run_once, if measured
        self.backoff_s: float | None = None  # the backoff being waited, after a failure
        self.deadline: Deadline | None = None  # the run timeout's, if there is one
        self.task: asyncio.Task[None] | None = None  # its own, if started by Loop.start


class Tally:
    """A loop's runs as counters (see the module's docstring); ``window`` durations kept."""

    __slots__ = ("_end", "_errs", "_extra", "_ok_s", "_ring", "_runs")

    def __init__(self) -> None:
        self._runs = 0  # every run, failed ones included
        self._errs = 0  # failed runs since the last success (timeouts included)
        self._end: float | None = None  # perf_counter() at the end of the last run
        self._ok_s = 0.0  # seconds spent in runs that succeeded, all time
        self._ring: memoryview[float] | None = None  # durations: run n at [n % window]
        self._extra: Extra | None = None

    def _window_size(self) -> int:
        """How many durations to keep (a Loop's ``window``)."""
        raise NotImplementedError

    # -- recording (the tick inlines the success path: see Loop.run) -----------------------

    def _record_ok(self, took: float, end: float) -> None:
        """A run that succeeded in ``took`` seconds, ending at ``end`` (``perf_counter()``)."""
        runs = self._runs
        ring = self._ring
        if ring is not None:
            ring[runs % len(ring)] = took
        elif runs:
            self._first_ring(took)
        self._runs = runs + 1
        self._ok_s += took
        self._end = end
        if self._errs:
            self._recovered()

    def _first_ring(self, took: float) -> memoryview[float]:
        """Make the ring at the second run, and record its ``took``. The first run
        succeeded (a failure makes the ring): its duration is all of ``_ok_s`` so far."""
        window = self._window_size()
        ring = self._ring = _ring(window)
        ring[0] = self._ok_s
        ring[1 % window] = took
        return ring

    def _recovered(self) -> None:
        """The first success after failures: the streaks end."""
        self._errs = 0
        if self._extra is not None:
            self._extra.consecutive_timeouts = 0

    def _record_failed(
        self, exc: BaseException, start: float, end: float, *, timed_out: bool = False
    ) -> int:
        """A run that raised ``exc`` (or, ``timed_out``, was cancelled at its deadline);
        returns the failures in a row, this one included."""
        extra = self._extra_record()
        took = end - start
        if self._errs == 0:  # the run before this one, if any, succeeded: keep it
            extra.ok_end = self._end
            extra.ok_took = self._last_took()
        if self._ring is not None:
            self._ring[self._runs % len(self._ring)] = took
        elif self._runs:
            self._first_ring(took)
        else:  # a first run that failed: its duration is nowhere else
            self._ring = _ring(self._window_size())
            self._ring[0] = took
        self._runs += 1
        self._end = end
        self._record_error(exc)
        if timed_out:
            extra.timeouts += 1
            extra.consecutive_timeouts += 1
        return self._errs

    def _record_error(self, exc: BaseException) -> None:
        extra = self._extra_record()
        extra.errors += 1
        extra.last_error = ErrorInfo.from_exception(exc)
        self._errs += 1

    def _extra_record(self) -> Extra:
        if self._extra is None:
            self._extra = Extra()
        return self._extra

    # -- reading --------------------------------------------------------------------------

    def _last_took(self) -> float | None:
        if not self._runs:
            return None
        ring = self._ring
        return self._ok_s if ring is None else ring[(self._runs - 1) % len(ring)]

    def _durations(self) -> list[float]:
        """The window's durations, oldest first."""
        runs, ring = self._runs, self._ring
        if ring is None:
            return [self._ok_s] if runs else []
        window = len(ring)
        if runs <= window:
            return list(ring[:runs])
        at = runs % window
        return list(ring[at:]) + list(ring[:at])
