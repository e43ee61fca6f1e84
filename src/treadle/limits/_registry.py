"""Named limiters: ``async with limits.acquire("io", priority=1): ...``.

Owns :class:`Limits`, a registry with an always-present ``"default"`` limiter sized to the
machine, and the process-wide registry behind :func:`default_limits` and its shortcut
:func:`limiter`. The limiting itself is :class:`~treadle.limits.Limiter`'s.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from typing import Any

from .._exceptions import ConfigError, UnknownLimiter
from ._limiter import Limiter, _check_capacity

__all__ = ["Limits", "default_limits", "limiter"]

DEFAULT = "default"


class Limits:
    """A set of named limiters; ``"default"`` always exists.

    Args:
        default_capacity: the size of ``"default"``; ``None`` means one permit per CPU.
    """

    __slots__ = ("_limiters",)

    def __init__(self, default_capacity: int | None = None) -> None:
        if default_capacity is None:
            default_capacity = max(1, os.cpu_count() or 1)
        _check_capacity(default_capacity, "default_capacity")
        self._limiters: dict[str, Limiter] = {DEFAULT: Limiter(DEFAULT, default_capacity)}

    def configure(self, name: str, capacity: int) -> Limiter:
        """Create the limiter ``name`` with ``capacity``, or resize it if it exists."""
        if not isinstance(name, str) or not name:
            raise ConfigError("name", f"a limiter needs a non-empty name, got {name!r}")
        found = self._limiters.get(name)
        if found is None:
            found = self._limiters[name] = Limiter(name, capacity)
        else:
            found.resize(capacity)
        return found

    def get(self, name: str) -> Limiter:
        """The limiter called ``name``.

        Raises:
            UnknownLimiter: none is; the message lists the names that are.
        """
        try:
            return self._limiters[name]
        except KeyError:
            raise UnknownLimiter(
                f"no limiter named {name!r} (configured: {sorted(self._limiters)})"
            ) from None

    def acquire(self, name: str = DEFAULT, priority: int = 0) -> AbstractAsyncContextManager[None]:
        """``async with limits.acquire("io", priority=1): ...``; an unknown name raises here,
        before the ``async with`` is entered."""
        return self.get(name)(priority)

    def names(self) -> list[str]:
        """The limiters' names, in the order they were configured (``"default"`` first)."""
        return list(self._limiters)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Each limiter's :meth:`~treadle.limits.Limiter.stats`, by name; JSON-safe."""
        return {name: lim.stats() for name, lim in self._limiters.items()}

    def __contains__(self, name: object) -> bool:
        return name in self._limiters

    def __repr__(self) -> str:
        return f"<Limits {', '.join(repr(lim) for lim in self._limiters.values())}>"


_default: Limits | None = None


def default_limits() -> Limits:
    """The process-wide registry, created on first use."""
    global _default
    if _default is None:
        _default = Limits()
    return _default


def limiter(name: str = DEFAULT, priority: int = 0) -> AbstractAsyncContextManager[None]:
    """``async with limiter("io"): ...`` through the process-wide registry."""
    return default_limits().acquire(name, priority)
