"""``max_concurrent``: how many children of one supervisor may run at once.

Owns :class:`Slots`, a :class:`~treadle.limits.Limiter` that knows which child holds which
permit: a child takes a slot before it starts and gives it back when its task ends; beyond
the limit children wait in ``pending``, highest priority first, then in order of arrival.
It does not start children (``_restarts`` asks it for a slot first).
"""

from __future__ import annotations

from typing import Any

from .._exceptions import ConfigError
from ..limits import Limiter
from ._child import Child

__all__ = ["Slots"]


class Slots:
    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 1:
            raise ConfigError("max_concurrent", f"must be >= 1, got {limit}")
        self._limiter = Limiter("max_concurrent", limit) if limit is not None else None

    @property
    def limit(self) -> int | None:
        return self._limiter.capacity if self._limiter is not None else None

    @property
    def in_use(self) -> int:
        return self._limiter.in_use if self._limiter is not None else 0

    def try_take(self, child: Child) -> bool:
        if self._limiter is None or child.has_slot:
            return True
        child.has_slot = self._limiter.try_acquire()
        return child.has_slot

    async def take(self, child: Child) -> None:
        """Wait for a slot by the child's priority (a cancelled wait leaves nothing behind)."""
        if self.try_take(child):
            return
        assert self._limiter is not None
        await self._limiter.acquire(child.spec.priority)
        child.has_slot = True

    def give_back(self, child: Child) -> None:
        if self._limiter is not None and child.has_slot:
            child.has_slot = False
            self._limiter.release()

    def stats(self) -> dict[str, Any]:
        if self._limiter is None:
            return {"limit": None, "in_use": 0, "waiting": 0, "waiting_by_priority": {}}
        s = self._limiter.stats()
        return {k: s[k] for k in ("in_use", "waiting", "waiting_by_priority")} | {
            "limit": s["capacity"]
        }
