"""The treadle Loop behind one BaseLoop: the seed's hooks, given to treadle's Loop.

Owns :class:`Engine`, whose ``on_start``/``on_stop``/``on_error`` call the BaseLoop's
``_on_start``/``_on_stop``/``_on_error`` as the seed's module does (``_on_stop`` after a
failed start too, the error callbacks after ``_on_error``, ``_on_consecutive_timeouts``
from the third timeout in a row), and the calls on a ``metrics_manager``. Scheduling,
backoff, run timeouts and counting are the Loop's; the BaseLoop is ``_p2p_loop``'s.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, Protocol

from .._exceptions import RunTimedOut
from ..loop import Loop

if TYPE_CHECKING:
    from ._p2p_loop import BaseLoop

__all__ = ["Engine", "MetricsManager"]

_log = logging.getLogger("treadle.compat.p2p")
TIMEOUT_STREAK: Final = 3  # timeouts in a row from which _on_consecutive_timeouts is called


class MetricsManager(Protocol):
    """What a BaseLoop calls on its ``metrics_manager``."""

    def record_metric(self, name: str, value: float, *args: Any, **kwargs: Any) -> Any: ...


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Engine(Loop):
    """The treadle Loop behind one BaseLoop; its hooks are the BaseLoop's."""

    __slots__ = ("_ended", "_outer", "run_once")

    # The BaseLoop's bound ``_run_once``, in a slot that shadows Loop.run_once: the tick
    # awaits the user's coroutine directly, with no frame of ours in between (unless a
    # metrics_manager wants each run's duration: then ``measured``). What remains is the
    # indirection (CPython 3.11 cannot specialise the lookup of a slot's bound method):
    # nothing at one loop, some L1 misses per tick at 1,000 (bench/compat_p2p.py).
    run_once: Callable[[], Coroutine[Any, Any, None]]

    def __init__(self, outer: BaseLoop, **options: Any) -> None:
        super().__init__(**options)
        self._outer = outer
        self.run_once = outer._run_once
        self._ended: asyncio.Future[None] | None = None

    def ended(self) -> asyncio.Future[None]:
        """Resolved when the current run ends: for a run in a task that is not ours."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        return self._ended

    def _notify_ended(self) -> None:
        fut, self._ended = self._ended, None
        if fut is not None:
            # Resolved on the next turn, after the done-callbacks of the task running us (a
            # supervisor's): a waiter then finds the tree settled, not a child about to end.
            asyncio.get_running_loop().call_soon(_resolve, fut)

    async def measured(self) -> None:
        """``_run_once``, then its duration to the metrics manager (as the seed records it)."""
        outer = self._outer
        start = time.perf_counter()
        await outer._run_once()
        if (manager := outer.metrics_manager) is not None:
            took_ms = (time.perf_counter() - start) * 1000
            manager.record_metric(f"loop_{outer.name}_duration_ms", took_ms)

    async def on_start(self) -> None:
        try:
            await self._outer._on_start()
        except BaseException:
            # The seed's run_forever calls _on_stop however it ends, a failed start included
            # (treadle's Loop does not: on_stop pairs with a start that succeeded).
            try:
                async with asyncio.timeout(self.hook_timeout):
                    await self._outer._on_stop()
            except Exception:  # noqa: BLE001 - the start's failure is the one to report
                _log.exception("loop %s: _on_stop failed after a failed start", self.name)
            finally:
                self._notify_ended()
            raise

    async def on_stop(self) -> None:
        try:
            await self._outer._on_stop()
        finally:
            self._notify_ended()

    async def on_error(self, exc: Exception) -> None:
        outer, manager = self._outer, self._outer.metrics_manager
        if isinstance(exc, RunTimedOut):  # the seed's timeouts: no _on_error, no callbacks
            if manager is not None:
                manager.record_metric(
                    f"loop_{self.name}_timeouts", 1, metadata={"timeout_seconds": self.run_timeout}
                )
            streak = self.metrics.consecutive_timeouts
            if streak >= TIMEOUT_STREAK:
                _log.error("loop %s: %d timeouts in a row, self-recovery", self.name, streak)
                await outer._on_consecutive_timeouts()
            return
        if manager is not None:
            manager.record_metric(f"loop_{self.name}_errors", 1, metadata={"error": str(exc)[:200]})
        try:
            await outer._on_error(exc)
        finally:  # the seed calls its callbacks after _on_error, each one guarded
            for callback in tuple(outer._error_callbacks):
                try:
                    callback(exc)
                except Exception:  # noqa: BLE001 - the seed's contract: a callback never ends the loop
                    _log.exception("loop %s: error callback %r failed", self.name, callback)
