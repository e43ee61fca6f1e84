"""Supervisor: a tree of children with OTP's restart types, strategies and intensity.

Owns the mechanism of supervision: starting children in dependency order, noticing exits
(each child's task calls back the moment it ends: no polling), restarting by policy, and
stopping gracefully. Policy lives elsewhere and is pure (``_policy``, ``Backoff``,
``Intensity``); stopping mechanics live in ``_shutdown``.

Children with no ``depends_on`` between them start and stop concurrently, as systemd does;
a declared dependency orders both. ``rest_for_one`` means the child and those added after it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any, Self

import psutil

from .._backoff import DEFAULT_BACKOFF, Backoff
from .._exceptions import (
    ChildNotFound,
    ConfigError,
    DependencyError,
    DuplicateChild,
    SupervisorFailed,
)
from .._intensity import Intensity
from .._lifecycle import (
    ENDED,
    UP,
    State,
    Transition,
    check_transition,
    lifecycle_logging_enabled,
    log_transition,
)
from .._runnable import Runnable
from ..bus import Bus, Subscription
from ..health._health import Health
from ..health._watchdog import BlockReport, LoopWatchdog
from ..limits import Limits
from ..state import StateStore
from . import _adopt, _report
from ._child import Child
from ._dependencies import deps_of, graph
from ._monitor import monitor, needs_monitor
from ._policy import check_dependencies
from ._restarts import child_done, spawn
from ._shutdown import stop_children
from ._slots import Slots
from ._spec import ChildSpec, Restart, Strategy, Target, as_spec, dependency, member_names

__all__ = ["Supervisor"]

_log = logging.getLogger("treadle.supervisor")


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
        self._path = name
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
        self._monitor: asyncio.Task[None] | None = None
        self._state_store: StateStore | None = None
        self._watchdog = LoopWatchdog(watchdog, on_block=self._blocked) if watchdog else None
        self._limits: Limits | None = None
        self._process: psutil.Process | None = None
        self._rand = rand
        self._clock = clock
        self._bus = bus
        self._children: dict[str, Child] = {}
        self._pools: dict[str, ChildSpec] = {}
        self._held: set[str] = set()  # stopped by terminate(): nothing starts them but restart()
        self._state = State.PENDING
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._failure: SupervisorFailed | None = None
        self._done: asyncio.Future[None] | None = None
        self._stopped: asyncio.Future[None] | None = None
        self._control: set[asyncio.Task[None]] = set()
        self._group_lock: asyncio.Lock | None = None
        self._host: asyncio.Task[Any] | None = None
        self._host_cancelled = False
        self._n_running = 0
        self._all_waiters: list[asyncio.Future[None]] = []
        self.abandoned: set[asyncio.Task[None]] = set()
        for spec in map(as_spec, children):
            self._register(spec)
        check_dependencies(graph(self))

    # -- observation ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def path(self) -> str:
        return self._path

    @property
    def state(self) -> State:
        return self._state

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus()
        return self._bus

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
        return self._child(name).state

    def target(self, name: str) -> Runnable | None:
        """The running (or last) instance behind a child, e.g. to read a Loop's metrics."""
        return self._child(name).target

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

    def _proc(self) -> psutil.Process:
        if self._process is None:
            self._process = psutil.Process()
        return self._process

    def _process_rss(self) -> int:
        return int(self._proc().memory_info().rss)

    def _blocked(self, report: BlockReport) -> None:
        """The watchdog's callback: it runs in the watcher thread, so hop onto the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            topic = f"health.{self._path}.blocked"
            loop.call_soon_threadsafe(self.bus.publish_nowait, topic, report)

    def _publish_health(self, child: Child, verdict: Health) -> None:
        if child.waiters:
            child.wake_waiters()
        bus = self._bus
        if bus is not None and bus.has_subscribers:
            bus.publish_nowait(f"health.{self._path}.{child.name}", verdict)

    def events(self, **options: Any) -> Subscription:
        """Subscribe to this tree's lifecycle events (:class:`Transition` payloads)."""
        return self.bus.subscribe(f"lifecycle.{self._path}*", **options)

    def __repr__(self) -> str:
        return f"<Supervisor {self._path!r} {self._state.value} children={len(self._children)}>"

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._host = asyncio.current_task()
        await self.start()
        return self

    async def __aexit__(
        self,
        et: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        host, self._host = self._host, None
        await self.stop()
        failure = self._failure
        if self._host_cancelled:
            # We cancelled the body to report a failure (as TaskGroup does): undo our cancel
            # and raise the failure, unless someone else cancelled the host as well.
            self._host_cancelled = False
            if host is not None and host.uncancel() == 0 and et is asyncio.CancelledError:
                assert failure is not None
                raise failure
        if failure is not None and et is None:
            raise failure

    async def start(self) -> None:
        """Start every child (each waits for what it depends on) and return at once."""
        self._set_state(State.STARTING)
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._failure = None
        self._done = self._loop.create_future()
        self.bus  # noqa: B018 - create the bus before the first event
        for child in list(self._children.values()):
            child.intensity = None
            child.attempt = 0
            if child.name not in self._held:
                spawn(self, child)
        self._set_state(State.RUNNING)
        self._ensure_monitor()
        if self._watchdog is not None and not self._watchdog.running:
            self._watchdog.start(self._loop)

    async def stop(self) -> None:
        """Stop every child, dependants first, each within its ``shutdown_timeout``."""
        if self._state is State.PENDING:
            self._set_state(State.STOPPED)
            return
        if self._stopped is not None:
            await asyncio.shield(self._stopped)
            return
        if self._state in ENDED:
            return
        assert self._loop is not None
        self._stopped = stopped = self._loop.create_future()
        self._closing = True
        self._set_state(State.STOPPING)
        try:
            if self._watchdog is not None:
                self._watchdog.stop()
            if self._monitor is not None:
                self._monitor.cancel()
                await asyncio.wait({self._monitor})
                self._monitor = None
            for task in self._control:
                task.cancel()
            if self._control:
                await asyncio.wait(self._control)
            await stop_children(self, list(self._children.values()), "supervisor stopping")
        except BaseException:
            for child in self._children.values():  # interrupted: no graceful path left
                if child.task is not None:
                    child.task.cancel()
            raise
        finally:
            self._set_state(State.FAILED if self._failure else State.STOPPED)
            self._stopped = None
            stopped.set_result(None)
            self._resolve_done()

    async def wait(self) -> None:
        """Wait until a stop is requested or the supervisor fails (then raise)."""
        if self._done is not None:
            await asyncio.shield(self._done)
        if self._failure is not None:
            raise self._failure

    async def wait_running(self, *names: str) -> None:
        """Wait until the named children (default: all) are running or paused."""
        if names:
            for name in names:
                await self._child(name).wait_running()
            return
        while self._n_running < len(self._children) - len(self._held):
            fut = asyncio.get_running_loop().create_future()
            self._all_waiters.append(fut)
            await fut

    # -- Runnable: a supervisor is a child too ---------------------------------------------

    async def run(self, started: Callable[[], None]) -> None:
        await self.start()
        assert self._done is not None
        try:
            ready = asyncio.ensure_future(self.wait_running())
            try:
                await asyncio.wait({ready, self._done}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                ready.cancel()
            if not self._done.done():
                started()
            await asyncio.shield(self._done)
        finally:
            await self.stop()
        if self._failure is not None:
            raise self._failure

    def request_stop(self) -> None:
        self._resolve_done()

    def pause(self, name: str | None = None, *, reason: str = "paused") -> None:
        """Pause one child (a pool: its running members), or (no name) every running
        child that can pause."""
        if name in self._pools:
            for member in self._members(name):
                if self._children[member].state is State.RUNNING:
                    self.pause(member, reason=reason)
            return
        if name is not None:
            child = self._child(name)
            check_transition(child.name, child.state, State.PAUSED)
            assert child.target is not None
            child.target.pause()
            self._transition(child, State.PAUSED, reason)
            return
        for child in self._children.values():
            if child.state is State.RUNNING and child.pausable:
                self.pause(child.name)

    def resume(self, name: str | None = None, *, reason: str = "resumed") -> None:
        if name in self._pools:
            for member in self._members(name):
                if self._children[member].state is State.PAUSED:
                    self.resume(member, reason=reason)
            return
        if name is not None:
            child = self._child(name)
            check_transition(child.name, child.state, State.RUNNING)
            assert child.target is not None
            child.target.resume()
            child.degraded = False
            self._transition(child, State.RUNNING, reason)
            return
        for child in self._children.values():
            if child.state is State.PAUSED:
                self.resume(child.name)

    # -- dynamic children -----------------------------------------------------------------

    def add(self, child: ChildSpec | Target) -> list[str]:
        """Add a child (or a pool) and start it if the supervisor runs; returns the names."""
        spec = as_spec(child)
        for entry in spec.depends_on:
            kind, dep = dependency(entry)
            if kind != "state" and dep not in self._children and dep not in self._pools:
                raise DependencyError(
                    f"{spec.name}.depends_on", f"unknown child {dep!r} (known: {self.children})"
                )
        added = self._register(spec)
        if self._state is State.RUNNING:
            for c in added:
                spawn(self, c)
            self._ensure_monitor()
        return [c.name for c in added]

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

    def _ensure_monitor(self) -> None:
        if self._monitor is None and needs_monitor(self):
            assert self._loop is not None
            self._monitor = self._loop.create_task(monitor(self), name=f"{self._path}:monitor")

    async def remove(self, name: str) -> None:
        """Stop a child (or every member of a pool) and forget it."""
        names = self._members(name)
        dependants = [
            c.name
            for c in self._children.values()
            if c.name not in names and any(d in names for d in deps_of(self, c))
        ]
        if dependants:
            raise DependencyError(name, f"cannot remove: {dependants} depend on it")
        await stop_children(self, [self._children[n] for n in names], "removed")
        for n in names:
            del self._children[n]
            self._held.discard(n)
        self._pools.pop(name, None)

    async def terminate(self, name: str) -> None:
        """Stop a child (a pool: every member) and keep it, stopped (OTP's
        ``terminate_child``): neither its restart type, nor a strategy, nor this
        supervisor's next start runs it again; :meth:`restart` does. A pool keeps its size:
        the member counts, stopped, until it is restarted or scaled away."""
        children = [self._children[n] for n in self._members(name)]
        self._held.update(c.name for c in children)
        await stop_children(self, children, "stopped by an operator")

    async def restart(self, name: str) -> None:
        """Stop and start a child (a pool: every member) now, with no backoff and no
        intensity check: an operator's decision (one stopped by :meth:`terminate` too)."""
        children = [self._children[n] for n in self._members(name)]
        await stop_children(self, children, "restart requested")
        self._held.difference_update(c.name for c in children)
        for child in children:
            if child.state is State.GIVEN_UP:
                child.intensity = None
                child.attempt = 0
            if self._state is State.RUNNING:
                spawn(self, child)

    async def scale(self, name: str, replicas: int) -> list[str]:
        """Change a pool's size; returns the member names after the change."""
        if name not in self._pools:
            raise ChildNotFound(f"{name!r} is not a pool (pools: {sorted(self._pools)})")
        if replicas < 0:
            raise ConfigError("replicas", f"must be >= 0, got {replicas}")
        spec = self._pools[name]
        current = self._members(name)
        if replicas > len(current):
            new = [self._new_child(spec, f"{name}[{i}]") for i in range(len(current), replicas)]
            if self._state is State.RUNNING:
                for c in new:
                    spawn(self, c)
        else:
            extra = [self._children[n] for n in current[replicas:]]
            await stop_children(self, extra, "scaled down")
            for c in extra:
                del self._children[c.name]
                self._held.discard(c.name)
        self._pools[name] = dataclasses.replace(spec, replicas=max(replicas, 1), pool=True)
        return self._members(name)

    # -- mechanism: registry ---------------------------------------------------------------

    def _register(self, spec: ChildSpec) -> list[Child]:
        if spec.name in self._children or spec.name in self._pools:
            raise DuplicateChild(f"{self._path}: a child named {spec.name!r} already exists")
        names = member_names(spec)
        for n in names:
            if n in self._children:
                raise DuplicateChild(f"{self._path}: a child named {n!r} already exists")
        if spec.replicas > 1 or spec.pool:
            self._pools[spec.name] = spec
            return [self._new_child(spec, n) for n in names]
        return [self._new_child(spec, spec.name)]

    def _new_child(self, spec: ChildSpec, name: str) -> Child:
        child = self._children[name] = Child(self, spec, name)
        return child

    def _child(self, name: str) -> Child:
        try:
            return self._children[name]
        except KeyError:
            known = ", ".join(self._children) or "none"
            raise ChildNotFound(f"{self._path}: no child {name!r} (children: {known})") from None

    def _members(self, name: str) -> list[str]:
        if name in self._pools:
            prefix = f"{name}["
            return [n for n in self._children if n.startswith(prefix)]
        return [self._child(name).name]

    def _child_done(self, child: Child, task: asyncio.Task[None]) -> None:
        child_done(self, child, task)

    def _adopt_child(self, target: Runnable) -> None:
        """A nested supervisor takes its place in this tree: path and bus."""
        if isinstance(target, Supervisor):
            target._adopt(self)

    def _adopt(self, parent: Supervisor) -> None:
        self._path = f"{parent._path}.{self._name}"
        if self._bus is None:
            self._bus = parent.bus
        if self._state_store is None:
            self._state_store = parent.shared
        if self._limits is None:
            self._limits = parent.limits
        self.child_context = self.child_context or parent.child_context

    def _control_task(self, coro: Any) -> None:
        assert self._loop is not None
        task = self._loop.create_task(coro)
        self._control.add(task)
        task.add_done_callback(self._control.discard)

    def _fail(self, failure: SupervisorFailed) -> None:
        if self._failure is not None:
            return
        self._failure = failure
        _log.error("%s", failure)
        self._resolve_done()
        host = self._host
        if host is not None and not host.done():
            self._host_cancelled = True
            host.cancel(msg=str(failure))

    def _resolve_done(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        self._resolve_all_running()  # nobody waits for "all running" once we are done

    # -- mechanism: state and events --------------------------------------------------------

    def _transition(
        self,
        child: Child,
        new: State,
        reason: str = "",
        *,
        error: str | Callable[[], str | None] | None = None,
        backoff_s: float | None = None,
    ) -> None:
        """Move ``child`` to ``new``; ``error`` may be a callable, formatted only if the
        transition is published or logged."""
        old = child.state
        check_transition(child.name, old, new)
        child.state = new
        if new in UP:
            if old not in UP:
                self._n_running += 1
                if self._all_waiters and self._n_running >= len(self._children) - len(self._held):
                    self._resolve_all_running()
        elif old in UP:
            self._n_running -= 1
            child.set_ready(False)
        if child.waiters:  # waiters re-check their own condition on every step
            child.wake_waiters()
        quiet = not child.spec.log and new not in (State.FAILED, State.GIVEN_UP)
        path = f"{self._path}.{child.name}"
        observer = child.spec.on_transition
        self._emit(path, old, new, reason, child.attempt, backoff_s, error, quiet, observer)

    def _resolve_all_running(self) -> None:
        waiters, self._all_waiters = self._all_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _set_state(self, new: State, reason: str = "") -> None:
        old = self._state
        check_transition(f"supervisor {self._path!r}", old, new)
        self._state = new
        self._emit(self._path, old, new, reason, 0, None, None)

    def _emit(
        self,
        path: str,
        old: State,
        new: State,
        reason: str,
        attempt: int,
        backoff_s: float | None,
        error: str | Callable[[], str | None] | None,
        quiet: bool = False,
        observer: Callable[[Transition], None] | None = None,
    ) -> None:
        bus = self._bus
        to_bus = bus is not None and bus.has_subscribers
        to_log = not quiet and lifecycle_logging_enabled()
        if not (to_bus or to_log or observer):
            return  # nobody listens: a transition costs one table lookup
        if callable(error):
            error = error()
        t = Transition(time.time(), path, old, new, reason, attempt, backoff_s, error)
        if observer is not None:
            try:
                observer(t)
            except Exception:  # noqa: BLE001 - an observer's bug must not break supervision
                _log.exception("%s: on_transition raised", path)
        if to_bus:
            assert bus is not None
            bus.publish_nowait(f"lifecycle.{path}", t)
        if to_log:
            log_transition(t)
