"""TaskMonitor: seed 003's restart of caller-created asyncio Tasks, on treadle's policies.

Owns the seed's model, in which the caller creates its asyncio Tasks and registers them: the
monitor is each task's done-callback and, for an enabled component that failed or was
cancelled by someone else, calls its restart factory after a backoff. The rules are treadle's
pure policies: :class:`~treadle.Backoff` (``base_backoff`` doubling to ``max_backoff``, no
jitter) and :class:`~treadle.Intensity` (at most ``max_restart_attempts`` per component per
hour); the waiting is one timer handle per pending restart, as a Supervisor's. It does not own
the tasks' work, nor a tree: treadle's ``Supervisor`` creates its children's tasks itself and
so cannot adopt the caller's. The public face is :mod:`treadle.compat.task_monitor`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypedDict

from .._backoff import Backoff, Jitter
from .._exceptions import ConfigError, InvalidTransition, TreadleError
from .._intensity import Intensity

__all__ = ["ComponentStats", "RestartFactory", "TaskMonitor"]

_log = logging.getLogger("treadle.compat.task_monitor")  # the public module's name

_HOUR: Final = 3600.0
_CLOSE_GRACE: Final = 5.0  # seconds close() waits for cancelled tasks before it gives up on them
_CLOSING_MSG: Final = "treadle: task monitor closing"

RestartFactory = Callable[[], "asyncio.Task[Any]"]


class ComponentStats(TypedDict):
    """One component in :meth:`TaskMonitor.get_component_stats` (the seed's keys)."""

    enabled: bool
    restart_count: int
    is_restarting: bool
    task_done: bool
    task_cancelled: bool
    last_restart_time: float | None  # time.time() of the last restart, None before any


class _State(enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_TRANSITIONS: Final[dict[_State, frozenset[_State]]] = {
    _State.OPEN: frozenset({_State.CLOSING}),
    _State.CLOSING: frozenset({_State.CLOSED}),
    _State.CLOSED: frozenset(),
}


class _Component:
    """One registered name: its current task and restart record. It is the done-callback of
    its task (no closure per registration), as a supervisor's ``Child`` is."""

    __slots__ = (
        "enabled",
        "intensity",
        "is_restarting",
        "last_restart_time",
        "monitor",
        "name",
        "restart_count",
        "task",
        "timer",
    )

    def __init__(self, monitor: TaskMonitor, name: str, intensity: Intensity) -> None:
        self.monitor = monitor
        self.name = name
        self.task: asyncio.Task[Any] | None = None
        self.enabled = False
        self.restart_count = 0  # restarts begun, ever
        self.is_restarting = False  # from the decision to restart until the factory ran
        self.last_restart_time: float | None = None
        self.intensity = intensity
        self.timer: asyncio.TimerHandle | asyncio.Handle | None = None

    def __call__(self, task: asyncio.Task[Any]) -> None:
        self.monitor._task_done(self, task)


class TaskMonitor:
    """Restart registered tasks when they fail or are cancelled unexpectedly.

    Args:
        max_restart_attempts: restarts allowed per component in any hour; past it the
            component's failure is logged and it is not restarted (a later failure, once the
            hour has moved on, may be).
        base_backoff: seconds before the first restart; each further one waits twice as long.
        max_backoff: the cap on that delay.
        clock: monotonic seconds for the hourly window (treadle's addition, for tests).
    """

    def __init__(
        self,
        max_restart_attempts: int = 5,
        base_backoff: float = 2.0,
        max_backoff: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for field, value in (("base_backoff", base_backoff), ("max_backoff", max_backoff)):
            if not (0 <= value < float("inf")):
                raise ConfigError(field, f"must be a finite number >= 0, got {value!r}")
        if max_backoff < base_backoff:
            raise ConfigError("max_backoff", f"must be >= base_backoff ({base_backoff})")
        if max_restart_attempts < 0:
            raise ConfigError("max_restart_attempts", f"must be >= 0, got {max_restart_attempts}")
        self.max_restart_attempts = max_restart_attempts
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._backoff = Backoff(initial=base_backoff, max=max_backoff, jitter=Jitter.NONE)
        self._clock = clock
        self._factories: dict[str, RestartFactory] = {}
        self._components: dict[str, _Component] = {}
        self._enabled: set[str] = set()
        self._state = _State.OPEN
        self._closed: asyncio.Future[None] | None = None

    # -- the seed's API -------------------------------------------------------------------

    def set_restart_factories(self, factories: Mapping[str, RestartFactory]) -> None:
        """Replace the factories: ``name -> () -> asyncio.Task``, called for each restart."""
        self._check_open("set restart factories")
        self._factories = dict(factories)

    def register(self, name: str, task: asyncio.Task[Any]) -> None:
        """Monitor ``task`` as component ``name``; it replaces any task registered before."""
        self._check_open(f"register {name!r}")
        comp = self._components.get(name)
        if comp is None:
            comp = self._components[name] = _Component(
                self, name, Intensity(self.max_restart_attempts, _HOUR)
            )
            comp.enabled = name in self._enabled
        elif comp.task is not None:
            comp.task.remove_done_callback(comp)  # the old task is no longer watched
        comp.task = task
        task.add_done_callback(comp)

    def enable(self, names: Iterable[str]) -> None:
        """Allow auto-restart of these components (registered now or later)."""
        self._check_open("enable")
        names = [names] if isinstance(names, str) else list(names)
        self._enabled.update(names)
        for name in names:
            if (comp := self._components.get(name)) is not None:
                comp.enabled = True

    def get_component_stats(self) -> dict[str, ComponentStats]:
        """A snapshot per registered component, with exactly the seed's keys."""
        return {
            name: {
                "enabled": c.enabled,
                "restart_count": c.restart_count,
                "is_restarting": c.is_restarting,
                "task_done": c.task is not None and c.task.done(),
                "task_cancelled": c.task is not None and c.task.cancelled(),
                "last_restart_time": c.last_restart_time,
            }
            for name, c in self._components.items()
        }

    async def close(self) -> None:
        """Cancel pending restarts and every monitored task, and wait (up to 5 s) for them."""
        if self._state is _State.CLOSED:
            return
        if self._closed is not None:  # another close() is under way
            await asyncio.shield(self._closed)
            return
        self._set_state(_State.CLOSING)
        self._closed = closed = asyncio.get_running_loop().create_future()
        try:
            me = asyncio.current_task()
            tasks = set()
            for comp in self._components.values():
                if comp.timer is not None:
                    comp.timer.cancel()
                    comp.timer = None
                comp.is_restarting = False
                task = comp.task
                if task is not None and not task.done() and task is not me:
                    task.cancel(_CLOSING_MSG)
                    tasks.add(task)
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=_CLOSE_GRACE)
                for task in pending:  # it ignores cancellation: we cannot do more than say so
                    _log.warning("Task %s did not finish within %ss of close()", task, _CLOSE_GRACE)
        finally:
            self._factories.clear()
            self._set_state(_State.CLOSED)
            closed.set_result(None)

    # -- treadle's additions --------------------------------------------------------------

    def restart_delay(self, attempt: int) -> float:
        """Seconds before restart ``attempt`` (1-based): ``min(max, base * 2**(attempt-1))``."""
        return self._backoff.delay(attempt)

    def __repr__(self) -> str:
        return f"<TaskMonitor {self._state.value} components={len(self._components)}>"

    # -- mechanism ------------------------------------------------------------------------

    def _check_open(self, action: str) -> None:
        if self._state is not _State.OPEN:
            raise TreadleError(f"task monitor is {self._state.value}: cannot {action}")

    def _set_state(self, new: _State) -> None:
        if new not in _TRANSITIONS[self._state]:
            raise InvalidTransition("task monitor", self._state.value, new.value)
        self._state = new

    def _task_done(self, comp: _Component, task: asyncio.Task[Any]) -> None:
        reason = _reason(task)  # retrieves the exception: asyncio never reports it unretrieved
        if self._state is not _State.OPEN or task is not comp.task:
            return
        if reason is None:
            _log.info("Component %s finished", comp.name, extra={"component": comp.name})
            return
        if not comp.enabled:
            _log.warning(
                "Component %s ended (%s); auto-restart is not enabled for it",
                comp.name,
                reason,
                extra={"component": comp.name, "reason": reason},
            )
        elif comp.is_restarting:  # a task registered during the backoff ended: one restart only
            _log.debug("Component %s is already restarting", comp.name)
        else:
            self._failed(comp, reason)

    def _failed(self, comp: _Component, reason: str) -> None:
        name = comp.name
        if name not in self._factories:
            _log.warning(
                "No restart factory for component %s; not restarting",
                name,
                extra={"component": name, "reason": reason},
            )
            return
        if not comp.intensity.record(self._clock()):
            _log.error(
                "Component %s has exceeded restart limit (%d attempts per hour). "
                "Stopping auto-restart.",
                name,
                self.max_restart_attempts,
                extra={"component": name, "restart_count": comp.restart_count, "reason": reason},
            )
            return
        comp.is_restarting = True
        comp.restart_count += 1
        attempt = comp.restart_count
        delay = self._backoff.delay(attempt)
        _log.info(
            "Restarting component %s (attempt %d) after %ss delay",
            name,
            attempt,
            delay,
            extra={"component": name, "attempt": attempt, "backoff": delay, "reason": reason},
        )
        loop = asyncio.get_running_loop()
        if delay > 0:
            comp.timer = loop.call_later(delay, self._restart, comp)
        else:
            comp.timer = loop.call_soon(self._restart, comp)

    def _restart(self, comp: _Component) -> None:
        comp.timer = None
        comp.is_restarting = False
        name = comp.name
        current = comp.task
        if current is not None and not current.done():  # registered anew during the backoff:
            # the attempt was counted (and its window slot taken); a second task would not be
            _log.info("Component %s is running again; restart skipped", name)
            return
        factory = self._factories.get(name)
        try:
            if factory is None:
                raise LookupError(f"the restart factory for {name!r} was removed")
            task = factory()
            if not isinstance(task, asyncio.Task):
                if asyncio.iscoroutine(task):
                    task.close()  # no "never awaited" warning on top of the error
                raise TypeError(f"factory returned {type(task).__name__}, not an asyncio.Task")
        except Exception as exc:  # noqa: BLE001 - supervision boundary: the restart failed
            _log.error(
                "Failed to restart component %s",
                name,
                exc_info=exc,
                extra={"component": name, "reason": f"{type(exc).__name__}: {exc}"},
            )
            self._failed(comp, f"{type(exc).__name__}: {exc}")
            return
        comp.last_restart_time = time.time()
        self.register(name, task)
        _log.info(
            "Successfully restarted component %s",
            name,
            extra={"component": name, "new_task_id": id(task), "restart_count": comp.restart_count},
        )


def _reason(task: asyncio.Task[Any]) -> str | None:
    """Why a task ended, as the seed logs it ("RuntimeError: Connection lost"); None: it
    returned."""
    if task.cancelled():
        try:
            task.result()
        except asyncio.CancelledError as cancel:  # reading its outcome: not our cancellation
            return f"CancelledError: {cancel}" if str(cancel) else "CancelledError"
    exc = task.exception()
    return None if exc is None else f"{type(exc).__name__}: {exc}"
