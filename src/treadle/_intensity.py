"""Restart intensity: may this child be restarted once more? A pure policy.

OTP's rule: more than ``intensity`` restarts within ``period`` seconds means the supervisor
gives up. :func:`allows` is the rule as a pure function of restart times; :class:`Intensity`
keeps the window for one child. The clock is the caller's (a monotonic ``now``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

from ._exceptions import ConfigError

__all__ = ["Intensity", "allows"]


def allows(restarts: Iterable[float], now: float, intensity: int, period: float) -> bool:
    """True if one more restart at ``now`` keeps the count within ``period`` at most ``intensity``.

    ``restarts`` are earlier restart times; those older than ``now - period`` do not count.
    """
    cutoff = now - period
    recent = sum(1 for t in restarts if t > cutoff)
    return recent + 1 <= intensity


class Intensity:
    """A sliding window of restart times for one child."""

    __slots__ = ("_times", "intensity", "period")

    def __init__(self, intensity: int = 5, period: float = 3600.0) -> None:
        if intensity < 0:
            raise ConfigError("intensity", f"must be >= 0, got {intensity}")
        if not (period > 0 and math.isfinite(period)):
            raise ConfigError("period", f"must be a finite number > 0, got {period}")
        self.intensity = intensity
        self.period = period
        self._times: deque[float] | None = None  # created on the first restart

    def record(self, now: float) -> bool:
        """Record a restart at ``now`` if allowed; return whether it was.

        Equivalent to ``allows(self.times, now, ...)`` followed by appending ``now``.
        """
        times = self._times
        if times is None:
            times = self._times = deque()
        cutoff = now - self.period
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) + 1 > self.intensity:
            return False
        times.append(now)
        return True

    @property
    def times(self) -> tuple[float, ...]:
        return tuple(self._times or ())

    def reset(self) -> None:
        self._times = None
