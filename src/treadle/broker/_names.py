"""The queue names of the task protocol, in one place (see ARCHITECTURE.md)."""

from __future__ import annotations

__all__ = [
    "DEADLETTER",
    "RECEIPTS",
    "REGISTRY",
    "SPAWN",
    "TASK_LOG",
    "ctrl_in",
    "ctrl_out",
    "inbox",
    "outbox",
    "reserved",
]

SPAWN = "treadle.spawn.requests"  # TaskSpecs, consumed by any manager
TASK_LOG = "treadle.tasks.log"  # lifecycle events of every task, append-only
REGISTRY = "treadle.workers.registry"  # manager records, with heartbeats
DEADLETTER = "treadle.deadletter"  # what failed validation, with the error
RECEIPTS = "treadle.submit.receipts"  # requests offered locally: who wrote each, once


def inbox(tid: int) -> str:
    return f"T{tid}.inbox"


def outbox(tid: int) -> str:
    return f"T{tid}.outbox"


def ctrl_in(tid: int) -> str:
    return f"T{tid}.ctrl_in"


def ctrl_out(tid: int) -> str:
    return f"T{tid}.ctrl_out"


def reserved(manager: int) -> str:
    """Spawn requests a manager claimed, until their tasks end (whether one started, the
    task log says)."""
    return f"T{manager}.reserved"
