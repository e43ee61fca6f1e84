"""What the broker says of tasks and managers: :class:`TaskInfo`, folded from the task
log, the spawn queue and the managers' claims; and the managers' records, the dead told
apart. Functions of a :class:`~treadle.broker.Broker`, so that the client and the
dashboard (on its manager's broker thread) read them the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ..broker import TERMINAL, Broker, TaskEvent, TaskSpec, WorkerRecord
from ..broker import names as q
from ..manager import _registry

__all__ = ["TaskInfo", "log_of", "managers_of", "summarize", "tasks_of"]


@dataclass
class TaskInfo:
    """One task: its last event is its state (``queued`` if no manager took it yet)."""

    tid: int
    name: str
    state: str
    manager: int | None = None
    pid: int | None = None
    attempt: int = 0
    exit_code: int | None = None
    reason: str = ""
    submitted_at: float = 0.0
    updated_at: float = 0.0
    events: list[str] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.state in TERMINAL


def summarize(
    events: Iterable[TaskEvent],
    queued: Iterable[TaskSpec] = (),
    reserved: Mapping[int, Iterable[TaskSpec]] | None = None,
) -> list[TaskInfo]:
    """Fold the log into one :class:`TaskInfo` per task, ordered by TID; ``queued`` are
    on the spawn queue, ``reserved`` claimed by a manager (by its TID) but not started."""
    tasks: dict[int, TaskInfo] = {}
    for e in events:
        info = tasks.get(e.tid)
        if info is None:
            info = tasks[e.tid] = TaskInfo(e.tid, e.name, e.event, submitted_at=e.tid / 1e9)
        info.state = "running" if e.event in ("started", "resumed") else e.event
        info.updated_at = e.at
        info.events.append(e.event)
        if e.manager is not None:
            info.manager = e.manager
        if e.pid is not None:
            info.pid = e.pid
        info.attempt = max(info.attempt, e.attempt)
        if e.exit_code is not None:
            info.exit_code = e.exit_code
        info.reason = e.reason or info.reason
    for spec in queued:  # in the spawn queue now, whatever happened before
        info = tasks.setdefault(spec.tid, TaskInfo(spec.tid, spec.label, "queued"))
        info.state = "queued"
        info.submitted_at = spec.tid / 1e9
    for manager, specs in (reserved or {}).items():
        for spec in specs:
            info = tasks.setdefault(spec.tid, TaskInfo(spec.tid, spec.label, "reserved"))
            if not info.events or info.state == "requeued":
                info.state = "reserved"
            info.manager = manager
            info.submitted_at = spec.tid / 1e9
    return sorted(tasks.values(), key=lambda t: t.tid)


def log_of(broker: Broker, tid: int | None = None) -> list[TaskEvent]:
    """The task log (of one task, or all), oldest first."""
    out: list[TaskEvent] = []
    after: int | None = None
    while batch := broker.peek(q.TASK_LOG, TaskEvent.model_validate_json, after=after):
        out.extend(e for e, _ in batch if tid is None or e.tid == tid)
        after = batch[-1][1]
    return out


def tasks_of(broker: Broker) -> list[TaskInfo]:
    """Every task the broker knows (see :meth:`treadle.client.Client.tasks`)."""
    parse = TaskSpec.model_validate_json
    queued = [s for s, _ in broker.peek(q.SPAWN, parse, limit=10**6)]
    reserved = {
        tid: [s for s, _ in broker.peek(q.reserved(tid), parse, limit=10**6)]
        for tid in _registry.latest(broker)
    }
    return summarize(log_of(broker), queued, reserved)


def managers_of(broker: Broker, *, everything: bool = False) -> list[WorkerRecord]:
    """The managers' newest records, a stale ``active`` one reported ``dead``."""
    out = []
    for record, _, reason in _registry.liveness(broker).values():
        if reason is not None:
            record = record.model_copy(update={"status": "dead", "reason": reason})
        if everything or record.status == "active":
            out.append(record)
    return sorted(out, key=lambda r: r.tid)
