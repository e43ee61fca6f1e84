"""Managers in ``treadle.workers.registry``: records, liveness, and recovery of the dead.

Owns how a manager's record is published (the newest message per manager TID wins; the
previous one is deleted), when a record counts as dead (its heartbeat is three intervals
old, or, on this host, its process is gone), and what happens to a dead manager's work:
requests it had claimed but not started go back on the spawn queue; tasks it was running
are re-run or marked failed by their restart policy (the task log says which started).
Every step is an atomic move or claim by message ID, so two managers recovering the same
corpse never both act on one task.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass

import psutil

from ..broker import Broker, OutboxAdapter, Result, TaskEvent, TaskSpec, WorkerRecord
from ..broker import names as q
from ..process import clear_leftovers, reap_leftovers
from . import _leases

__all__ = ["Recovered", "alive", "latest", "liveness", "recover", "stale_reason"]

# The host a manager says it runs on; TREADLE_HOST overrides it (containers that share a
# hostname, or tests that play several hosts on one machine).
HOST = os.environ.get("TREADLE_HOST") or socket.gethostname()


def latest(broker: Broker) -> dict[int, tuple[WorkerRecord, int]]:
    """The newest record of every manager, with its message ID."""
    out: dict[int, tuple[WorkerRecord, int]] = {}
    after: int | None = None
    while batch := broker.peek(q.REGISTRY, WorkerRecord.model_validate_json, after=after):
        for record, mid in batch:
            out[record.tid] = (record, mid)
        after = batch[-1][1]
    return out


def stale_reason(
    record: WorkerRecord, now: float | None = None, lease_left: float | None = None
) -> str | None:
    """Why an ``active`` record belongs to a dead manager, or None if it may be alive.

    On this host, its process being gone says so at once. Elsewhere its lease does
    (``lease_left``, seconds by the database's clock): hosts' clocks need not agree.
    Without a lease, a heartbeat older than three intervals does.
    """
    if record.status != "active":
        return None
    if record.host == HOST and not _process_alive(record):
        return f"its process {record.pid} is gone"
    if lease_left is not None:
        return None if lease_left > 0 else f"its lease ran out {-lease_left:.1f}s ago"
    age = (now or time.time()) - record.heartbeat_at
    if age > 3 * record.heartbeat_interval:
        return f"no heartbeat for {age:.1f}s"
    return None


def liveness(broker: Broker) -> dict[int, tuple[WorkerRecord, int, str | None]]:
    """Every manager's newest record, its message ID, and why it is dead (None: alive,
    or stopped)."""
    records = latest(broker)
    active = [tid for tid, (r, _) in records.items() if r.status == "active"]
    left = _leases.remaining(broker, [_leases.manager(tid) for tid in active])
    now = time.time()
    return {
        tid: (record, mid, stale_reason(record, now, left.get(_leases.manager(tid))))
        for tid, (record, mid) in records.items()
    }


def alive(broker: Broker) -> list[WorkerRecord]:
    """The records of managers that are active and not stale."""
    return [r for r, _, dead in liveness(broker).values() if r.status == "active" and not dead]


def _process_alive(record: WorkerRecord) -> bool:
    try:
        proc = psutil.Process(record.pid)
        # a recycled PID belongs to a process younger than the manager's record
        return bool(proc.create_time() <= record.started_at + 1.0) and proc.status() != "zombie"
    except psutil.Error:
        return False


@dataclass
class Recovered:
    manager: int
    requeued: int = 0
    rerun: int = 0
    failed: int = 0


def recover(broker: Broker, by: int, state_dir: str) -> list[Recovered]:
    """Mark every stale manager dead and take its work back (see the module docstring)."""
    out: list[Recovered] = []
    for record, mid, reason in liveness(broker).values():
        if reason is None or record.tid == by:
            continue
        # take the work back first: if this recoverer dies half-way, the record is still
        # active and stale, and the next one finishes the job
        records = f"{state_dir}/procs/{record.tid}"
        if record.host == HOST:
            reap_leftovers(records)  # kills what is left; its exits are not used yet
        out.append(_take_back(broker, record.tid, by, reason))
        if record.host == HOST:
            clear_leftovers(records)
        if broker.delete(q.REGISTRY, mid):
            broker.write(q.REGISTRY, record.model_copy(update={"status": "dead", "reason": reason}))
    return out


def _take_back(broker: Broker, dead: int, by: int, reason: str) -> Recovered:
    """The dead manager's claimed requests: back on the spawn queue if they never
    started; if they did, re-run or failed by their restart policy; dropped if their
    result is in (the manager died before it cleaned up)."""
    done = Recovered(dead)
    claimed = q.reserved(dead)
    specs = broker.peek(claimed, TaskSpec.model_validate_json, limit=100_000)
    started = _started_by(broker, dead) if specs else set()
    for spec, mid in specs:
        if _has_result(broker, spec.tid):
            broker.delete(claimed, mid)
        elif spec.tid not in started:
            if broker.move(claimed, q.SPAWN, mid) is not None:
                _log(broker, spec, "requeued", by, f"manager {dead} died before starting it")
                done.requeued += 1
        elif spec.restart != "never":
            if broker.move(claimed, q.SPAWN, mid) is not None:  # None: another took it
                _log(broker, spec, "requeued", by, f"manager {dead} died while it ran ({reason})")
                done.rerun += 1
        elif broker.take(claimed, mid) is not None:
            why = f"manager {dead} died while it ran ({reason})"
            broker.write(q.outbox(spec.tid), Result(tid=spec.tid, state="failed", error=why))
            _log(broker, spec, "failed", by, why)
            done.failed += 1
    return done


def _started_by(broker: Broker, manager: int) -> set[int]:
    """The tasks the log says ``manager`` started: its events all come after its TID."""
    started: set[int] = set()
    after = manager
    while batch := broker.peek(q.TASK_LOG, TaskEvent.model_validate_json, after=after):
        started.update(e.tid for e, _ in batch if e.event == "started" and e.manager == manager)
        after = batch[-1][1]
    return started


def _has_result(broker: Broker, tid: int) -> bool:
    """Whether the task's outbox ends with its result (the last record, when there)."""
    last = broker.peek_raw(q.outbox(tid), limit=1, newest=True)
    if not last:
        return False
    try:
        return isinstance(OutboxAdapter.validate_json(last[0][0]), Result)
    except ValueError:
        return False


def _log(broker: Broker, spec: TaskSpec, kind: str, by: int, reason: str) -> None:
    event = TaskEvent.model_validate(
        {"tid": spec.tid, "event": kind, "name": spec.label, "manager": by, "reason": reason}
    )
    broker.write(q.TASK_LOG, event)
