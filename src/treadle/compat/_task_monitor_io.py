"""The seed's global I/O semaphore as treadle's process-wide limiter named ``"io"``.

Owns the seed's functions (``io_semaphore``, ``set_io_semaphore_count``,
``get_io_semaphore_stats``, ``with_io_semaphore``) and nothing of the limiting, which is
:class:`~treadle.limits.Limiter`'s in :func:`treadle.limits.default_limits`. The limiter is
created on first use with one permit per CPU (the seed's conservative 8 when the count is
unknown), unless the application configured ``"io"`` before.
"""

from __future__ import annotations

import os
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Final, Literal, TypedDict

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

_UNKNOWN_CPUS_IO_COUNT: Final = 8  # the seed's conservative count


class IOSemaphoreStats(TypedDict):
    available: int  # permits free now
    waiting: int  # tasks queued for one
    count: int  # the configured count
    in_use: int  # permits held


def _io_limiter() -> Limiter:
    limits = default_limits()
    if IO_LIMITER in limits:
        return limits.get(IO_LIMITER)
    cpus = os.cpu_count()
    return limits.configure(IO_LIMITER, max(1, cpus) if cpus else _UNKNOWN_CPUS_IO_COUNT)


def io_semaphore(priority: int = 0) -> AbstractAsyncContextManager[None]:
    """``async with io_semaphore(): ...`` holds one I/O permit for the block (higher
    ``priority`` is served first: treadle's addition)."""
    return _io_limiter()(priority)


def set_io_semaphore_count(count: int) -> None:
    """Resize the I/O limit now: growing wakes waiters, shrinking lets holders finish."""
    default_limits().configure(IO_LIMITER, count)


def get_io_semaphore_stats() -> IOSemaphoreStats:
    lim = _io_limiter()
    return {
        "available": max(0, lim.capacity - lim.in_use),
        "waiting": lim.waiting,
        "count": lim.capacity,
        "in_use": lim.in_use,
    }


class IOSemaphore:
    """What :func:`with_io_semaphore` returns: ``asyncio.Semaphore``'s face on the limiter."""

    __slots__ = ("_limiter",)

    def __init__(self, limiter: Limiter) -> None:
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


async def with_io_semaphore() -> IOSemaphore:
    """The backward-compatible form: ``semaphore = await with_io_semaphore()``."""
    return IOSemaphore(_io_limiter())
