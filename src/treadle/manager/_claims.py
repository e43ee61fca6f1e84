"""Claiming spawn requests: the one step that decides which manager runs a task.

Owns moving requests from ``treadle.spawn.requests`` into a manager's claim queue
(``T{tid}.reserved``), atomically per message so that two managers never both take one;
the capability check; dead-lettering a request that does not validate; and writing each
claimed task's first inbox message. It runs on the broker thread and starts nothing.
"""

from __future__ import annotations

import json
from collections.abc import Collection

from pydantic import ValidationError

from ..broker import Broker, TaskSpec
from ..broker import names as q

__all__ = ["SCAN", "claim", "claim_new"]

SCAN = 200  # spawn requests looked at per pass


def claim(
    broker: Broker, manager: int, capabilities: Collection[str], free: int
) -> list[tuple[TaskSpec, int]]:
    """Claim up to ``free`` of the oldest requests this manager can run.

    When the oldest requests can all be run here (the common case: no capabilities
    asked), they are claimed with one batch move; requests further down the queue, behind
    one this manager must leave, one move each.
    """
    mine = q.reserved(manager)
    taken: list[tuple[TaskSpec, int]] = []
    peeked = broker.peek_raw(q.SPAWN, limit=SCAN)
    run = 0
    while run < min(free, len(peeked)) and _runnable(peeked[run][0], capabilities):
        run += 1
    if run > 1:
        for raw, mid in broker.move_many(q.SPAWN, mine, run):  # perhaps not all the peeked
            spec = _parse(broker, mine, raw, mid)
            if spec is None:
                continue
            if set(spec.capabilities) <= set(capabilities):
                taken.append((spec, mid))
            else:  # a newer one than was peeked, that another manager must run
                broker.move(mine, q.SPAWN, mid)
        peeked = peeked[run:]
    for raw, mid in peeked:
        if len(taken) >= free:
            break
        spec = _parse(broker, q.SPAWN, raw, mid, moving_to=mine)
        if spec is None or not set(spec.capabilities) <= set(capabilities):
            continue
        if broker.move(q.SPAWN, mine, mid) is not None:  # None: another manager was quicker
            taken.append((spec, mid))
    for spec, _ in taken:
        write_inbox(broker, spec)
    return taken


def claim_new(broker: Broker, manager: int, spec: TaskSpec) -> None:
    """Record a task handed to this manager directly (it is claimed from the start)."""
    broker.insert(q.reserved(manager), [(spec, spec.tid)])
    write_inbox(broker, spec)


def write_inbox(broker: Broker, spec: TaskSpec) -> None:
    """A task's first message, in its inbox before it starts."""
    if spec.inbox is not None:
        value = spec.inbox
        broker.write(q.inbox(spec.tid), value if isinstance(value, str) else json.dumps(value))


def _runnable(raw: str, capabilities: Collection[str]) -> bool:
    try:
        spec = TaskSpec.model_validate_json(raw)
    except ValidationError:
        return False
    return set(spec.capabilities) <= set(capabilities)


def _parse(
    broker: Broker, queue: str, raw: str, mid: int, *, moving_to: str | None = None
) -> TaskSpec | None:
    """The request, or None after dead-lettering it. A request still on the spawn queue
    is first moved out of it (to ``moving_to``), so that only the mover reports it."""
    try:
        return TaskSpec.model_validate_json(raw)
    except ValidationError as exc:
        if moving_to is not None:
            if broker.move(queue, moving_to, mid) is None:
                return None
            queue = moving_to
        broker.dead_letter(q.SPAWN, mid, raw, " ".join(str(exc).split()))
        broker.delete(queue, mid)
        return None
