"""The recent past the dashboard's "last 5 min" charts start from: :class:`History`.

A page opened now would otherwise draw only what happens after it was opened: a child that
restarted twelve times a minute ago would show 0.0 restarts/min. So the dashboard keeps,
in memory while its manager runs, each child's restarts (the times it went from failed or
backoff to starting, as the page counts them live) and a sample of its run durations
(p50 and p95, every ``every`` seconds), both cut at ``window`` seconds; the page reads
them once (``/api/history``) and goes on from the event stream and its status polls.

It is fed by the event recorder (:mod:`._events`), which sees every transition already;
it writes nothing to the broker: a new manager starts with no past, as its counters do.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from ..project import Row

__all__ = ["History"]

_RESTART_FROM = frozenset({"failed", "backoff"})


class History:
    """Restarts and duration samples per child, over the last ``window`` seconds."""

    def __init__(self, *, window: float = 300.0, every: float = 10.0) -> None:
        self.window = window
        self.every = every
        self._restarts: dict[str, deque[float]] = {}
        self._samples: dict[str, deque[tuple[float, float | None, float | None]]] = {}
        self._next_sample = 0.0

    def transition(self, event: Mapping[str, Any]) -> None:
        """A lifecycle event, as the recorder publishes it (``name`` relative to the
        project): a restart is kept."""
        if event.get("to") == "starting" and event.get("from") in _RESTART_FROM:
            ts = event.get("ts")
            when = float(ts) if isinstance(ts, int | float) else time.time()
            self._restarts.setdefault(str(event["name"]), deque()).append(when)

    def due(self, now: float) -> bool:
        """Whether a duration sample is due (monotonic ``now``); then the next is not."""
        if now < self._next_sample:
            return False
        self._next_sample = now + self.every
        return True

    def sample(self, rows: Iterable[Row], now: float | None = None) -> None:
        """The run durations of every child that reports them, at wall-clock ``now``."""
        now = time.time() if now is None else now
        for row in rows:
            if row.duration_p50_ms is not None or row.duration_p95_ms is not None:
                kept = self._samples.setdefault(row.name, deque())
                kept.append((now, row.duration_p50_ms, row.duration_p95_ms))
        self._cut(now)

    def snapshot(self, now: float | None = None) -> dict[str, Any]:
        """What the page starts from: the server's time, the window, and per child its
        restarts' times and its samples, oldest first."""
        now = time.time() if now is None else now
        self._cut(now)
        names = sorted(self._restarts.keys() | self._samples.keys())
        return {
            "now": now,
            "window_s": self.window,
            "children": {
                name: {
                    "restarts": list(self._restarts.get(name, ())),
                    "samples": [
                        {"t": t, "p50_ms": p50, "p95_ms": p95}
                        for t, p50, p95 in self._samples.get(name, ())
                    ],
                }
                for name in names
            },
        }

    def _cut(self, now: float) -> None:
        oldest = now - self.window
        for kept in (self._restarts, self._samples):
            for name in list(kept):
                times = kept[name]
                while times and _time(times[0]) < oldest:
                    times.popleft()
                if not times:
                    del kept[name]


def _time(item: float | tuple[float, float | None, float | None]) -> float:
    return item if isinstance(item, float) else item[0]
