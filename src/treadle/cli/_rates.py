"""Rates over a sliding window, for ``treadle top``: :class:`Rates`.

Owns the samples of each child's counters (loop runs, errors, restarts) taken at each
refresh, and a rate as the change over the last ``window`` seconds (about: from the
newest sample to the oldest one no older than that, or the first there is), so that one
slow run or a refresh that came late does not make the figure jump. Pure: the caller
gives the times; nothing here reads a clock.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Final

from ..project import Row

__all__ = ["FIELDS", "Rates"]

FIELDS: Final = ("runs", "errors", "restarts")


class Rates:
    """The counters of each child over the last ``window`` seconds."""

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._samples: dict[str, deque[tuple[float, dict[str, int | None]]]] = {}

    def add(self, now: float, rows: Iterable[Row]) -> None:
        """One refresh's rows, taken at ``now`` (seconds, any monotonic clock)."""
        seen = set()
        for row in rows:
            seen.add(row.name)
            samples = self._samples.setdefault(row.name, deque())
            samples.append((now, {f: getattr(row, f) for f in FIELDS}))
            # keep one sample at or before the window's start: the span is the window
            while len(samples) > 2 and samples[1][0] <= now - self.window:
                samples.popleft()
        for gone in self._samples.keys() - seen:  # removed, or scaled away
            del self._samples[gone]

    def per_second(self, name: str, field: str) -> float | None:
        """How fast ``field`` of child ``name`` went up over the window; None until two
        samples are in, or for a counter the child does not have (a process's runs)."""
        samples = self._samples.get(name)
        if not samples or len(samples) < 2:
            return None
        (t0, first), (t1, last) = samples[0], samples[-1]
        a, b = first.get(field), last.get(field)
        if a is None or b is None or t1 <= t0:
            return None
        return max(0, b - a) / (t1 - t0)  # a restarted loop counts from 0 again

    def span(self, name: str) -> float:
        """The seconds the rates of ``name`` are over (less than the window at first)."""
        samples = self._samples.get(name)
        return samples[-1][0] - samples[0][0] if samples else 0.0
