"""A loop's run timeout: each run cancelled at ``run_timeout``, for the cost of a store.

Owns :class:`Deadline`: one lazy timer per loop, not one per run. ``asyncio.timeout`` around
every run would triple the cost of a continuous loop's tick (a timer armed and cancelled each
time); instead a run only notes when it began, and a single timer, armed by the first run
after the loop was idle, looks at the run under way when it fires: past its deadline, the
loop's task is cancelled (as ``asyncio.timeout`` does it: ``cancel``, then ``uncancel`` when
the cancellation comes back); otherwise the timer is armed again for that run's deadline.
Between runs nothing is armed after the timer's next look.

It does not count or decide what a timeout means: the Loop does (``RunTimedOut``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any, Final

from .._exceptions import RunTimedOut

__all__ = ["Deadline"]

_clock: Final = time.perf_counter


class Deadline:
    """Bounds each run of one loop to ``timeout`` seconds."""

    __slots__ = ("_expired", "_handle", "_start", "_task", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._start: float | None = None  # perf_counter() at the start of the run under way
        self._handle: asyncio.Handle | None = None
        self._task: asyncio.Task[Any] | None = None
        self._expired = False  # we cancelled the task; the cancellation has not come back

    async def run(self, run_once: Callable[[], Coroutine[Any, Any, None]], start: float) -> None:
        """Await ``run_once()``; past the deadline it is cancelled and RunTimedOut raised."""
        self._start = start
        if self._handle is None:
            self._task = asyncio.current_task()
            self._handle = asyncio.get_running_loop().call_later(self.timeout, self._check)
        try:
            await run_once()
        except asyncio.CancelledError:
            # Ours, and nobody else's: a timeout. Anyone else's cancellation propagates.
            if self._expired and self._uncancel() == 0:
                raise RunTimedOut(f"Timeout after {self.timeout}s") from None
            raise
        finally:
            self._start = None
            if self._expired:  # run_once swallowed our cancellation, or raised in its place
                self._uncancel()

    def retime(self) -> None:
        """After a change of ``timeout``: look at the run under way (if any) again now."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
            if self._start is not None:
                self._handle = asyncio.get_running_loop().call_soon(self._check)

    def close(self) -> None:
        """The loop's run ended: no timer may outlive it (its task may run other things)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._expired:  # else the run under way still has a cancellation to undo
            self._task = None

    def _check(self) -> None:
        self._handle = None
        start, task = self._start, self._task
        if start is None or task is None or task.done():
            return  # idle: the next run arms the timer again
        remaining = start + self.timeout - _clock()
        if remaining > 0:
            self._handle = asyncio.get_running_loop().call_later(remaining, self._check)
            return
        self._expired = True
        task.cancel(msg=f"run timed out after {self.timeout}s")

    def _uncancel(self) -> int:
        self._expired = False
        assert self._task is not None
        return self._task.uncancel()
