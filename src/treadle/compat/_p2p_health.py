"""The seed's verdicts on a loop: its status word and its health-check result.

Owns :class:`CoordinatorStatus` and :class:`HealthCheckResult` (the types the seed's loops
return from ``health_check()``, defined beside them in its coordination protocols), and the
seed's rules, as pure functions of a loop's :class:`LoopStats`: :func:`status_word` for
``get_status()["status"]`` and :func:`loop_health` for ``health_check()``. Treadle's own
verdicts (``Loop.errors_health``, the lifecycle table) stay what its dashboard shows.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any, Final

from ._p2p_stats import LoopStats

__all__ = ["CoordinatorStatus", "HealthCheckResult", "loop_health", "status_word"]

ERROR_STREAK: Final = 5  # consecutive errors: get_status says "error" at 5, health above 5
LOW_SUCCESS: Final = 50.0  # percent of runs: below it, a loop is degraded


class CoordinatorStatus(str, enum.Enum):  # noqa: UP042 - the seed's type: str() is its name
    """A coordinator's status, as the seed's protocols spell it."""

    INITIALIZING = "initializing"
    STARTING = "starting"
    READY = "ready"
    RUNNING = "running"
    PAUSED = "paused"
    DRAINING = "draining"
    STOPPING = "stopping"
    STOPPED = "stopped"
    ERROR = "error"
    DEGRADED = "degraded"


@dataclass
class HealthCheckResult:
    """One health check: ``healthy``, a status, a message, when, and details."""

    healthy: bool
    status: CoordinatorStatus = CoordinatorStatus.RUNNING
    message: str = ""
    timestamp: float = field(default_factory=time.time)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "status": self.status.value,
            "message": self.message,
            "timestamp": self.timestamp,
            "details": self.details,
        }


def status_word(running: bool, paused: bool, stats: LoopStats) -> str:
    """stopped, paused (treadle's pause), error, degraded or running."""
    if not running:
        return "stopped"
    if paused:
        return "paused"
    if stats.consecutive_errors >= ERROR_STREAK:
        return "error"
    # The seed's module compares the percentage with 0.5 here (and with 50 in its health
    # check): a unit slip, so a loop failing 99% of its runs read "running". Both say 50%.
    if stats.total_runs > 0 and stats.success_rate < LOW_SUCCESS:
        return "degraded"
    return "running"


def loop_health(name: str, running: bool, paused: bool, stats: LoopStats) -> HealthCheckResult:
    """Healthy when stopped or paused; unhealthy above 5 errors in a row, or below 50%
    success; otherwise operational, with the figures as details."""
    if not running:
        return HealthCheckResult(True, CoordinatorStatus.STOPPED, f"Loop {name} is stopped")
    if paused:
        return HealthCheckResult(True, CoordinatorStatus.PAUSED, f"Loop {name} is paused")
    rate = f"{stats.success_rate:.1f}%"
    if stats.consecutive_errors > ERROR_STREAK:
        return HealthCheckResult(
            False,
            CoordinatorStatus.ERROR,
            f"Too many consecutive errors: {stats.consecutive_errors}",
            details={
                "last_error": stats.last_error_message,
                "consecutive_errors": stats.consecutive_errors,
            },
        )
    if stats.total_runs > 0 and stats.success_rate < LOW_SUCCESS:
        return HealthCheckResult(
            False,
            CoordinatorStatus.DEGRADED,
            f"High failure rate: {rate}",
            details={
                "total_runs": stats.total_runs,
                "failed_runs": stats.failed_runs,
                "success_rate": rate,
            },
        )
    return HealthCheckResult(
        True,
        CoordinatorStatus.RUNNING,
        f"Loop {name} operational",
        details={
            "total_runs": stats.total_runs,
            "successful_runs": stats.successful_runs,
            "consecutive_errors": stats.consecutive_errors,
            "success_rate": rate,
            "last_success": stats.last_success_time,
            "avg_duration_ms": f"{stats.avg_run_duration * 1000:.1f}",
        },
    )
