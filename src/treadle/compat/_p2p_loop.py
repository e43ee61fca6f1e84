"""The seed's BaseLoop, run by a private treadle Loop.

Owns :class:`BaseLoop` (the seed's hooks, attributes and control methods) and the
:class:`_Engine` that gives treadle's :class:`~treadle.loop.Loop` those hooks. Scheduling,
backoff, pause/resume, ``enabled``, heartbeats and metrics are all the Loop's; supervision
is ``_p2p_manager``'s.

A BaseLoop *wraps* its Loop instead of being one: the seed's subclasses set attributes of
their own freely (``self._state``, ``self._task``...), and none of those may clobber
treadle's; and the seed's ``stop()`` is synchronous where ``Loop.stop()`` is a coroutine.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final

from .._exceptions import ConfigError, InvalidTransition
from .._lifecycle import State
from ..health import Health, from_state, worst
from ..loop import Loop
from ._p2p_backoff import BackoffConfig
from ._p2p_stats import LoopStats

__all__ = ["LIVE", "BaseLoop", "health_dict", "in_error", "verdict"]

_log = logging.getLogger("treadle.compat.p2p")
RUNNING: Final = frozenset({State.STARTING, State.RUNNING, State.PAUSED})  # the seed's flag
LIVE: Final = RUNNING | {State.STOPPING}  # a run is under way: there is something to stop


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Engine(Loop):
    """The treadle Loop behind one BaseLoop; its hooks are the BaseLoop's."""

    __slots__ = ("_ended", "_outer", "run_once")

    # The BaseLoop's bound ``_run_once``, in a slot that shadows Loop.run_once: the tick
    # awaits the user's coroutine directly, with no frame of ours in between. What remains
    # is the indirection (CPython 3.11 cannot specialise the lookup of a slot's bound
    # method): nothing at one loop, some L1 misses per tick at 1,000 (bench/compat_p2p.py).
    run_once: Callable[[], Coroutine[Any, Any, None]]

    def __init__(self, outer: BaseLoop, **options: Any) -> None:
        super().__init__(**options)
        self._outer = outer
        self.run_once = outer._run_once
        self._ended: asyncio.Future[None] | None = None

    def ended(self) -> asyncio.Future[None]:
        """Resolved when the current run ends: for a run in a task that is not ours."""
        if self._ended is None:
            self._ended = asyncio.get_running_loop().create_future()
        return self._ended

    def _notify_ended(self) -> None:
        fut, self._ended = self._ended, None
        if fut is not None:
            # Resolved on the next turn, after the done-callbacks of the task running us (a
            # supervisor's): a waiter then finds the tree settled, not a child about to end.
            asyncio.get_running_loop().call_soon(_resolve, fut)

    async def on_start(self) -> None:
        try:
            await self._outer._on_start()
        except BaseException:
            self._notify_ended()  # a failed start ends the run without on_stop
            raise

    async def on_stop(self) -> None:
        try:
            await self._outer._on_stop()
        finally:
            self._notify_ended()

    async def on_error(self, exc: Exception) -> None:
        outer = self._outer
        try:
            await outer._on_error(exc)
        finally:  # the seed calls its callbacks after _on_error, each one guarded
            for callback in tuple(outer._error_callbacks):
                try:
                    callback(exc)
                except Exception:  # noqa: BLE001 - the seed's contract: a callback never ends the loop
                    _log.exception("loop %s: error callback %r failed", self.name, callback)


class BaseLoop(abc.ABC):
    """Subclass and implement ``_run_once``: the seed's BaseLoop, run by treadle.

    Args:
        name: shown in status; the loop's key in a LoopManager.
        interval: seconds from the end of one run to the start of the next (0: continuous);
            settable at any time, also from inside ``_run_once``.
        backoff_config: the delays after failed runs (default ``BackoffConfig()``).
        enabled: a disabled loop idles without running ``_run_once``; settable at any time.
        depends_on: names of loops that a LoopManager starts before this one.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        *,
        backoff_config: BackoffConfig | None = None,
        enabled: bool = True,
        depends_on: Iterable[str] | None = None,
    ) -> None:
        if isinstance(depends_on, str):
            raise ConfigError("depends_on", f"must be a list of names, got {depends_on!r}")
        config = backoff_config or BackoffConfig()
        self._backoff_config = config
        self.depends_on: list[str] = list(depends_on or ())
        self._error_callbacks: list[Callable[[Exception], None]] = []
        self._treadle = engine = _Engine(
            self,
            name=name,
            interval=interval,
            backoff=config.backoff,
            rand=config.random_source(random.random),
            enabled=enabled,
        )
        self._treadle_task: asyncio.Task[None] | None = None
        self._treadle_stats = LoopStats(engine.name, engine.metrics)

    # -- what subclasses write ----------------------------------------------------------------

    @abc.abstractmethod
    async def _run_once(self) -> None:
        """One iteration; an exception is counted and backed off, never fatal."""

    async def _on_start(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Called once per run, before the first ``_run_once``; raising ends the run."""

    async def _on_stop(self) -> None:  # noqa: B027
        """Called once per run after the last ``_run_once``, bounded by treadle's
        ``hook_timeout`` (5 s)."""

    async def _on_error(self, error: Exception) -> None:  # noqa: B027
        """Called after a failed ``_run_once``, before the error callbacks and the backoff."""

    # -- observation ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._treadle.name

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
        return self._backoff_config

    @property
    def treadle_loop(self) -> Loop:
        """The treadle Loop that runs this one (its ``status()``, ``last_beat``...)."""
        return self._treadle

    @property
    def running(self) -> bool:
        """True from the start of a run until a stop is asked for (the seed's flag)."""
        return self._treadle.state in RUNNING

    @property
    def paused(self) -> bool:
        return self._treadle.state is State.PAUSED

    @property
    def stats(self) -> LoopStats:
        return self._treadle_stats

    def get_status(self) -> dict[str, Any]:
        """The README's keys, exactly. ``last_run_time`` is when the last run ended (wall
        clock); ``average_duration_ms`` the mean of treadle's window of recent runs."""
        metrics, stats = self._treadle.metrics, self._treadle_stats
        return {
            "name": self.name,
            "running": self.running,
            "paused": self.paused,
            "enabled": self.enabled,
            "interval": self.interval,
            "run_count": metrics.runs,
            "error_count": metrics.errors,
            "consecutive_errors": metrics.consecutive_errors,
            "average_duration_ms": stats.avg_run_duration * 1000,
            "last_run_time": stats.last_run_time,
            "last_error": stats.last_error_message or None,
        }

    def health_check(self) -> dict[str, Any]:
        """``healthy`` (False only when unhealthy), ``status`` (healthy, degraded or
        unhealthy), ``message``, and the stats as ``details``."""
        return health_dict(self, verdict(self))

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

    def start_background(self) -> asyncio.Task[None]:
        """Run in a task of its own (treadle's ``Loop.start``); that same task if it runs."""
        task = self._treadle_task
        if task is not None and not task.done():
            _log.warning("loop %s: its background task is already running", self.name)
            return task
        if task is not None and not task.cancelled():
            task.exception()  # retrieved: a failure was for stop_async to raise, not asyncio
        state = self._treadle.state
        if state in LIVE:  # running elsewhere: run_forever, or a LoopManager
            raise InvalidTransition(f"loop {self.name!r}", state, State.STARTING)
        self._treadle_task = self._treadle.start()
        return self._treadle_task

    def stop(self) -> None:
        """Ask for a graceful stop after the current run; returns at once."""
        # treadle's request_stop() also applies to a run not yet begun; the seed's stop() is
        # a no-op unless the loop runs (or its background task is about to run it).
        task = self._treadle_task
        if self._treadle.state in LIVE or (task is not None and not task.done()):
            self._treadle.request_stop()

    async def stop_async(self, timeout: float = 10.0) -> bool:  # noqa: ASYNC109 - a boundary
        """Stop, and wait up to ``timeout`` s: True if the loop stopped in that time.

        A background task still running then is cancelled (treadle's ``Loop.stop``, as the
        seed's ``wait_for`` did) and its failure, if any, raised; a run in a task that is
        not ours (run_forever, a LoopManager) is only waited for.
        """
        task, engine = self._treadle_task, self._treadle
        if task is not None and not task.done():
            await engine.stop(timeout)  # graceful, then cancelled; re-raises a failure
            return task.done() and not task.cancelled()
        if task is not None:  # it ended by itself: its failure is the caller's to see
            self._treadle_task = None
            if not task.cancelled() and (exc := task.exception()) is not None:
                raise exc
        if engine.state not in LIVE:
            return True
        ended = engine.ended()
        self.stop()
        done, _ = await asyncio.wait({ended}, timeout=timeout)
        return bool(done)

    def pause(self) -> None:
        """Finish the current run, then idle until :meth:`resume` (treadle's pause)."""
        self._treadle.pause()

    def resume(self) -> None:
        self._treadle.resume()


def verdict(loop: BaseLoop) -> Health:
    """Treadle's verdicts: its lifecycle table (stopped is healthy, paused degraded), made
    worse while running by the Loop's rule for consecutive errors (``errors_health``)."""
    engine = loop.treadle_loop
    by_state = from_state(engine.state)
    if engine.metrics.consecutive_errors == 0 or engine.state not in RUNNING:
        return by_state
    return worst(by_state, engine.errors_health())


def health_dict(loop: BaseLoop, health: Health) -> dict[str, Any]:
    return {
        "healthy": health.ok,
        "status": health.status.value,
        "message": health.reason or f"loop {loop.name} {loop.treadle_loop.state.value}",
        "details": loop.stats.to_dict(),
    }


def in_error(loop: BaseLoop) -> bool:
    """Failed (its start raised), or its last run raised."""
    engine = loop.treadle_loop
    return engine.state is State.FAILED or engine.metrics.consecutive_errors > 0
