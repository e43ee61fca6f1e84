"""Backoff: how long to wait before the next attempt. A pure policy.

Owns :class:`Backoff` (initial, max, multiplier, jitter, reset window) and the delay
arithmetic. It does not sleep: loops and supervisors ask it for a number and wait on their
own terms. Randomness is injected (a ``random()``-like callable) so tests are exact.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ._exceptions import ConfigError

__all__ = ["DEFAULT_BACKOFF", "Backoff", "Jitter"]


class Jitter(enum.StrEnum):
    """How randomness spreads a delay ``d`` (AWS's names)."""

    NONE = "none"  # exactly d
    FULL = "full"  # uniform in [0, d]
    EQUAL = "equal"  # d/2 + uniform in [0, d/2]


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff: attempt ``n`` (1-based) waits ``min(max, initial * multiplier**(n-1))``,
    then jitter. A run that stayed up ``reset_after`` seconds resets the attempt count.

    Args:
        initial: delay before the first retry, in seconds (0 means retry at once).
        max: the cap on any delay.
        multiplier: growth per attempt (1 means a constant delay).
        jitter: ``none``, ``full`` or ``equal``.
        reset_after: seconds of healthy running after which the count starts again.
    """

    initial: float = 0.5
    max: float = 60.0
    multiplier: float = 2.0
    jitter: Jitter = Jitter.EQUAL
    reset_after: float = 60.0

    def __post_init__(self) -> None:
        for name in ("initial", "max", "reset_after"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ConfigError(f"backoff.{name}", f"must be a finite number >= 0, got {value!r}")
        if not (self.multiplier >= 1 and math.isfinite(self.multiplier)):
            raise ConfigError("backoff.multiplier", f"must be >= 1, got {self.multiplier!r}")
        if self.max < self.initial:
            raise ConfigError("backoff.max", f"must be >= initial ({self.initial}), got {self.max}")
        object.__setattr__(self, "jitter", Jitter(self.jitter))

    @classmethod
    def none(cls) -> Backoff:
        """Retry at once, every time."""
        return cls(initial=0.0, max=0.0, jitter=Jitter.NONE)

    def base_delay(self, attempt: int) -> float:
        """The delay before jitter for attempt ``attempt`` (1-based); 0 for attempt < 1."""
        if attempt < 1 or self.initial == 0:
            return 0.0
        try:
            grown = self.initial * self.multiplier ** (attempt - 1)
        except OverflowError:  # the power alone left float range: far past any cap
            return self.max
        return min(self.max, grown)

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """The delay for attempt ``attempt`` with jitter drawn from ``rand`` (values in [0, 1))."""
        d = self.base_delay(attempt)
        if d == 0.0 or self.jitter is Jitter.NONE:
            return d
        if self.jitter is Jitter.FULL:
            return d * rand()
        half = d / 2
        return half + half * rand()


DEFAULT_BACKOFF: Final = Backoff()
"""The shared default (0.5 s doubling to 60 s, equal jitter): immutable, so one will do."""
