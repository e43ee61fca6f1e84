"""The contract between a supervisor and what it runs.

Owns :class:`Runnable`, the protocol every supervised target speaks (loops, supervisors, and
later process children), so the supervisor never dispatches on concrete types. It does not
own restart policy (the supervisor) nor the targets themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

__all__ = ["GracefulStop", "Runnable", "implements"]


@runtime_checkable
class Runnable(Protocol):
    """Something a supervisor can start, stop, pause and observe.

    ``run(started)`` runs until the target is done: it returns on a normal exit (including
    after ``request_stop()``), raises on failure, and calls ``started()`` exactly once, when
    it is ready for dependants (trio's ``task_status.started()``). ``request_stop()`` asks for
    a graceful stop and returns at once; the supervisor cancels the task if the target is not
    done by its ``shutdown_timeout``.
    """

    @property
    def name(self) -> str: ...

    async def run(self, started: Callable[[], None]) -> None: ...

    def request_stop(self) -> None: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def status(self) -> dict[str, Any]: ...


@runtime_checkable
class GracefulStop(Protocol):
    """A target that knows how long its graceful stop may take (a process: its
    ``stop_timeout``; a supervisor: as long as its own children need, OTP's ``infinity``).
    It is what a child's ``shutdown_timeout`` defaults to."""

    @property
    def stop_grace(self) -> float: ...


_IMPLEMENTS: dict[type, dict[type, bool]] = {}


def implements(obj: object, protocol: type) -> bool:
    """``isinstance(obj, protocol)`` for a runtime-checkable Protocol, cached per class.

    The stdlib check costs ~30 us (it walks the protocol's members every time); the members
    live on the class, so one answer per class will do. A class object itself never counts.
    """
    cls = type(obj)
    known = _IMPLEMENTS.get(protocol, {}).get(cls)
    if known is None:
        known = not issubclass(cls, type) and isinstance(obj, protocol)
        _IMPLEMENTS.setdefault(protocol, {})[cls] = known
    return known
