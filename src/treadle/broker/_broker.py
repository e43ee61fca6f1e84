"""The broker: treadle's typed face over simplebroker's durable queues.

Owns one persistent simplebroker session per process and target, the JSON encoding of
messages, and validation on the way in: a message that fails it goes to
``treadle.deadletter`` with the error and its original text, and is never handed on. It is
synchronous, like simplebroker; :class:`~treadle.broker.AsyncBroker` bridges it to asyncio.
It does not know what the queues mean (``treadle.manager`` and ``treadle.client`` do).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import BaseModel
from simplebroker import BrokerSession, Queue, QueueStats

from .._exceptions import BrokerError
from . import _names as names
from ._messages import DeadLetter
from ._target import BrokerURL, resolve

__all__ = ["Broker", "Parser"]

M = TypeVar("M")
Parser = Callable[[str], M]  # e.g. TaskSpec.model_validate_json
_log = logging.getLogger("treadle.broker")


def encode(message: BaseModel | str) -> str:
    return message if isinstance(message, str) else message.model_dump_json()


class Broker:
    """Typed access to the queues of one broker (a SQLite file or a PostgreSQL database).

    Every method is one short transaction; ``peek``, ``claim`` and ``move`` validate what
    they return with ``parse`` and dead-letter what fails.
    """

    def __init__(self, url: str | os.PathLike[str] | BrokerURL | None = None) -> None:
        self.url = url if isinstance(url, BrokerURL) else resolve(url)
        try:
            self._session = BrokerSession.connect(_target(self.url))
        except Exception as exc:  # simplebroker raises several kinds; name the broker
            raise BrokerError(f"broker {self.url}: cannot open: {exc}") from exc
        self._queues: dict[str, Queue] = {}
        self._closed = False

    def queue(self, name: str) -> Queue:
        """The persistent simplebroker handle of one queue (cached)."""
        q = self._queues.get(name)
        if q is None:
            if self._closed:
                raise BrokerError(f"broker {self.url} is closed")
            q = self._queues[name] = self._session.queue(name)
        return q

    def timestamp(self) -> int:
        """A new broker timestamp: unique and ordered across every client of this broker."""
        return self.queue(names.SPAWN).generate_timestamp()

    # -- writing ----------------------------------------------------------------------------

    def write(self, queue: str, message: BaseModel | str) -> int:
        """Append one message; returns its ID."""
        return self.queue(queue).write(encode(message))

    def insert(self, queue: str, records: Iterable[tuple[BaseModel | str, int]]) -> None:
        """Append messages under IDs minted by :meth:`timestamp`, in one transaction."""
        self.queue(queue).insert_messages((encode(m), mid) for m, mid in records)

    def dead_letter(self, queue: str, message_id: int | None, raw: str, error: str) -> None:
        _log.warning("dead-lettered message %s from %s: %s", message_id, queue, error)
        letter = DeadLetter(queue=queue, message_id=message_id, error=error, raw=raw)
        self.write(names.DEADLETTER, letter)

    # -- reading ----------------------------------------------------------------------------

    def parse(self, queue: str, raw: str, message_id: int | None, parse: Parser[M]) -> M | None:
        """``parse(raw)``, or None after dead-lettering a message that fails validation."""
        try:
            return parse(raw)
        except ValueError as exc:  # pydantic's ValidationError, bad JSON included
            self.dead_letter(queue, message_id, raw, _one_line(exc))
            return None

    def claim(self, queue: str, parse: Parser[M]) -> tuple[M, int] | None:
        """Take the oldest valid message off ``queue`` (invalid ones are dead-lettered)."""
        q = self.queue(queue)
        while (got := q.read_one(with_timestamps=True)) is not None:
            raw, mid = got
            if (message := self.parse(queue, raw, mid, parse)) is not None:
                return message, mid
        return None

    def claim_many(self, queue: str, parse: Parser[M], limit: int) -> list[tuple[M, int]]:
        got = self.queue(queue).read_many(limit, with_timestamps=True)
        return [(m, mid) for raw, mid in got if (m := self.parse(queue, raw, mid, parse))]

    def peek(
        self, queue: str, parse: Parser[M], *, after: int | None = None, limit: int = 1000
    ) -> list[tuple[M, int]]:
        """Valid messages newer than ``after``, oldest first, left in place; invalid ones
        are moved to the dead-letter queue so that nobody trips on them again."""
        got = self.queue(queue).peek_many(limit, with_timestamps=True, after_timestamp=after)
        out: list[tuple[M, int]] = []
        for raw, mid in got:
            message = self.parse(queue, raw, mid, parse)
            if message is None:
                self.delete(queue, mid)
            else:
                out.append((message, mid))
        return out

    def has_pending(self, queue: str) -> bool:
        return self.queue(queue).has_pending()

    # -- moving and deleting ----------------------------------------------------------------

    def move(self, source: str, destination: str, message_id: int) -> str | None:
        """Move one message by ID (atomically: exactly one mover wins); its text, or None."""
        return self.queue(source).move_one(destination, exact_timestamp=message_id)

    def move_many(self, source: str, destination: str, limit: int) -> list[tuple[str, int]]:
        """Move up to ``limit`` of the oldest messages; their texts and IDs."""
        return self.queue(source).move_many(destination, limit, with_timestamps=True)

    def delete(self, queue: str, message_id: int) -> bool:
        return self.queue(queue).delete(message_id=message_id)

    def stats(self, prefix: str | None = None) -> list[QueueStats]:
        """Pending, claimed and total counts of every queue (under ``prefix``)."""
        with self._session.connection() as conn:
            return list(conn.list_queue_stats(prefix=prefix))

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queues.clear()
        self._session.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Broker {self.url}{' closed' if self._closed else ''}>"


def _target(url: BrokerURL) -> str:
    if url.kind == "sqlite":
        return url.location
    raise BrokerError(f"broker {url}: PostgreSQL needs the fleet backend (simplebroker-pg)")


def _one_line(exc: ValueError) -> str:
    return " ".join(str(exc).split())
