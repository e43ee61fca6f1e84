"""A supervisor's event plumbing: where its transitions go, and who waits on them.

Owns :class:`Events`, one per supervisor: the tree's path and its bus (made on first use,
a nested supervisor shares its parent's), the count of children up and the waiters for
"all running", and the publishing of each transition: to an ``on_transition`` observer, to
the bus (``lifecycle.<path>``) and to the ``treadle.lifecycle`` log, each only if someone
listens. It also carries health verdicts and the watchdog's reports to the bus.

It does not decide anything: which transitions happen is for restarts, shutdown and the
operator's operations; a child records its own state (:meth:`Child.move`) and the
supervisor its own (``Supervisor._set_state``). Both report here after the move.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Sized
from typing import TYPE_CHECKING, Final

from .._lifecycle import UP, State, Transition, lifecycle_logging_enabled, log_transition
from ..bus import Bus
from ..health._health import Health
from ..health._watchdog import BlockReport

if TYPE_CHECKING:
    from ._child import Child

__all__ = ["ErrorText", "Events"]

_log = logging.getLogger("treadle.supervisor")

_logging: Final = lifecycle_logging_enabled
_ALWAYS_LOGGED: Final = frozenset({State.FAILED, State.GIVEN_UP})  # ChildSpec(log=False) too

ErrorText = str | Callable[[], str | None] | None
"""A transition's error: text, or a callable made into text only if someone reads it."""


class Events:
    """The event plumbing of one supervisor (see the module's docstring)."""

    __slots__ = ("_all_waiters", "_bus", "_children", "_held", "path", "up")

    def __init__(self, path: str, bus: Bus | None, children: Sized, held: Collection[str]):
        self.path = path
        self._bus = bus
        self._children = children  # the supervisor's own dict and set, read for "all"
        self._held = held
        self.up = 0  # children running or paused
        self._all_waiters: list[asyncio.Future[None]] = []

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            self._bus = Bus()
        return self._bus

    def nest(self, path: str, bus: Bus) -> None:
        """The supervisor is nested in another's tree: its path there, and its parent's bus
        unless it was given one of its own."""
        self.path = path
        if self._bus is None:
            self._bus = bus

    # -- the children up ------------------------------------------------------------------

    def all_up(self) -> bool:
        """Every child that is meant to run (not held stopped by an operator) is up."""
        return self.up >= len(self._children) - len(self._held)

    async def wait_all_up(self) -> None:
        """Wait until :meth:`all_up`, or until :meth:`release` (the supervisor is done)."""
        while not self.all_up():
            fut = asyncio.get_running_loop().create_future()
            self._all_waiters.append(fut)
            await fut

    def release(self) -> None:
        """Wake whoever waits for "all up": it holds now, or nobody should wait any more."""
        waiters, self._all_waiters = self._all_waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    # -- transitions ----------------------------------------------------------------------

    def child_moved(
        self,
        child: Child,
        old: State,
        new: State,
        reason: str,
        error: ErrorText = None,
        backoff_s: float | None = None,
    ) -> None:
        """``child`` has moved from ``old`` to ``new``: count it, and tell who listens."""
        if new in UP:
            if old not in UP:
                self.up += 1
                if self._all_waiters and self.all_up():
                    self.release()
        elif old in UP:
            self.up -= 1
        spec = child.spec
        observer = spec.on_transition
        quiet = not spec.log and new not in _ALWAYS_LOGGED
        bus = self._bus
        unheard = bus is None or not bus.has_subscribers
        if unheard and observer is None and (quiet or not _logging()):
            return  # nobody listens (emit would say so too: this is the common case, faster)
        self.emit(child.name, old, new, reason, child.attempt, backoff_s, error, quiet, observer)

    def emit(
        self,
        name: str | None,
        old: State,
        new: State,
        reason: str,
        attempt: int = 0,
        backoff_s: float | None = None,
        error: ErrorText = None,
        quiet: bool = False,
        observer: Callable[[Transition], None] | None = None,
    ) -> None:
        """Publish one transition of the child ``name`` (None: the supervisor's own) to
        ``observer``, the bus and the log, each if it listens."""
        bus = self._bus
        to_log = not quiet and _logging()
        if not (to_log or observer or (bus is not None and bus.has_subscribers)):
            return  # nobody listens: a transition costs a table lookup and a few tests
        path = self.path if name is None else f"{self.path}.{name}"
        topic = f"lifecycle.{path}"
        to_bus = bus is not None and bus.listens(topic)
        if not (to_bus or to_log or observer):
            return  # the bus's subscribers listen to other things
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
            bus.publish_nowait(topic, t)
        if to_log:
            log_transition(t)

    # -- health ---------------------------------------------------------------------------

    def health(self, child: Child, verdict: Health) -> None:
        """A health check's verdict on ``child`` changed: wake its waiters, tell the bus."""
        if child.waiters:
            child.wake_waiters()
        bus = self._bus
        if bus is not None and bus.has_subscribers:
            bus.publish_nowait(f"health.{self.path}.{child.name}", verdict)

    def blocked(self, loop: asyncio.AbstractEventLoop | None, report: BlockReport) -> None:
        """The watchdog's report: it comes from the watcher thread, so hop onto the loop."""
        if loop is not None and not loop.is_closed():
            topic = f"health.{self.path}.blocked"
            loop.call_soon_threadsafe(self.bus.publish_nowait, topic, report)
