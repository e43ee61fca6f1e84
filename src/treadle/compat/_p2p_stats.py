"""The seed's LoopStats: a live view of a treadle Loop's :class:`~treadle.loop.LoopMetrics`.

Owns :class:`LoopStats` and nothing that counts: every figure is read from the metrics the
Loop records on its tick. Durations are treadle's window of recent runs (128 by default,
failed runs included), not an all-time total, and treadle keeps no time of the last success.
"""

from __future__ import annotations

import time
from typing import Any

from ..loop import LoopMetrics

__all__ = ["LoopStats"]


class LoopStats:
    """The seed's loop statistics, read live from the loop's treadle :class:`LoopMetrics`."""

    __slots__ = ("_metrics", "name")

    def __init__(self, name: str, metrics: LoopMetrics) -> None:
        self.name = name
        self._metrics = metrics

    @property
    def total_runs(self) -> int:
        return self._metrics.runs

    @property
    def successful_runs(self) -> int:
        return self._metrics.runs - self._metrics.errors

    @property
    def failed_runs(self) -> int:
        return self._metrics.errors

    @property
    def consecutive_errors(self) -> int:
        return self._metrics.consecutive_errors

    @property
    def last_run_time(self) -> float:
        """Wall-clock time at which the last run ended; 0.0 before the first."""
        end = self._metrics.last_run_end
        return 0.0 if end is None else time.time() - (time.perf_counter() - end)

    @property
    def last_error_time(self) -> float:
        error = self._metrics.last_error
        return 0.0 if error is None else error.ts

    @property
    def last_error_message(self) -> str:
        """``str()`` of the last error (its type if that is empty); "" before any."""
        error = self._metrics.last_error
        return "" if error is None else error.message or error.type

    @property
    def last_run_duration(self) -> float:
        durations = self._metrics.durations()
        return durations[-1] if durations else 0.0

    @property
    def success_rate(self) -> float:
        """Percent of runs that succeeded; 100.0 before the first run."""
        runs = self._metrics.runs
        return 100.0 if runs == 0 else 100.0 * (runs - self._metrics.errors) / runs

    @property
    def avg_run_duration(self) -> float:
        """Mean duration of treadle's window of recent runs, in seconds."""
        durations = self._metrics.durations()
        return sum(durations) / len(durations) if durations else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "total_runs": self.total_runs,
            "successful_runs": self.successful_runs,
            "failed_runs": self.failed_runs,
            "consecutive_errors": self.consecutive_errors,
            "last_run_time": self.last_run_time,
            "last_error_time": self.last_error_time,
            "last_error_message": self.last_error_message,
            "success_rate": self.success_rate,
            "avg_run_duration_ms": self.avg_run_duration * 1000,
            "last_run_duration_ms": self.last_run_duration * 1000,
        }

    def __repr__(self) -> str:
        return f"<LoopStats {self.name!r} runs={self.total_runs} errors={self.failed_runs}>"
