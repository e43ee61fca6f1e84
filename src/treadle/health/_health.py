"""Health: what a check says, and how a tree's health rolls up. Pure values and functions.

Owns :class:`HealthStatus` (ordered by severity), :class:`Health` (a status with a reason),
:func:`rollup` (worst wins, reasons kept), :func:`from_state` (what a lifecycle state says
about health when no check has spoken) and :func:`from_restarts` (a child that keeps
restarting is degraded, even while it runs). Running checks is the supervisor's job.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._lifecycle import State

__all__ = ["LOOPING", "Health", "HealthStatus", "from_restarts", "from_state", "rollup"]


class HealthStatus(enum.StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {HealthStatus.HEALTHY: 0, HealthStatus.DEGRADED: 1, HealthStatus.UNHEALTHY: 2}


@dataclass(frozen=True, slots=True)
class Health:
    """A health verdict. ``reason`` says why it is not healthy (or what was checked)."""

    status: HealthStatus
    reason: str = ""

    @classmethod
    def healthy(cls, reason: str = "") -> Health:
        return cls(HealthStatus.HEALTHY, reason)

    @classmethod
    def degraded(cls, reason: str) -> Health:
        return cls(HealthStatus.DEGRADED, reason)

    @classmethod
    def unhealthy(cls, reason: str) -> Health:
        return cls(HealthStatus.UNHEALTHY, reason)

    @property
    def ok(self) -> bool:
        """Healthy or degraded: good enough to serve and to be depended on."""
        return self.status is not HealthStatus.UNHEALTHY

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "reason": self.reason}


HEALTHY = Health.healthy()

_BY_STATE: dict[State, Health] = {
    State.RUNNING: HEALTHY,
    State.PAUSED: Health.degraded("paused"),
    State.PENDING: Health.degraded("pending"),
    State.STARTING: Health.degraded("starting"),
    State.STOPPING: Health.degraded("stopping"),
    State.STOPPED: Health.healthy("stopped"),
    State.BACKOFF: Health.unhealthy("restarting after a failure"),
    State.FAILED: Health.unhealthy("failed"),
    State.GIVEN_UP: Health.unhealthy("given up"),
}


def from_state(state: State) -> Health:
    """What a lifecycle state alone says about health."""
    return _BY_STATE[state]


LOOPING = (3, 300.0)  # this many restarts within this many seconds: crash-looping


def from_restarts(times: Iterable[float], now: float) -> Health:
    """What a child's recent restarts (their times) say about its health: degraded once
    it restarted ``LOOPING[0]`` times or more in the last ``LOOPING[1]`` seconds (it
    keeps failing, though it may be running at this moment); else healthy."""
    least, window = LOOPING
    recent = sum(1 for t in times if now - t <= window)
    if recent < least:
        return HEALTHY
    return Health.degraded(f"crash-looping: {recent} restarts in the last {window / 60:g} min")


def worst(*items: Health) -> Health:
    """The most severe of ``items`` (the first of equals); healthy if there are none."""
    if not items:
        return HEALTHY
    result = items[0]
    for h in items[1:]:
        if h.status.severity > result.status.severity:
            result = h
    return result


def rollup(children: Mapping[str, Health]) -> Health:
    """A tree's health: the worst child's status, with every non-healthy child's reason."""
    top = worst(*children.values())
    if top.status is HealthStatus.HEALTHY:
        return HEALTHY
    reasons = [
        f"{name}: {h.status.value}" + (f" ({h.reason})" if h.reason else "")
        for name, h in children.items()
        if h.status is not HealthStatus.HEALTHY
    ]
    return Health(top.status, "; ".join(reasons))
