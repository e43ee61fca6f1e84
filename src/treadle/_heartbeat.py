"""``treadle.beat()``: a heartbeat from inside any supervised code, loop or coroutine.

Owns the context variable that names the heartbeat of the code running in this task. A Loop
beats on every iteration by itself (and ``self.beat()`` inside a long ``run_once``); a plain
coroutine child with a ``heartbeat_timeout`` calls :func:`beat` to say it is still making
progress. Loops do not set the variable: a context of its own costs every loop task ~250 bytes.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

__all__ = ["Beating", "beat", "current_beat"]


class Beating(Protocol):
    def beat(self) -> None: ...


current_beat: ContextVar[Beating | None] = ContextVar("treadle_beat", default=None)


def beat() -> None:
    """Record progress for the supervised child running this code (no-op elsewhere)."""
    target = current_beat.get()
    if target is not None:
        target.beat()
