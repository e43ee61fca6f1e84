"""Loop metrics, as read: runs, errors, durations and their percentiles, the last error.

Owns :class:`LoopMetrics`, a view of a loop's :class:`~treadle.loop._tally.Tally` (the
counters its tick writes) that computes what it is asked (percentiles, the last success,
the wall-clock time of the last run) when it is asked. It records nothing on its own
account: a record made with ``LoopMetrics(window)`` writes to a Tally of its own, as a
loop's tick does to the loop.
"""

from __future__ import annotations

import time
from typing import Any

from ._error import ErrorInfo
from ._tally import Tally

__all__ = ["LoopMetrics", "percentile"]


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in [0, 1]); 0.0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


class _Record(Tally):
    """A Tally of its own, for ``LoopMetrics(window)``."""

    __slots__ = ("_size",)

    def __init__(self, window: int) -> None:
        super().__init__()
        self._size = window

    def _window_size(self) -> int:
        return self._size


class LoopMetrics:
    """What a loop has done: runs, errors, the last error, durations (seconds).

    Read from the loop's :class:`Tally` as it is now (``loop.metrics`` is a view, made on
    each read); ``LoopMetrics(window)`` is a record of its own, for tests and tools.
    """

    __slots__ = ("_t",)

    def __init__(self, window: int = 128) -> None:
        self._t: Tally = _Record(window)

    @classmethod
    def of(cls, tally: Tally) -> LoopMetrics:
        """The view of ``tally`` (a Loop's own)."""
        view = cls.__new__(cls)
        view._t = tally
        return view

    # -- recording, for a record of its own ------------------------------------------------

    def record_duration(self, seconds: float) -> None:
        """A successful run that took ``seconds`` (and ended now)."""
        self._t._record_ok(seconds, time.perf_counter())

    def record_run(self, start: float, end: float) -> None:
        """A successful run from ``start`` to ``end`` (``perf_counter()``)."""
        self._t._record_ok(end - start, end)

    def record_error(self, exc: BaseException) -> None:
        """A failure counted, not a run (the run is :meth:`record_failed_run`)."""
        self._t._record_error(exc)

    def record_failed_run(
        self, exc: BaseException, start: float, end: float, *, timed_out: bool = False
    ) -> None:
        """A run from ``start`` to ``end`` (``perf_counter()``) that raised ``exc``, or (with
        ``timed_out``) was cancelled at its deadline."""
        self._t._record_failed(exc, start, end, timed_out=timed_out)

    # -- counts ---------------------------------------------------------------------------

    @property
    def window(self) -> int:
        return self._t._window_size()

    @property
    def runs(self) -> int:
        return self._t._runs

    @property
    def errors(self) -> int:
        """Failed runs, timeouts included."""
        extra = self._t._extra
        return 0 if extra is None else extra.errors

    @property
    def consecutive_errors(self) -> int:
        """Failed runs since the last success, timeouts included."""
        return self._t._errs

    @property
    def timeouts(self) -> int:
        """Runs cancelled at their ``run_timeout``."""
        extra = self._t._extra
        return 0 if extra is None else extra.timeouts

    @property
    def consecutive_timeouts(self) -> int:
        extra = self._t._extra
        return 0 if extra is None else extra.consecutive_timeouts

    @property
    def success_s(self) -> float:
        """Seconds spent in runs that succeeded, all time."""
        return self._t._ok_s

    @property
    def last_error(self) -> ErrorInfo | None:
        extra = self._t._extra
        return None if extra is None else extra.last_error

    @property
    def cpu_s(self) -> float | None:
        """Thread CPU time inside ``run_once``, if measured (``Loop(cpu_time=True)``)."""
        extra = self._t._extra
        return None if extra is None else extra.cpu_s

    # -- times ----------------------------------------------------------------------------

    @property
    def last_run_end(self) -> float | None:
        """``perf_counter()`` at the end of the last run; None before the first."""
        return self._t._end

    @property
    def last_duration(self) -> float | None:
        """Seconds the most recent run took (failed or not); None before the first."""
        return self._t._last_took()

    @property
    def last_success_end(self) -> float | None:
        """``perf_counter()`` at the end of the last successful run; None before one."""
        t = self._t
        if t._errs == 0:
            return t._end
        return None if t._extra is None else t._extra.ok_end

    @property
    def last_success_duration(self) -> float | None:
        """Seconds the last successful run took; None before one."""
        t = self._t
        if t._errs == 0:
            return t._last_took()
        return None if t._extra is None else t._extra.ok_took

    def durations(self) -> list[float]:
        """The window's durations, oldest first."""
        return self._t._durations()

    def summary(self) -> dict[str, float]:
        """Mean, p50, p95 and max of the window, in milliseconds."""
        ordered = sorted(self._t._durations())
        if not ordered:
            return {"mean_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "max_ms": 0.0, "samples": 0}
        return {
            "mean_ms": 1000 * sum(ordered) / len(ordered),
            "p50_ms": 1000 * percentile(ordered, 0.50),
            "p95_ms": 1000 * percentile(ordered, 0.95),
            "max_ms": 1000 * ordered[-1],
            "samples": len(ordered),
        }

    def as_dict(self) -> dict[str, Any]:
        end, last_run_ts = self._t._end, None
        if end is not None:
            last_run_ts = time.time() - (time.perf_counter() - end)
        last_error = self.last_error
        return {
            "runs": self.runs,
            "errors": self.errors,
            "consecutive_errors": self.consecutive_errors,
            "last_error": last_error.as_dict() if last_error else None,
            "last_run_ts": last_run_ts,
            "cpu_s": self.cpu_s,
            "duration": self.summary(),
        }
