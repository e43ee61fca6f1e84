"""The seed's LoopStats: a plain dataclass, filled in from a treadle Loop's metrics.

Owns :class:`LoopStats` (the record users construct, subclass and serialise) and
:func:`fill`, which writes a loop's figures into one, read from the treadle
:class:`~treadle.loop.LoopMetrics` that counted them: nothing here counts. ``reset_stats``
is an :class:`Origin`, the metrics at the reset; figures are read relative to it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

from ..loop import LoopMetrics

__all__ = ["LoopStats", "Origin", "fill"]


@dataclass
class LoopStats:
    """What a loop has done, as the seed's loops keep it (subclass it for more fields)."""

    name: str
    total_runs: int = 0
    successful_runs: int = 0
    failed_runs: int = 0  # errors and timeouts
    consecutive_errors: int = 0  # since the last success, timeouts not included
    consecutive_timeouts: int = 0
    total_timeouts: int = 0
    last_run_time: float = 0.0  # wall clock at the start of the last run
    last_success_time: float = 0.0  # wall clock at the end of the last success
    last_error_time: float = 0.0
    last_error_message: str = ""
    total_run_duration: float = 0.0  # seconds, successful runs only
    last_run_duration: float = 0.0  # seconds, the last successful run

    @property
    def success_rate(self) -> float:
        """Percent of runs that succeeded; 100.0 before the first run."""
        if self.total_runs == 0:
            return 100.0
        return self.successful_runs / self.total_runs * 100.0

    @property
    def avg_run_duration(self) -> float:
        """Mean seconds of a successful run; 0.0 before the first."""
        if self.successful_runs == 0:
            return 0.0
        return self.total_run_duration / self.successful_runs

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total_runs": self.total_runs,
            "successful_runs": self.successful_runs,
            "failed_runs": self.failed_runs,
            "consecutive_errors": self.consecutive_errors,
            "consecutive_timeouts": self.consecutive_timeouts,
            "total_timeouts": self.total_timeouts,
            "last_run_time": self.last_run_time,
            "last_success_time": self.last_success_time,
            "last_error_time": self.last_error_time,
            "last_error_message": self.last_error_message,
            "success_rate": self.success_rate,
            "avg_run_duration_ms": self.avg_run_duration * 1000,
            "last_run_duration_ms": self.last_run_duration * 1000,
        }


@dataclass(frozen=True, slots=True)
class Origin:
    """The metrics at a reset: what ``fill`` subtracts, and before which nothing shows."""

    runs: int = 0
    errors: int = 0
    timeouts: int = 0
    success_s: float = 0.0
    at: float = float("-inf")  # perf_counter()
    wall: float = float("-inf")  # time.time()

    @classmethod
    def of(cls, m: LoopMetrics) -> Origin:
        return cls(m.runs, m.errors, m.timeouts, m.success_s, time.perf_counter(), time.time())


# Treadle times runs by perf_counter(); the seed's record holds wall-clock times. One offset,
# taken once, keeps a time the same however often it is read (a clock step since is not
# followed: the times stay those of the clock the runs were timed by).
_WALL_OFFSET: Final = time.time() - time.perf_counter()


def _wall(perf: float) -> float:
    return perf + _WALL_OFFSET


def fill(stats: LoopStats, m: LoopMetrics, origin: Origin) -> LoopStats:
    """Write the loop's figures since ``origin`` into ``stats`` (its other fields are kept)."""
    runs, errors = m.runs - origin.runs, m.errors - origin.errors
    timeouts = m.timeouts - origin.timeouts
    # Treadle's streaks run since the last success; only the part after the reset counts.
    streak = min(m.consecutive_errors, errors)
    timeout_streak = min(m.consecutive_timeouts, timeouts)
    stats.total_runs = runs
    stats.successful_runs = runs - errors
    stats.failed_runs = errors
    stats.consecutive_errors = streak - timeout_streak
    stats.consecutive_timeouts = timeout_streak
    stats.total_timeouts = timeouts
    stats.total_run_duration = m.success_s - origin.success_s
    stats.last_run_time = stats.last_success_time = stats.last_run_duration = 0.0
    end, took = m.last_run_end, m.last_duration
    if end is not None and took is not None and end > origin.at:
        stats.last_run_time = _wall(end - took)
    end, took = m.last_success_end, m.last_success_duration
    if end is not None and took is not None and end > origin.at:
        stats.last_success_time, stats.last_run_duration = _wall(end), took
    error = m.last_error
    if error is not None and error.ts > origin.wall:
        stats.last_error_time, stats.last_error_message = error.ts, error.message
    else:
        stats.last_error_time, stats.last_error_message = 0.0, ""
    return stats
