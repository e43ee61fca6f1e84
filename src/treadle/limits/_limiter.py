"""Limiter: a concurrency limit with priorities, safe under cancellation.

Owns :class:`Limiter` and the async context manager its ``limiter(priority)`` returns. It does
not own names (that is :mod:`._registry`) nor know which task holds which permit: like
``asyncio.Semaphore``, any task may release a permit any task acquired.

Waiters wait in a heap keyed ``(-priority, seq)``: the highest priority first, then in order of
arrival. A release hands its permit straight to the first live waiter (``in_use`` does not
drop), so a newcomer can never barge past the queue. The uncontended path takes a permit with
two comparisons and two additions, and allocates no future.

Invariant, restored by :meth:`Limiter._wake` after every release and resize: either nobody
waits or ``in_use >= capacity``. It is what makes the fast path exact: a free permit implies
an empty heap.

A waiter cancelled before its grant leaves a dead entry in the heap, skipped when it reaches
the top (the heap is compacted when dead entries could outnumber live ones). A waiter
cancelled *after* its grant, before it resumed, passes the permit on (or returns it) and
re-raises: cancellation never leaks a permit and is never swallowed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

from .._exceptions import ConfigError, OverReleased

__all__ = ["Limiter"]

# Compact the heap once this many waiters were cancelled since the last compaction, and at
# least half the heap might be dead: amortised O(1) per cancellation, bounded memory.
_COMPACT_AFTER = 64

_Waiter = tuple[int, int, "asyncio.Future[None]"]  # (-priority, seq, future)


class Limiter:
    """At most ``capacity`` holders at once: ``async with limiter(priority=1): ...``.

    Args:
        name: shown in stats, reprs and errors.
        capacity: permits, >= 1; change it later with :meth:`resize`.

    Bound to no event loop, but not thread-safe: use it from one loop at a time.
    """

    __slots__ = (
        "_cancelled",
        "_seq",
        "_slot0",
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
        self.acquired = 0  # acquisitions that returned to their caller
        self.total_wait_s = 0.0  # summed over acquisitions that had to wait
        self.max_wait_s = 0.0
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._cancelled = 0  # waiters cancelled since the last compaction
        self._slot0 = _Slot(self, 0)  # ``async with limiter():`` allocates nothing

    def try_acquire(self) -> bool:
        """Take a permit now if one is free and nobody is queued for it; never waits."""
        if self.in_use < self.capacity and not self._waiters:
            self.in_use += 1
            self.acquired += 1
            return True
        return False

    async def acquire(self, priority: int = 0) -> None:
        """Wait for a permit; higher ``priority`` is served first, equal ones in order."""
        if self.in_use < self.capacity and not self._waiters:  # the fast path
            self.in_use += 1
            self.acquired += 1
            return
        await self._wait(priority)

    async def _wait(self, priority: int) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._seq), fut))
        start = time.perf_counter()
        try:
            await fut
        except asyncio.CancelledError:
            if fut.cancelled():  # still queued: its entry is dead, skipped or compacted away
                self._forget_one()
            else:  # granted as we were cancelled: the permit is ours, pass it on
                self.release()
            raise
        waited = time.perf_counter() - start
        self.acquired += 1
        self.total_wait_s += waited
        if waited > self.max_wait_s:
            self.max_wait_s = waited

    def release(self) -> None:
        """Give a permit back, to the first waiter if there is one.

        Raises:
            OverReleased: nothing is held (more releases than acquisitions).
        """
        if self.in_use <= 0:
            raise OverReleased(
                f"limiter {self.name!r}: released more than acquired (nothing is held)"
            )
        self.in_use -= 1
        if self._waiters:
            self._wake()

    def resize(self, capacity: int) -> None:
        """Change the capacity now.

        Growing wakes waiters at once; shrinking takes nothing away: holders finish, and no
        permit is granted until ``in_use`` is below the new capacity.
        """
        _check_capacity(capacity)
        self.capacity = capacity
        self._wake()

    def __call__(self, priority: int = 0) -> AbstractAsyncContextManager[None]:
        """``async with limiter(priority=2): ...`` holds a permit for the block."""
        return self._slot0 if priority == 0 else _Slot(self, priority)

    slot = __call__

    @property
    def waiting(self) -> int:
        """Tasks queued for a permit now (cancelled ones not counted)."""
        return sum(1 for *_, fut in self._waiters if not fut.done())

    def stats(self) -> dict[str, Any]:
        """A JSON-safe snapshot; ``waiting_by_priority`` is keyed by the priority as text."""
        by_priority: dict[str, int] = {}
        for neg, _, fut in sorted(self._waiters):
            if not fut.done():
                key = str(-neg)
                by_priority[key] = by_priority.get(key, 0) + 1
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

    def _wake(self) -> None:
        """Grant permits to the first live waiters while any are free."""
        waiters = self._waiters
        while waiters and self.in_use < self.capacity:
            fut = heapq.heappop(waiters)[2]
            if fut.done():  # cancelled while it waited
                continue
            self.in_use += 1
            fut.set_result(None)

    def _forget_one(self) -> None:
        self._cancelled += 1
        if self._cancelled >= _COMPACT_AFTER and 2 * self._cancelled >= len(self._waiters):
            self._waiters = [w for w in self._waiters if not w[2].done()]
            heapq.heapify(self._waiters)
            self._cancelled = 0


class _Slot:
    """Holds one permit of a limiter for an ``async with`` block; reusable and re-entrant."""

    __slots__ = ("_limiter", "_priority")

    def __init__(self, limiter: Limiter, priority: int) -> None:
        self._limiter = limiter
        self._priority = priority

    async def __aenter__(self) -> None:
        lim = self._limiter
        if lim.in_use < lim.capacity and not lim._waiters:  # the fast path, one frame less
            lim.in_use += 1
            lim.acquired += 1
            return
        await lim._wait(self._priority)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._limiter.release()

    def __repr__(self) -> str:
        return f"<slot of {self._limiter!r} priority={self._priority}>"


def _check_capacity(capacity: int, field: str = "capacity") -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ConfigError(field, f"must be a whole number >= 1, got {capacity!r}")
