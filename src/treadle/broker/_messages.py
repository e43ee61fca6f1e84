"""The messages of the task protocol, each a pydantic model validated on the way in.

Owns the shapes of control requests and replies, task-log events, registry records,
outbox records and dead letters. :class:`~treadle.broker.TaskSpec` has its own module.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

__all__ = [
    "TERMINAL",
    "Control",
    "DeadLetter",
    "EventKind",
    "OutboxAdapter",
    "OutboxMessage",
    "Output",
    "Reply",
    "Result",
    "TaskEvent",
    "WorkerRecord",
]

_STRICT = ConfigDict(frozen=True, extra="forbid")

Op = Literal[
    "STOP",
    "PAUSE",
    "RESUME",
    "PING",
    "STATUS",  # for tasks and managers
    "START",
    "RESTART",
    "SCALE",
    "RELOAD",
    "DUMP",  # for a manager's hosted project
]

EventKind = Literal[
    "reserved",  # a manager claimed the request
    "starting",  # about to start it for the first time: from here on it may have run
    "started",  # an attempt began (pid for a process)
    "paused",
    "resumed",
    "retrying",  # an attempt failed; another follows after backoff_s
    "requeued",  # its manager died before starting it; back on the spawn queue
    "completed",  # terminal: ended normally
    "failed",  # terminal: ended abnormally, no attempt left
    "stopped",  # terminal: stopped on request (or with its manager)
    "rejected",  # terminal: no manager can run it (bad target, missing capability)
]
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "stopped", "rejected"})


class Control(BaseModel):
    """A control request on ``T{tid}.ctrl_in``; the reply goes to ``reply_to`` or
    ``T{tid}.ctrl_out``. Sent to a manager with a ``target``, it acts on that child of the
    project the manager hosts (a name, or a dotted path into nested supervisors); ``args``
    carry what the op needs (SCALE: ``replicas``)."""

    model_config = _STRICT

    op: Op
    request_id: str = ""
    reply_to: str | None = None
    target: str | None = None
    args: dict[str, JsonValue] = Field(default_factory=dict)


class Reply(BaseModel):
    """The answer to a :class:`Control`: ``reply`` is ``PONG`` for a PING, the new state
    otherwise; ``status`` answers STATUS."""

    model_config = _STRICT

    tid: int
    op: Op
    ok: bool
    reply: str = ""
    request_id: str = ""
    status: dict[str, Any] | None = None
    error: str | None = None


class TaskEvent(BaseModel):
    """One line of ``treadle.tasks.log``."""

    model_config = _STRICT

    tid: int
    event: EventKind
    name: str = ""
    at: float = Field(default_factory=time.time)
    manager: int | None = None
    pid: int | None = None
    attempt: int = 0
    exit_code: int | None = None
    reason: str = ""
    backoff_s: float | None = None


class WorkerRecord(BaseModel):
    """A manager's entry in ``treadle.workers.registry``; the newest one per tid wins."""

    model_config = _STRICT

    tid: int
    status: Literal["active", "stopped", "dead"]
    pid: int
    host: str
    queues: dict[str, str] = Field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    started_at: float
    heartbeat_at: float
    heartbeat_interval: float = 2.0
    tasks: int = 0
    socket: str | None = None
    reason: str = ""
    project: str | None = None  # the project file of the tree it hosts, if any
    name: str = ""  # the hosted project's name
    leader: bool = False  # it led the fleet when it wrote this
    lease_s: float | None = None  # how long its leases last


class Result(BaseModel):
    """The last record in ``T{tid}.outbox``: how the task ended and what it produced."""

    model_config = _STRICT

    kind: Literal["result"] = "result"
    tid: int
    state: Literal["completed", "failed", "stopped", "rejected"]
    exit_code: int | None = None
    value: JsonValue = None
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    attempts: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.state == "completed"


class Output(BaseModel):
    """Lines a task printed, streamed to its outbox while it runs."""

    model_config = _STRICT

    kind: Literal["output"] = "output"
    tid: int
    stream: Literal["stdout", "stderr"]
    lines: list[str]


OutboxMessage = Annotated[Result | Output, Field(discriminator="kind")]
OutboxAdapter: TypeAdapter[Result | Output] = TypeAdapter(OutboxMessage)


class DeadLetter(BaseModel):
    """A message that failed validation, with the error and its original text."""

    model_config = _STRICT

    queue: str
    message_id: int | None
    error: str
    raw: str
    at: float = Field(default_factory=time.time)
