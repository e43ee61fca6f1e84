"""The dashboard API's shapes: every response is one of these (so that the OpenAPI
document at ``/api/openapi.json`` is what the server answers), every request body too.
A TID is written as text (:data:`treadle.broker.Tid`): a browser reads JSON numbers as
doubles, which round a 64-bit TID."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..broker import Tid
from ..project import Row

__all__ = [
    "ChildHistory",
    "ControlReply",
    "Detail",
    "DurationSample",
    "History",
    "Limiter",
    "ManagerRef",
    "ScaleRequest",
    "Status",
    "Task",
    "TaskDetail",
]

_OUT = ConfigDict(extra="forbid")


class ManagerRef(BaseModel):
    model_config = _OUT

    tid: Tid
    pid: int
    host: str


class Status(BaseModel):
    """The project as its manager runs it now."""

    model_config = _OUT

    name: str
    file: str
    manager: ManagerRef
    children: list[Row]  # one per child: pools member by member, nested under dotted names
    stopped: list[str] = Field(description="children an operator stopped")
    tree: dict[str, Any] = Field(description="the supervisor's own status, nested")


class Task(BaseModel):
    """What the task log says of one task."""

    model_config = _OUT

    tid: Tid
    name: str
    state: str
    manager: Tid | None
    pid: int | None
    attempt: int
    exit_code: int | None
    reason: str
    submitted_at: float
    updated_at: float
    events: list[str]


class TaskDetail(Task):
    result: dict[str, Any] | None = Field(description="the task's Result, once it has ended")


class Limiter(BaseModel):
    model_config = _OUT

    name: str
    capacity: int
    in_use: int
    waiting: int
    waiting_by_priority: dict[str, int]
    acquired: int
    total_wait_s: float
    max_wait_s: float


class ControlReply(BaseModel):
    model_config = _OUT

    ok: Literal[True] = True
    reply: str
    members: list[str] | None = None


class ScaleRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    replicas: int = Field(ge=0, le=10_000)


class DurationSample(BaseModel):
    model_config = _OUT

    t: float = Field(description="when it was taken (Unix time, the server's clock)")
    p50_ms: float | None
    p95_ms: float | None


class ChildHistory(BaseModel):
    model_config = _OUT

    restarts: list[float] = Field(description="when it restarted after a failure (Unix time)")
    samples: list[DurationSample] = Field(description="its run durations, sampled")


class History(BaseModel):
    """The recent past of the project's children, for charts opened now."""

    model_config = _OUT

    now: float = Field(description="the server's time when it answered (Unix time)")
    window_s: float
    children: dict[str, ChildHistory]


class Detail(BaseModel):
    """An error: what went wrong, for people."""

    detail: str
