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

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from .._backoff import Backoff, Jitter
from .._exceptions import ConfigError
from ..artifacts import DEFAULT_BUILD_DIRS, Artifact
from ..supervisor import Restart, Strategy
from ..supervisor._run import EventLoop, loop_factory
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
    "RootSupervisorOptions",
    "ScaleConfig",
    "SupervisorConfig",
    "SupervisorOptions",
]


class _Table(BaseModel):
    # A string under a field is its description: the docs' treadle.toml reference shows it.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class BackoffConfig(_Table):
    """Exponential backoff (see :class:`treadle.Backoff`)."""

    initial: Duration = 0.5
    """The first delay."""
    max: Duration = 60.0
    """The longest delay."""
    multiplier: float = Field(default=2.0, ge=1)
    """Each delay is the last one times this."""
    jitter: Jitter = Jitter.EQUAL
    """How randomness spreads each delay: `none`, `full` or `equal`."""
    reset_after: Duration = 60.0
    """Running this long without a failure starts the delays over."""

    def to_backoff(self) -> Backoff:
        """The Backoff (ConfigError if the values disagree, as max < initial)."""
        return Backoff(self.initial, self.max, self.multiplier, self.jitter, self.reset_after)


class ScaleConfig(_Table):
    """Bounds for ``treadle scale NAME N``."""

    min: int = Field(default=0, ge=0)
    """The fewest replicas `treadle scale` accepts."""
    max: int | None = Field(default=None, ge=1)
    """The most replicas `treadle scale` accepts (unset: no bound)."""


class HealthConfig(_Table):
    """One check (``http``, ``tcp``, ``command`` or ``file``) and how often to run it."""

    http: str | None = None
    """A URL that must answer with `status`."""
    status: int = Field(default=200, ge=100, le=599)
    """The HTTP status the `http` check expects."""
    tcp: EnvValue | None = None
    """`host:port` that must accept a connection."""
    command: Command | None = None
    """A command that must exit 0."""
    file: str | None = None
    """A file the child touches: its age is its heartbeat."""
    max_age: PositiveDuration | None = None
    """How old `file` may get."""
    interval: PositiveDuration = 5.0
    """Time between checks."""
    timeout: PositiveDuration = 5.0
    """How long one check may take."""
    failures: int = Field(default=3, ge=1)
    """Failed checks in a row that restart the child."""


class _Child(_Table):
    restart: Restart = Restart.PERMANENT
    """When an ended child is started again: `permanent` (always), `transient` (after an abnormal
    exit) or `temporary` (never)."""
    depends_on: tuple[str, ...] = ()
    """Children (or `healthy:NAME`, `state:KEY`) that must be up before this one starts; it stops
    before them."""
    priority: int = 0
    """Higher starts first when `max_concurrent` queues children; under memory pressure those below
    `degrade_priority` pause first."""
    shutdown_timeout: Duration | None = None
    """How long a graceful stop may take before the child is cancelled or killed."""
    profiles: tuple[str, ...] = ()
    """Profiles this child belongs to: it runs only when one is selected (`treadle up --profile
    NAME`)."""


class _Worker(_Child):
    replicas: int = Field(default=1, ge=1)
    """How many instances run (a pool named `NAME[0]`, `NAME[1]`...)."""
    scale: ScaleConfig | None = None
    """Bounds for `treadle scale`."""


class LoopConfig(_Worker):
    """``[loops.NAME]``: a Loop subclass (built with ``options``) or a ``@loop`` function."""

    target: Target
    """A Loop subclass or an `@loop` function, as `module:attribute`."""
    interval: Duration | None = None
    """Time between runs (0: continuous)."""
    initial_delay: Duration | None = None
    """Time before the first run."""
    enabled: bool | None = None
    """False: the loop starts paused."""
    backoff: BackoffConfig | None = None
    """Delays after a failed run (the loop keeps running)."""
    max_consecutive_errors: int | None = Field(default=None, ge=1)
    """Failed runs in a row after which the loop itself fails (and is restarted by policy)."""
    run_timeout: PositiveDuration | None = None
    """A run still going after this long is cancelled and counted as a failed run."""
    heartbeat_timeout: PositiveDuration | None = None
    """A run older than this is stuck: its stack is captured, it is cancelled and restarted."""
    health: HealthConfig | None = None
    """A check run beside the loop."""
    restart_backoff: BackoffConfig | None = None
    """Delays between restarts of the loop after it failed."""
    leader_only: bool = False  # runs only while its manager leads the fleet
    """Run only while its manager leads the fleet (one copy across many hosts)."""
    options: dict[str, object] = Field(default_factory=dict)
    """Keyword arguments for the Loop subclass (ignored for an `@loop` function)."""

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [
            (k, redact_env(self.options) if k == "options" else v)
            for k, v in super().__repr_args__()
        ]


class ArtifactConfig(_Table):
    """``[artifacts.NAME]``: an executable taken from a build directory, the cache, or a
    download checked against this platform's ``sha256`` (see :mod:`treadle.artifacts`)."""

    version: str
    """The version to run; `{version}` in `url`."""
    url: str | None = None  # a template: {name}, {version}, {platform}, {os}, {arch}
    """Where to download it: a template with `{name}`, `{version}`, `{platform}`, `{os}`,
    `{arch}`."""
    sha256: dict[str, str] = Field(default_factory=dict)  # platform → digest
    """The digest of each platform's download (`linux-x86_64 = "..."`): checked before use."""
    build_dirs: tuple[str, ...] = DEFAULT_BUILD_DIRS
    """Directories searched first (relative to the project)."""
    executable: str | None = None
    """The file's name inside a build directory (default: the artifact's name)."""

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
    """A command line (split as a shell would, but run without one) or a list of arguments."""
    function: Target | None = None
    """Instead of `command`: a Python function `module:function` run in a fresh interpreter."""
    artifact: str | None = None
    """Instead of `command`: an `[artifacts.NAME]` executable, run with `args`."""
    args: list[object] | dict[str, object] | None = None
    """Arguments for `artifact`, or for `function` (a list: positional, a table: keywords)."""
    shell: bool = False
    """Run `command` through `/bin/sh -c`."""
    env: dict[str, EnvValue] = Field(default_factory=dict)
    """Environment variables set for the process."""
    inherit_env: bool = True
    """False: the process gets only `env` (and the `.env` file's values)."""
    cwd: str | None = None
    """Working directory (relative to the project)."""
    user: str | int | None = None
    """Run as this user (needs root)."""
    group: str | int | None = None
    """Run as this group (needs root)."""
    umask: Umask = None
    """The process's umask, e.g. `"022"`."""
    stop_signal: SignalName = signal.SIGTERM
    """Sent to the process group to stop it."""
    stop_timeout: Duration = 10.0
    """Time between `stop_signal` and SIGKILL."""
    kill_group: bool = True
    """Signal the whole process group, and kill what is left of it when the main process ends."""
    stdout: str | None = None
    """Log file for stdout (default: `.treadle/logs/NAME.log`, both streams)."""
    stderr: str | None = None
    """Log file for stderr."""
    merge_output: bool = False
    """Send stderr to stdout's log."""
    log_max_bytes: PositiveSize = 10 * 1024 * 1024
    """A log file is rotated at this size."""
    log_backups: int = Field(default=5, ge=0)
    """Rotated log files kept."""
    memory_limit: PositiveSize | None = None
    """RSS (with descendants) past which the process is killed and restarted."""
    cpu_limit: CpuSeconds = None
    """CPU time the kernel allows (RLIMIT_CPU)."""
    sha256: Sha256 = None
    """The executable's digest: a mismatch refuses to start it."""
    normal_exit_codes: tuple[int, ...] = (0,)
    """Exit codes that count as normal (a `transient` child is then not restarted)."""
    health: HealthConfig | None = None
    """A check of the process (`http`, `tcp`, `command` or `file`)."""
    backoff: BackoffConfig | None = None
    """Delays between restarts."""

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
    """What every supervisor, the root and a nested one, can set (see
    :class:`treadle.Supervisor`).

    ``shutdown_timeout`` bounds how long stopping the whole tree may take (for the caller
    that stops it); on a nested supervisor it is its ChildSpec's ``shutdown_timeout``.
    """

    strategy: Strategy = Strategy.ONE_FOR_ONE
    """What a child's failure restarts: `one_for_one` (itself), `one_for_all` (every child) or
    `rest_for_one` (itself and those started after it)."""
    intensity: int = Field(default=5, ge=0)
    """More restarts than this within `period`: the child is given up (or the supervisor, with
    `escalate`)."""
    period: PositiveDuration = 3600.0
    """The window `intensity` counts restarts in."""
    escalate: bool = False
    """Past `intensity`, fail the supervisor itself (its parent decides), as OTP does."""
    max_concurrent: int | None = Field(default=None, ge=1)
    """Children running at once; more wait by priority."""
    memory_soft_limit: PositiveSize | None = None
    """Above this RSS, children below `degrade_priority` are paused."""
    degrade_priority: int = 0
    """Children below this priority pause under memory pressure."""
    watchdog: PositiveDuration | None = None
    """Report an event loop blocked for longer than this, with the blocking stack."""
    cancel_grace: Duration = 1.0
    """Time a cancelled child gets to finish its cleanup."""
    shutdown_timeout: Duration | None = None
    """How long stopping the whole tree may take (a nested supervisor: its own stop)."""


def _installed(loop: EventLoop | None) -> EventLoop | None:
    if loop is not None:
        try:
            loop_factory(loop)
        except ConfigError as exc:
            raise ValueError(exc.message) from None
    return loop


class RootSupervisorOptions(SupervisorOptions):
    """``[supervisor]``: the root supervisor's options, and the event loop the project
    runs on."""

    event_loop: Annotated[EventLoop | None, AfterValidator(_installed)] = None
    """The event loop the project runs on: `asyncio` (the standard library's) or `uvloop`
    (faster; installed apart: `pip install uvloop`). Unset: `$TREADLE_EVENT_LOOP`, else
    `asyncio`."""


class SupervisorConfig(SupervisorOptions):
    """``[supervisors.NAME]``: a nested supervisor, a child of the root (or of another
    supervisor that lists it), owning the children it names."""

    children: tuple[str, ...] = ()
    """The children it owns (names of loops, processes or supervisors)."""
    restart: Restart = Restart.PERMANENT
    """When it is started again after it ended (see restart above)."""
    depends_on: tuple[str, ...] = ()
    """Children that must be up before it starts."""
    priority: int = 0
    """Higher starts first when concurrency is limited."""
    profiles: tuple[str, ...] = ()
    """Profiles it belongs to."""
    backoff: BackoffConfig | None = None
    """Delays between its restarts."""


class LimiterConfig(_Table):
    """``[limiters]``: ``NAME = capacity`` or ``NAME = { capacity = N }``."""

    capacity: int = Field(ge=1)
    """Holders at once."""

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: object) -> object:
        return {"capacity": value} if isinstance(value, int) else value


class ProjectSection(_Table):
    """``[project]``."""

    name: str | None = Field(default=None, min_length=1)
    """The project's name (default: its directory's)."""
    broker: str | None = Field(default=None, min_length=1)
    """The broker: a SQLite path or a `postgresql://` URL (default `.treadle/broker.db`)."""
    env_file: str | None = None
    """A dotenv file read for `${VAR}` and given to processes (default `.env`, if there)."""

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
    """Serve the dashboard while the project is up."""
    host: str = "127.0.0.1"
    """Address to listen on (anything but loopback needs `token`)."""
    port: int = Field(default=8765, ge=0, le=65535)
    """Port to listen on (0: any free one)."""
    token: Annotated[str | None, BeforeValidator(lambda v: v or None)] = None
    """Bearer token for control actions (default: generated into `.treadle/token`)."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """More `Host` names it answers (a proxy's, `*.example.com`)."""

    def __repr_args__(self) -> list[tuple[str | None, object]]:
        return [(k, REDACTED if k == "token" and v else v) for k, v in super().__repr_args__()]


class LoggingConfig(_Table):
    """``[logging]``."""

    level: Annotated[Literal["debug", "info", "warning", "error", "critical"], Lowercase] = "info"
    """The manager's log level."""
    format: Literal["console", "json"] = "console"
    """`console` lines or `json` objects."""


class ProjectFile(_Table):
    """The whole file (the ``[tool.treadle]`` table of a pyproject.toml)."""

    project: ProjectSection = ProjectSection()
    supervisor: RootSupervisorOptions = RootSupervisorOptions()
    limiters: dict[str, LimiterConfig] = Field(default_factory=dict)
    loops: dict[str, LoopConfig] = Field(default_factory=dict)
    processes: dict[str, ProcessConfig] = Field(default_factory=dict)
    supervisors: dict[str, SupervisorConfig] = Field(default_factory=dict)
    artifacts: dict[str, ArtifactConfig] = Field(default_factory=dict)
    dashboard: DashboardConfig = DashboardConfig()
    logging: LoggingConfig = LoggingConfig()
