"""Many messages, to any queues, in one transaction: :func:`write_all`.

simplebroker commits every ``write`` on its own: its timestamp (the message's ID) is
allocated inside the write's transaction, so that a reader who has seen ID *n* never
later meets a message below *n*. A commit costs ~0.3 to 0.7 ms on SQLite, and a busy
manager writes several messages per task; one transaction for all the writes gathered
while its last one was made (events, results, output of many tasks) costs about as much as
one write.

simplebroker 8.7 has no public call for it (``insert_messages`` takes IDs minted
beforehand, outside the transaction, which breaks the order above), so this module does
what its ``write`` does, for many messages: allocate the IDs and insert the rows inside
one ``BEGIN IMMEDIATE`` (on PostgreSQL the allocation's update of the meta row holds its
lock until the commit, which serialises writers the same way). It leans on the core's
internals (pinned by the ``simplebroker>=8.7,<9`` requirement) and says so plainly if
they are missing; ``tests/broker/test_batch.py`` pins the order and the atomicity on both
backends.

Owns only that; what the messages mean is the caller's.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Sequence
from typing import Any

from simplebroker.ext import BrokerConnection

from .._exceptions import BrokerError

__all__ = ["write_all"]

_NEEDED = (
    "_lock",
    "_runner",
    "_sql",
    "_run_with_retry",
    "_validate_queue_name",
    "_validate_message_size",
    "_check_fork_safety",
    "_timestamp_gen",
    "_backend_plugin",
)


Text = str | Callable[[int], str]  # a message's text, or how to make it from its ID


def write_all(core: BrokerConnection, records: Sequence[tuple[str, Text]]) -> list[int]:
    """Append each ``(queue, text)`` in one transaction, in order; their IDs. A text may
    be a function of the message's ID (a task spec names its TID, which is its ID). All
    or none is written: on an error (a function's included) nothing is."""
    if not records:
        return []
    if len(records) == 1 and isinstance(records[0][1], str):
        return [core.write(records[0][0], records[0][1])]
    if missing := [name for name in _NEEDED if not hasattr(core, name)]:
        raise BrokerError(f"this simplebroker cannot write in batches (no {', '.join(missing)})")
    c: Any = core
    c._check_fork_safety()
    for queue, text in records:
        c._validate_queue_name(queue)
        if isinstance(text, str):
            c._validate_message_size(text)
    ids: list[int] = c._run_with_retry(lambda: _transaction(c, records))
    maintenance = getattr(c, "_record_maintenance_activity", None)
    if maintenance is not None:
        maintenance(len(ids))
    return ids


def _transaction(c: Any, records: Sequence[tuple[str, Text]]) -> list[int]:
    insert: str = c._sql.INSERT_MESSAGE
    with c._lock:
        c._runner.begin_immediate()
        try:
            # The first ID by the core's compare-and-advance, inside the transaction: from
            # here to the commit no other writer allocates (SQLite: the write lock;
            # PostgreSQL: the meta row's lock), so the rest are minted locally above it
            # and published with one advance: two statements for the IDs of any batch.
            first = c.generate_timestamp()
            ids = [first, *c._timestamp_gen._reserve_candidates(len(records) - 1)]
            if any(type(ts) is not int for ts in ids):
                raise RuntimeError(f"broker timestamp generator returned {ids!r}")
            if len(ids) > 1:
                c._backend_plugin.advance_last_ts(c._runner, new_ts=ids[-1])
            rows: list[tuple[str, str, int]] = []
            for (queue, text), ts in zip(records, ids, strict=True):
                if not isinstance(text, str):
                    text = text(ts)
                    c._validate_message_size(text)
                rows.append((queue, text, ts))
            _insert(c._runner, insert, rows)
            c._runner.commit()
        except BaseException:
            with contextlib.suppress(BaseException):
                c._runner.rollback()
            raise
    return ids


_ROW = "VALUES (?, ?, ?)"
_CHUNKS = (64, 32, 16, 8, 4, 2, 1)  # rows per statement: at most one of each below 64


def _insert(runner: Any, insert: str, rows: list[tuple[str, str, int]]) -> None:
    """Insert ``rows`` with simplebroker's own statement made multi-row: on PostgreSQL a
    statement is a round trip, and one per message made a batch cost a round trip per
    message. Chunks of fixed sizes (powers of two up to 64 rows) keep the statements few
    (a batch of 7 rows is three, not four; each statement is prepared once). Where the
    statement is not the shape this expects, one per row."""
    if _ROW not in insert:
        for row in rows:
            runner.run(insert, row)
        return
    start = 0
    for size in _CHUNKS:
        many = _many(insert, size)
        while len(rows) - start >= size:
            chunk = rows[start : start + size]
            runner.run(many, tuple(value for row in chunk for value in row))
            start += size


@functools.cache
def _many(insert: str, size: int) -> str:
    """simplebroker's insert statement for ``size`` rows (made once per size). PostgreSQL
    notifies listeners once per row inserted; once per queue is the same to them (a
    transaction's identical notifications are delivered once anyway)."""
    insert = insert.replace("FROM inserted", "FROM (SELECT DISTINCT queue FROM inserted) AS q")
    return insert.replace(_ROW, "VALUES " + ", ".join(["(?, ?, ?)"] * size), 1)
