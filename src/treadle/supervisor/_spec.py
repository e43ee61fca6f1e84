"""What a supervisor runs and how: :class:`ChildSpec`, :class:`Restart`, :class:`Strategy`.

Owns the declarative half of supervision (OTP's child spec ``{id, start, restart,
shutdown}``) and its validation; nothing here runs anything.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Final, TypeAlias, cast

from .._backoff import DEFAULT_BACKOFF, Backoff
from .._exceptions import ConfigError
from .._lifecycle import Transition
from .._runnable import Runnable, implements

__all__ = [
    "ChildSpec",
    "Restart",
    "Strategy",
    "Target",
    "as_spec",
    "dependency",
    "is_instance",
    "member_names",
]


class Restart(enum.StrEnum):
    """When a child that ended is started again (OTP's restart types)."""

    PERMANENT = "permanent"  # always
    TRANSIENT = "transient"  # only after an abnormal exit (an exception, an unasked cancel)
    TEMPORARY = "temporary"  # never


class Strategy(enum.StrEnum):
    """Which siblings restart with a failed child (OTP's strategies)."""

    ONE_FOR_ONE = "one_for_one"  # only the child
    ONE_FOR_ALL = "one_for_all"  # every child
    REST_FOR_ONE = "rest_for_one"  # the child and those added after it


Factory: TypeAlias = Callable[[], "Awaitable[object] | Runnable"]
Target: TypeAlias = "Runnable | Factory"
"""A Loop or Supervisor instance (restarted in place), or a zero-argument factory returning
a coroutine or a Runnable (called anew for every start: the way to get fresh state)."""


@dataclass(frozen=True, slots=True, init=False)
class ChildSpec:
    """One child of a supervisor.

    Args:
        target: what to run (see :data:`Target`).
        name: unique among siblings; defaults to the target's name or ``__name__``.
        restart: ``permanent``, ``transient`` or ``temporary``.
        backoff: delay before each restart; reset after ``backoff.reset_after`` s of uptime.
        shutdown_timeout: seconds a graceful stop may take before the child is cancelled;
            None: what the target says (a process its ``stop_timeout`` + 1 s, a supervisor
            no limit, as OTP's ``infinity``), else 5 s.
        depends_on: what must hold before this child starts: a sibling's (or a pool's) name,
            that it is ready (running, and past its first health check); ``healthy:NAME``,
            that it is fully healthy; ``state:KEY``, that the tree's shared state holds a
            truthy value at KEY. Children are stopped before the siblings they depend on.
        heartbeat_timeout: a busy child whose heartbeat is older than this is stuck.
        priority: higher starts first when concurrency is limited; under memory pressure
            children below the supervisor's ``degrade_priority`` are paused first.
        replicas: run this many instances, named ``name[0]``, ``name[1]``, ...
        pool: a pool even with one replica (named ``name[0]``), so that it can be scaled.
        health_interval: run the target's ``health()`` this often (None: no checks). A
            checked child is ready for dependants only after its first passing check.
        health_timeout: a check that takes longer counts as unhealthy.
        health_failures: this many unhealthy checks in a row restart the child.
        log: write its state changes to the ``treadle.lifecycle`` log; False: only its
            failures (the bus has them all). A manager's tasks, whose changes the task
            log has already, cost a formatted line each otherwise.
    """

    target: Target
    name: str = ""
    restart: Restart = Restart.PERMANENT
    backoff: Backoff = DEFAULT_BACKOFF
    shutdown_timeout: float | None = None
    depends_on: tuple[str, ...] = ()
    heartbeat_timeout: float | None = None
    priority: int = 0
    replicas: int = 1
    pool: bool = False
    health_interval: float | None = None
    health_timeout: float = 5.0
    health_failures: int = 3
    log: bool = True
    on_transition: Callable[[Transition], None] | None = None

    # The dataclass's own __init__ for a frozen class sets each field through a lookup of
    # object.__setattr__ (~100 ns a field, 1.5 us a spec, and a tree may have 100,000):
    # this one sets the slots through their descriptors, bound once (_SET, below). Its
    # parameters are the fields, in order, with their defaults (a test holds it to that);
    # ``restart`` may be its value, ``depends_on`` any iterable: __post_init__ makes them so.
    def __init__(
        self,
        target: Target,
        name: str = "",
        restart: Restart | str = Restart.PERMANENT,
        backoff: Backoff = DEFAULT_BACKOFF,
        shutdown_timeout: float | None = None,
        depends_on: Iterable[str] = (),
        heartbeat_timeout: float | None = None,
        priority: int = 0,
        replicas: int = 1,
        pool: bool = False,
        health_interval: float | None = None,
        health_timeout: float = 5.0,
        health_failures: int = 3,
        log: bool = True,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        s = _SET
        s.target(self, target)
        s.name(self, name)
        s.restart(self, restart)
        s.backoff(self, backoff)
        s.shutdown_timeout(self, shutdown_timeout)
        s.depends_on(self, depends_on)
        s.heartbeat_timeout(self, heartbeat_timeout)
        s.priority(self, priority)
        s.replicas(self, replicas)
        s.pool(self, pool)
        s.health_interval(self, health_interval)
        s.health_timeout(self, health_timeout)
        s.health_failures(self, health_failures)
        s.log(self, log)
        s.on_transition(self, on_transition)
        self.__post_init__()

    def __post_init__(self) -> None:
        # Checked for every child of a tree that may have 100,000: the common case first.
        instance = is_instance(self.target)
        name = self.name or _target_name(self.target, instance)
        if not name:
            raise ConfigError("name", "a child needs a name (none could be derived from target)")
        if "[" in name or "]" in name or "*" in name or "?" in name:
            raise ConfigError("name", f"{name!r} may not contain [ ] * or ?")
        object.__setattr__(self, "name", name)
        if type(self.restart) is not Restart:
            try:
                object.__setattr__(self, "restart", Restart(self.restart))
            except ValueError:
                raise ConfigError(
                    "restart", f"{self.restart!r} is not one of {[r.value for r in Restart]}"
                ) from None
        if self.depends_on or type(self.depends_on) is not tuple:
            self._check_depends_on(name)
        timeout = self.shutdown_timeout
        if timeout is not None and not (timeout >= 0 and math.isfinite(timeout)):
            raise ConfigError("shutdown_timeout", f"must be >= 0, got {timeout}")
        if self.heartbeat_timeout is not None and not self.heartbeat_timeout > 0:
            raise ConfigError("heartbeat_timeout", f"must be > 0, got {self.heartbeat_timeout}")
        if self.health_interval is not None and not self.health_interval > 0:
            raise ConfigError("health_interval", f"must be > 0, got {self.health_interval}")
        if not self.health_timeout > 0:
            raise ConfigError("health_timeout", f"must be > 0, got {self.health_timeout}")
        if self.health_failures < 1:
            raise ConfigError("health_failures", f"must be >= 1, got {self.health_failures}")
        if self.replicas < 1:
            raise ConfigError("replicas", f"must be >= 1, got {self.replicas}")
        if (self.replicas > 1 or self.pool) and instance:
            raise ConfigError(
                "replicas",
                f"{name!r}: {self.replicas} replicas need a factory (e.g. lambda: MyLoop()), "
                "not one shared instance",
            )
        if not instance and not callable(self.target):
            raise ConfigError("target", f"{name!r}: not a Loop, Supervisor or factory")

    def _check_depends_on(self, name: str) -> None:
        if isinstance(self.depends_on, str):
            raise ConfigError("depends_on", f"must be a list of names, got {self.depends_on!r}")
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        if any(dependency(d)[1] == name and dependency(d)[0] != "state" for d in self.depends_on):
            raise ConfigError("depends_on", f"{name!r} cannot depend on itself")


_SET: Final = SimpleNamespace(
    **{f.name: getattr(ChildSpec, f.name).__set__ for f in dataclasses.fields(ChildSpec)}
)
"""Each field's slot setter, bound once (see ChildSpec.__init__)."""


def dependency(entry: str) -> tuple[str, str]:
    """Split a ``depends_on`` entry into (kind, name): kind is child, healthy or state."""
    for kind in ("healthy", "state"):
        if entry.startswith(kind + ":"):
            name = entry[len(kind) + 1 :]
            if not name:
                raise ConfigError("depends_on", f"{entry!r} names nothing after {kind}:")
            return kind, name
    return "child", entry


def is_instance(target: object) -> bool:
    """True for a Runnable instance (reused across restarts); False for a factory or class."""
    return implements(target, Runnable)


def _target_name(target: object, instance: bool) -> str:
    if instance:
        return cast(Runnable, target).name
    return str(getattr(target, "__name__", ""))


def as_spec(child: ChildSpec | Target) -> ChildSpec:
    """A ChildSpec as is; a bare target wrapped with the defaults."""
    return child if isinstance(child, ChildSpec) else ChildSpec(child)


def member_names(spec: ChildSpec) -> list[str]:
    """The children one spec stands for: its name, or ``name[i]`` for each replica."""
    if spec.replicas == 1 and not spec.pool:
        return [spec.name]
    return [f"{spec.name}[{i}]" for i in range(spec.replicas)]
