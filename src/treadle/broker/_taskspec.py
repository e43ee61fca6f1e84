"""What a client asks a manager to run: :class:`TaskSpec`, immutable once submitted.

Owns the shape and validation of a task, the bounds of every number in it, and the
redaction of its secrets. Validation here is the one gate: a spec that validates can be
launched as far as its values go (finite numbers within what the runtime accepts, an
environment, argv and cwd that ``execve`` and ``chdir`` take), so the client refuses what
a manager would, and the runtime takes its limits from the constants below (``MAX_*``)
instead of restating them. It does not run anything (``treadle.manager`` turns a spec
into a child) and holds no state: a task's state lives in the task log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal, TypeVar

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
from .._redact import REDACTED, redact_text
from ._messages import Tid

_V = TypeVar("_V")

__all__ = [
    "MAX_CPU",
    "MAX_MEMORY",
    "MAX_RETRIES",
    "MAX_RETRY_DELAY",
    "MAX_STOP_TIMEOUT",
    "MAX_TID",
    "MAX_TIMEOUT",
    "REDACTED",
    "TaskLimits",
    "TaskSpec",
    "first_error",
    "is_secret",
    "redact_env",
]

# The bounds of a task's numbers, here once; the runtime uses these names.
MAX_TID: Final = 2**63 - 1  # a broker message ID is a signed 64-bit integer
MAX_TIMEOUT: Final = 366 * 86_400.0  # seconds an attempt may run: a year
MAX_STOP_TIMEOUT: Final = 86_400.0  # seconds between the stop signal and SIGKILL: a day
MAX_RETRY_DELAY: Final = 30.0  # the runner's backoff cap: the longest wait between attempts
MAX_RETRIES: Final = 10_000
MAX_CPU: Final = 2**31 - 1  # seconds of CPU (RLIMIT_CPU; the hard limit is 5 s above it)
MAX_MEMORY: Final = 2**47  # bytes of RSS: x86_64's user address space
_Seconds = Annotated[float, Field(allow_inf_nan=False)]

_SECRET = re.compile(r"pass|secret|token|key|auth|credential|private|cookie|session", re.I)
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


def is_secret(variable: str) -> bool:
    """Whether an environment variable's value is kept out of dumps, logs and status."""
    return _SECRET.search(variable) is not None


def redact_env(env: Mapping[str, _V]) -> dict[str, _V | str]:
    """``env`` (or options) with the values of secret-looking names replaced by ``***``,
    and the credentials inside URL-shaped values of any other
    (``DB_URL=postgresql://u:pw@h/db``)."""
    return {
        k: REDACTED if is_secret(k) else redact_text(v) if isinstance(v, str) else v
        for k, v in env.items()
    }


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The field and message of a validation error's first complaint, for people."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "task"
    return field, str(err["msg"]).removeprefix("Value error, ")


class TaskLimits(BaseModel):
    """``timeout``: seconds of wall time per attempt; ``memory``: bytes of RSS; ``cpu``:
    seconds of CPU time (a process task only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout: _Seconds | None = Field(default=None, gt=0, le=MAX_TIMEOUT)
    memory: int | None = Field(default=None, ge=1, le=MAX_MEMORY)
    cpu: int | None = Field(default=None, ge=1, le=MAX_CPU)


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
        retry_delay: the first delay between attempts (doubling, at most
            ``MAX_RETRY_DELAY``).
        capabilities: a manager takes the task only if it offers all of them.
        notify: a local socket path the manager pokes when the task ends (same host).
        isolation: where a function task runs: ``worker``, one of its manager's warm
            workers (an interpreter that runs many tasks, one at a time, started with the
            task's ``env`` and ``cwd``); ``process``, a fresh interpreter of its own. A
            task with a ``memory`` or ``cpu`` limit runs in its own interpreter either way
            (the limits are a process's).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tid: Tid
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
    retries: int = Field(default=0, ge=0, le=MAX_RETRIES)
    retry_delay: _Seconds = Field(default=0.5, ge=0, le=MAX_RETRY_DELAY)
    stop_timeout: _Seconds = Field(default=10.0, ge=0, le=MAX_STOP_TIMEOUT)
    capabilities: tuple[str, ...] = ()
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    notify: str | None = None
    isolation: Literal["worker", "process"] = "worker"

    @field_validator("function", "loop")
    @classmethod
    def _import_path(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not _TARGET.fullmatch(value):
            what = "Class" if info.field_name == "loop" else "function"
            raise ValueError(f"must be 'module:{what}', got {value!r}")
        return value

    @field_validator("argv")
    @classmethod
    def _argv(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for i, arg in enumerate(value or ()):
            if "\0" in arg:
                raise ValueError(f"argument {i} contains a NUL character (execve cannot pass it)")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, val in value.items():
            if not key or "=" in key or "\0" in key:
                raise ValueError(f"{key!r} is not a variable name (empty, '=' or NUL in it)")
            if "\0" in val:
                raise ValueError(f"the value of {key} contains a NUL character")
        return value

    @field_validator("cwd", "notify")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value or "\0" in value):
            raise ValueError("must be a non-empty path without NUL characters")
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
