"""A plain coroutine as a supervised child: :class:`CoroutineTarget`.

Owns the :class:`~treadle._runnable.Runnable` that a coroutine child runs as: ready at once,
stopped by cancellation (what asyncio code expects of a graceful stop), never paused, busy
for as long as it runs, beating when it starts and whenever it calls ``treadle.beat()``. It
does not own restarts: the child that runs it is restarted by its supervisor.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._exceptions import NotPausable
from .._heartbeat import current_beat

__all__ = ["CoroutineTarget"]


class CoroutineTarget:
    """A coroutine as a Runnable: ready at once, stopped by cancellation, never paused.

    It is busy for as long as it runs; it beats when it starts and whenever the coroutine
    calls ``treadle.beat()``.
    """

    __slots__ = ("_aw", "_beat", "_name", "_task")

    def __init__(self, name: str, aw: Awaitable[object]) -> None:
        self._name = name
        self._aw = aw
        self._task: asyncio.Task[Any] | None = None
        self._beat: float | None = None

    @property
    def name(self) -> str:
        return self._name

    @property
    def last_beat(self) -> float | None:
        return self._beat

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def beat(self) -> None:
        self._beat = time.perf_counter()

    async def run(self, started: Callable[[], None]) -> None:
        self._task = asyncio.current_task()
        self._beat = time.perf_counter()
        current_beat.set(self)  # this task's context only
        started()
        await self._aw

    def request_stop(self) -> None:
        # A coroutine's graceful stop *is* cancellation: that is what asyncio code expects.
        if self._task is not None:
            self._task.cancel(msg="treadle: stop requested")
        elif asyncio.iscoroutine(self._aw):
            self._aw.close()  # never started: no 'never awaited' warning

    def pause(self) -> None:
        raise NotPausable(f"child {self._name!r} is a coroutine and cannot be paused")

    def resume(self) -> None:
        raise NotPausable(f"child {self._name!r} is a coroutine and cannot be paused")

    def status(self) -> dict[str, Any]:
        beat = self._beat
        return {
            "name": self._name,
            "kind": "coroutine",
            "heartbeat_age_s": None if beat is None else time.perf_counter() - beat,
        }
