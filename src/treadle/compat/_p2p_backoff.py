"""The seed's BackoffConfig, mapped onto treadle's :class:`~treadle.Backoff`.

Owns :class:`BackoffConfig`: its validation (ValueErrors worded as the seed's module words
them: treadle's ConfigError is one) and the mapping of its symmetric jitter onto treadle's
policy. It does not sleep; the treadle Loop asks the mapped Backoff for each delay.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from .._backoff import Backoff, Jitter
from .._exceptions import ConfigError

__all__ = ["BackoffConfig"]

_TRUE_JITTER: Final = 0.1  # what the seed's README means by ``jitter=True``


def _invalid(name: str, rule: str) -> ConfigError:
    exc = ConfigError(name, rule)
    exc.args = (f"{name} {rule}",)  # the seed's wording: "initial_delay must be > 0"
    return exc


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """The n-th consecutive error waits ``min(max_delay, initial_delay * multiplier**(n-1))``,
    spread by ``jitter``, a fraction: 0.1 is +/-10% (``True``, as the README writes: 0.1).

    Treadle's Backoff has no symmetric jitter, so the mapping scales its bounds by
    ``1 + jitter`` under ``Jitter.FULL`` (the delay times ``rand()``) and narrows the random
    source to ``[(1 - jitter) / (1 + jitter), 1)``: the product is the seed's delay, drawn
    by treadle.
    """

    initial_delay: float = 1.0
    max_delay: float = 300.0
    multiplier: float = 1.5
    jitter: float = 0.1
    _backoff: Backoff = field(init=False, repr=False, compare=False)
    _low: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.jitter, bool):
            object.__setattr__(self, "jitter", _TRUE_JITTER if self.jitter else 0.0)
        for name in ("initial_delay", "max_delay", "multiplier", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise _invalid(name, f"must be a finite number, got {value!r}")
        if not self.initial_delay > 0:
            raise _invalid("initial_delay", "must be > 0")
        if not self.max_delay >= self.initial_delay:
            raise _invalid("max_delay", "must be >= initial_delay")
        if not self.multiplier > 1:
            raise _invalid("multiplier", "must be > 1")
        if not 0 <= self.jitter <= 1:
            raise _invalid("jitter", "must be between 0 and 1")
        spread = 1.0 + self.jitter
        if not math.isfinite(self.max_delay * spread):
            raise _invalid("max_delay", f"is too large to jitter, got {self.max_delay!r}")
        low = (1.0 - self.jitter) / spread  # 1.0: no jitter (or less than a float can see)
        backoff = Backoff(
            initial=self.initial_delay * spread,
            max=self.max_delay * spread,
            multiplier=self.multiplier,
            jitter=Jitter.NONE if low == 1.0 else Jitter.FULL,
        )
        object.__setattr__(self, "_backoff", backoff)
        object.__setattr__(self, "_low", low)

    def calculate_delay(
        self, consecutive_errors: int, rand: Callable[[], float] = random.random
    ) -> float:
        """The delay after ``consecutive_errors`` errors in a row (0.0 for none).

        ``rand`` is a ``random.random``-like source (values in [0, 1)), for exact tests.
        """
        return self._backoff.delay(consecutive_errors, self.random_source(rand))

    @property
    def backoff(self) -> Backoff:
        """The treadle Backoff this maps to (use it with :meth:`random_source`)."""
        return self._backoff

    def random_source(self, rand: Callable[[], float] = random.random) -> Callable[[], float]:
        """``rand`` narrowed as the mapping needs: a treadle Loop's ``rand`` option."""
        if self._low == 1.0:  # no jitter: treadle never draws
            return rand
        return lambda: self.narrow(rand())

    def narrow(self, r: float) -> float:
        """A draw ``r`` in [0, 1) mapped into [low, 1), where the mapped Backoff wants it."""
        return self._low + (1.0 - self._low) * r
