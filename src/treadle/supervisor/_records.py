"""What a child's record holds besides its state: health checking, faults, exits, and the
rest of what only some children ever need.

Owns :class:`CheckState` (one run's health checks), :class:`Fault` (why the supervisor is
taking a child down), :class:`ExitRecord` (how its task last ended, formatted only when
read) and :class:`Rare`, the record a :class:`~treadle.supervisor._child.Child` makes the
first time it needs any of those things, with :class:`rare`, the attribute kept in it. An
idle child has none (80 bytes a child fewer). It decides nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from .._intensity import Intensity
from ..health._health import Health
from ..loop import ErrorInfo

if TYPE_CHECKING:
    from ._child import Child

__all__ = ["CheckState", "ExitRecord", "Fault", "Rare", "rare"]

_T = TypeVar("_T")


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


class Rare:
    """A child's rarely-needed state, made the first time it is set (see :class:`rare`)."""

    __slots__ = (
        "check",
        "degraded",
        "fault",
        "has_slot",
        "history",
        "intensity",
        "restarts",
        "timer",
        "waiters",
    )

    def __init__(self) -> None:
        self.timer: asyncio.Handle | None = None  # a restart scheduled
        self.intensity: Intensity | None = None  # created on the first restart
        self.restarts = 0
        self.history: deque[dict[str, Any]] | None = None
        self.waiters: list[asyncio.Future[None]] | None = None
        self.check: CheckState | None = None  # only for health-checked children
        self.fault: Fault | None = None  # why the supervisor is taking it down
        self.has_slot = False  # holds one of the supervisor's max_concurrent slots
        self.degraded = False  # paused by the supervisor under memory pressure


class rare(Generic[_T]):
    """A Child attribute kept in its :class:`Rare` record: ``default`` while there is none,
    which setting it to the default does not make."""

    __slots__ = ("default", "name")

    def __init__(self, default: _T) -> None:
        self.default = default
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, child: None, owner: type) -> rare[_T]: ...
    @overload
    def __get__(self, child: Child, owner: type) -> _T: ...
    def __get__(self, child: Child | None, owner: type) -> _T | rare[_T]:
        if child is None:
            return self
        more = child._rare
        value: _T = self.default if more is None else getattr(more, self.name)
        return value

    def __set__(self, child: Child, value: _T) -> None:
        more = child._rare
        if more is None:
            if value is self.default:
                return
            more = child._rare = Rare()
        setattr(more, self.name, value)
