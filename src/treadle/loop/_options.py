"""A loop's settings: the constructor's arguments, checked, and the rarely-set ones apart.

Owns :class:`Options` (backoff, initial delay, gate, error limit, hook timeout, jitter's
random source, CPU timing: read off the hot path) and the checks of every argument, each
failing with a :class:`~treadle.ConfigError` that names it. Most loops keep every default
and share one Options object. It does not own what the settings do (the Loop does).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from .._backoff import DEFAULT_BACKOFF, Backoff
from .._exceptions import ConfigError

__all__ = ["DEFAULT_OPTIONS", "Options", "check_interval", "check_timeout", "options"]


@dataclass(frozen=True, slots=True)
class Options:
    """A loop's rarely-set options, apart from its hot state."""

    backoff: Backoff
    initial_delay: float
    gate: Callable[[], bool] | None
    max_errors: int | None
    hook_timeout: float
    rand: Callable[[], float]
    cpu_time: bool
    window: int


DEFAULT_OPTIONS: Final = Options(DEFAULT_BACKOFF, 0.0, None, None, 5.0, random.random, False, 128)


def options(
    *,
    initial_delay: float,
    backoff: Backoff | None,
    should_run: Callable[[], bool] | None,
    max_consecutive_errors: int | None,
    window: int,
    hook_timeout: float,
    rand: Callable[[], float],
    cpu_time: bool,
) -> Options:
    """Check the constructor's arguments; the shared default when they are the defaults."""
    if (  # the common case, quickly: a tree may make 100,000 loops
        initial_delay == 0
        and backoff is None
        and should_run is None
        and max_consecutive_errors is None
        and window == 128
        and hook_timeout == 5.0
        and rand is random.random
        and not cpu_time
    ):
        return DEFAULT_OPTIONS
    if not initial_delay >= 0:
        raise ConfigError("initial_delay", f"must be >= 0, got {initial_delay!r}")
    if max_consecutive_errors is not None and max_consecutive_errors < 1:
        raise ConfigError("max_consecutive_errors", f"must be >= 1, got {max_consecutive_errors}")
    if window < 1:
        raise ConfigError("window", f"must be >= 1, got {window}")
    opts = Options(
        backoff or DEFAULT_BACKOFF,
        float(initial_delay),
        should_run,
        max_consecutive_errors,
        hook_timeout,
        rand,
        cpu_time,
        window,
    )
    # Most loops keep every default: they share one options object (72 bytes a loop).
    return DEFAULT_OPTIONS if opts == DEFAULT_OPTIONS else opts


def check_interval(value: float) -> float:
    """``value`` if it may be an interval; an int is kept as it is (the caller's object,
    shared by every loop given the same literal, where ``float()`` makes one a loop)."""
    if not value >= 0:
        raise ConfigError("interval", f"must be >= 0, got {value!r}")
    return value if type(value) is int else float(value)


def check_timeout(value: float | None) -> float | None:
    if value is not None and not value > 0:
        raise ConfigError("run_timeout", f"must be > 0 or None, got {value!r}")
    return None if value is None else float(value)
