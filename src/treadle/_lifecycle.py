"""The lifecycle of every supervised thing: one enum, one transitions table.

Owns :class:`State`, the table of allowed moves, and :class:`Transition`, the record of one
move that is published on the bus and logged as one structured line. It does not own who
moves (loops and supervisors do) nor where transitions go (the bus).

    pending → starting → running ⇄ paused
    running | paused → stopping → stopped | failed
    starting | running | paused → failed | stopped      (a crash, or a normal exit)
    failed | stopped → backoff → starting; failed | stopped → starting   (restarts)
    any → given_up;  given_up → starting                 (an operator's explicit restart)
"""

from __future__ import annotations

import enum
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ._exceptions import InvalidTransition

__all__ = [
    "ALLOWED",
    "BACKOFF",
    "ENDED",
    "FAILED",
    "GIVEN_UP",
    "PAUSED",
    "PENDING",
    "RUNNING",
    "STARTING",
    "STOPPED",
    "STOPPING",
    "UP",
    "State",
    "Transition",
    "check_transition",
    "log_transition",
]


class State(enum.StrEnum):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"
    BACKOFF = "backoff"
    GIVEN_UP = "given_up"


# Each state as a name of its own, for the hot paths (a tick's, a child's start and stop):
# on CPython 3.11, ``State.RUNNING`` is an unspecialised lookup on the enum's class (~70 ns),
# a module global ~10 ns.
PENDING: Final = State.PENDING
STARTING: Final = State.STARTING
RUNNING: Final = State.RUNNING
PAUSED: Final = State.PAUSED
STOPPING: Final = State.STOPPING
STOPPED: Final = State.STOPPED
FAILED: Final = State.FAILED
BACKOFF: Final = State.BACKOFF
GIVEN_UP: Final = State.GIVEN_UP

_S = State
_TRANSITIONS: Final[dict[State, frozenset[State]]] = {
    _S.PENDING: frozenset({_S.STARTING, _S.STOPPED}),
    _S.STARTING: frozenset({_S.RUNNING, _S.STOPPING, _S.STOPPED, _S.FAILED}),
    _S.RUNNING: frozenset({_S.PAUSED, _S.STOPPING, _S.STOPPED, _S.FAILED}),
    _S.PAUSED: frozenset({_S.RUNNING, _S.STOPPING, _S.STOPPED, _S.FAILED}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILED}),
    _S.STOPPED: frozenset({_S.STARTING, _S.BACKOFF, _S.PENDING}),
    _S.FAILED: frozenset({_S.BACKOFF, _S.STARTING, _S.STOPPED, _S.PENDING}),
    _S.BACKOFF: frozenset({_S.STARTING, _S.PENDING, _S.STOPPED}),
    _S.GIVEN_UP: frozenset({_S.STARTING, _S.PENDING, _S.STOPPED}),
}
# Any state may give up (a supervisor abandoning a child), except giving up twice.
for _state, _targets in _TRANSITIONS.items():
    if _state is not _S.GIVEN_UP:
        _TRANSITIONS[_state] = _targets | {_S.GIVEN_UP}

UP: Final = frozenset({_S.RUNNING, _S.PAUSED})
"""Started and not yet stopping: what 'running' means to dependants and to status."""

ENDED: Final = frozenset({_S.STOPPED, _S.FAILED, _S.GIVEN_UP})
"""States with no task behind them and nothing more to stop."""


ALLOWED: Final = _TRANSITIONS
"""The table itself, for hot paths that check a move inline (and name the owner, a
formatted string, only when it fails): read it, never write it."""


def check_transition(owner: str, current: State, target: State) -> None:
    """Raise :class:`InvalidTransition` unless the table allows ``current → target``."""
    if target not in _TRANSITIONS[current]:
        raise InvalidTransition(owner, current, target)


@dataclass(frozen=True, slots=True)
class Transition:
    """One lifecycle move: what the bus carries and the log line says."""

    ts: float
    name: str
    from_: State
    to: State
    reason: str = ""
    attempt: int = 0
    backoff_s: float | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "name": self.name,
            "from": self.from_.value,
            "to": self.to.value,
            "reason": self.reason,
            "attempt": self.attempt,
            "backoff_s": self.backoff_s,
            "error": self.error,
        }


_log = logging.getLogger("treadle.lifecycle")


# Whether the ``treadle.lifecycle`` log takes a transition's line (INFO) now: asked on
# every transition, so the logger's own method, bound to its level (no frame of ours).
lifecycle_logging_enabled: Final[Callable[[], bool]] = functools.partial(
    _log.isEnabledFor, logging.INFO
)


def log_transition(t: Transition) -> None:
    """Write one structured line (JSON) for ``t``; the dict also rides in ``extra``."""
    data = t.as_dict()
    level = logging.WARNING if t.to in (State.FAILED, State.GIVEN_UP) else logging.INFO
    _log.log(level, "%s", json.dumps(data, separators=(",", ":")), extra={"treadle": data})
