"""Receipts: what makes a locally offered request run at most once, whoever writes it.

A client offers a task to the local manager under a request ID it chose
(:func:`treadle._wire.new_request`); when no answer comes at once it writes the task to
the spawn queue itself, under the same ID, while the manager may still accept the offer
later. Both writers go through :func:`record`: the task's messages and the request's
receipt in one transaction, the receipt's message ID derived from the request ID
(:func:`treadle._wire.receipt_id`). A broker's message IDs are unique, so exactly one
transaction commits; the other fails whole, reads the receipt, and learns the TID the
task was written under. Receipts live in their own queue, read by nobody but this module,
and are pruned after :data:`KEEP` seconds; a manager refuses a request older than
:data:`MAX_AGE` (far less than KEEP), so it never meets a request whose receipt is gone.

It runs on the broker thread (or in the client) and starts nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from pydantic import BaseModel
from simplebroker.ext import IntegrityError

from .._exceptions import BrokerError
from .._wire import RECEIPT_BITS, RECEIPT_EPOCH, receipt_id
from ..broker import Broker, names
from ..broker._broker import encode

__all__ = ["KEEP", "MAX_AGE", "QUEUE", "Collision", "age", "prune", "record"]

QUEUE = names.RECEIPTS
MAX_AGE = 3600.0  # seconds: an older request was given up on by its client long ago
KEEP = 86_400.0  # seconds a receipt is kept
_PRUNE_BATCH = 1000


class Collision(BrokerError):
    """Another request's receipt holds this request's ID (1 in 2**30 within a second):
    nothing was written, and no writer of this request ever can be."""


def age(request: str, now: float | None = None) -> float:
    """Seconds since the client minted ``request`` (ValueError for a bad ID)."""
    receipt_id(request)
    return (time.time() if now is None else now) - int(request.partition("-")[0])


def record(
    broker: Broker, request: str, tid: int, messages: Sequence[tuple[str, BaseModel | str, int]]
) -> int:
    """Write ``messages`` (queue, message, ID) with the receipt of ``request`` for task
    ``tid``, in one transaction; the task's TID: ``tid`` when they were written now, the
    one recorded before when the request had already been written (nothing is written).

    Raises:
        Collision: another request's receipt has this ID (nothing written).
        ValueError: ``request`` is not a request ID.
    """
    rid = receipt_id(request)
    receipt = json.dumps({"request": request, "tid": tid})
    rows = [(queue, encode(message), mid) for queue, message, mid in messages]
    try:
        broker.db.insert_messages([*rows, (QUEUE, receipt, rid)])
    except IntegrityError:
        found = broker.peek_raw(QUEUE, after=rid - 1, limit=1)
        if not found or found[0][1] != rid:
            raise  # not the receipt's ID that clashed: not ours to explain
        earlier = json.loads(found[0][0])
        if earlier.get("request") != request:
            raise Collision(f"request {request}: its receipt ID is another's") from None
        return int(earlier["tid"])
    return tid


def prune(broker: Broker, now: float | None = None) -> int:
    """Delete receipts older than :data:`KEEP` (up to a batch); how many."""
    cutoff = (time.time() if now is None else now) - KEEP - RECEIPT_EPOCH
    if cutoff <= 0:
        return 0
    below = int(cutoff) << RECEIPT_BITS
    old = [mid for _, mid in broker.peek_raw(QUEUE, limit=_PRUNE_BATCH) if mid < below]
    return broker.delete_many(QUEUE, old)
