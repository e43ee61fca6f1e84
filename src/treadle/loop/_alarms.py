"""Alarms: the waits of every loop on one event loop, under one timer.

Owns :class:`Alarms`, one per event loop (per thread: see :func:`alarms`). A loop that waits
(its interval, a backoff, the gate's poll) puts the future it awaits in the bucket of the
millisecond it wants to wake in, a set shared with every loop that wakes then; one timer,
on the event loop's own clock, is armed for the earliest bucket and resolves every future
in it. A wait costs a set entry (~30 bytes) where a timer of its own costs a TimerHandle,
its arguments and its place in the event loop's heap (~190 bytes, and microseconds to make
and to cancel); a loop woken early (stopped, paused, a new interval) leaves in O(1). A
wake is never early by the event loop's clock, and up to a millisecond late.

Waits shorter than :data:`SHORT` keep a timer of their own, with its precision. It does not
decide how long a loop waits (``_pacing`` does) nor wake loops for any other reason.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import math
import threading
from typing import Final

__all__ = ["SHORT", "Alarms", "Bucket", "alarms", "no_context"]

SHORT: Final = 0.05
"""Waits shorter than this (seconds) get a timer of their own."""

_TICKS: Final = 1000  # buckets a second


class Bucket(set["asyncio.Future[None]"]):
    """The futures that wake in one millisecond (``tick``) of one :class:`Alarms`."""

    __slots__ = ("owner", "tick")

    def __init__(self, owner: Alarms, tick: int) -> None:
        super().__init__()
        self.owner = owner
        self.tick = tick

    def leave(self, fut: asyncio.Future[None]) -> None:
        """``fut`` no longer waits here (it was woken early, or already rang)."""
        self.discard(fut)
        if not self and self.owner._buckets.pop(self.tick, None) is self:
            self.owner._dropped()


class Alarms:
    """Buckets of futures by the millisecond they wake in, one timer for the earliest."""

    __slots__ = ("_armed", "_buckets", "_heap", "_loop", "_stale", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._buckets: dict[int, Bucket] = {}
        self._heap: list[int] = []  # ticks with a bucket (or that had one), earliest first
        self._stale = 0  # ticks in the heap whose bucket emptied before it rang
        self._timer: asyncio.TimerHandle | None = None
        self._armed = 0  # the tick the timer rings for

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def add(self, fut: asyncio.Future[None], seconds: float) -> Bucket:
        """Resolve ``fut`` in ``seconds`` (rounded up to the millisecond); the bucket it
        went to is how it leaves early (:meth:`Bucket.leave`)."""
        tick = math.ceil((self._loop.time() + seconds) * _TICKS)
        bucket = self._buckets.get(tick)
        if bucket is None:
            bucket = self._buckets[tick] = Bucket(self, tick)
            heapq.heappush(self._heap, tick)
            if self._timer is None or tick < self._armed:
                self._arm(tick)
        bucket.add(fut)
        return bucket

    def _dropped(self) -> None:
        """A bucket emptied early: its tick waits in the heap until its time, unless stale
        ticks are many (loops woken early, again and again: paused, resumed, stopped)."""
        self._stale += 1
        if self._stale > 64 and self._stale > len(self._heap) // 2:
            self._heap = list(self._buckets)
            heapq.heapify(self._heap)
            self._stale = 0

    def _arm(self, tick: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed = tick
        self._timer = self._loop.call_at(tick / _TICKS, self._ring, context=no_context())

    def _ring(self) -> None:
        """The timer rang: wake every bucket due (by the clock, or the one it was armed
        for), then arm it for the next."""
        self._timer = None
        due = max(self._armed, math.floor(self._loop.time() * _TICKS))
        heap, buckets = self._heap, self._buckets
        while heap and heap[0] <= due:
            bucket = buckets.pop(heapq.heappop(heap), None)
            if bucket is None:
                self._stale = max(0, self._stale - 1)
                continue
            for fut in bucket:
                if not fut.done():
                    fut.set_result(None)
        if heap:
            self._arm(heap[0])


_local = threading.local()


_last: Alarms | None = None  # the one asked for last, in any thread: most often the answer


def alarms(loop: asyncio.AbstractEventLoop) -> Alarms:
    """The Alarms of ``loop`` (the running event loop of this thread)."""
    global _last
    current = _last
    if current is not None and current._loop is loop:
        return current
    current = getattr(_local, "alarms", None)
    if current is None or current._loop is not loop:
        current = _local.alarms = Alarms(loop)
    _last = current
    return current


def no_context() -> contextvars.Context:
    """An empty context for callbacks that need none (not a copy of the caller's, 64 bytes
    each), one per thread: a context is entered by one callback at a time."""
    try:
        ctx: contextvars.Context = _local.context
    except AttributeError:
        ctx = _local.context = contextvars.Context()
    return ctx
