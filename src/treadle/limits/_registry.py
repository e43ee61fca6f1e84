"""Named limiters: ``async with limits.acquire("io", priority=1): ...``.

Owns :class:`Limits` (a registry with an always-present ``default`` limiter sized to the
machine) and the process-wide :func:`default_limits` with its shortcut :func:`limiter`.
"""

from __future__ import annotations

import os
from typing import Any

from .._exceptions import UnknownLimiter
from ._limiter import Limiter, _Slot

__all__ = ["Limits", "default_limits", "limiter"]


class Limits:
    def __init__(self, default_capacity: int | None = None) -> None:
        self._limiters: dict[str, Limiter] = {}
        self.configure("default", default_capacity or max(1, os.cpu_count() or 1))

    def configure(self, name: str, capacity: int) -> Limiter:
        """Create ``name`` with ``capacity``, or resize it if it exists."""
        found = self._limiters.get(name)
        if found is None:
            found = self._limiters[name] = Limiter(name, capacity)
        else:
            found.resize(capacity)
        return found

    def get(self, name: str) -> Limiter:
        try:
            return self._limiters[name]
        except KeyError:
            raise UnknownLimiter(
                f"no limiter named {name!r} (configured: {sorted(self._limiters)})"
            ) from None

    def acquire(self, name: str = "default", priority: int = 0) -> _Slot:
        return self.get(name)(priority)

    def names(self) -> list[str]:
        return list(self._limiters)

    def stats(self) -> dict[str, dict[str, Any]]:
        return {name: lim.stats() for name, lim in self._limiters.items()}


_default: Limits | None = None


def default_limits() -> Limits:
    """The process-wide registry, created on first use."""
    global _default
    if _default is None:
        _default = Limits()
    return _default


def limiter(name: str = "default", priority: int = 0) -> _Slot:
    """``async with limiter("io"):`` through the process-wide registry."""
    return default_limits().acquire(name, priority)
