"""Limiter: a concurrency limit with priorities, safe under cancellation.

Owns :class:`Limiter`. Waiters are served highest priority first, then in order of arrival.
The uncontended path takes a permit with two integer operations and no future. A waiter
cancelled after it was handed a permit passes the permit on, so cancellation never leaks one.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from types import TracebackType
from typing import Any

from .._exceptions import ConfigError

__all__ = ["Limiter"]


class Limiter:
    """At most ``capacity`` holders at once; ``async with limiter(priority=1): ...``."""

    __slots__ = (
        "_seq",
        "_waiters",
        "acquired",
        "capacity",
        "in_use",
        "max_wait_s",
        "name",
        "total_wait_s",
    )

    def __init__(self, name: str, capacity: int) -> None:
        _check_capacity(capacity)
        self.name = name
        self.capacity = capacity
        self.in_use = 0
        self.acquired = 0
        self.total_wait_s = 0.0
        self.max_wait_s = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def try_acquire(self) -> bool:
        """Take a permit if one is free and nobody is queued for it."""
        if self.in_use < self.capacity and not self._has_waiters():
            self.in_use += 1
            self.acquired += 1
            return True
        return False

    async def acquire(self, priority: int = 0) -> None:
        if self.in_use < self.capacity and not self._waiters:  # the fast path
            self.in_use += 1
            self.acquired += 1
            return
        if self.try_acquire():
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._seq), fut))
        start = time.perf_counter()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # handed a permit as we were cancelled: pass it on
            raise
        waited = time.perf_counter() - start
        self.total_wait_s += waited
        self.max_wait_s = max(self.max_wait_s, waited)

    def release(self) -> None:
        if self.in_use <= 0:
            raise RuntimeError(f"limiter {self.name!r}: released more than acquired")
        self.in_use -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.in_use < self.capacity:
            _, _, fut = heapq.heappop(self._waiters)
            if fut.done():  # cancelled while waiting
                continue
            self.in_use += 1
            self.acquired += 1
            fut.set_result(None)

    def _has_waiters(self) -> bool:
        while self._waiters and self._waiters[0][2].done():
            heapq.heappop(self._waiters)
        return bool(self._waiters)

    def resize(self, capacity: int) -> None:
        """Change the capacity now; shrinking lets current holders finish first."""
        _check_capacity(capacity)
        self.capacity = capacity
        self._wake()

    def __call__(self, priority: int = 0) -> _Slot:
        return _Slot(self, priority)

    slot = __call__

    @property
    def waiting(self) -> int:
        return sum(1 for *_, fut in self._waiters if not fut.done())

    def stats(self) -> dict[str, Any]:
        by_priority: dict[str, int] = {}
        for prio, _, fut in self._waiters:
            if not fut.done():
                by_priority[str(-prio)] = by_priority.get(str(-prio), 0) + 1
        return {
            "name": self.name,
            "capacity": self.capacity,
            "in_use": self.in_use,
            "waiting": sum(by_priority.values()),
            "waiting_by_priority": by_priority,
            "acquired": self.acquired,
            "total_wait_s": self.total_wait_s,
            "max_wait_s": self.max_wait_s,
        }

    def __repr__(self) -> str:
        return f"<Limiter {self.name!r} {self.in_use}/{self.capacity} waiting={self.waiting}>"


class _Slot:
    __slots__ = ("_limiter", "_priority")

    def __init__(self, limiter: Limiter, priority: int) -> None:
        self._limiter = limiter
        self._priority = priority

    async def __aenter__(self) -> None:
        await self._limiter.acquire(self._priority)

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._limiter.release()


def _check_capacity(capacity: int) -> None:
    if not isinstance(capacity, int) or capacity < 1:
        raise ConfigError("capacity", f"must be a whole number >= 1, got {capacity!r}")
