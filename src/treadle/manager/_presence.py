"""A manager's presence in ``treadle.workers.registry``: :class:`Presence`.

Owns its record (the newest per manager wins; the one before is deleted) and the
heartbeat that republishes it when what it says has changed (its tasks, its leadership)
and, beside it, recovers the work of managers found dead (and, the leader, every few
minutes, forgets what nobody will read: :mod:`._tidy`): one job on the broker thread,
and no write at all while nothing changes. Its liveness is its lease, renewed by
``_leasing`` with one write each time (readers see that renewal as its heartbeat: see
``_registry.liveness``). A heartbeat the broker refuses is skipped: the lease decides how
long a manager may go on without one.
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
from . import _registry, _tidy
from ._leasing import until_beat

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["Presence"]

_log = logging.getLogger("treadle.manager")


class Presence:
    """``manager``'s record and heartbeat."""

    def __init__(self, manager: Manager) -> None:
        self._m = manager
        self.mid: int | None = None  # the message ID of its newest record
        self.published: WorkerRecord | None = None  # what that record says
        self._next_tidy = 0.0  # monotonic time of the next sweep (the leader's: _tidy)

    async def run(self) -> None:
        """Publish the record every ``heartbeat`` seconds (and recover dead peers) until
        the tree has stopped: a manager that takes long to stop it is still alive. Each
        heartbeat is one job on the broker thread."""
        ab = self._m.ab
        every = self._m.heartbeat
        while not self._m.stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(until_beat(every, self._m.tid)):  # as renewals
                    await self._m.stopped.wait()
            if self._m.stopped.is_set():
                return
            try:
                stopping = self._m.stopping.is_set()
                if not stopping and self._m.local is not None and not self._m.local.serving:
                    await self._m.local.start()  # the manager that held the address may be gone
                held = None if stopping else self._m.leasing.held_for()
                record = self._record("active")
                new = None if _same(record, self.published) else record  # None: no write
                look = not stopping and not ab.native
                sweep = held is not None and self._m.is_leader() and self._tidy_due()
                found, waiting = await ab.call(self._beat_io, new, held, look, sweep)
            except Exception as exc:  # noqa: BLE001 (the broker failed: the lease decides)
                _log.warning("manager %s: no heartbeat: %s", self._m.tid, exc)
                continue
            if found:
                _log.warning("recovered from dead managers: %s", found)
                self._m.claimer.rescan()  # requests put back under their old IDs
            if found or waiting:
                ab.poke()

    async def publish(self, status: str) -> None:
        await self._m.ab.call(self._publish_io, self._record(status))

    def _record(self, status: str) -> WorkerRecord:
        return WorkerRecord.model_validate(
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
                "heartbeat_at": time.time(),
                "heartbeat_interval": self._m.heartbeat,
                "tasks": len(self._m.runners),
                "socket": self._m.nudge.address if self._m.nudge is not None else None,
                "project": None if self._m.hosted is None else self._m.hosted.source,
                "leader": self._m.is_leader(),
                "lease_s": self._m.leasing.seconds,
                "name": "" if self._m.hosted is None else self._m.hosted.name,
            }
        )

    def _tidy_due(self) -> bool:
        now = time.monotonic()
        if now < self._next_tidy:
            return False
        self._next_tidy = now + _tidy.EVERY
        return True

    def _beat_io(
        self, record: WorkerRecord | None, held: float | None, look: bool, sweep: bool = False
    ) -> tuple[list[_registry.Recovered], bool]:
        """Broker thread, one heartbeat: publish ``record`` (if any); unless stopping
        (``held`` None), recover the dead (see :func:`_registry.recover`); with ``sweep``,
        forget what nobody will read (:func:`_tidy.tidy`); with ``look``, whether work or
        control waits that nobody nudged this manager about (see :meth:`Manager.look_io`).
        Returns who was recovered, and that."""
        if record is not None:
            self._publish_io(record)
        found: list[_registry.Recovered] = []
        if held is not None:
            broker, state_dir = self._m.ab.broker, str(self._m.state_dir)
            found = _registry.recover(broker, self._m.tid, state_dir, held)
        if sweep:
            # A sweep that fails (the broker refused) waits for the next: the beat goes on.
            try:
                _tidy.tidy(self._m.ab.broker, time.time())
            except Exception as exc:  # noqa: BLE001
                _log.warning("manager %s: no tidying: %s", self._m.tid, exc)
        return found, look and self._m.look_io()

    def _publish_io(self, record: WorkerRecord) -> None:
        """Broker thread: write ``record``, then delete the one it replaces."""
        broker = self._m.ab.broker
        mid = broker.write(q.REGISTRY, record)
        previous, self.mid, self.published = self.mid, mid, record
        if previous is not None:
            broker.delete(q.REGISTRY, previous)


def _same(record: WorkerRecord, published: WorkerRecord | None) -> bool:
    """Whether ``record`` says what ``published`` says, but for when it was made."""
    if published is None:
        return False
    return record.model_copy(update={"heartbeat_at": published.heartbeat_at}) == published
