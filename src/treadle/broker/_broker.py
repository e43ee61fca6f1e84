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
import random
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from simplebroker import Queue, QueueStats
from simplebroker.ext import BrokerConnection, IntegrityError

from .._exceptions import BrokerError
from . import _names as names
from ._batch import Text, write_all
from ._messages import ERROR_KEPT, WIRE, DeadLetter
from ._open import session
from ._target import BrokerURL, resolve

__all__ = ["Broker", "Parser", "invalid"]

M = TypeVar("M")
T = TypeVar("T")
Parser = Callable[[str], M]  # e.g. TaskSpec.model_validate_json
_log = logging.getLogger("treadle.broker")
_MINT_PATIENCE = 5.0  # seconds a timestamp may take to mint under contention


def encode(message: BaseModel | str) -> str:
    return message if isinstance(message, str) else message.model_dump_json(context=WIRE)


class Broker:
    """Typed access to the queues of one broker (a SQLite file or a PostgreSQL database).

    Every method is one short transaction; ``peek``, ``claim`` and ``move`` validate what
    they return with ``parse`` and dead-letter what fails. Operations go straight to
    simplebroker's core through one connection held for the broker's life (a ``Queue``
    handle, or a connection leased per call, costs as much again as the SQL it runs, and
    per-task queues would mint one each). A Broker is used from one thread at a time, and
    closed by the thread that used it.
    """

    def __init__(self, url: str | os.PathLike[str] | BrokerURL | None = None) -> None:
        self.url = url if isinstance(url, BrokerURL) else resolve(url)
        self._session = session(self.url)
        self._queues: dict[str, Queue] = {}
        self._held: AbstractContextManager[BrokerConnection] | None = None
        self._core: BrokerConnection | None = None
        self._closed = False

    @property
    def db(self) -> BrokerConnection:
        """simplebroker's core, opened on first use by the thread that uses it."""
        core = self._core
        if core is None:
            if self._closed:
                raise BrokerError(f"broker {self.url} is closed")
            self._held = self._session.connection()
            core = self._core = self._held.__enter__()
        return core

    def queue(self, name: str) -> Queue:
        """A persistent simplebroker handle of one queue (cached), for what only a Queue
        offers: change detection."""
        q = self._queues.get(name)
        if q is None:
            if self._closed:
                raise BrokerError(f"broker {self.url} is closed")
            q = self._queues[name] = self._session.queue(name)
        return q

    def timestamp(self) -> int:
        """A new broker timestamp: unique and ordered across every client of this broker.

        simplebroker advances the broker's last timestamp by compare-and-set, six tries,
        then gives up (IntegrityError) where many processes mint at once: try again,
        after a short random pause, for up to ``_MINT_PATIENCE`` seconds."""
        give_up = time.monotonic() + _MINT_PATIENCE
        while True:
            try:
                return self.db.generate_timestamp()
            except IntegrityError:
                if time.monotonic() >= give_up:
                    raise
                time.sleep(random.uniform(0, 0.002))  # apart from whoever beat us

    # -- writing ----------------------------------------------------------------------------

    def write(self, queue: str, message: BaseModel | str) -> int:
        """Append one message; returns its ID."""
        return self.db.write(queue, encode(message))

    def write_many(
        self, records: Sequence[tuple[str, BaseModel | str | Callable[[int], BaseModel]]]
    ) -> list[int]:
        """Append messages to any queues in one transaction, in order (all or none);
        their IDs. A message may be a function of its ID (made inside the transaction)."""
        return write_all(self.db, [(queue, _encoder(m)) for queue, m in records])

    def insert(self, queue: str, records: Iterable[tuple[BaseModel | str, int]]) -> None:
        """Append messages under IDs minted by :meth:`timestamp`, in one transaction."""
        self.db.insert_messages([(queue, encode(m), mid) for m, mid in records])

    def dead_letter(self, queue: str, message_id: int | None, raw: str, error: str) -> bool:
        """Write the (bounded) letter of a message that failed validation; whether it was
        written. It never raises: a message's letter failing is that message's problem,
        and whoever handles a batch goes on with the others (leaving it where it is when
        this returns False)."""
        letter = DeadLetter.of(queue, message_id, raw, error)
        _log.warning(
            "dead-lettered message %s from %s (%d bytes): %s",
            message_id,
            queue,
            letter.raw_bytes,
            letter.error[:500],
        )
        try:
            self.write(names.DEADLETTER, letter)
            return True
        except Exception as exc:  # noqa: BLE001 (one letter: try without its text, then give up)
            first = exc
        try:  # the text is what could be wrong with it; its size and digest still say which
            error = f"{letter.error} (its text is not kept: {_one_line(first)})"
            self.write(names.DEADLETTER, letter.model_copy(update={"raw": "", "error": error}))
            return True
        except Exception as exc:  # noqa: BLE001 (the broker refuses writes: the caller decides)
            _log.error("message %s from %s not dead-lettered: %s", message_id, queue, exc)
            return False

    # -- reading ----------------------------------------------------------------------------

    def parse(self, queue: str, raw: str, message_id: int | None, parse: Parser[M]) -> M | None:
        """``parse(raw)``, or None after dead-lettering a message that fails validation."""
        message, _ = self._parse(queue, raw, message_id, parse)
        return message

    def _parse(
        self, queue: str, raw: str, message_id: int | None, parse: Parser[M]
    ) -> tuple[M | None, bool]:
        """``parse(raw)`` and True; or None and whether the message's letter is written
        (then whoever holds the message may drop it)."""
        error = invalid(raw, parse)
        if isinstance(error, str):
            return None, self.dead_letter(queue, message_id, raw, error)
        return error[0], True

    def claim(self, queue: str, parse: Parser[M]) -> tuple[M, int] | None:
        """Take the oldest valid message off ``queue`` (invalid ones are dead-lettered)."""
        while (got := self.take(queue)) is not None:
            raw, mid = got
            if (message := self.parse(queue, raw, mid, parse)) is not None:
                return message, mid
        return None

    def take(self, queue: str, message_id: int | None = None) -> tuple[str, int] | None:
        """Take the oldest message (or the one with ``message_id``) off ``queue``, as text."""
        got = self._read(
            queue,
            lambda: self.db.claim_one(queue, exact_timestamp=message_id, with_timestamps=True),
        )
        return cast("tuple[str, int] | None", got)

    def claim_many(self, queue: str, parse: Parser[M], limit: int) -> list[tuple[M, int]]:
        got = cast(
            "list[tuple[str, int]]", self._read(queue, lambda: self.db.claim_many(queue, limit))
        )
        return [(m, mid) for raw, mid in got if (m := self.parse(queue, raw, mid, parse))]

    def peek_raw(
        self,
        queue: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int = 1000,
        newest: bool = False,
    ) -> list[tuple[str, int]]:
        """Messages newer than ``after`` (and older than ``before``), oldest first
        (``newest``: newest first), as texts, left in place."""
        got = self._read(
            queue,
            lambda: self.db.peek_many(
                queue,
                limit,
                with_timestamps=True,
                after_timestamp=after,
                before_timestamp=before,
                order="newest" if newest else "oldest",
            ),
        )
        return cast("list[tuple[str, int]]", got)

    def peek(
        self, queue: str, parse: Parser[M], *, after: int | None = None, limit: int = 1000
    ) -> list[tuple[M, int]]:
        """Up to ``limit`` valid messages newer than ``after``, oldest first, left in
        place. Invalid ones are moved to the dead-letter queue so that nobody trips on
        them again (one whose letter cannot be written is left, and passed over): however
        many there are, they cost only themselves, and a caller that pages on with the
        last ID it got sees every valid message."""
        out: list[tuple[M, int]] = []
        while len(out) < limit:
            want = limit - len(out)
            page = self.peek_raw(queue, after=after, limit=want)
            dead: list[int] = []
            for raw, mid in page:
                message, lettered = self._parse(queue, raw, mid, parse)
                if message is not None:
                    out.append((message, mid))
                elif lettered:
                    dead.append(mid)
            self.delete_many(queue, dead)
            if len(page) < want:
                break
            after = page[-1][1]
        return out

    def has_pending(self, queue: str) -> bool:
        return self.db.has_pending_messages(queue)

    # -- moving and deleting ----------------------------------------------------------------

    def move(self, source: str, destination: str, message_id: int) -> str | None:
        """Move one message by ID (atomically: exactly one mover wins); its text, or None."""
        got = self._read(
            source, lambda: self.db.move_one(source, destination, exact_timestamp=message_id)
        )
        return None if got is None else cast("tuple[str, int]", got)[0]

    def move_many(
        self,
        source: str,
        destination: str,
        limit: int,
        *,
        after: int | None = None,
        before: int | None = None,
    ) -> list[tuple[str, int]]:
        """Move up to ``limit`` of the oldest messages (newer than ``after``, older than
        ``before``); their texts and IDs."""
        got = self._read(
            source,
            lambda: self.db.move_many(
                source,
                destination,
                limit,
                with_timestamps=True,
                after_timestamp=after,
                before_timestamp=before,
            ),
        )
        return cast("list[tuple[str, int]]", got)

    def _read(self, queue: str, read: Callable[[], T]) -> T:
        """``read()``; once more after quarantining what made it fail, if it was a row
        that is not UTF-8 text."""
        try:
            return read()
        except Exception as exc:  # re-raised unless it is a row that is not UTF-8
            if "could not decode to utf-8" not in str(exc).lower() or not self._quarantine(queue):
                raise
        return read()

    def _quarantine(self, queue: str) -> int:
        """Dead-letter and delete the messages of ``queue`` that are not UTF-8 text; how
        many. simplebroker cannot write such a message, nor PostgreSQL store one, but a
        program writing the SQLite file around them can, and one such row makes every
        read of its queue fail (sqlite3 decodes whole pages): it must cost only itself.
        Reads simplebroker's own table (``messages``), as bytes, a page at a time."""
        if self.url.kind != "sqlite":
            return 0
        found, after = 0, -1
        statement = (
            "SELECT ts, CAST(body AS BLOB) FROM messages WHERE queue = ? AND ts > ? "
            "ORDER BY ts LIMIT 500"
        )
        while rows := self.sql(statement, (queue, after)):
            bad = []
            for ts, body in rows:
                data = bytes(body)
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raw = data.decode("utf-8", "replace")
                    if self.dead_letter(queue, int(ts), raw, f"not UTF-8 text: {exc}"):
                        bad.append(int(ts))
            found += self.delete_many(queue, bad)
            after = int(rows[-1][0])
        return found

    def delete(self, queue: str, message_id: int) -> bool:
        """Delete one message, claimed or not; whether it was there."""
        return self.db.delete_message_ids(queue, [message_id]) > 0

    def delete_many(self, queue: str, message_ids: Sequence[int]) -> int:
        """Delete messages by ID in one transaction; how many there were."""
        return self.db.delete_message_ids(queue, message_ids) if message_ids else 0

    def sql(
        self,
        statement: str,
        params: tuple[object, ...] = (),
        *,
        fetch: bool = True,
    ) -> list[tuple[Any, ...]]:
        """Run one statement on treadle's own tables beside the queues (simplebroker's
        sidecar: ``?`` placeholders; DDL goes through :meth:`ddl`); the rows it returns
        (``fetch=False`` for a statement that returns none: PostgreSQL refuses to fetch)."""
        with self.db.sidecar() as side:
            return list(side.run(statement, params, fetch=fetch))

    def ddl(self, statement: str) -> None:
        """Run one ``CREATE … IF NOT EXISTS`` on treadle's own tables, safe against other
        processes running it at once: PostgreSQL's IF NOT EXISTS is not (two creators of
        a new table race on its row type: "type … already exists"), so there it holds a
        transaction-scoped advisory lock named after the statement first."""
        with self.db.sidecar(transaction=True) as side:
            if self.url.kind == "postgresql":
                side.run("SELECT pg_advisory_xact_lock(hashtext(?))", (statement,), fetch=False)
            side.run(statement, (), fetch=False)

    def stats(self, prefix: str | None = None, *, pattern: str | None = None) -> list[QueueStats]:
        """Pending, claimed and total counts of every queue (under ``prefix``, or whose
        name matches the shell-style ``pattern``)."""
        return list(self.db.list_queue_stats(prefix=prefix, pattern=pattern))

    def drop(self, queue: str) -> int:
        """Delete every message of ``queue``, claimed or not (so the queue is gone); how
        many there were."""
        return self.db.delete(queue)

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        held, self._held, self._core = self._held, None, None
        try:
            if held is not None:
                held.__exit__(None, None, None)
        finally:
            self._queues.clear()
            try:
                self._session.close()
            except RuntimeError as exc:
                if "open" not in str(exc):
                    raise
                # Another Broker of this file holds its connection open on this thread
                # (simplebroker shares one session per process and file): this one's
                # lease goes with its session object instead.

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Broker {self.url}{' closed' if self._closed else ''}>"


def _encoder(message: BaseModel | str | Callable[[int], BaseModel]) -> Text:
    if isinstance(message, (BaseModel, str)):
        return encode(message)
    return lambda mid: encode(message(mid))


def invalid(raw: str, parse: Parser[M]) -> tuple[M] | str:
    """``(parse(raw),)``, or why ``raw`` is not a valid message (one line, bounded)."""
    try:
        return (parse(raw),)
    except Exception as exc:  # noqa: BLE001 (whatever a message does to its parser costs only it)
        return _one_line(exc)


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc)[: 4 * ERROR_KEPT].split())
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"
