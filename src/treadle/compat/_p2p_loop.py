"""The seed's BaseLoop, run by a private treadle Loop.

Owns :class:`BaseLoop`: the seed's constructor, attributes, hooks and control methods, its
``get_status()`` and ``health_check()``. The treadle Loop behind it (``_p2p_engine``) does
the scheduling, backoff, run timeouts, pause/resume, ``enabled``, heartbeats and counting;
the seed's figures are read from it (``_p2p_stats``), its verdicts are ``_p2p_health``'s;
supervision is ``_p2p_manager``'s.

A BaseLoop *wraps* its Loop instead of being one: the seed's subclasses set attributes of
their own freely (``self._state``, ``self._config``...), and none of those may clobber
treadle's; and the seed's ``stop()`` is synchronous where ``Loop.stop()`` is a coroutine.
The protected names the seed's subclasses use (``_running``, ``_stats``, ``_task``) are the
seed's.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import logging
import random
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar, cast

from .._exceptions import ConfigError
from .._lifecycle import State
from ..loop import Loop
from ._p2p_backoff import BackoffConfig
from ._p2p_engine import Engine, MetricsManager
from ._p2p_health import HealthCheckResult, loop_health, status_word
from ._p2p_stats import LoopStats, Origin, fill

__all__ = ["LIVE", "BaseLoop"]

_log = logging.getLogger("treadle.compat.p2p")
_T = TypeVar("_T")
RUNNING: Final = frozenset({State.STARTING, State.RUNNING, State.PAUSED})  # the seed's flag
LIVE: Final = RUNNING | {State.STOPPING}  # a run is under way: there is something to stop


class BaseLoop(abc.ABC):
    """Subclass and implement ``_run_once``: the seed's BaseLoop, run by treadle.

    Args:
        name: shown in status; the loop's key in a LoopManager.
        interval: seconds from the end of one run to the start of the next (0: continuous);
            settable at any time, also from inside ``_run_once``.
        backoff_config: the delays after failed runs (default ``BackoffConfig()``).
        metrics_manager: anything with ``record_metric(name, value, metadata=...)``: each
            run's duration, each error and each timeout are recorded there.
        enabled: a disabled loop idles without running ``_run_once``; settable at any time.
        depends_on: names of loops that a LoopManager starts before this one.
        executor_category: kept for ``run_in_executor`` (which runs in a thread).
        run_timeout: a run still going after this many seconds is cancelled and counted as
            a timeout; default ``max(10 * interval, 300)``.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        *,
        backoff_config: BackoffConfig | None = None,
        metrics_manager: MetricsManager | None = None,
        enabled: bool = True,
        depends_on: Iterable[str] | None = None,
        executor_category: str | None = None,
        run_timeout: float | None = None,
    ) -> None:
        if isinstance(depends_on, str):
            raise ConfigError("depends_on", f"must be a list of names, got {depends_on!r}")
        config = backoff_config or BackoffConfig()
        self._treadle_backoff = config
        self.depends_on: list[str] = list(depends_on or ())
        self.executor_category = executor_category
        self._error_callbacks: list[Callable[[Exception], None]] = []
        self._treadle = Engine(
            self,
            name=name,
            interval=interval,
            backoff=config.backoff,
            rand=self._treadle_draw,  # reads the config of the moment: backoff_config is settable
            enabled=enabled,
            run_timeout=run_timeout if run_timeout is not None else max(interval * 10, 300.0),
        )
        self._treadle_task: asyncio.Task[Any] | None = None
        self._treadle_metrics_manager: MetricsManager | None = None
        self.metrics_manager = metrics_manager
        self._treadle_origin = Origin()
        self._stats = LoopStats(name=name)

    # -- what subclasses write ----------------------------------------------------------------

    @abc.abstractmethod
    async def _run_once(self) -> None:
        """One iteration; an exception is counted and backed off, never fatal."""

    async def _on_start(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Called once per run, before the first ``_run_once``; raising ends the run (after
        ``_on_stop``)."""

    async def _on_stop(self) -> None:  # noqa: B027
        """Called once per run after the last ``_run_once``, bounded by treadle's
        ``hook_timeout`` (5 s)."""

    async def _on_error(self, error: Exception) -> None:  # noqa: B027
        """Called after a failed ``_run_once``, before the error callbacks and the backoff."""

    async def _on_consecutive_timeouts(self) -> None:  # noqa: B027
        """Called after each timeout from the third in a row: recover (reconnect, clear)."""

    async def run_in_executor(self, func: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """``func(*args, **kwargs)`` in a thread (treadle has no executor categories)."""
        return await asyncio.to_thread(functools.partial(func, *args, **kwargs))

    # -- attributes -----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._treadle.name

    @name.setter
    def name(self, value: str) -> None:
        self._treadle.name = value

    @property
    def interval(self) -> float:
        return self._treadle.interval

    @interval.setter
    def interval(self, value: float) -> None:
        self._treadle.interval = value  # treadle re-times a sleep under way

    @property
    def enabled(self) -> bool:
        return self._treadle.enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._treadle.enabled = value  # treadle wakes an idling loop at once

    @property
    def backoff_config(self) -> BackoffConfig:
        return self._treadle_backoff

    @backoff_config.setter
    def backoff_config(self, value: BackoffConfig) -> None:
        self._treadle_backoff = value
        self._treadle.backoff = value.backoff  # the next failed run waits by it

    @property
    def run_timeout(self) -> float:
        timeout = self._treadle.run_timeout
        assert timeout is not None  # a BaseLoop always has one
        return timeout

    @run_timeout.setter
    def run_timeout(self, value: float) -> None:
        self._treadle.run_timeout = value

    @property
    def metrics_manager(self) -> MetricsManager | None:
        return self._treadle_metrics_manager

    @metrics_manager.setter
    def metrics_manager(self, value: MetricsManager | None) -> None:
        self._treadle_metrics_manager = value
        engine = self._treadle  # timing each run costs a frame: only when someone records it
        engine.run_once = self._run_once if value is None else engine.measured

    def _treadle_draw(self) -> float:
        return self._treadle_backoff.narrow(random.random())

    @property
    def treadle_loop(self) -> Loop:
        """The treadle Loop that runs this one (its ``status()``, ``last_beat``...)."""
        return self._treadle

    # -- observation ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True from the start of a run until a stop is asked for (the seed's flag)."""
        return self._treadle.state in RUNNING

    @property
    def _running(self) -> bool:  # the name the seed's subclasses read
        return self.running

    @property
    def paused(self) -> bool:
        return self._treadle.state is State.PAUSED

    @property
    def stats(self) -> LoopStats:
        """The loop's LoopStats, its figures filled in from treadle's metrics as it is read."""
        return cast(LoopStats, self._stats)

    @property
    def _stats(self) -> Any:
        record = self._treadle_stats
        if isinstance(record, LoopStats):
            fill(record, self._treadle.metrics, self._treadle_origin)
        return record

    @_stats.setter
    def _stats(self, value: Any) -> None:
        """A subclass's own record (a LoopStats subclass with more fields) takes the figures
        from now on; anything else is kept as given, with the seed's warning."""
        compatible = isinstance(value, LoopStats) or hasattr(value, "to_dict")
        if hasattr(self, "_treadle_stats") and not compatible:
            warnings.warn(
                f"{type(self).__name__}: Assigning incompatible type to _stats. "
                f"Expected LoopStats or object with to_dict() method, got "
                f"{type(value).__name__}. Use a different attribute name for custom "
                "stats (e.g., _custom_stats).",
                stacklevel=2,
            )
        self._treadle_stats = value

    def reset_stats(self) -> None:
        """Start the figures again from zero (a fresh LoopStats); treadle's metrics go on."""
        self._treadle_origin = Origin.of(self._treadle.metrics)
        self._stats = LoopStats(name=self.name)

    async def reset_stats_async(self) -> None:
        self.reset_stats()  # nothing to lock: it does not await

    def _treadle_view(self) -> LoopStats:
        """``stats``, or (when a subclass put something else there) a LoopStats all the same."""
        record = self._stats
        if isinstance(record, LoopStats):
            return record
        return fill(LoopStats(name=self.name), self._treadle.metrics, self._treadle_origin)

    def get_status(self) -> dict[str, Any]:
        """The seed README's keys and the seed module's (``status``, ``stats``,
        ``backoff``); the figures are those of ``stats``."""
        record, view = self._stats, self._treadle_view()
        return {
            "name": self.name,
            "status": status_word(self.running, self.paused, view),
            "running": self.running,
            "paused": self.paused,
            "enabled": self.enabled,
            "interval": self.interval,
            "run_count": view.total_runs,
            "error_count": view.failed_runs,
            "consecutive_errors": view.consecutive_errors,
            "average_duration_ms": view.avg_run_duration * 1000,
            "last_run_time": view.last_run_time,
            "last_error": view.last_error_message or None,
            "stats": record.to_dict() if hasattr(record, "to_dict") else record,
            "backoff": {
                "initial_delay": self.backoff_config.initial_delay,
                "max_delay": self.backoff_config.max_delay,
                "multiplier": self.backoff_config.multiplier,
            },
        }

    def health_check(self) -> HealthCheckResult:
        """Healthy when stopped; unhealthy above 5 errors in a row or below 50% success."""
        return loop_health(self.name, self.running, self.paused, self._treadle_view())

    def add_error_callback(self, callback: Callable[[Exception], None]) -> None:
        """``callback(exc)`` after every failed run (after ``_on_error``)."""
        self._error_callbacks.append(callback)

    def remove_error_callback(self, callback: Callable[[Exception], None]) -> None:
        if callback in self._error_callbacks:
            self._error_callbacks.remove(callback)

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self.name!r} {self._treadle.state.value}>"

    # -- control --------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Run in this task until stopped; called again while running, warn and return.

        Cancellation propagates (treadle never swallows it; the seed did), after
        ``_on_stop``.
        """
        if self.running:
            _log.warning("loop %s is already running", self.name)
            return
        await self._treadle.run()

    @property
    def _task(self) -> asyncio.Task[Any] | None:  # the seed's name: its subclasses set it
        return self._treadle_task

    @_task.setter
    def _task(self, task: asyncio.Task[Any] | None) -> None:
        self._treadle_task = task

    def _treadle_spawn(self) -> asyncio.Task[Any]:
        task = self._treadle_task
        if task is not None and not task.cancelled():
            task.exception()  # retrieved: a failure was for stop_async to raise, not asyncio
        # Running elsewhere (run_forever, a LoopManager), run_forever warns and returns.
        self._treadle_task = asyncio.get_running_loop().create_task(
            self.run_forever(), name=f"loop_{self.name}"
        )
        return self._treadle_task

    def start_background(self) -> asyncio.Task[Any]:
        """Run in a task of its own; the task already running it, if there is one."""
        task = self._treadle_task
        if task is not None and not task.done():
            _log.warning("loop %s: its background task is already running", self.name)
            return task
        return self._treadle_spawn()

    async def start_background_async(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - the seed's signature
    ) -> asyncio.Task[Any] | None:
        """Start as ``start_background`` does, and return the task once the loop runs; None
        if it does not (its ``_on_start`` failed at once).

        The loop is running from its task's first step, before ``_on_start``: one turn of
        the event loop tells, ``timeout`` is never waited out.
        """
        task = self._treadle_task
        if task is not None and not task.done():
            _log.warning("loop %s: its background task is already running", self.name)
            return task
        task = self._treadle_spawn()
        await asyncio.sleep(0)  # its first step: run_forever has begun the run, or ended
        if self.running:
            return task
        _log.error("loop %s failed to start (within %gs)", self.name, timeout)
        return None

    def stop(self) -> None:
        """Ask for a graceful stop after the current run; returns at once."""
        # treadle's request_stop() also applies to a run not yet begun; the seed's stop() is
        # a no-op unless the loop runs (or its background task is about to run it).
        task = self._treadle_task
        if self._treadle.state in LIVE or (task is not None and not task.done()):
            self._treadle.request_stop()

    async def stop_async(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - a boundary
        """Stop, and wait up to ``timeout`` s: True if the loop stopped in that time.

        A background task still running then is cancelled (as the seed's ``wait_for`` did)
        and its failure, if any, raised; a run in a task that is not ours (run_forever, a
        LoopManager) is only waited for.
        """
        self.stop()
        task, engine = self._treadle_task, self._treadle
        if task is not None:
            if not task.done():
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if not done:
                    _log.warning("loop %s: stop timed out after %gs", self.name, timeout)
                    task.cancel()
                    await asyncio.wait({task}, timeout=engine.hook_timeout)  # its _on_stop
                    return False
            self._treadle_task = None
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc  # it failed: the caller's to see, once
        if engine.state not in LIVE:
            return True
        ended, _ = await asyncio.wait({engine.ended()}, timeout=timeout)
        return bool(ended)

    def pause(self) -> None:
        """Finish the current run, then idle until :meth:`resume` (treadle's pause)."""
        self._treadle.pause()

    def resume(self) -> None:
        self._treadle.resume()
