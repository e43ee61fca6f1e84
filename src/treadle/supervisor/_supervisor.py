"""Supervisor: a tree of children with OTP's restart types, strategies and intensity.

Owns :class:`Supervisor`, the public face of supervision, and its own lifecycle: entering
and leaving (``async with``, or nested as a child), starting every child, stopping them all,
and failing (escalating to the parent, or to the host task of ``async with``). The rest is
done in modules of its own, one concept each, to which the methods delegate:

- ``_restarts``: starting children, and what happens when one ends (restart types,
  intensity, backoff, strategies); ``_shutdown``: stopping children without ever hanging;
- ``_operations``: an operator's decisions (pause, resume, add, remove, terminate, restart,
  scale); ``_adopt``: supervising a task the caller created;
- ``_registry``: children by name, pools; ``_child``: one child's record and its moves;
- ``_events``: where transitions go (bus, log, observers), and waiting for "all running";
- ``_monitor``: stuck children, health checks, memory pressure; ``_report``: status, dump.

Policy is pure and lives apart (``_policy``, ``Backoff``, ``Intensity``). Children with no
``depends_on`` between them start and stop concurrently, as systemd does; a declared
dependency orders both. ``rest_for_one`` means the child and those added after it.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import random
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

import psutil

from .._backoff import DEFAULT_BACKOFF, Backoff
from .._exceptions import ConfigError, SupervisorFailed
from .._intensity import Intensity
from .._lifecycle import State, Transition, check_transition
from .._runnable import Runnable
from ..bus import Bus, Subscription
from ..health._health import Health
from ..health._watchdog import BlockReport, LoopWatchdog
from ..limits import Limits
from ..state import StateStore
from . import _adopt, _lifespan, _operations, _report
from ._child import Child
from ._dependencies import graph, has_dependencies
from ._events import Events
from ._policy import check_dependencies
from ._registry import lookup, register
from ._restarts import child_done
from ._shutdown import Stopping
from ._slots import Slots
from ._spec import ChildSpec, Restart, Strategy, Target, as_spec

__all__ = ["Supervisor"]


class Supervisor:
    """Run children and keep them alive. Use ``async with``, or nest it as a child.

    Args:
        children: ChildSpecs or bare targets, started in dependency order on enter.
        name: this supervisor's name (its path in events is ``parent.name``).
        strategy: ``one_for_one``, ``one_for_all`` or ``rest_for_one``.
        intensity, period: more than ``intensity`` restarts of one child within ``period``
            seconds gives that child up.
        escalate: on giving up a child, fail this supervisor instead (its parent decides).
        bus: where lifecycle events go; a nested supervisor shares its parent's.
        cancel_grace: seconds a cancelled child gets before it is reported and abandoned.
        max_concurrent: at most this many children run at once; the others wait in
            ``pending``, highest ``priority`` first.
        memory_soft_limit: bytes of RSS above which running children with a priority
            below ``degrade_priority`` are paused (resumed under 90% of the limit).
        watchdog: report when the event loop has not turned for this many seconds (a sync
            call blocking it), with the blocking stack; reports go to ``status()`` and the
            bus topic ``health.<path>.blocked``. None: no watchdog.
        child_context: run each child's task in a context where
            :func:`~treadle.supervisor.current_child` answers the child's path (and so in
            the tasks and threads it starts); nested supervisors inherit it. Off by
            default: it costs every child task ~250 bytes.
        rand: random source for backoff jitter.
        clock: monotonic seconds for restart intensity and a child's uptime (for tests).
    """

    def __init__(
        self,
        children: Iterable[ChildSpec | Target] = (),
        *,
        name: str = "supervisor",
        strategy: Strategy | str = Strategy.ONE_FOR_ONE,
        intensity: int = 5,
        period: float = 3600.0,
        escalate: bool = False,
        bus: Bus | None = None,
        cancel_grace: float = 1.0,
        max_concurrent: int | None = None,
        memory_soft_limit: int | None = None,
        degrade_priority: int = 0,
        watchdog: float | None = None,
        child_context: bool = False,
        rand: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        try:
            self.strategy = Strategy(strategy)
        except ValueError:
            raise ConfigError(
                "strategy", f"{strategy!r} is not one of {[s.value for s in Strategy]}"
            ) from None
        Intensity(intensity, period)  # validates both
        self._name = name
        self.intensity = intensity
        self.period = period
        self.escalate = escalate
        self.cancel_grace = cancel_grace
        self._slots = Slots(max_concurrent)
        if memory_soft_limit is not None and memory_soft_limit < 1:
            raise ConfigError("memory_soft_limit", f"must be > 0 bytes, got {memory_soft_limit}")
        self.memory_soft_limit = memory_soft_limit
        self.degrade_priority = degrade_priority
        self.child_context = child_context
        # The tree's state: read and written by the modules the methods delegate to.
        self._monitor: asyncio.Task[None] | None = None
        self._state_store: StateStore | None = None
        self._watchdog = LoopWatchdog(watchdog, on_block=self._blocked) if watchdog else None
        self._limits: Limits | None = None
        self._process: psutil.Process | None = None
        self._rand = rand
        self._clock = clock
        self._last_start = -math.inf  # the start time a child was given last (see Child)
        self._children: dict[str, Child] = {}  # in start order
        self._pools: dict[str, ChildSpec] = {}
        self._dependent = 0  # children with a depends_on (see _registry)
        self._held: set[str] = set()  # stopped by terminate(): nothing starts them but restart()
        self._events = Events(name, bus, self._children, self._held)
        self._state = State.PENDING
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: contextvars.Context | None = None  # as start() found it
        self._closing = False
        self._failure: SupervisorFailed | None = None
        self._done: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._control: set[asyncio.Task[None]] = set()
        self._stopping: list[Stopping] = []  # children being stopped, group by group
        self._group_lock: asyncio.Lock | None = None
        self._host: asyncio.Task[Any] | None = None
        self._host_cancelled = False
        self.abandoned: set[asyncio.Task[None]] = set()
        for spec in map(as_spec, children):
            register(self, spec)
        if has_dependencies(self):
            check_dependencies(graph(self))

    # -- observation ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        return self._events.path

    @property
    def state(self) -> State:
        return self._state

    @property
    def bus(self) -> Bus:
        return self._events.bus

    @property
    def shared(self) -> StateStore:
        """The tree's shared state (a nested supervisor shares its parent's)."""
        if self._state_store is None:
            self._state_store = StateStore()
        return self._state_store

    @property
    def limits(self) -> Limits:
        """The tree's named limiters (a nested supervisor shares its parent's)."""
        if self._limits is None:
            self._limits = Limits()
        return self._limits

    @property
    def children(self) -> list[str]:
        return list(self._children)

    @property
    def terminated(self) -> list[str]:
        """The children stopped by :meth:`terminate` (pool members by name), kept stopped."""
        return [n for n in self._children if n in self._held]

    def child_state(self, name: str) -> State:
        return lookup(self, name).state

    def target(self, name: str) -> Runnable | None:
        """The running (or last) instance behind a child, e.g. to read a Loop's metrics."""
        return lookup(self, name).target

    def status(self) -> dict[str, Any]:
        """The whole tree as a JSON-safe dict."""
        return _report.status(self)

    def health_report(self) -> Health:
        """The tree's health now: the worst child wins, every unhealthy reason kept."""
        return _report.health_report(self)

    @property
    def stop_grace(self) -> float:
        """A nested supervisor may take as long as its children need (OTP's ``infinity``)."""
        return math.inf

    async def health(self) -> Health:
        """A nested supervisor is health-checked like any child: by its tree's roll-up."""
        return self.health_report()

    def process_stats(self) -> dict[str, Any]:
        """This host process: pid, RSS, CPU% since the last call, threads, open files."""
        return _report.process_stats(self)

    def dump(self) -> dict[str, Any]:
        """Everything there is to know, for debugging: the status tree plus each running
        child's current stack, the bus and its subscriptions, shared state, limiters, slots
        and the process."""
        return _report.dump(self)

    def _blocked(self, report: BlockReport) -> None:
        self._events.blocked(self._loop, report)  # called in the watchdog's thread

    def events(self, **options: Any) -> Subscription:
        """Subscribe to this tree's lifecycle events (:class:`Transition` payloads)."""
        return self.bus.subscribe(f"lifecycle.{self.path}*", **options)

    def __repr__(self) -> str:
        return f"<Supervisor {self.path!r} {self._state.value} children={len(self._children)}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._host = asyncio.current_task()
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await _lifespan.leave(self, et)

    async def start(self) -> None:
        """Start every child (each waits for what it depends on) and return at once."""
        _lifespan.start(self)

    async def stop(self) -> None:
        """Stop every child, dependants first, each within its ``shutdown_timeout``."""
        await _lifespan.stop(self)

    async def wait(self) -> None:
        """Wait until a stop is requested or the supervisor fails (then raise)."""
        if self._done is not None:
            await asyncio.shield(self._done)
        if self._failure is not None:
            raise self._failure

    async def wait_running(self, *names: str) -> None:
        """Wait until the named children (default: all) are running or paused."""
        for name in names:
            await lookup(self, name).wait_running()
        if not names:
            await self._events.wait_all_up()

    # -- Runnable: a supervisor is a child too ---------------------------------------------

    async def run(self, started: Callable[[], None]) -> None:
        await _lifespan.run(self, started)

    def request_stop(self) -> None:
        _lifespan.finish(self)

    # -- an operator's operations (``_operations``) ---------------------------------------

    def pause(self, name: str | None = None, *, reason: str = "paused") -> None:
        """Pause one child (a pool: its running members), or (no name) every running
        child that can pause."""
        _operations.pause(self, name, reason)

    def resume(self, name: str | None = None, *, reason: str = "resumed") -> None:
        """Resume one child (a pool: its paused members), or (no name) every paused one."""
        _operations.resume(self, name, reason)

    def add(self, child: ChildSpec | Target) -> list[str]:
        """Add a child (or a pool) and start it if the supervisor runs; returns the names."""
        return _operations.add(self, child)

    def adopt(
        self,
        task: asyncio.Future[Any],
        *,
        restart: _adopt.RestartFactory,
        name: str | None = None,
        restart_type: Restart | str = Restart.PERMANENT,
        backoff: Backoff = DEFAULT_BACKOFF,
        shutdown_timeout: float | None = None,
        log: bool = True,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> _adopt.Adoption:
        """Supervise ``task``, which the caller created, as a child named ``name`` (default:
        the task's name): when it ends, ``restart()`` (a new coroutine or task) is run by
        its restart type, backoff and this supervisor's intensity, as for any child;
        stopping or removing the child cancels it. The other arguments are
        :class:`ChildSpec`'s. A supervisor not running yet supervises it from its start.
        """
        return _adopt.adopt(
            self,
            task,
            restart,
            name=name,
            restart_type=restart_type,
            backoff=backoff,
            shutdown_timeout=shutdown_timeout,
            log=log,
            on_transition=on_transition,
        )

    async def remove(self, name: str) -> None:
        """Stop a child (or every member of a pool) and forget it."""
        await _operations.remove(self, name)

    async def terminate(self, name: str) -> None:
        """Stop a child (a pool: every member) and keep it, stopped (OTP's
        ``terminate_child``): neither its restart type, nor a strategy, nor this
        supervisor's next start runs it again; :meth:`restart` does. A pool keeps its size:
        the member counts, stopped, until it is restarted or scaled away."""
        await _operations.terminate(self, name)

    async def restart(self, name: str) -> None:
        """Stop and start a child (a pool: every member) now, with no backoff and no
        intensity check: an operator's decision (one stopped by :meth:`terminate` too)."""
        await _operations.restart(self, name)

    async def scale(self, name: str, replicas: int) -> list[str]:
        """Change a pool's size; returns the member names after the change."""
        return await _operations.scale(self, name, replicas)

    # -- mechanism ------------------------------------------------------------------------

    def _child_done(self, child: Child, task: asyncio.Task[None]) -> None:
        """A child's task has ended (it calls back the moment it does)."""
        child_done(self, child, task)

    def _adopt_child(self, target: Runnable) -> None:
        """A nested supervisor takes its place in this tree."""
        if isinstance(target, Supervisor):
            target._nest(self)

    def _nest(self, parent: Supervisor) -> None:
        """Nested in ``parent``'s tree: its path, and unless given its own, its bus, shared
        state and limiters; and its children's context if the parent names them."""
        self._events.nest(f"{parent.path}.{self._name}", parent.bus)
        if self._state_store is None:
            self._state_store = parent.shared
        if self._limits is None:
            self._limits = parent.limits
        self.child_context = self.child_context or parent.child_context

    def _fail(self, failure: SupervisorFailed) -> None:
        """This supervisor has failed (a child was given up, and it escalates)."""
        _lifespan.fail(self, failure)

    def _set_state(self, new: State, reason: str = "") -> None:
        old = self._state
        check_transition(f"supervisor {self.path!r}", old, new)
        self._state = new
        self._events.emit(None, old, new, reason)
