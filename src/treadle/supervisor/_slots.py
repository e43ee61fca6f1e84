"""``max_concurrent``: how many children of one supervisor may run at once.

Owns :class:`Slots`: a child takes a slot before it starts and gives it back when its task
ends; beyond the limit children wait in ``pending``, highest priority first, then in order of
arrival. A waiter cancelled after it was granted a slot still holds it (``child.has_slot``)
and gives it back when its task ends, so a slot is never lost.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

from .._exceptions import ConfigError
from ._child import Child

__all__ = ["Slots"]


class Slots:
    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ConfigError("max_concurrent", f"must be >= 1, got {limit}")
        self.limit = limit
        self.in_use = 0
        self._waiting: list[tuple[int, int, Child, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def try_take(self, child: Child) -> bool:
        """Take a slot now if one is free (and nobody with a claim waits)."""
        if child.has_slot or self.limit is None:
            return True
        if self.in_use < self.limit and not self._live_waiters():
            self.in_use += 1
            child.has_slot = True
            return True
        return False

    async def take(self, child: Child) -> None:
        """Wait for a slot, by the child's priority; cancellation leaves nothing behind."""
        if self.try_take(child):
            return
        fut = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (-child.spec.priority, next(self._seq), child, fut))
        await fut  # granted: child.has_slot is already True

    def give_back(self, child: Child) -> None:
        if not child.has_slot:
            return
        child.has_slot = False
        self.in_use -= 1
        self._grant()

    def _grant(self) -> None:
        while self._waiting and (self.limit is None or self.in_use < self.limit):
            _, _, child, fut = heapq.heappop(self._waiting)
            if fut.done():  # its waiter was cancelled: skip it
                continue
            self.in_use += 1
            child.has_slot = True
            fut.set_result(None)

    def _live_waiters(self) -> bool:
        while self._waiting and self._waiting[0][3].done():
            heapq.heappop(self._waiting)
        return bool(self._waiting)

    def resize(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ConfigError("max_concurrent", f"must be >= 1, got {limit}")
        self.limit = limit
        self._grant()

    def stats(self) -> dict[str, Any]:
        waiting = [w for w in self._waiting if not w[3].done()]
        by_priority: dict[str, int] = {}
        for prio, _, _, _ in waiting:
            by_priority[str(-prio)] = by_priority.get(str(-prio), 0) + 1
        return {
            "limit": self.limit,
            "in_use": self.in_use,
            "waiting": len(waiting),
            "waiting_by_priority": by_priority,
        }
