"""Forgetting what nobody will read again: :func:`tidy`, run now and then by the leader.

Owns two sweeps of the broker. Replies to control calls: a call reads its reply from a
queue of its own (``T{tid}.ctrl_out.TOKEN``) and deletes it, but a reply that came after
its caller gave up, or one a caller read and died before deleting, stays, a queue apiece;
one with no reply waiting, or whose newest is older than ``patience``, is dropped. And
managers that stopped or died more than ``retention`` ago: their registry record and
their own queues (control, the dashboard's event history), so that listings and the
dashboard show the managers of now, not every one there ever was. Each step deletes one
queue or one message: two managers tidying at once do no harm. A manager whose claims
(``T{tid}.reserved``) still wait is recovery's, and is kept, record and all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final

from ..broker import Broker
from ..broker import names as q
from . import _registry

__all__ = ["EVERY", "PATIENCE", "RETENTION", "Tidied", "tidy"]

_log = logging.getLogger("treadle.manager")

EVERY: Final = 300.0  # seconds between a leader's sweeps
PATIENCE: Final = 600.0  # seconds a reply waits for a caller that may still come
RETENTION: Final = 86_400.0  # seconds a stopped or dead manager is still listed
_NS: Final = 1_000_000_000  # broker timestamps are ~nanoseconds since the epoch


@dataclass(frozen=True)
class Tidied:
    replies: int  # reply queues dropped
    managers: list[int]  # managers forgotten


def tidy(
    broker: Broker, now: float, *, patience: float = PATIENCE, retention: float = RETENTION
) -> Tidied:
    """Drop stale reply queues and forget long-gone managers (see the module docstring);
    ``now`` is the wall-clock time."""
    tidied = Tidied(
        _replies(broker, int((now - patience) * _NS)), _managers(broker, now - retention)
    )
    if tidied.replies or tidied.managers:
        _log.info(
            "tidied the broker: %d stale replies, managers forgotten: %s",
            tidied.replies,
            tidied.managers or "none",
        )
    return tidied


def _replies(broker: Broker, cutoff: int) -> int:
    dropped = 0
    for stats in broker.stats(pattern="T*.ctrl_out.*"):
        if stats.pending:
            newest = broker.peek_raw(stats.queue, limit=1, newest=True)
            if newest and newest[0][1] >= cutoff:
                continue  # its caller may still be waiting
        broker.drop(stats.queue)
        dropped += 1
    return dropped


def _managers(broker: Broker, cutoff: float) -> list[int]:
    gone = []
    for tid, (record, mid) in _registry.latest(broker).items():
        if record.status == "active" or record.heartbeat_at >= cutoff:
            continue
        queues = broker.stats(prefix=f"T{tid}.")
        if any(s.queue == q.reserved(tid) and s.pending for s in queues):
            continue  # claims of its own not yet taken back: recovery's, with its record
        for stats in queues:
            broker.drop(stats.queue)
        broker.delete(q.REGISTRY, mid)
        gone.append(tid)
    return gone
