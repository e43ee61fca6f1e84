"""Loop metrics: counters, the last error, and run durations over a bounded window.

Owns :class:`LoopMetrics` and :class:`ErrorInfo`. Recording is on every tick, so it is a few
attribute writes and one list store; percentiles are computed only when someone asks.
The window is a ring in a plain list, grown on demand: an idle loop pays for one float.
What a failed run hides (the end and duration of the last success) is kept by the failure,
off the hot path: a success stores nothing but its counters, its end and its duration.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from .._exceptions import TreadleError

__all__ = ["ErrorInfo", "LoopMetrics", "percentile"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception, kept as text so its frames are not kept alive."""

    type: str
    message: str
    ts: float
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """The exception's type, message and traceback; a TreadleError's own report (a
        process's last lines) in place of a traceback that shows only treadle's frames."""
        report = exc.report() if isinstance(exc, TreadleError) else None
        return cls(
            type=type(exc).__qualname__,
            message=str(exc),
            ts=time.time(),
            traceback=report or "".join(traceback.format_exception(exc)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "ts": self.ts,
            "traceback": self.traceback,
        }

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (``q`` in [0, 1]); 0.0 when empty."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


class LoopMetrics:
    """What a loop has done: runs, errors, the last error, durations (seconds)."""

    __slots__ = (
        "_durations",
        "_next",
        "_ok_duration",
        "_ok_end",
        "consecutive_errors",
        "consecutive_timeouts",
        "cpu_s",
        "errors",
        "last_error",
        "last_run_end",
        "runs",
        "success_s",
        "timeouts",
        "window",
    )

    def __init__(self, window: int = 128) -> None:
        self.window = window
        self.runs = 0
        self.errors = 0  # failed runs, timeouts included
        self.consecutive_errors = 0  # failed runs since the last success, timeouts included
        self.timeouts = 0  # runs cancelled at their ``run_timeout``
        self.consecutive_timeouts = 0  # of those, since the last success
        self.success_s = 0.0  # seconds spent in runs that succeeded, all time
        self.last_error: ErrorInfo | None = None
        self.last_run_end: float | None = None  # perf_counter() at the end of the last run
        self.cpu_s: float | None = None  # thread CPU time inside run_once, if measured
        self._durations: list[float] = []
        self._next = 0
        self._ok_end: float | None = None  # the last success, kept once a failure follows it
        self._ok_duration: float | None = None

    def record_duration(self, seconds: float) -> None:
        durations = self._durations
        if len(durations) < self.window:
            durations.append(seconds)
        else:
            durations[self._next] = seconds
            self._next = (self._next + 1) % self.window

    def record_error(self, exc: BaseException) -> None:
        self.errors += 1
        self.consecutive_errors += 1
        self.last_error = ErrorInfo.from_exception(exc)

    def record_failed_run(
        self, exc: BaseException, start: float, end: float, *, timed_out: bool = False
    ) -> None:
        """A run from ``start`` to ``end`` (``perf_counter()``) that raised ``exc``, or (with
        ``timed_out``) was cancelled at its deadline."""
        if self.consecutive_errors == 0:  # the run before this one, if any, succeeded
            self._ok_end = self.last_run_end
            self._ok_duration = self.last_duration
        self.runs += 1
        self.last_run_end = end
        self.record_duration(end - start)
        self.record_error(exc)
        if timed_out:
            self.timeouts += 1
            self.consecutive_timeouts += 1

    @property
    def last_duration(self) -> float | None:
        """Seconds the most recent run took (failed or not); None before the first."""
        d = self._durations
        return d[self._next - 1] if d else None

    @property
    def last_success_end(self) -> float | None:
        """``perf_counter()`` at the end of the last successful run; None before one."""
        return self.last_run_end if self.consecutive_errors == 0 else self._ok_end

    @property
    def last_success_duration(self) -> float | None:
        """Seconds the last successful run took; None before one."""
        if self.consecutive_errors:
            return self._ok_duration
        return None if self.last_run_end is None else self.last_duration

    def durations(self) -> list[float]:
        """The window's durations, oldest first."""
        d = self._durations
        return d[self._next :] + d[: self._next]

    def summary(self) -> dict[str, float]:
        """Mean, p50, p95 and max of the window, in milliseconds."""
        ordered = sorted(self._durations)
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
        last_run_ts = None
        if self.last_run_end is not None:
            last_run_ts = time.time() - (time.perf_counter() - self.last_run_end)
        return {
            "runs": self.runs,
            "errors": self.errors,
            "consecutive_errors": self.consecutive_errors,
            "last_error": self.last_error.as_dict() if self.last_error else None,
            "last_run_ts": last_run_ts,
            "cpu_s": self.cpu_s,
            "duration": self.summary(),
        }
