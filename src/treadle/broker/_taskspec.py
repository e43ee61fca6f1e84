"""What a client asks a manager to run: :class:`TaskSpec`, immutable once submitted.

Owns the shape and validation of a task and the redaction of its secrets. It does not run
anything (``treadle.manager`` turns a spec into a child) and holds no state: a task's state
lives in the task log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .._exceptions import ConfigError
from .._redact import REDACTED

__all__ = ["REDACTED", "TaskLimits", "TaskSpec", "first_error", "is_secret", "redact_env"]

_SECRET = re.compile(r"pass|secret|token|key|auth|credential|private|cookie|session", re.I)
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def is_secret(variable: str) -> bool:
    """Whether an environment variable's value is kept out of dumps, logs and status."""
    return _SECRET.search(variable) is not None


def redact_env(env: Mapping[str, object]) -> dict[str, object]:
    """``env`` with the values of secret-looking variables replaced by ``***``."""
    return {k: REDACTED if is_secret(k) else v for k, v in env.items()}


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The field and message of a validation error's first complaint, for people."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "task"
    return field, str(err["msg"]).removeprefix("Value error, ")


class TaskLimits(BaseModel):
    """``timeout``: seconds of wall time per attempt; ``memory``: bytes of RSS; ``cpu``:
    seconds of CPU time (a process task only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: float | None = Field(default=None, gt=0)
    memory: int | None = Field(default=None, ge=1)
    cpu: int | None = Field(default=None, ge=1)


class TaskSpec(BaseModel):
    """One task. Exactly one of ``argv``, ``function`` or ``loop`` says what to run.

    Args:
        tid: the broker timestamp minted for this task; also its spawn message's ID.
        argv: a command (a process); ``shell`` runs ``argv[0]`` through ``/bin/sh -c``.
        function: ``module:function``, run in its own Python process with ``args`` (a list
            is positional, an object keywords); its return value is the task's result.
        loop: ``module:Class`` of a :class:`treadle.Loop`, run inside the manager, built
            with ``args`` as keywords; it runs until stopped.
        inbox: a first message, written to ``T{tid}.inbox`` before the task starts.
        restart: ``never``; ``on-failure`` (up to ``retries`` more attempts); ``always``
            (a service: restarted whenever it ends, until stopped).
        retry_delay: the first delay between attempts (doubling, at most 30 s).
        capabilities: a manager takes the task only if it offers all of them.
        notify: a local socket path the manager pokes when the task ends (same host).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tid: int = Field(gt=0)
    name: str = ""
    argv: tuple[str, ...] | None = None
    shell: bool = False
    function: str | None = None
    loop: str | None = None
    args: JsonValue = None
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    inbox: JsonValue = None
    limits: TaskLimits = TaskLimits()
    restart: Literal["never", "on-failure", "always"] = "never"
    retries: int = Field(default=0, ge=0)
    retry_delay: float = Field(default=0.5, ge=0)
    stop_timeout: float = Field(default=10.0, ge=0)
    capabilities: tuple[str, ...] = ()
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    notify: str | None = None

    @field_validator("function", "loop")
    @classmethod
    def _import_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _TARGET.fullmatch(value):
            what = "Class" if info.field_name == "loop" else "function"
            raise ValueError(f"must be 'module:{what}', got {value!r}")
        return value

    @model_validator(mode="after")
    def _one_target(self) -> TaskSpec:
        given = [f for f in ("argv", "function", "loop") if getattr(self, f) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of argv, function or loop (got {given or 'none'})")
        if self.argv is not None and not self.argv:
            raise ValueError("argv: must not be empty")
        if self.loop is not None and self.restart == "always":
            raise ValueError("restart: a loop runs until stopped; 'always' is for processes")
        return self

    @classmethod
    def build(cls, **fields: Any) -> TaskSpec:
        """Validate ``fields``; a bad one raises ConfigError naming it (not pydantic's)."""
        try:
            return cls.model_validate(fields)
        except ValidationError as exc:
            raise ConfigError(*first_error(exc)) from None

    @property
    def kind(self) -> Literal["process", "function", "loop"]:
        if self.argv is not None:
            return "process"
        return "function" if self.function is not None else "loop"

    @property
    def label(self) -> str:
        """The name, or what the task runs."""
        if self.name:
            return self.name
        if self.argv is not None:
            return self.argv[0].rsplit("/", 1)[-1]
        return str(self.function or self.loop)

    def redacted(self) -> dict[str, Any]:
        """The spec as JSON-safe data, secret environment values replaced by ``***``."""
        data = self.model_dump(mode="json")
        data["env"] = redact_env(self.env)
        return data

    def __repr__(self) -> str:
        return f"TaskSpec(tid={self.tid}, kind={self.kind!r}, label={self.label!r})"

    __str__ = __repr__
