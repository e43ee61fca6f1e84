"""The sections of ``treadle.toml`` as frozen pydantic models, one per table.

Owns each table's keys, their types, defaults and single-value rules (ranges, formats).
Rules that involve several keys or several tables (command or function, names that must
exist, cycles, profiles) are :mod:`._validate`'s; turning these models into specs is
:mod:`._build`'s. Durations and sizes come from :mod:`._units`, the other value types
(commands, targets, signals...) from :mod:`._values`.
"""

from __future__ import annotations

import shlex
import signal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .._backoff import Backoff, Jitter
from ..artifacts import DEFAULT_BUILD_DIRS, Artifact
from ..supervisor import Restart, Strategy
from ._redact import REDACTED, redact_env, redact_url
from ._units import Duration, PositiveDuration, PositiveSize
from ._values import Command, CpuSeconds, EnvValue, Lowercase, Sha256, SignalName, Target, Umask

__all__ = [
    "ArtifactConfig",
    "BackoffConfig",
    "DashboardConfig",
    "HealthConfig",
    "LimiterConfig",
    "LoggingConfig",
    "LoopConfig",
    "ProcessConfig",
    "ProjectFile",
    "ProjectSection",
    "ScaleConfig",
    "SupervisorConfig",
    "SupervisorOptions",
]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackoffConfig(_Table):
    """Exponential backoff (see :class:`treadle.Backoff`)."""

    initial: Duration = 0.5
    max: Duration = 60.0
    multiplier: float = Field(default=2.0, ge=1)
    jitter: Jitter = Jitter.EQUAL
    reset_after: Duration = 60.0

    def to_backoff(self) -> Backoff:
        """The Backoff (ConfigError if the values disagree, as max < initial)."""
        return Backoff(self.initial, self.max, self.multiplier, self.jitter, self.reset_after)


class ScaleConfig(_Table):
    """Bounds for ``treadle scale NAME N``."""

    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=1)


class HealthConfig(_Table):
    """One check (``http``, ``tcp``, ``command`` or ``file``) and how often to run it."""

    http: str | None = None
    status: int = Field(default=200, ge=100, le=599)
    tcp: EnvValue | None = None
    command: Command | None = None
    file: str | None = None
    max_age: PositiveDuration | None = None
    interval: PositiveDuration = 5.0
    timeout: PositiveDuration = 5.0
    failures: int = Field(default=3, ge=1)


class _Child(_Table):
    restart: Restart = Restart.PERMANENT
    depends_on: tuple[str, ...] = ()
    priority: int = 0
    shutdown_timeout: Duration | None = None
    profiles: tuple[str, ...] = ()


class _Worker(_Child):
    replicas: int = Field(default=1, ge=1)
    scale: ScaleConfig | None = None


class LoopConfig(_Worker):
    """``[loops.NAME]``: a Loop subclass (built with ``options``) or a ``@loop`` function."""

    target: Target
    interval: Duration | None = None
    initial_delay: Duration | None = None
    enabled: bool | None = None
    backoff: BackoffConfig | None = None
    max_consecutive_errors: int | None = Field(default=None, ge=1)
    heartbeat_timeout: PositiveDuration | None = None
    health: HealthConfig | None = None
    restart_backoff: BackoffConfig | None = None
    leader_only: bool = False  # runs only while its manager leads the fleet
    options: dict[str, object] = Field(default_factory=dict)

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, redact_env(self.options) if k == "options" else v)
            for k, v in super().__repr_args__()
        ]


class ArtifactConfig(_Table):
    """``[artifacts.NAME]``: an executable taken from a build directory, the cache, or a
    download checked against this platform's ``sha256`` (see :mod:`treadle.artifacts`)."""

    version: str
    url: str | None = None  # a template: {name}, {version}, {platform}, {os}, {arch}
    sha256: dict[str, str] = Field(default_factory=dict)  # platform → digest
    build_dirs: tuple[str, ...] = DEFAULT_BUILD_DIRS
    executable: str | None = None

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, redact_url(v) if k == "url" and isinstance(v, str) else v)
            for k, v in super().__repr_args__()
        ]

    def to_artifact(self, name: str) -> Artifact:
        """The Artifact (ConfigError naming the field if a value breaks its rules)."""
        return Artifact(name, self.version, self.url, self.sha256, self.build_dirs, self.executable)


class ProcessConfig(_Worker):
    """``[processes.NAME]``: an OS process (``command``, or an ``artifact`` run with
    ``args``) or a Python function in one."""

    command: Command | None = None
    function: Target | None = None
    artifact: str | None = None
    args: list[object] | dict[str, object] | None = None
    shell: bool = False
    env: dict[str, EnvValue] = Field(default_factory=dict)
    inherit_env: bool = True
    cwd: str | None = None
    user: str | int | None = None
    group: str | int | None = None
    umask: Umask = None
    stop_signal: SignalName = signal.SIGTERM
    stop_timeout: Duration = 10.0
    kill_group: bool = True
    stdout: str | None = None
    stderr: str | None = None
    merge_output: bool = False
    log_max_bytes: PositiveSize = 10 * 1024 * 1024
    log_backups: int = Field(default=5, ge=0)
    memory_limit: PositiveSize | None = None
    cpu_limit: CpuSeconds = None
    sha256: Sha256 = None
    normal_exit_codes: tuple[int, ...] = (0,)
    health: HealthConfig | None = None
    backoff: BackoffConfig | None = None

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, redact_env(v) if k in ("env", "args") and isinstance(v, dict) else v)
            for k, v in super().__repr_args__()
        ]

    def argv(self) -> tuple[str, ...]:
        """The command as ProcessSpec takes it: one line for the shell, else split."""
        if self.command is None:
            return ()
        if self.shell:
            return (self.command,) if isinstance(self.command, str) else ()
        return tuple(shlex.split(self.command)) if isinstance(self.command, str) else self.command


class SupervisorOptions(_Table):
    """``[supervisor]``: the root supervisor's options (see :class:`treadle.Supervisor`).

    ``shutdown_timeout`` bounds how long stopping the whole tree may take (for the caller
    that stops it); on a nested supervisor it is its ChildSpec's ``shutdown_timeout``.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    intensity: int = Field(default=5, ge=0)
    period: PositiveDuration = 3600.0
    escalate: bool = False
    max_concurrent: int | None = Field(default=None, ge=1)
    memory_soft_limit: PositiveSize | None = None
    degrade_priority: int = 0
    watchdog: PositiveDuration | None = None
    cancel_grace: Duration = 1.0
    shutdown_timeout: Duration | None = None


class SupervisorConfig(SupervisorOptions):
    """``[supervisors.NAME]``: a nested supervisor, a child of the root (or of another
    supervisor that lists it), owning the children it names."""

    children: tuple[str, ...] = ()
    restart: Restart = Restart.PERMANENT
    depends_on: tuple[str, ...] = ()
    priority: int = 0
    profiles: tuple[str, ...] = ()
    backoff: BackoffConfig | None = None


class LimiterConfig(_Table):
    """``[limiters]``: ``NAME = capacity`` or ``NAME = { capacity = N }``."""

    capacity: int = Field(ge=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"capacity": value} if isinstance(value, int) else value


class ProjectSection(_Table):
    """``[project]``."""

    name: str | None = Field(default=None, min_length=1)
    broker: str | None = Field(default=None, min_length=1)
    env_file: str | None = None

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, redact_url(v) if k == "broker" and isinstance(v, str) else v)
            for k, v in super().__repr_args__()
        ]


class DashboardConfig(_Table):
    """``[dashboard]``: the web dashboard; control actions need ``token``; it answers
    requests whose ``Host`` names ``host``, this machine's loopback names or one of
    ``allowed_hosts`` (a proxy's name, ``*.example.com``): a page of another site that
    points its name at this machine reads nothing (DNS rebinding)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    token: Annotated[str | None, BeforeValidator(lambda v: v or None)] = None
    allowed_hosts: list[str] = Field(default_factory=list)

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [(k, REDACTED if k == "token" and v else v) for k, v in super().__repr_args__()]


class LoggingConfig(_Table):
    """``[logging]``."""

    level: Annotated[Literal["debug", "info", "warning", "error", "critical"], Lowercase] = "info"
    format: Literal["console", "json"] = "console"


class ProjectFile(_Table):
    """The whole file (the ``[tool.treadle]`` table of a pyproject.toml)."""

    project: ProjectSection = ProjectSection()
    supervisor: SupervisorOptions = SupervisorOptions()
    limiters: dict[str, LimiterConfig] = Field(default_factory=dict)
    loops: dict[str, LoopConfig] = Field(default_factory=dict)
    processes: dict[str, ProcessConfig] = Field(default_factory=dict)
    supervisors: dict[str, SupervisorConfig] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactConfig] = Field(default_factory=dict)
    dashboard: DashboardConfig = DashboardConfig()
    logging: LoggingConfig = LoggingConfig()
