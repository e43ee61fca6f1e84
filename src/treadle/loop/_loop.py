"""Loop: a unit of repeated async work. ``run_once`` + interval, backoff on error.

Owns :class:`Loop` (the mechanism: sleeping, pausing, stopping, heartbeats, metrics) and
nothing about restarts: a loop that fails hard (``on_start`` raises, or
``max_consecutive_errors`` is reached) raises out of :meth:`Loop.run` and its supervisor
decides. The tick is the hot path: a few attribute reads and writes around ``run_once``,
``sleep(0)`` when the interval is 0 (never the timer heap), futures only while sleeping.
Heartbeats and durations use ``time.perf_counter()``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .._backoff import DEFAULT_BACKOFF, Backoff
from .._exceptions import ConfigError, LoopFailed, RunTimedOut
from .._lifecycle import UP, State, check_transition
from ..health._health import Health
from ._deadline import Deadline, check_timeout
from ._metrics import LoopMetrics

__all__ = ["Loop"]


@dataclass(frozen=True, slots=True)
class _Options:
    """A loop's rarely-set options, apart from its hot state."""

    backoff: Backoff
    initial_delay: float
    gate: Callable[[], bool] | None
    max_errors: int | None
    hook_timeout: float
    rand: Callable[[], float]
    cpu_time: bool


_DEFAULT_OPTIONS: Final = _Options(DEFAULT_BACKOFF, 0.0, None, None, 5.0, random.random, False)

_log = logging.getLogger("treadle.loop")
_clock: Final = time.perf_counter
_GATE_POLL: Final = 1.0  # how often a gated loop with interval 0 asks should_run() again


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class Loop:
    """Subclass and implement :meth:`run_once`; run with :meth:`run_forever` or a Supervisor.

    Args:
        name: shown in status and events; defaults to the class name.
        interval: seconds from the end of one run to the start of the next; 0 = continuous.
        initial_delay: seconds to wait before the first run.
        backoff: delays after failed runs (the n-th consecutive error waits ``delay(n)``).
        enabled: a disabled loop idles (it does not run ``run_once``) until enabled.
        should_run: a gate asked before every run; False idles the loop, it is not an error.
        max_consecutive_errors: raise :class:`LoopFailed` after this many errors in a row,
            handing the decision to the supervisor; None retries forever.
        run_timeout: cancel a ``run_once`` still running after this many seconds; it fails
            with :class:`RunTimedOut` (counted as an error and as a timeout, ``on_error``
            called), and the next run comes after the interval, not a backoff: the run has
            waited already. Timeouts do not grow the backoff of later errors. None: no bound.
        window: how many recent durations feed p50/p95/max.
        hook_timeout: the bound on ``on_stop`` during shutdown.
        rand: the random source for jitter (seed it in tests).
        cpu_time: measure the thread CPU time spent inside ``run_once`` (``metrics.cpu_s``);
            it costs two ``thread_time()`` calls (~1 us) per run, so it is opt-in. While
            ``run_once`` awaits, other tasks' CPU on this thread counts too.
    """

    __slots__ = (
        "_attention",
        "_backoff_s",
        "_beat",
        "_deadline",
        "_enabled",
        "_gated",
        "_interval",
        "_name",
        "_next_at",
        "_opts",
        "_paused",
        "_state",
        "_stop_requested",
        "_task",
        "_waker",
        "metrics",
    )

    def __init__(
        self,
        *,
        name: str | None = None,
        interval: float = 1.0,
        initial_delay: float = 0.0,
        backoff: Backoff | None = None,
        enabled: bool = True,
        should_run: Callable[[], bool] | None = None,
        max_consecutive_errors: int | None = None,
        window: int = 128,
        hook_timeout: float = 5.0,
        rand: Callable[[], float] = random.random,
        cpu_time: bool = False,
        run_timeout: float | None = None,
    ) -> None:
        if not interval >= 0:
            raise ConfigError("interval", f"must be >= 0, got {interval!r}")
        if not initial_delay >= 0:
            raise ConfigError("initial_delay", f"must be >= 0, got {initial_delay!r}")
        if max_consecutive_errors is not None and max_consecutive_errors < 1:
            raise ConfigError(
                "max_consecutive_errors", f"must be >= 1, got {max_consecutive_errors}"
            )
        if window < 1:
            raise ConfigError("window", f"must be >= 1, got {window}")
        self._name = name or type(self).__name__
        self._interval = float(interval)
        opts = _Options(
            backoff or DEFAULT_BACKOFF,
            float(initial_delay),
            should_run,
            max_consecutive_errors,
            hook_timeout,
            rand,
            cpu_time,
        )
        # Most loops keep every default: they share one options object (48 bytes a loop).
        self._opts = _DEFAULT_OPTIONS if opts == _DEFAULT_OPTIONS else opts
        self._enabled = enabled
        self.metrics = LoopMetrics(window)
        if cpu_time:
            self.metrics.cpu_s = 0.0
        self._state = State.PENDING
        self._stop_requested = False
        self._paused = False
        self._gated = False
        self._beat: float | None = None
        self._backoff_s: float | None = None
        self._next_at: float | None = None
        # The tick's fast path checks this one flag; it is True whenever any of stop,
        # pause, a pending deadline, a gate or being disabled may need the slow path. Being
        # True by mistake is harmless: the slow path re-checks everything and recomputes it.
        self._attention = True
        self._waker: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        timeout = check_timeout(run_timeout)
        self._deadline = None if timeout is None else Deadline(timeout)

    # -- what subclasses write ------------------------------------------------------------

    async def run_once(self) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement run_once()")

    def should_run(self) -> bool:
        """The gate: return False to idle this run (e.g. not the leader). Default: True."""
        gate = self._opts.gate
        return gate() if gate is not None else True

    async def on_start(self) -> None:
        """Called once per :meth:`run`, before the first ``run_once``; raising fails the run."""

    async def on_stop(self) -> None:
        """Called once per :meth:`run` after the last ``run_once``, bounded by ``hook_timeout``."""

    async def on_error(self, exc: Exception) -> None:
        """Called after a failed ``run_once``, before the backoff sleep."""

    unhealthy_after: int = 3
    """Consecutive errors at which the default :meth:`health` says unhealthy."""

    async def health(self) -> Health:
        """Override to check what matters (a connection, a queue depth). The default:
        :meth:`errors_health`."""
        return self.errors_health()

    def errors_health(self) -> Health:
        """Healthy with no errors, degraded after one, unhealthy after ``unhealthy_after``
        in a row."""
        n = self.metrics.consecutive_errors
        if n == 0:
            return Health.healthy()
        reason = f"{n} consecutive errors, last: {self.metrics.last_error}"
        return Health.unhealthy(reason) if n >= self.unhealthy_after else Health.degraded(reason)

    # -- observation ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        """Rename (status, logs); a supervisor keeps the child's name it was given."""
        self._name = value

    @property
    def state(self) -> State:
        return self._state

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        """Change the interval, also from inside ``run_once`` (adaptive loops).

        A loop sleeping its regular interval re-times that sleep from its last run's end.
        """
        if not value >= 0:
            raise ConfigError("interval", f"must be >= 0, got {value!r}")
        self._interval = float(value)
        self._attention = True
        last_end = self.metrics.last_run_end
        if self._next_at is not None and self._backoff_s is None and last_end is not None:
            self._next_at = last_end + self._interval
            self._interrupt()
        elif self._next_at is not None and self._gated:
            self._interrupt()

    @property
    def backoff(self) -> Backoff:
        return self._opts.backoff

    @backoff.setter
    def backoff(self, value: Backoff) -> None:
        """Change the backoff; the next failed run waits by the new one."""
        self._opts = dataclasses.replace(self._opts, backoff=value)

    @property
    def run_timeout(self) -> float | None:
        deadline = self._deadline
        return None if deadline is None else deadline.timeout

    @run_timeout.setter
    def run_timeout(self, value: float | None) -> None:
        """Change the bound on each run; a run under way is held to the new one."""
        timeout, deadline = check_timeout(value), self._deadline
        if deadline is None:
            self._deadline = None if timeout is None else Deadline(timeout)
        elif timeout is None:
            deadline.close()
            self._deadline = None
        else:
            deadline.timeout = timeout
            deadline.retime()

    @property
    def hook_timeout(self) -> float:
        return self._opts.hook_timeout

    @hook_timeout.setter
    def hook_timeout(self, value: float) -> None:
        self._opts = dataclasses.replace(self._opts, hook_timeout=value)

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, value: bool) -> None:
        self._enabled = value
        self._attention = True
        if self._gated:
            self._interrupt()

    @property
    def last_beat(self) -> float | None:
        """``perf_counter()`` of the last heartbeat, or None before the first run.

        A run beats at its start (``_beat``) and at its end, which is ``last_run_end``: the
        tick stores the end once, not twice.
        """
        beat, end = self._beat, self.metrics.last_run_end
        if beat is None or end is None:
            return beat if end is None else end
        return max(beat, end)

    @property
    def busy(self) -> bool:
        """True while inside ``run_once``: only a busy loop can be stuck.

        Derived, not stored (two fewer writes per tick): a run beats at its start and at its
        end, and its end is also ``last_run_end``; a beat newer than that is a run under way.
        """
        if self._gated or self._state not in (State.RUNNING, State.PAUSED, State.STOPPING):
            return False
        beat, end = self._beat, self.metrics.last_run_end
        return beat is not None and (end is None or beat > end)

    def beat(self) -> None:
        """Heartbeat from inside a long ``run_once``: 'still making progress'."""
        self._beat = _clock()

    def status(self) -> dict[str, Any]:
        beat = self.last_beat
        return {
            "name": self._name,
            "kind": "loop",
            "state": self._state.value,
            "interval": self._interval,
            "enabled": self._enabled,
            "paused": self._paused,
            "gated": self._gated,
            "busy": self.busy,
            "backoff_s": self._backoff_s,
            "heartbeat_age_s": None if beat is None else _clock() - beat,
            **self.metrics.as_dict(),
        }

    def __repr__(self) -> str:
        return f"<{type(self).__qualname__} {self._name!r} {self._state.value}>"

    # -- control --------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the loop to stop after the current run; returns at once."""
        self._stop_requested = True
        self._attention = True
        if self._state in UP:
            self._set_state(State.STOPPING)
        self._interrupt()

    def pause(self) -> None:
        """Finish the current run, then idle until :meth:`resume`."""
        self._paused = True
        self._attention = True
        if self._state is State.RUNNING:
            self._set_state(State.PAUSED)
        self._interrupt()

    def resume(self) -> None:
        self._paused = False
        self._attention = True
        if self._state is State.PAUSED:
            self._set_state(State.RUNNING)
        self._interrupt()

    def start(self) -> asyncio.Task[None]:
        """Run this loop in a task of its own (without a supervisor); :meth:`stop` ends it."""
        if self._task is not None and not self._task.done():
            raise RuntimeError(f"loop {self._name!r} is already started")
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"loop:{self._name}")
        return self._task

    async def stop(self, timeout: float | None = 10.0) -> None:  # noqa: ASYNC109 - a boundary
        """Stop a loop started with :meth:`start`: graceful, then cancelled after ``timeout``.

        Re-raises the loop's own failure, if it failed.
        """
        self.request_stop()
        task = self._task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._opts.hook_timeout)
            if not done:
                _log.error("loop %s ignores cancellation; abandoning its task", self._name)
                return
        self._task = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc

    async def run_forever(self) -> None:
        """Run in the current task until stopped; the same as ``run()``."""
        await self.run()

    async def run(self, started: Callable[[], None] | None = None) -> None:
        """Run until stopped (returns) or failed (raises); ``started()`` once running.

        The main loop is inlined here, not a helper coroutine: an idle loop's task is then
        one frame deep (a frame is ~270 bytes, and there may be 100,000 loops).
        """
        self._set_state(State.STARTING)
        began = False
        try:
            if type(self).on_start is not Loop.on_start:
                await self.on_start()
            began = True
            self._set_state(State.PAUSED if self._paused else State.RUNNING)
            if started is not None:
                started()
                started = None  # do not keep the callback alive for the loop's lifetime
            # One flat loop: every wait (interval, backoff, gate, initial delay) is the same
            # deadline ``_next_at``, waited on at the top.
            metrics = self.metrics
            ring, window = metrics._durations, metrics.window  # both fixed for a run
            full = len(ring) >= window
            idx = metrics._next
            clock, sleep0 = _clock, asyncio.sleep
            opts = self._opts
            cpu, cpu0 = opts.cpu_time, 0.0
            gated = type(self).should_run is not Loop.should_run or opts.gate is not None
            if opts.initial_delay > 0:
                self._next_at = _clock() + opts.initial_delay
            self._attention = True
            while True:
                if self._attention:
                    if self._stop_requested:
                        break
                    if self._next_at is not None:
                        remaining = self._next_at - clock()
                        if remaining > 0 and not self._paused:
                            fut = self._waker = asyncio.get_running_loop().create_future()
                            handle = asyncio.get_running_loop().call_later(remaining, _wake, fut)
                            try:
                                await fut
                            finally:
                                handle.cancel()
                                self._waker = None
                            continue  # woken: deadline reached, or stop/pause/interval change
                        self._next_at = None
                        self._backoff_s = None
                    if self._paused:
                        await self._park()
                        continue
                    if (gated or not self._enabled) and not (self._enabled and self.should_run()):
                        self._gated = True
                        self._beat = clock()
                        self._next_at = self._beat + (self._interval or _GATE_POLL)
                        continue
                    if self._gated:
                        self._gated = False
                    self._attention = gated or self._stop_requested or self._paused
                start = self._beat = clock()
                if cpu:
                    cpu0 = time.thread_time()
                try:
                    deadline = self._deadline
                    if deadline is None:
                        await self.run_once()
                    else:
                        await deadline.run(self.run_once, start)
                except Exception as exc:  # noqa: BLE001 - the loop's boundary: counted, backed off
                    if cpu:
                        metrics.cpu_s = (metrics.cpu_s or 0.0) + time.thread_time() - cpu0
                    await self._run_failed(exc, start)
                    idx, full = metrics._next, len(ring) >= window  # it wrote the ring too
                    continue
                end = clock()  # the end beat is last_run_end: see last_beat
                if cpu:
                    metrics.cpu_s = (metrics.cpu_s or 0.0) + time.thread_time() - cpu0
                metrics.runs += 1
                if metrics.consecutive_errors:
                    metrics.consecutive_errors = 0
                    metrics.consecutive_timeouts = 0
                metrics.last_run_end = end
                took = end - start
                metrics.success_s += took
                # LoopMetrics.record_duration, inlined: this is the hottest line in treadle.
                if full:
                    ring[idx] = took
                    idx += 1
                    if idx == window:
                        idx = 0
                    metrics._next = idx
                else:
                    ring.append(took)
                    full = len(ring) >= window
                if self._interval > 0:  # read after the run: run_once may have changed it
                    self._next_at = end + self._interval
                    self._attention = True
                else:
                    await sleep0(0)
        except BaseException as exc:
            await self._finish(began, exc)
            raise
        await self._finish(began, None)

    # -- mechanism ------------------------------------------------------------------------

    async def _finish(self, began: bool, exc: BaseException | None) -> None:
        self._stop_requested = False
        self._attention = True
        self._next_at = None
        self._backoff_s = None
        if self._deadline is not None:
            self._deadline.close()
        failed = exc is not None and not isinstance(exc, asyncio.CancelledError)
        if began and self._state in UP:
            self._set_state(State.STOPPING)
        if began and type(self).on_stop is not Loop.on_stop:  # no timer for the default hook
            try:
                async with asyncio.timeout(self._opts.hook_timeout):
                    await self.on_stop()
            except Exception:  # noqa: BLE001 - a hook's failure must not hide how the loop ended
                _log.exception("loop %s: on_stop failed", self._name)
        self._set_state(State.FAILED if failed else State.STOPPED)

    async def _run_failed(self, exc: Exception, start: float) -> None:
        end = self._beat = _clock()
        metrics = self.metrics
        timed_out = isinstance(exc, RunTimedOut)
        metrics.record_failed_run(exc, start, end, timed_out=timed_out)
        n = metrics.consecutive_errors
        opts = self._opts
        if opts.max_errors is not None and n >= opts.max_errors:
            raise LoopFailed(f"loop {self._name!r}: {n} consecutive errors") from exc
        _log.warning("loop %s: run failed (%d in a row): %r", self._name, n, exc)
        try:
            await self.on_error(exc)
        except Exception:  # noqa: BLE001 - the hook's own failure is reported, the loop goes on
            _log.exception("loop %s: on_error failed", self._name)
        self._attention = True
        if timed_out:  # it has waited its run_timeout already: the interval, as after a success
            self._next_at = end + self._interval
            return
        opts = self._opts  # on_error may have changed the backoff
        delay = opts.backoff.delay(n - metrics.consecutive_timeouts, opts.rand)
        self._backoff_s = delay
        self._next_at = _clock() + delay

    async def _park(self) -> None:
        loop = asyncio.get_running_loop()
        while self._paused and not self._stop_requested:
            fut = self._waker = loop.create_future()
            try:
                await fut
            finally:
                self._waker = None

    def _interrupt(self) -> None:
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def _set_state(self, new: State) -> None:
        check_transition(f"loop {self._name!r}", self._state, new)
        self._state = new
