"""The queue names of the task protocol, in one place (see ARCHITECTURE.md)."""

from __future__ import annotations

__all__ = [
    "DEADLETTER",
    "REGISTRY",
    "SPAWN",
    "TASK_LOG",
    "ctrl_in",
    "ctrl_out",
    "inbox",
    "outbox",
    "reserved",
    "running",
]

SPAWN = "treadle.spawn.requests"  # TaskSpecs, consumed by any manager
TASK_LOG = "treadle.tasks.log"  # lifecycle events of every task, append-only
REGISTRY = "treadle.workers.registry"  # manager records, with heartbeats
DEADLETTER = "treadle.deadletter"  # what failed validation, with the error


def inbox(tid: int) -> str:
    return f"T{tid}.inbox"


def outbox(tid: int) -> str:
    return f"T{tid}.outbox"


def ctrl_in(tid: int) -> str:
    return f"T{tid}.ctrl_in"


def ctrl_out(tid: int) -> str:
    return f"T{tid}.ctrl_out"


def reserved(manager: int) -> str:
    """Spawn requests a manager claimed and has not started yet."""
    return f"T{manager}.reserved"


def running(manager: int) -> str:
    """The specs of the tasks a manager started and that have not ended."""
    return f"T{manager}.running"
