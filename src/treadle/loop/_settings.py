"""What may change while a loop runs: :class:`Settings`, a base of :class:`~treadle.Loop`.

Owns the settings a running loop takes at once (the interval, the backoff, the run timeout,
the hook timeout, enabled) and the two mechanisms every change goes through: raising the
tick's attention flag, and :meth:`Settings._interrupt`, which wakes a waiting loop so that
it looks again at what it waits for; and a loop's state moves (:meth:`_set_state`, checked
against the lifecycle's table). It declares the slots of every Loop (Loop.__init__ fills
them). It does not decide what a setting does to the next
wait (``_pacing``) nor to a run (``_outcome``, ``_deadline``).
"""

from __future__ import annotations

import asyncio
import dataclasses

from .._backoff import Backoff
from .._exceptions import InvalidTransition
from .._lifecycle import ALLOWED, State
from ._alarms import Bucket
from ._deadline import Deadline
from ._options import Options, check_interval, check_timeout
from ._tally import Tally

__all__ = ["Settings"]


class Settings(Tally):
    """The settings of a loop, changed while it runs (see the module's docstring)."""

    # Every slot of a Loop but its counters (Tally's): a loop's state is one flat record,
    # here because a class's slots are on the class whose methods write them; Loop.__init__
    # fills them.
    __slots__ = (
        "_after",
        "_attention",
        "_beat",
        "_enabled",
        "_gated",
        "_interval",
        "_name",
        "_opts",
        "_paused",
        "_since",
        "_state",
        "_stop_requested",
        "_timer",
        "_waker",
    )
    _after: float | None
    _attention: bool
    _beat: float | None
    _enabled: bool
    _gated: bool
    _interval: float
    _name: str
    _opts: Options
    _paused: bool
    _since: float | None
    _state: State
    _stop_requested: bool
    _timer: asyncio.TimerHandle | Bucket | None
    _waker: asyncio.Future[None] | None

    @property
    def interval(self) -> float:
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        """Change the interval, also from inside ``run_once`` (adaptive loops).

        A loop sleeping its regular interval re-times that sleep from its last run's end.
        """
        self._interval = check_interval(value)
        self._attention = True
        if self._since is not None and (self._after is None or self._gated):
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
        self._attention = True  # the tick holds the deadline it runs with
        if deadline is None:
            if timeout is not None:
                self._extra_record().deadline = Deadline(timeout)
        elif timeout is None:
            deadline.close()
            self._extra_record().deadline = None
        else:
            deadline.timeout = timeout
            deadline.retime()

    @property
    def _deadline(self) -> Deadline | None:
        extra = self._extra
        return None if extra is None else extra.deadline

    @property
    def _backoff_s(self) -> float | None:
        """The backoff being waited after a failure (None: not in a backoff)."""
        extra = self._extra
        return None if extra is None else extra.backoff_s

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

    # -- mechanism ------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Wake the loop from a wait (it looks again at what it waits for)."""
        waker = self._waker
        if waker is not None and not waker.done():
            waker.set_result(None)

    def _set_state(self, new: State) -> None:
        if new not in ALLOWED[self._state]:
            raise InvalidTransition(f"loop {self._name!r}", self._state, new)
        self._state = new
