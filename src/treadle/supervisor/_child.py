"""The runtime side of one child: :class:`Child`, its state, task, restarts and history.

A Child is a record its supervisor drives; it holds no policy. It moves itself through the
lifecycle (:meth:`Child.move`: the table's check, readiness, waiters) and reports each move
to its supervisor's events. It is the done-callback of its own task
(``task.add_done_callback(child)``) so no closure is allocated per start. It does not decide
whether it restarts (``_restarts``) nor how it is stopped (``_shutdown``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, cast

from .._exceptions import InvalidTransition
from .._intensity import Intensity
from .._lifecycle import ALLOWED, PENDING, RUNNING, STARTING, UP, State
from .._runnable import GracefulStop, Runnable, implements
from ..health._health import Health, from_restarts, from_state, worst
from ._coroutine import CoroutineTarget
from ._events import ErrorText
from ._records import CheckState, ExitRecord, Fault, Rare, rare
from ._spec import ChildSpec, is_instance

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["Child"]

_HISTORY = 20  # restarts remembered per child
DEFAULT_SHUTDOWN_TIMEOUT = 5.0  # OTP's default for workers
# Children that start within this many seconds of each other share one start time: a tree
# of 100,000 starts them in bursts, and an uptime needs no finer grain than a millisecond.
_SAME_START = 0.001


class Child:
    """One supervised child: its spec, where it is in the lifecycle, and what it went through."""

    __slots__ = (
        "_rare",
        "attempt",
        "last_exit",
        "name",
        "ready",
        "spec",
        "started_at",
        "state",
        "stop_reason",
        "sup",
        "target",
        "task",
    )

    # What only some children ever need lives in a record made on first use (see Rare).
    timer = rare[asyncio.Handle | None](None)
    intensity = rare[Intensity | None](None)
    restarts = rare(0)
    history = rare[deque[dict[str, Any]] | None](None)
    waiters = rare[list[asyncio.Future[None]] | None](None)
    check = rare[CheckState | None](None)
    fault = rare[Fault | None](None)
    has_slot = rare(False)
    degraded = rare(False)

    def __init__(self, sup: Supervisor, spec: ChildSpec, name: str) -> None:
        self.sup = sup
        self.spec = spec
        self.name = name
        self.state = PENDING
        self.target: Runnable | None = None
        if is_instance(spec.target):
            self.target = cast(Runnable, spec.target)
        self.task: asyncio.Task[None] | None = None
        self.attempt = 0  # restarts since it last ran long enough (its backoff's count)
        self.started_at: float | None = None  # the supervisor's clock when it last ran
        self.ready = False  # running, and its first health check (if any) passed
        self.stop_reason: str | None = None  # set while a stop we asked for is under way
        self.last_exit: ExitRecord | None = None
        self._rare: Rare | None = None

    def __call__(self, task: asyncio.Task[None]) -> None:
        """Done-callback of this child's task."""
        self.sup._child_done(self, task)

    def instantiate(self) -> Runnable:
        """The Runnable for this start: the shared instance, or a fresh one from the factory."""
        target = self.spec.target
        if target is self.target or is_instance(target):  # the first test: restarted in place
            return cast(Runnable, target)
        made = cast(Callable[[], object], target)()
        if is_instance(made):
            return cast(Runnable, made)
        if not isinstance(made, Awaitable):
            raise TypeError(
                f"child {self.name!r}: factory returned {type(made).__name__}, "
                "not a coroutine or a Runnable"
            )
        return CoroutineTarget(self.name, made)

    @property
    def pausable(self) -> bool:
        """Has a target that can pause (a loop, a process, a supervisor; not a coroutine)."""
        return self.target is not None and not isinstance(self.target, CoroutineTarget)

    def shutdown_timeout(self) -> float:
        """How long a graceful stop may take: the spec's, else the target's, else 5 s."""
        if self.spec.shutdown_timeout is not None:
            return self.spec.shutdown_timeout
        target = self.target if self.target is not None else self.spec.target
        if implements(target, GracefulStop):
            return cast(GracefulStop, target).stop_grace
        return DEFAULT_SHUTDOWN_TIMEOUT

    def started(self) -> None:
        """Called by the target once it is ready (see Runnable.run)."""
        if self.state is STARTING:
            sup = self.sup
            now = sup._clock()
            if 0.0 <= now - sup._last_start < _SAME_START:  # started together: one float
                now = sup._last_start
            else:
                sup._last_start = now
            self.started_at = now
            if self.spec.health_interval is not None:
                self.check = CheckState()  # due at once: readiness waits for it
            self.move(RUNNING, "started")
            if self.spec.health_interval is None:
                self.set_ready(True)

    def move(
        self,
        new: State,
        reason: str = "",
        *,
        error: ErrorText = None,
        backoff_s: float | None = None,
    ) -> None:
        """Move to ``new`` (the lifecycle's table says whether it may) and report it to the
        supervisor's events; ``error`` may be a callable, called only if someone listens."""
        old = self.state
        if new not in ALLOWED[old]:
            raise InvalidTransition(self.name, old, new)
        self.state = new
        if old in UP and new not in UP:
            self.set_ready(False)
        rare = self._rare
        if rare is not None and rare.waiters:  # they re-check their condition on every step
            self.wake_waiters()
        self.sup._events.child_moved(self, old, new, reason, error, backoff_s)

    def starting(self) -> None:
        """A start (or restart) begins: no stop nor fault of before holds."""
        self.stop_reason = None
        rare = self._rare
        if rare is not None:
            rare.fault = None

    def cancel_restart(self) -> None:
        """A restart was scheduled: it will not happen (or it is happening: forget it)."""
        rare = self._rare
        if rare is not None and rare.timer is not None:
            rare.timer.cancel()
            rare.timer = None

    def set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            if ready:
                self.wake_waiters()

    def wake_waiters(self) -> None:
        rare = self._rare
        if rare is None or rare.waiters is None:
            return
        waiters, rare.waiters = rare.waiters, None
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def wait_running(self) -> None:
        await self.wait_until(lambda: self.state in UP)

    async def wait_ready(self) -> None:
        await self.wait_until(lambda: self.ready)

    async def wait_until(self, predicate: Callable[[], bool]) -> None:
        """Wait until ``predicate()``; waiters are woken on every step towards readiness."""
        while not predicate():
            fut = asyncio.get_running_loop().create_future()
            if self.waiters is None:
                self.waiters = []
            self.waiters.append(fut)
            await fut

    def record_exit(self, exc: BaseException | None, cancelled: bool) -> ExitRecord:
        self.last_exit = ExitRecord(exc, cancelled)
        return self.last_exit

    def record_restart(self, reason: str, backoff_s: float) -> None:
        self.restarts += 1
        if self.history is None:
            self.history = deque(maxlen=_HISTORY)
        self.history.append(
            {"ts": time.time(), "attempt": self.attempt, "reason": reason, "backoff_s": backoff_s}
        )

    def current_health(self) -> Health:
        """The state's verdict, made worse by recent restarts (crash-looping) and by the
        last check's, if any."""
        by_state = from_state(self.state)
        if self.history and self.state in UP:
            by_state = worst(by_state, from_restarts((h["ts"] for h in self.history), time.time()))
        verdict = self.check.verdict if self.check is not None else None
        if verdict is None or self.state not in UP:
            return by_state
        return worst(verdict, by_state)  # on a tie the check's reason says more

    def status(self) -> dict[str, Any]:
        uptime = None
        if self.started_at is not None and self.state in UP:
            uptime = self.sup._clock() - self.started_at
        return {
            "name": self.name,
            "state": self.state.value,
            "restart": self.spec.restart.value,
            "attempt": self.attempt,
            "restarts": self.restarts,
            "uptime_s": uptime,
            "depends_on": list(self.spec.depends_on),
            "priority": self.spec.priority,
            "last_exit": self.last_exit and self.last_exit.as_dict(),
            "history": list(self.history or ()),
            "ready": self.ready,
            "health": self.current_health().as_dict(),
            "degraded": self.degraded,
            "target": self.target.status() if self.target is not None else None,
        }

    def __repr__(self) -> str:
        return f"<Child {self.name!r} {self.state.value}>"
