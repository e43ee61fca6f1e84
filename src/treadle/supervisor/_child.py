"""The runtime side of one child: :class:`Child`, its state, task, restarts and history.

A Child is a record its supervisor drives; it holds no policy. It moves itself through the
lifecycle (:meth:`Child.move`: the table's check, readiness, waiters) and reports each move
to its supervisor's events. It is the done-callback of its own task
(``task.add_done_callback(child)``) so no closure is allocated per start.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .._intensity import Intensity
from .._lifecycle import UP, State, check_transition
from .._runnable import GracefulStop, Runnable, implements
from ..health._health import Health, from_restarts, from_state, worst
from ..loop import ErrorInfo
from ._coroutine import CoroutineTarget
from ._events import ErrorText
from ._spec import ChildSpec, is_instance

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["CheckState", "Child", "ExitRecord", "Fault"]

_HISTORY = 20  # restarts remembered per child
DEFAULT_SHUTDOWN_TIMEOUT = 5.0  # OTP's default for workers


@dataclass(slots=True)
class CheckState:
    """Health checking of one run of a child (a record apart: most children have none)."""

    verdict: Health | None = None  # the last check's
    failures: int = 0  # unhealthy verdicts in a row
    running: bool = False
    next_at: float = 0.0  # perf_counter() when the next check is due


@dataclass(slots=True)
class Fault:
    """Why the supervisor itself is taking a child down (stuck, or unhealthy)."""

    reason: str
    stack: str | None
    deadline: float  # loop.time() by which the current step must have worked
    cancelled: bool  # False: asked to stop gracefully; True: cancelled


class ExitRecord:
    """How a child's task last ended, kept as data: its exception is formatted (traceback
    and all) only when somebody reads it (``status()``, an event), then let go."""

    __slots__ = ("_error", "_exc", "kind", "ts")

    def __init__(self, exc: BaseException | None, cancelled: bool) -> None:
        self.ts = time.time()
        self.kind = "cancelled" if cancelled else "error" if exc is not None else "normal"
        self._exc = exc
        self._error: dict[str, Any] | None = None

    def error(self) -> dict[str, Any] | None:
        """``ErrorInfo.as_dict()`` of the exception (stamped when it ended), or None."""
        exc, self._exc = self._exc, None
        if exc is not None:
            self._error = {**ErrorInfo.from_exception(exc).as_dict(), "ts": self.ts}
        return self._error

    def traceback(self) -> str | None:
        error = self.error()
        return None if error is None else str(error["traceback"])

    def as_dict(self) -> dict[str, Any]:
        return {"ts": self.ts, "kind": self.kind, "error": self.error()}


class Child:
    """One supervised child: its spec, where it is in the lifecycle, and what it went through."""

    __slots__ = (
        "attempt",
        "check",
        "degraded",
        "fault",
        "has_slot",
        "history",
        "intensity",
        "last_exit",
        "name",
        "ready",
        "restarts",
        "spec",
        "started_at",
        "state",
        "stop_reason",
        "sup",
        "target",
        "task",
        "timer",
        "waiters",
    )

    def __init__(self, sup: Supervisor, spec: ChildSpec, name: str) -> None:
        self.sup = sup
        self.spec = spec
        self.name = name
        self.state = State.PENDING
        self.target: Runnable | None = None
        if is_instance(spec.target):
            self.target = cast(Runnable, spec.target)
        self.task: asyncio.Task[None] | None = None
        self.timer: asyncio.Handle | None = None
        self.intensity: Intensity | None = None  # created on the first restart
        self.attempt = 0
        self.restarts = 0
        self.started_at: float | None = None  # the supervisor's clock when it last ran
        self.stop_reason: str | None = None  # set while a stop we asked for is under way
        self.last_exit: ExitRecord | None = None
        self.history: deque[dict[str, Any]] | None = None
        self.waiters: list[asyncio.Future[None]] | None = None
        self.ready = False  # running, and its first health check (if any) passed
        self.check: CheckState | None = None  # only for health-checked children
        self.fault: Fault | None = None  # why the supervisor is taking it down
        self.has_slot = False  # holds one of the supervisor's max_concurrent slots
        self.degraded = False  # paused by the supervisor under memory pressure

    def __call__(self, task: asyncio.Task[None]) -> None:
        """Done-callback of this child's task."""
        self.sup._child_done(self, task)

    def instantiate(self) -> Runnable:
        """The Runnable for this start: the shared instance, or a fresh one from the factory."""
        target = self.spec.target
        if is_instance(target):
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
        if self.state is State.STARTING:
            self.started_at = self.sup._clock()
            if self.spec.health_interval is not None:
                self.check = CheckState()  # due at once: readiness waits for it
            self.move(State.RUNNING, "started")
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
        check_transition(self.name, old, new)
        self.state = new
        if old in UP and new not in UP:
            self.set_ready(False)
        if self.waiters:  # waiters re-check their own condition on every step
            self.wake_waiters()
        self.sup._events.child_moved(self, old, new, reason, error, backoff_s)

    def set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            if ready:
                self.wake_waiters()

    def wake_waiters(self) -> None:
        waiters, self.waiters = self.waiters, None
        for fut in waiters or ():
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
