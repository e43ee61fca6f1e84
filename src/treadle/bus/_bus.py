"""The bus: topic pub/sub between the children of a tree, lifecycle events included.

Owns :class:`Bus`: who matches a topic (cached per topic, rebuilt when subscriptions
change), publishing without blocking (``publish_nowait``, for synchronous hot paths) or
honouring BLOCK subscribers with their timeout (``publish``), and request/reply. Queueing and
overflow are the subscription's business (``_subscription``).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from .._exceptions import BusTimeout
from ._subscription import Message, Overflow, Subscription

__all__ = ["Bus"]


class Bus:
    """In-process topic pub/sub. Topics are dot-separated; patterns are shell globs."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._by_topic: dict[str, tuple[Subscription, ...]] = {}
        self._ids = itertools.count(1)
        self.published = 0
        self.delivered = 0

    @property
    def has_subscribers(self) -> bool:
        """False when nobody listens: publishers may then skip building messages."""
        return bool(self._subs)

    def listens(self, topic: str) -> bool:
        """True if a subscription matches ``topic`` (cached per topic): a publisher may skip
        making a message that nobody would get."""
        return bool(self._subs) and bool(self._matching(topic))

    def subscribe(
        self,
        pattern: str = "*",
        *,
        maxsize: int = 1000,
        overflow: Overflow | str = Overflow.DROP_OLDEST,
        block_timeout: float = 1.0,
    ) -> Subscription:
        sub = Subscription(
            pattern,
            self._unsubscribe,
            maxsize=maxsize,
            overflow=overflow,
            block_timeout=block_timeout,
        )
        self._subs.append(sub)
        self._by_topic.clear()
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._by_topic.clear()

    def _matching(self, topic: str) -> tuple[Subscription, ...]:
        subs = self._by_topic.get(topic)
        if subs is None:
            if len(self._by_topic) > 10_000:  # topics are unbounded (reply topics): cap it
                self._by_topic.clear()
            subs = self._by_topic[topic] = tuple(s for s in self._subs if s.matches(topic))
        return subs

    def publish_nowait(self, topic: str, payload: object, *, reply_to: str | None = None) -> int:
        """Deliver to every matching subscription now; returns how many queued it.

        Never waits: a full BLOCK subscription drops the message (counted) here.
        """
        self.published += 1
        if not self._subs:
            return 0
        subs = self._matching(topic)
        if not subs:
            return 0
        msg = Message(topic, payload, time.time(), reply_to)
        n = sum(1 for s in subs if s.offer(msg))
        self.delivered += n
        return n

    async def publish(self, topic: str, payload: object, *, reply_to: str | None = None) -> int:
        """Like :meth:`publish_nowait`, but waits for room in full BLOCK subscriptions, each
        up to its ``block_timeout`` (then the message is dropped for that one, and counted)."""
        self.published += 1
        subs = self._matching(topic) if self._subs else ()
        if not subs:
            return 0
        msg = Message(topic, payload, time.time(), reply_to)
        n = 0
        for s in subs:
            if await s.offer_waiting(msg):
                n += 1
        self.delivered += n
        return n

    async def request(self, topic: str, payload: object, *, timeout: float) -> object:  # noqa: ASYNC109 - a boundary
        """Publish with a fresh ``reply_to`` topic and wait for the first reply's payload."""
        reply_to = f"_reply.{next(self._ids)}"
        with self.subscribe(reply_to, maxsize=1) as inbox:
            if self.publish_nowait(topic, payload, reply_to=reply_to) == 0:
                raise BusTimeout(f"request on {topic!r}: nobody subscribes to it")
            try:
                async with asyncio.timeout(timeout):
                    reply = await inbox.get()
            except TimeoutError:
                raise BusTimeout(f"request on {topic!r}: no reply in {timeout}s") from None
        return reply.payload

    def reply(self, request: Message, payload: object) -> int:
        """Answer a message received from :meth:`request`."""
        if request.reply_to is None:
            raise ValueError(f"message on {request.topic!r} asked for no reply")
        return self.publish_nowait(request.reply_to, payload)

    def stats(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "delivered": self.delivered,
            "dropped": sum(s.dropped for s in self._subs),
            "subscriptions": [s.stats() for s in self._subs],
        }
