"""Loop: a unit of repeated async work. ``run_once`` + interval, backoff on error.

Owns :class:`Loop`: what a subclass writes (``run_once`` and the hooks), what others read
(state, heartbeat, status, health), and :meth:`Loop.run`, the one coroutine frame a loop's
task runs. What others change and ask of a loop are its bases': ``_settings`` (interval,
backoff, timeouts, enabled) and ``_control`` (stop, pause, resume, a task of its own). It
owns nothing about restarts: a loop that fails hard (``on_start`` raises, or
``max_consecutive_errors`` is reached) raises out of ``run`` and its supervisor decides.

The tick is the hot path, and it touches the loop alone: a flag that says whether anything
needs attention, two clock reads, ``run_once``, a few counters of :class:`Tally` (which a
Loop is), and a bare yield to the event loop when the interval is 0 (never the timer heap,
and not ``asyncio.sleep(0)``'s extra frame). Everything else is the slow path, taken only
when the flag says so: waits (interval, backoff, gate, initial delay: one deadline),
pausing, stopping (``_pacing``); a failed run and the end of a run (``_outcome``: hooks,
backoff, state); the counters (``_tally``); the constructor's checks (``_options``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import types
from collections.abc import Callable, Generator
from typing import Any, ClassVar, Final

from .._backoff import Backoff
from .._lifecycle import (
    PAUSED,
    PENDING,
    RUNNING,
    STARTING,
    STOPPING,
    State,
)
from ..health._health import Health
from . import _outcome
from ._alarms import Bucket
from ._control import Control
from ._deadline import Deadline
from ._metrics import LoopMetrics
from ._options import check_interval, check_timeout, options
from ._pacing import STOP, pace, woken

__all__ = ["Loop"]

_log = logging.getLogger("treadle.loop")
_clock: Final = time.perf_counter


@types.coroutine
def _yield() -> Generator[None, None, None]:
    """One turn of the event loop: what ``asyncio.sleep(0)`` does, without its frame."""
    yield


class Loop(Control):
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

    __slots__ = ()  # a loop's state is one flat record: the slots are Settings'

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
        self._interval = check_interval(interval)
        self._opts = options(
            initial_delay=initial_delay,
            backoff=backoff,
            should_run=should_run,
            max_consecutive_errors=max_consecutive_errors,
            window=window,
            hook_timeout=hook_timeout,
            rand=rand,
            cpu_time=cpu_time,
        )
        super().__init__()
        if cpu_time:
            self._extra_record().cpu_s = 0.0
        self._name = name or type(self).__name__
        self._enabled = enabled
        self._state = PENDING
        self._stop_requested = False
        self._paused = False
        self._gated = False
        self._beat: float | None = None  # a run's start, or a beat() inside it
        # No run before _since + _after (None: the interval), if _since is set: see _pacing.
        self._since: float | None = None
        self._after: float | None = None
        # The tick's fast path checks this one flag; it is True whenever any of stop,
        # pause, a pending deadline, a gate, being disabled or a new run_timeout may need
        # the slow path. True by mistake is harmless: the slow path looks at everything.
        self._attention = True
        self._waker: asyncio.Future[None] | None = None  # while waiting: see _pacing
        self._timer: asyncio.TimerHandle | Bucket | None = None
        timeout = check_timeout(run_timeout)
        if timeout is not None:
            self._extra_record().deadline = Deadline(timeout)

    # -- what subclasses write ------------------------------------------------------------

    _written: ClassVar[frozenset[str]] = frozenset()
    """The hooks a subclass wrote: the defaults cost nothing (no gate asked, no timer)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hooks = ("on_start", "on_stop", "on_error", "should_run")
        cls._written = frozenset(h for h in hooks if getattr(cls, h) is not getattr(Loop, h))

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
        n = self._errs
        if n == 0:
            return Health.healthy()
        reason = f"{n} consecutive errors, last: {self.metrics.last_error}"
        return Health.unhealthy(reason) if n >= self.unhealthy_after else Health.degraded(reason)

    # -- observation ----------------------------------------------------------------------

    def _window_size(self) -> int:
        return self._opts.window

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
    def metrics(self) -> LoopMetrics:
        """What this loop has done, read now (runs, errors, durations...)."""
        return LoopMetrics.of(self)

    @property
    def last_beat(self) -> float | None:
        """``perf_counter()`` of the last heartbeat, or None before the first run.

        A run beats at its start (``_beat``) and at its end, which is ``last_run_end``: the
        tick stores the end once, not twice.
        """
        beat, end = self._beat, self._end
        if beat is None or end is None:
            return beat if end is None else end
        return max(beat, end)

    @property
    def busy(self) -> bool:
        """True while inside ``run_once``: only a busy loop can be stuck.

        Derived, not stored (two fewer writes per tick): a run beats at its start and at its
        end, and its end is also ``last_run_end``; a beat newer than that is a run under way.
        """
        if self._gated or self._state not in (RUNNING, PAUSED, STOPPING):
            return False
        beat, end = self._beat, self._end
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

    async def run(self, started: Callable[[], None] | None = None) -> None:
        """Run until stopped (returns) or failed (raises); ``started()`` once running.

        The main loop is inlined here, not a helper coroutine: an idle loop's task is then
        one frame deep (a frame is ~270 bytes, and there may be 100,000 loops), and a tick
        calls nothing of treadle's.
        """
        self._set_state(STARTING)
        try:
            if "on_start" in self._written:
                await self.on_start()
            _outcome.begin(self)
            if started is not None:
                started()
                started = None  # do not keep the callback alive for the loop's lifetime
            around, ring, window = None, None, 1  # as of the last slow path
            while True:
                if self._attention:  # anything but "run again now": see _pacing
                    step = pace(self)
                    if step is not None:  # a stop, or a wait, after which we look again
                        if step is STOP:
                            break
                        took = 0.0  # an idle loop's frame holds no float of its own
                        try:
                            await step
                        finally:
                            woken(self)
                        continue
                    around, ring = _outcome.around(self), self._ring
                    window = 1 if ring is None else len(ring)
                start = self._beat = _clock()
                try:
                    if around is None:
                        await self.run_once()
                    else:  # a run_timeout, CPU time: see _outcome.around
                        await around.run(self.run_once, start)
                except Exception as exc:  # noqa: BLE001 - the loop's boundary: counted, backed off
                    await _outcome.failed(self, exc, start)
                    ring = self._ring
                    continue
                end = self._end = _clock()  # the end beat too: see last_beat
                # Tally._record_ok, inlined: the hottest lines in treadle.
                took = end - start
                runs = self._runs
                if ring is not None:
                    ring[runs % window] = took
                elif runs:
                    ring = self._first_ring(took)
                    window = len(ring)
                self._runs = runs + 1
                self._ok_s += took
                if self._errs:
                    self._recovered()
                if self._interval > 0:  # read after the run: run_once may have changed it
                    self._since = end  # and wait the interval (see _pacing)
                    self._attention = True
                else:
                    await _yield()
        except BaseException as exc:
            if _outcome.ending(self):
                await _outcome.on_stop(self)
            _outcome.ended(self, exc)
            raise
        if _outcome.ending(self):
            await _outcome.on_stop(self)
        _outcome.ended(self, None)
