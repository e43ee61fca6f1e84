"""One subscriber's bounded queue and its overflow policy.

Owns :class:`Subscription` and :class:`Overflow`. A subscription is a deque plus at most one
waiting reader future, created only while someone waits, so thousands of idle subscriptions
cost little. The bus (``_bus``) decides who gets a message; this decides what happens when
the reader is behind.
"""

from __future__ import annotations

import asyncio
import enum
import fnmatch
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from .._exceptions import ConfigError

__all__ = ["Message", "Overflow", "Subscription"]


class Overflow(enum.StrEnum):
    """What a full subscription does with one more message."""

    DROP_OLDEST = "drop_oldest"  # make room: the reader sees the newest
    DROP_NEWEST = "drop_newest"  # keep what is queued: the new message is lost
    BLOCK = "block"  # the publisher waits up to block_timeout, then the new one is lost


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: object
    ts: float
    reply_to: str | None = None


class Subscription:
    """Messages whose topic matches ``pattern`` (a shell glob), oldest first.

    Iterate with ``async for``; ``close()`` (or leaving ``with``) ends the iteration at once
    and drops what was queued.
    """

    __slots__ = (
        "_closed",
        "_match",
        "_on_close",
        "_queue",
        "_reader",
        "_room",
        "block_timeout",
        "dropped",
        "maxsize",
        "overflow",
        "pattern",
        "received",
    )

    def __init__(
        self,
        pattern: str,
        on_close: Callable[[Subscription], None],
        *,
        maxsize: int = 1000,
        overflow: Overflow | str = Overflow.DROP_OLDEST,
        block_timeout: float = 1.0,
    ) -> None:
        if maxsize < 1:
            raise ConfigError("maxsize", f"must be >= 1, got {maxsize}")
        try:
            self.overflow = Overflow(overflow)
        except ValueError:
            raise ConfigError(
                "overflow", f"{overflow!r} is not one of {[o.value for o in Overflow]}"
            ) from None
        self.pattern = pattern
        self._match = re.compile(fnmatch.translate(pattern)).match
        self.maxsize = maxsize
        self.block_timeout = block_timeout
        self.received = 0
        self.dropped = 0
        self._queue: deque[Message] = deque()
        self._reader: asyncio.Future[None] | None = None
        self._room: asyncio.Future[None] | None = None
        self._closed = False
        self._on_close = on_close

    def matches(self, topic: str) -> bool:
        return self._match(topic) is not None

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, msg: Message) -> bool:
        """Queue ``msg`` without waiting; False if the policy dropped it."""
        if self._closed:
            return False
        queue = self._queue
        if len(queue) >= self.maxsize:
            if self.overflow is not Overflow.DROP_OLDEST:
                self.dropped += 1
                return False
            queue.popleft()
            self.dropped += 1
        queue.append(msg)
        self.received += 1
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        return True

    async def offer_waiting(self, msg: Message) -> bool:
        """Like :meth:`offer`, but a full BLOCK subscription waits up to ``block_timeout``."""
        if self.overflow is Overflow.BLOCK and len(self._queue) >= self.maxsize:
            deadline = asyncio.get_running_loop().time() + self.block_timeout
            while len(self._queue) >= self.maxsize and not self._closed:
                remaining = deadline - asyncio.get_running_loop().time()
                if remaining <= 0:
                    break
                if self._room is None or self._room.done():
                    self._room = asyncio.get_running_loop().create_future()
                room = self._room
                # wait_for on a shielded future: a timeout must not cancel other waiters' room
                try:
                    async with asyncio.timeout(remaining):
                        await asyncio.shield(room)
                except TimeoutError:
                    break
        return self.offer(msg)

    def get_nowait(self) -> Message | None:
        """The oldest queued message, or None if there is none."""
        if not self._queue:
            return None
        msg = self._queue.popleft()
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)
        return msg

    async def get(self) -> Message:
        """Wait for the next message; raises :class:`StopAsyncIteration` once closed."""
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        msg = self.get_nowait()
        assert msg is not None
        return msg

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Message:
        return await self.get()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._on_close(self)
        for fut in (self._reader, self._room):
            if fut is not None and not fut.done():
                fut.set_result(None)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def stats(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "maxsize": self.maxsize,
            "overflow": self.overflow.value,
            "queued": len(self._queue),
            "received": self.received,
            "dropped": self.dropped,
        }

    def __repr__(self) -> str:
        return f"<Subscription {self.pattern!r} queued={len(self._queue)} dropped={self.dropped}>"
