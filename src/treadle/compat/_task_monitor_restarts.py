"""TaskMonitor: ``agent.task_monitor``'s face on a treadle Supervisor that adopts the tasks.

Owns what the real module shows: its methods and their edge cases (registering again
cancels the task before; after ``close()`` a registration is refused with a warning and the
statistics are empty), its statistics, its log lines (logger ``agent.task_monitor``) and
its reasons (``str(exception)``, ``"Task was cancelled"``). It owns no restart bookkeeping:
each registered task is adopted by one private :class:`~treadle.Supervisor`
(:meth:`~treadle.Supervisor.adopt`), which restarts it through the component's factory with
treadle's :class:`~treadle.Backoff` (``base_backoff`` doubling to ``max_backoff``, counted
afresh after an hour's run) and :class:`~treadle.Intensity` (at most
``max_restart_attempts`` restarts in any hour); the counts shown are read back from it.
A component's enablement is its child's restart type, set as each of its tasks ends (as
the real module reads it then). The public face is :mod:`treadle.compat.task_monitor`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final, TypedDict, cast

from .._backoff import Backoff, Jitter
from .._exceptions import ConfigError
from .._lifecycle import State, Transition
from ..supervisor import Adoption, Restart, Supervisor

__all__ = ["ComponentStats", "RestartFactory", "TaskMonitor"]

_log = logging.getLogger("agent.task_monitor")  # the real module's __name__

_HOUR: Final = 3600.0
_CLOSE_WAIT: Final = 5.0  # seconds close() waits for the cancelled tasks, as the real one
_ESCAPES: Final = str.maketrans({c: f"%{ord(c):02X}" for c in "%[]*?"})  # not in child names

RestartFactory = Callable[[], "asyncio.Task[Any]"]


class ComponentStats(TypedDict):
    """One component in :meth:`TaskMonitor.get_component_stats` (the real module's keys)."""

    enabled: bool
    restart_count: int  # restarts made since the count last started afresh
    is_restarting: bool  # a restart is decided and waits out its backoff
    task_done: bool
    task_cancelled: bool
    last_restart_time: float | None  # time.time() the last restart made was decided


@dataclass(slots=True)
class _Component:
    adoption: Adoption
    reason: str = ""  # why its task last ended, as the real module words it
    decided_at: float | None = None  # time.time() of the restart decided and not yet made
    last_restart_time: float | None = None


class TaskMonitor:
    """Restart registered tasks when they fail or are cancelled unexpectedly.

    Args:
        max_restart_attempts: restarts allowed per component in any hour; past it the
            component is left down ("Stopping auto-restart").
        base_backoff: seconds before the first restart; each further one waits twice as
            long, until a run of an hour starts the count again.
        max_backoff: the cap on that delay.
        clock: monotonic seconds for the hour (treadle's addition, for tests).
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
        self._backoff = Backoff(
            initial=base_backoff, max=max_backoff, jitter=Jitter.NONE, reset_after=_HOUR
        )
        self._sup = Supervisor(
            name="task_monitor",
            intensity=max_restart_attempts,
            period=_HOUR,
            cancel_grace=0.0,  # close() waits 5 s in all, as the real module
            clock=clock,
        )
        self._started: asyncio.Task[None] | None = None
        self._restart_factories: dict[str, RestartFactory] = {}
        self._enabled_components: set[str] = set()
        self._components: dict[str, _Component] = {}
        self._closed = False

    # -- the real module's API ----------------------------------------------------------

    def register(self, name: str, task: asyncio.Task[Any]) -> None:
        """Monitor ``task`` as component ``name``; a task registered before is cancelled."""
        if self._closed:
            _log.warning("TaskMonitor is closed, ignoring registration of %s", name)
            return
        task.add_done_callback(partial(self._task_done, name))  # before the supervisor's
        comp = self._components.get(name)
        if comp is not None:
            _log.warning("Component %s already registered, replacing existing task", name)
            comp.adoption.replace(task)
        else:
            adoption = self._sup.adopt(
                task,
                restart=partial(self._restart, name),
                name=name.translate(_ESCAPES) or "%",
                restart_type=self._restart_type(name),
                backoff=self._backoff,
                shutdown_timeout=_CLOSE_WAIT,
                log=False,
                on_transition=partial(self._transition, name),
            )
            self._components[name] = _Component(adoption)
            if self._started is None:  # start() returns at once; it only needs the loop
                self._started = asyncio.get_running_loop().create_task(self._sup.start())
        _log.info("Registered task for component: %s", name)

    def set_restart_factories(self, factories: Mapping[str, RestartFactory]) -> None:
        """Add (or replace) factories: ``name -> () -> asyncio.Task``, called per restart."""
        self._restart_factories.update(factories)
        _log.info("Set restart factories for components: %s", list(factories.keys()))

    def enable(self, component_names: Iterable[str]) -> None:
        """Allow auto-restart of these components (registered now or later)."""
        names = [component_names] if isinstance(component_names, str) else list(component_names)
        new = [n for n in dict.fromkeys(names) if n not in self._enabled_components]
        self._enabled_components.update(names)
        if new:
            _log.info("Enabled restart monitoring for components: %s", new)

    def get_component_stats(self) -> dict[str, ComponentStats]:
        """A snapshot per registered component; ``{}`` once closed."""
        if self._closed:
            return {}
        stats: dict[str, ComponentStats] = {}
        for name, comp in self._components.items():
            task = comp.adoption.task
            stats[name] = {
                "enabled": name in self._enabled_components,
                "restart_count": _restart_count(comp.adoption),
                "is_restarting": comp.adoption.state is State.BACKOFF,
                "task_done": task.done(),
                "task_cancelled": task.cancelled(),
                "last_restart_time": comp.last_restart_time,
            }
        return stats

    async def close(self) -> None:
        """Cancel every task and pending restart, and wait (up to 5 s) for the tasks."""
        first = not self._closed
        if first:
            self._closed = True
            _log.info("Closing TaskMonitor, cancelling all tasks")
            for name, comp in self._components.items():
                if not comp.adoption.task.done():
                    _log.debug("Cancelling task for component: %s", name)
        if self._started is not None:
            await self._started  # a stop before the start would be undone by it
        await self._sup.stop()  # a second close() waits for the first
        if not first:
            return
        if any(not c.adoption.task.done() for c in self._components.values()):
            _log.warning("Some tasks did not complete within timeout during shutdown")
        self._components.clear()
        self._enabled_components.clear()

    # -- treadle's additions ------------------------------------------------------------

    @property
    def supervisor(self) -> Supervisor:
        """The supervisor behind the monitor: ``status()``, ``events()``, ``health_report()``."""
        return self._sup

    def restart_delay(self, attempt: int) -> float:
        """Seconds before restart ``attempt`` (1-based): ``min(max, base * 2**(attempt-1))``."""
        return self._backoff.delay(attempt)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<TaskMonitor {state} components={len(self._components)}>"

    # -- names the real project's own code reads -----------------------------------------

    @property
    def _tasks(self) -> dict[str, asyncio.Task[Any]]:
        return {n: cast("asyncio.Task[Any]", c.adoption.task) for n, c in self._components.items()}

    @property
    def _restart_counts(self) -> dict[str, int]:
        return {n: _restart_count(c.adoption) for n, c in self._components.items()}

    @property
    def _max_restart_attempts(self) -> int:
        return self.max_restart_attempts

    # -- mechanism ----------------------------------------------------------------------

    def _restart_type(self, name: str) -> Restart:
        return Restart.TRANSIENT if name in self._enabled_components else Restart.TEMPORARY

    def _task_done(self, name: str, task: asyncio.Task[Any]) -> None:
        """Every monitored task's first done-callback (before the supervisor hears of it):
        the real module's line, the reason, and the component's enablement as of now."""
        exc = None if task.cancelled() else task.exception()  # retrieved: never unreported
        comp = self._components.get(name)
        if self._closed or comp is None:
            return
        if exc is not None:
            _log.error("Task for component %s failed with exception: %s", name, exc)
            reason = str(exc)
        elif task.cancelled():
            _log.debug("Task for component %s was cancelled", name)
            reason = "Task was cancelled"
        else:
            _log.info("Task for component %s completed normally", name)
            return
        if task is comp.adoption.task:  # not one replaced since
            comp.reason = reason
            comp.adoption.restart_type = self._restart_type(name)

    def _restart(self, name: str) -> asyncio.Task[Any]:
        """The adopted child's restart factory: the component's, checked and logged. What it
        raises is a failed restart, which the supervisor retries by backoff and intensity."""
        comp = self._components[name]
        factory = self._restart_factories.get(name)
        if factory is None:
            _log.error("No restart factory found for component %s", name)
            comp.reason = f"No restart factory found for component {name}"
            raise LookupError(comp.reason)
        try:
            task = factory()
        except Exception as exc:  # logged as the real module does, then re-raised
            _log.error("Failed to create new task for component %s: %s", name, exc)
            comp.reason = str(exc)
            raise
        if not isinstance(task, asyncio.Task):
            _log.error("Factory for %s returned non-Task object: %s", name, type(task))
            if asyncio.iscoroutine(task):
                task.close()  # no "never awaited" warning on top of the error
            comp.reason = f"Factory for {name} returned non-Task object: {type(task)}"
            raise TypeError(comp.reason)
        task.add_done_callback(partial(self._task_done, name))
        comp.last_restart_time, comp.decided_at = comp.decided_at, None
        _log.info(
            "Successfully restarted component %s",
            name,
            extra={
                "component": name,
                "new_task_id": id(task),
                "restart_count": comp.adoption.attempt,
            },
        )
        return task

    def _transition(self, name: str, t: Transition) -> None:
        """The adopted child's observer: the supervisor's decisions, in the real lines."""
        comp = self._components.get(name)
        if self._closed or comp is None:
            return
        if t.to is State.BACKOFF:
            comp.decided_at = t.ts
            delay = self._as_written(t.attempt, t.backoff_s or 0.0)
            _log.info(
                "Restarting component %s (attempt %d) after %ss delay",
                name,
                t.attempt,
                delay,
                extra={
                    "component": name,
                    "attempt": t.attempt,
                    "backoff": delay,
                    "reason": comp.reason,
                },
            )
        elif t.to is State.GIVEN_UP:
            _log.error(
                "Component %s has exceeded restart limit (%d attempts per hour). "
                "Stopping auto-restart.",
                name,
                self.max_restart_attempts,
                extra={
                    "component": name,
                    "restart_count": comp.adoption.attempt,
                    "reason": comp.reason,
                },
            )
        elif t.to is State.RUNNING and comp.decided_at is not None:
            # the restart was made with a task the caller registered during the backoff
            comp.last_restart_time, comp.decided_at = comp.decided_at, None

    def _as_written(self, attempt: int, delay: float) -> float:
        """The delay as the real module writes it, ``min(base * 2**n, max)`` in the types it
        was given: ``TaskMonitor(base_backoff=2)`` says ``2s``, the defaults ``2.0s``."""
        base, cap = self.base_backoff, self.max_backoff
        grown = delay < cap or (attempt <= 64 and base * 2 ** (attempt - 1) == cap)
        return int(delay) if isinstance(base if grown else cap, int) else float(delay)


def _restart_count(adoption: Adoption) -> int:
    """Restarts made since the count started afresh: the child's attempt, less the one
    waiting out its backoff (the real module counts a restart once its task exists)."""
    attempt = adoption.attempt
    return attempt - 1 if adoption.state is State.BACKOFF else attempt
