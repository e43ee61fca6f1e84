"""``concurrency.io``'s global I/O semaphore as treadle's process-wide limiter ``"io"``.

Owns the real module's functions (``io_semaphore``, ``set_io_semaphore_count``,
``get_io_semaphore_stats``, ``with_io_semaphore``) and nothing of the limiting, which is
:class:`~treadle.limits.Limiter`'s in :func:`treadle.limits.default_limits`. As in the real
module the limit is created on first use (entering ``io_semaphore()``, awaiting
``with_io_semaphore()``, or setting the count) with one permit per CPU (8 when the count is
unknown), unless the application configured ``"io"`` before. Unlike it, a new count resizes
that one limit in place, so holders and waiters from before keep counting.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Final, Literal, TypedDict

from .._exceptions import ConfigError
from ..limits import Limiter, default_limits

__all__ = [
    "IO_LIMITER",
    "IOSemaphore",
    "IOSemaphoreStats",
    "get_io_semaphore_stats",
    "io_semaphore",
    "set_io_semaphore_count",
    "with_io_semaphore",
]

IO_LIMITER: Final = "io"
"""The name of the process-wide limiter behind ``io_semaphore()``."""

_UNKNOWN_CPUS_IO_COUNT: Final = 8  # the real module's conservative fallback


class IOSemaphoreStats(TypedDict):
    initialized: bool  # False until first use; then the counts are numbers, not None
    count: int | None  # the configured count
    available: int | None  # permits free now
    waiting: int | None  # tasks queued for one
    in_use: int | None  # permits held (treadle's addition)


def _io_limiter() -> Limiter:
    limits = default_limits()
    if IO_LIMITER in limits:
        return limits.get(IO_LIMITER)
    cpus = os.cpu_count()
    return limits.configure(IO_LIMITER, max(1, cpus) if cpus else _UNKNOWN_CPUS_IO_COUNT)


@asynccontextmanager
async def io_semaphore(priority: int = 0) -> AsyncIterator[None]:
    """``async with io_semaphore(): ...`` holds one I/O permit for the block (higher
    ``priority`` is served first: treadle's addition)."""
    async with _io_limiter()(priority):
        yield


def set_io_semaphore_count(count: int) -> None:
    """Resize the I/O limit now: growing wakes waiters, shrinking lets holders finish.

    Raises:
        ConfigError: (a ValueError) ``count`` is below 1.
    """
    if count < 1:
        raise ConfigError("count", "Semaphore count must be at least 1")
    default_limits().configure(IO_LIMITER, count)


def get_io_semaphore_stats() -> IOSemaphoreStats:
    if IO_LIMITER not in default_limits():
        return {
            "initialized": False,
            "count": None,
            "available": None,
            "waiting": None,
            "in_use": None,
        }
    lim = _io_limiter()
    return {
        "initialized": True,
        "count": lim.capacity,
        "available": max(0, lim.capacity - lim.in_use),
        "waiting": lim.waiting,
        "in_use": lim.in_use,
    }


class IOSemaphore(asyncio.Semaphore):
    """What :func:`with_io_semaphore` returns: an ``asyncio.Semaphore`` (``isinstance``
    holds) whose permits are the I/O limiter's. None of the base class's state is used."""

    def __init__(self, limiter: Limiter) -> None:  # the base's state would go unused
        self._limiter = limiter

    async def acquire(self) -> Literal[True]:
        await self._limiter.acquire()
        return True

    def release(self) -> None:
        self._limiter.release()

    def locked(self) -> bool:
        lim = self._limiter
        return lim.in_use >= lim.capacity or lim.waiting > 0

    async def __aenter__(self) -> None:
        await self._limiter.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._limiter.release()

    def __repr__(self) -> str:
        return f"<IOSemaphore {self._limiter!r}>"


_semaphore: IOSemaphore | None = None


async def with_io_semaphore() -> IOSemaphore:
    """The backward-compatible form: ``semaphore = await with_io_semaphore()``; the same
    semaphore every time."""
    global _semaphore
    limiter = _io_limiter()
    if _semaphore is None or _semaphore._limiter is not limiter:
        _semaphore = IOSemaphore(limiter)
    return _semaphore
