"""A manager's presence in ``treadle.workers.registry``: :class:`Presence`.

Owns its record (the newest per manager wins; the one before is deleted) and the
heartbeat that republishes it and, beside it, recovers the work of managers found dead.
A heartbeat the broker refuses is skipped: the lease (``_leasing``) decides how long a
manager may go on without one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import TYPE_CHECKING

from ..broker import WorkerRecord
from ..broker import names as q
from . import _registry

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["Presence"]

_log = logging.getLogger("treadle.manager")


class Presence:
    """``manager``'s record and heartbeat."""

    def __init__(self, manager: Manager) -> None:
        self._m = manager
        self.mid: int | None = None  # the message ID of its newest record

    async def run(self) -> None:
        """Publish the record every ``heartbeat`` seconds (and recover dead peers) until
        the tree has stopped: a manager that takes long to stop it is still alive."""
        ab = self._m.ab
        while not self._m.stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._m.heartbeat):
                    await self._m.stopped.wait()
            if self._m.stopped.is_set():
                return
            try:
                await self.publish("active")
                if self._m.stopping.is_set():
                    continue
                if self._m.local is not None and not self._m.local.serving:
                    await self._m.local.start()  # the manager that held the address may be gone
                state_dir = str(self._m.state_dir)
                held = self._m.leasing.held_for()
                found = await ab.call(_registry.recover, ab.broker, self._m.tid, state_dir, held)
            except Exception as exc:  # noqa: BLE001 (the broker failed: the lease decides)
                _log.warning("manager %s: no heartbeat: %s", self._m.tid, exc)
                continue
            if found:
                _log.warning("recovered from dead managers: %s", found)
                self._m.claimer.rescan()  # requests put back under their old IDs
                ab.poke()

    async def publish(self, status: str) -> None:
        now = time.time()
        record = WorkerRecord.model_validate(
            {
                "tid": self._m.tid,
                "status": status,
                "pid": os.getpid(),
                "host": _registry.HOST,
                "queues": {
                    "ctrl_in": q.ctrl_in(self._m.tid),
                    "ctrl_out": q.ctrl_out(self._m.tid),
                    "reserved": q.reserved(self._m.tid),
                },
                "capabilities": self._m.capabilities,
                "started_at": self._m.started_at,
                "heartbeat_at": now,
                "heartbeat_interval": self._m.heartbeat,
                "tasks": len(self._m.runners),
                "socket": self._m.nudge.address if self._m.nudge is not None else None,
                "project": None if self._m.hosted is None else self._m.hosted.source,
                "leader": self._m.is_leader(),
                "lease_s": self._m.leasing.seconds,
                "name": "" if self._m.hosted is None else self._m.hosted.name,
            }
        )
        self.mid = await self._m.ab.call(self._publish_io, record, self.mid)

    def _publish_io(self, record: WorkerRecord, previous: int | None) -> int:
        broker = self._m.ab.broker
        mid = broker.write(q.REGISTRY, record)
        if previous is not None:
            broker.delete(q.REGISTRY, previous)
        return mid
