"""Managers in ``treadle.workers.registry``: records, liveness, and recovery of the dead.

Owns how a manager's record is published (the newest message per manager TID wins; the
previous one is deleted), when a record counts as dead (its lease ran out, or, without a
lease, its heartbeat is three intervals old; on this host, its process being gone), and
what happens to a dead manager's work: requests it had claimed but not started go back
on the spawn queue; tasks it was running are re-run or marked failed by their restart
policy (the task log says which started). Every step is an atomic move or claim by
message ID, so two managers recovering the same corpse never both act on one task.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
from pydantic import JsonValue

from .._exceptions import describe_exit
from ..broker import TERMINAL, Broker, OutboxAdapter, Result, TaskEvent, TaskSpec, WorkerRecord
from ..broker import names as q
from ..process import clear_leftovers, reap_leftovers
from . import _leases, _values
from ._files import clear_spares, result_path, returned_value

__all__ = [
    "Recovered",
    "alive",
    "latest",
    "liveness",
    "log_path",
    "recover",
    "stale_reason",
    "take_back",
]

# The host a manager says it runs on; TREADLE_HOST overrides it (containers that share a
# hostname, or tests that play several hosts on one machine).
HOST = os.environ.get("TREADLE_HOST") or socket.gethostname()
_PAGE = 1000  # records read at once


def log_path(state_dir: str | os.PathLike[str], tid: int | str) -> Path:
    """Where manager ``tid`` of the broker whose state is in ``state_dir`` logs (not
    ``logs/``: that is the project's children's)."""
    return Path(state_dir) / "managers" / f"manager-{tid}.log"


def latest(broker: Broker) -> dict[int, tuple[WorkerRecord, int]]:
    """The newest record of every manager, with its message ID."""
    out: dict[int, tuple[WorkerRecord, int]] = {}
    after: int | None = None
    while True:
        batch = broker.peek(q.REGISTRY, WorkerRecord.model_validate_json, after=after, limit=_PAGE)
        for record, mid in batch:
            out[record.tid] = (record, mid)
        if len(batch) < _PAGE:  # the end of the queue: no read more to learn it
            return out
        after = batch[-1][1]


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
    if record.host == HOST and not process_alive(record):
        return f"its process {record.pid} is gone"
    if lease_left is not None:
        return None if lease_left > 0 else f"its lease ran out {-lease_left:.1f}s ago"
    age = (now or time.time()) - record.heartbeat_at
    if age > 3 * record.heartbeat_interval:
        return f"no heartbeat for {age:.1f}s"
    return None


def liveness(
    broker: Broker, *, besides: int | None = None
) -> dict[int, tuple[WorkerRecord, int, str | None]]:
    """Every manager's newest record (but that of manager ``besides``), its message ID,
    and why it is dead (None: alive, or stopped)."""
    records = latest(broker)
    records.pop(besides or 0, None)
    active = [tid for tid, (r, _) in records.items() if r.status == "active"]
    left = _leases.remaining(broker, [_leases.manager(tid) for tid in active])
    now = time.time()
    out: dict[int, tuple[WorkerRecord, int, str | None]] = {}
    for tid, (record, mid) in records.items():
        lease_left = left.get(_leases.manager(tid))
        out[tid] = (_renewed(record, now, lease_left), mid, stale_reason(record, now, lease_left))
    return out


def _renewed(record: WorkerRecord, now: float, lease_left: float | None) -> WorkerRecord:
    """``record`` with its heartbeat at its manager's last lease renewal, if later: a
    manager republishes its record only when what it says changes (see ``_presence``);
    its lease renewals are its heartbeats."""
    if record.status != "active" or lease_left is None or record.lease_s is None:
        return record
    renewed = now - max(0.0, record.lease_s - lease_left)
    if renewed <= record.heartbeat_at:
        return record
    return record.model_copy(update={"heartbeat_at": renewed})


def alive(broker: Broker) -> list[WorkerRecord]:
    """The records of managers that are active and not stale."""
    return [r for r, _, dead in liveness(broker).values() if r.status == "active" and not dead]


def process_alive(record: WorkerRecord) -> bool:
    """Whether a manager of this host still runs (its PID, not recycled, not a zombie)."""
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
    completed: int = 0


def recover(broker: Broker, by: int, state_dir: str, held_for: float = 0.0) -> list[Recovered]:
    """Mark every stale manager dead and take its work back (see the module docstring).

    A manager whose process is gone (on this host) is taken over at once. One that only
    its lease says is dead is taken over once it has run out and ``by`` has held its own
    lease longer than that one (``held_for`` seconds): a manager coming back from a
    broker that refused every writer (a full disk) renews before anyone acts, and each
    takeover seizes the dead manager's lease first, so that it can never renew it.
    """
    out: list[Recovered] = []
    for record, mid, reason in liveness(broker, besides=by).values():
        if reason is None:
            continue
        gone = record.host == HOST and not process_alive(record)
        lease = record.lease_s or 3 * record.heartbeat_interval
        if not gone and held_for <= lease:
            continue
        held = _leases.manager(record.tid)
        if not _leases.seize(broker, held, by, lease, gone=record.tid if gone else None):
            continue  # another recoverer has it, or it renewed after all
        # take the work back first: if this recoverer dies half-way, the record is still
        # active and stale, and the next one finishes the job
        records = f"{state_dir}/procs/{record.tid}"
        exits: dict[str, int] = {}
        if record.host == HOST:
            # a gone manager's spawner may still be journaling its last exits: wait for
            # it; a frozen one's is alive (its deadline killed the tasks): read it as is
            exits = reap_leftovers(records, patience=10.0 if gone else 0.0).exits
        out.append(take_back(broker, record.tid, by, reason, exits, f"{state_dir}/results"))
        if gone:
            clear_leftovers(records)  # those exits are durable now, as results
            clear_spares(f"{state_dir}/results", record.tid)
            shutil.rmtree(_values.journal_dir(f"{state_dir}/results", record.tid), True)
        if broker.delete(q.REGISTRY, mid):
            broker.write(q.REGISTRY, record.model_copy(update={"status": "dead", "reason": reason}))
    return out


def take_back(
    broker: Broker,
    manager: int,
    by: int,
    reason: str,
    exits: Mapping[str, int],
    results_dir: str,
    *,
    settle: bool = True,
) -> Recovered:
    """The claims of ``manager`` (dead, or stopping: ``settle=False`` leaves the tasks
    that started and have no result yet, which it may still be writing).

    A claim whose result is in is dropped (its last event written if the log lacks it);
    one that never started goes back on the spawn queue; one whose process exited
    normally, as its manager's spawner recorded (``exits``, by child name), or a
    function task whose return value its process wrote, completed: its result is
    written; the others are re-run or failed by their restart policy.
    Every step is an atomic move or take by message ID, and a result is written before its
    claim is taken (:func:`_settle`): a recoverer may die anywhere, the next one finishes.
    """
    done = Recovered(manager)
    claimed = q.reserved(manager)
    specs = broker.peek(claimed, TaskSpec.model_validate_json, limit=100_000)
    if not specs:
        return done
    seen = _seen(broker, manager)
    journaled: dict[tuple[int, int], bytes] | None = None  # its workers' values, read once
    for spec, mid in specs:
        tid = spec.tid
        result = _result(broker, tid)
        if result is not None:
            if broker.delete(claimed, mid) and tid not in seen.ended:
                _log(broker, spec, result.state, by, result.error or "", result.exit_code)
            continue
        code = exits.get(f"T{tid}")  # its process ran, even if the log never said so
        if tid not in seen.started and code is None:
            if broker.move(claimed, q.SPAWN, mid) is not None:  # None: another took it
                _log(broker, spec, "requeued", by, f"manager {manager} ended before starting it")
                done.requeued += 1
            continue
        if not settle:
            continue
        attempt = seen.started.get(tid, 1)
        why = f"manager {manager} died while it ran ({reason})"
        returned = None
        if spec.kind == "function":
            if journaled is None:
                journaled = _values.read_all(_values.journal_dir(results_dir, manager))
            returned = _returned(results_dir, tid, attempt, journaled)
        if (code == 0 or returned is not None) and spec.restart != "always":
            value = returned[0] if returned is not None else None
            ok = Result(tid=tid, state="completed", exit_code=0, value=value, attempts=attempt)
            if _settle(broker, claimed, mid, ok):
                _log(broker, spec, "completed", by, f"{why}, after it exited normally", 0)
                done.completed += 1
            if returned is not None:  # durable as its result now
                result_path(Path(results_dir), tid, attempt).unlink(missing_ok=True)
        elif spec.restart == "always" or (
            spec.restart == "on-failure" and (code is None or attempt <= spec.retries)
        ):
            if broker.move(claimed, q.SPAWN, mid) is not None:
                _log(broker, spec, "requeued", by, why)
                done.rerun += 1
        else:
            if code is not None:
                why = f"{why}; its last attempt had ended: {describe_exit(code)}"
            else:
                why = f"{why}: it may have started, and is not run again (restart: never)"
            failed = Result(tid=tid, state="failed", exit_code=code, error=why, attempts=attempt)
            if _settle(broker, claimed, mid, failed):
                _log(broker, spec, "failed", by, why, code)
                done.failed += 1
    return done


def _settle(broker: Broker, claimed: str, mid: int, result: Result) -> bool:
    """Write a task's ``result``, then take its claim; whether this call took it. In that
    order, a recoverer that dies between the two leaves a claim whose result is in, which
    the next one drops (the other way round it left neither claim nor result: the task was
    lost). One recoverer at a time holds a dead manager's lease."""
    broker.write(q.outbox(result.tid), result)
    return broker.take(claimed, mid) is not None


@dataclass
class _Seen:
    started: dict[int, int]  # tid → the last attempt the log says began ("starting": 1)
    ended: set[int]


def _seen(broker: Broker, manager: int) -> _Seen:
    """What the log says ``manager`` started and ended: its events all come after its
    TID (a task that may have started: "starting" or "started")."""
    seen = _Seen({}, set())
    after = manager
    while batch := broker.peek(q.TASK_LOG, TaskEvent.model_validate_json, after=after):
        for e, _ in batch:
            if e.manager != manager:
                continue
            if e.event in ("starting", "started"):
                seen.started[e.tid] = max(seen.started.get(e.tid, 0), e.attempt, 1)
            elif e.event in TERMINAL:
                seen.ended.add(e.tid)
        after = batch[-1][1]
    return seen


def _result(broker: Broker, tid: int) -> Result | None:
    """The task's result, when its outbox ends with one (the last record)."""
    last = broker.peek_raw(q.outbox(tid), limit=1, newest=True)
    if not last:
        return None
    try:
        message = OutboxAdapter.validate_json(last[0][0])
    except ValueError:
        return None
    return message if isinstance(message, Result) else None


def _returned(
    results_dir: str, tid: int, attempt: int, journaled: Mapping[tuple[int, int], bytes]
) -> tuple[JsonValue] | None:
    """A function task's return value: in a warm worker's journal (``_values``), or in
    its own file (see :func:`returned_value`), which stays until the value is durable as
    the task's result."""
    data = journaled.get((tid, attempt))
    if data is not None:
        try:
            value: JsonValue = json.loads(data)
        except ValueError:
            pass  # (a record checks out, so this is not expected; the file, then)
        else:
            return (value,)
    return returned_value(result_path(Path(results_dir), tid, attempt))


def _log(
    broker: Broker, spec: TaskSpec, kind: str, by: int, reason: str, code: int | None = None
) -> None:
    event = TaskEvent.model_validate(
        {
            "tid": spec.tid,
            "event": kind,
            "name": spec.label,
            "manager": by,
            "reason": reason,
            "exit_code": code,
        }
    )
    broker.write(q.TASK_LOG, event)
