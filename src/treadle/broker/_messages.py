"""The messages of the task protocol, each a pydantic model validated on the way in.

Owns the shapes of control requests and replies, task-log events, registry records,
outbox records and dead letters, and how a TID is written: a number in the broker, text
in every JSON document made for people and scripts (:data:`Tid`).
:class:`~treadle.broker.TaskSpec` has its own module.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    WithJsonSchema,
    WrapSerializer,
)
from typing_extensions import TypeAliasType

__all__ = [
    "TERMINAL",
    "WIRE",
    "Control",
    "DeadLetter",
    "EventKind",
    "MessageId",
    "OutboxAdapter",
    "OutboxMessage",
    "Output",
    "Reply",
    "Result",
    "TaskEvent",
    "Tid",
    "WorkerRecord",
]

_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
WIRE: Final = {"wire": True}  # the serialization context of treadle's own messages


def _as_text(value: int, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
    """A 64-bit ID in a JSON document is text: JavaScript and jq 1.6 read a JSON number
    as a double and round one past 2**53 (``...864`` shown as ``...900``). The broker's
    own messages (serialized with the :data:`WIRE` context) keep numbers, as every
    version of treadle reads them; either is accepted on the way in."""
    if info.mode_is_json() and not (info.context and info.context.get("wire")):
        return str(value)
    return value


_DIGITS = {"type": "string", "pattern": "^[0-9]+$"}


def _id_schema(what: str) -> tuple[WithJsonSchema, WithJsonSchema]:
    text = f"{what}: a 64-bit integer, written as text"
    given = f"{what}: a 64-bit integer, as text or as a number"
    return (
        WithJsonSchema({**_DIGITS, "description": text}, mode="serialization"),
        WithJsonSchema(
            {"anyOf": [{"type": "integer"}, _DIGITS], "description": given}, "validation"
        ),
    )


# A TID is a broker timestamp (SQLite's and PostgreSQL's 64-bit integers); a pid is
# positive. Bounded here so that a forged message fails validation, not a query later.
Tid = TypeAliasType(
    "Tid",
    Annotated[
        int,
        Field(gt=0, lt=1 << 63),
        WrapSerializer(_as_text),
        *_id_schema("a task ID (a broker timestamp)"),
    ],
)
MessageId = TypeAliasType(
    "MessageId",
    Annotated[int, WrapSerializer(_as_text), *_id_schema("a broker message's ID")],
)
_PID = Annotated[int, Field(gt=0, lt=1 << 31)]

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

    tid: Tid
    op: Op
    ok: bool
    reply: str = ""
    request_id: str = ""
    status: dict[str, Any] | None = None
    error: str | None = None


class TaskEvent(BaseModel):
    """One line of ``treadle.tasks.log``."""

    model_config = _STRICT

    tid: Tid
    event: EventKind
    name: str = ""
    at: float = Field(default_factory=time.time)
    manager: Tid | None = None
    pid: _PID | None = None
    attempt: int = 0
    exit_code: int | None = None
    reason: str = ""
    backoff_s: float | None = None


class WorkerRecord(BaseModel):
    """A manager's entry in ``treadle.workers.registry``; the newest one per tid wins."""

    model_config = _STRICT

    tid: Tid
    status: Literal["active", "stopped", "dead"]
    pid: _PID
    host: str
    queues: dict[str, str] = Field(default_factory=dict)
    capabilities: tuple[str, ...] = ()
    started_at: float
    heartbeat_at: float
    heartbeat_interval: float = Field(default=2.0, gt=0)
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
    tid: Tid
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
    tid: Tid
    stream: Literal["stdout", "stderr"]
    lines: list[str]


OutboxMessage = Annotated[Result | Output, Field(discriminator="kind")]
OutboxAdapter: TypeAdapter[Result | Output] = TypeAdapter(OutboxMessage)


RAW_KEPT = 64 * 1024  # characters of a dead message's text kept in its letter
ERROR_KEPT = 4 * 1024  # characters of the error


class DeadLetter(BaseModel):
    """A message that failed validation, with the error and its original text.

    A letter is bounded whatever the message was (a letter too big for the broker would
    be a poison of its own): ``raw`` keeps the first ``RAW_KEPT`` characters of the text,
    ``raw_bytes`` and ``raw_sha256`` describe the whole of it (UTF-8), and ``error`` is cut
    to ``ERROR_KEPT`` characters. Older letters lack the last two (None).
    """

    model_config = _STRICT

    queue: str
    message_id: MessageId | None
    error: str
    raw: str
    raw_bytes: int | None = None
    raw_sha256: str | None = None
    at: float = Field(default_factory=time.time)

    @classmethod
    def of(cls, queue: str, message_id: int | None, raw: str, error: str) -> DeadLetter:
        """The bounded letter of ``raw`` (any text: lone surrogates are kept escaped)."""
        whole = raw.encode("utf-8", "surrogatepass")
        return cls(
            queue=_text(queue, 1024),
            message_id=message_id,
            error=_text(error, ERROR_KEPT),
            raw=_text(raw, RAW_KEPT),
            raw_bytes=len(whole),
            raw_sha256=hashlib.sha256(whole).hexdigest(),
        )

    @property
    def cut(self) -> bool:
        """Whether ``raw`` is only the start of the message."""
        return self.raw_bytes is not None and len(self.raw.encode()) < self.raw_bytes


def _text(text: str, keep: int) -> str:
    """``text`` cut to ``keep`` characters, encodable as UTF-8 (simplebroker refuses lone
    surrogates: they are written as ``\\udXXX``)."""
    text = text[:keep]
    try:
        text.encode()
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode()
    return text
