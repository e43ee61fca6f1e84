"""A manager's leases, kept: its own, and the fleet's leadership when it can get it.

Owns the loop that renews them (every third of the lease, on the broker thread), the
rules that follow from them, and what it says of them:

- Its own lease (``manager:TID``) makes its claims its own: when it runs out, any other
  manager takes them back (see ``_registry``). A manager that cannot renew it before it
  runs out stops (it may be cut off from the database; its tasks will run elsewhere):
  the fence that keeps a task from running twice at once.
- The leader lease makes one manager of the fleet the leader: ``is_leader()`` is true
  only before the lease's local deadline, so a leader cut off stops leading before
  anyone can take over. Each new leader gets a higher fencing token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from . import _leases
from ._leases import LEADER, Lease

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["Leasing"]

_log = logging.getLogger("treadle.manager")


class Leasing:
    """``manager``'s leases, ``seconds`` long; ``lead``: it takes part in the election."""

    def __init__(self, manager: Manager, seconds: float, lead: bool) -> None:
        self._manager = manager
        self.seconds = seconds
        self.lead = lead
        self.own: Lease | None = None
        self.leader: Lease | None = None
        self.leader_seen: tuple[int, int, float] | None = None  # holder, token, seconds left

    @property
    def every(self) -> float:
        return self.seconds / 3

    def is_leader(self) -> bool:
        lease = self.leader
        return lease is not None and time.monotonic() < lease.deadline

    async def start(self) -> None:
        """Take this manager's own lease (nobody else can hold it: the TID is unique)."""
        await self._renew()
        if self.own is None:
            raise RuntimeError(f"manager {self._manager.tid}: its lease is held elsewhere")

    async def run(self) -> None:
        """Renew until cancelled; stop the manager if its own lease runs out."""
        while True:
            await asyncio.sleep(self.every)
            try:
                async with asyncio.timeout(self.every):
                    await self._renew()
            except Exception as exc:  # noqa: BLE001 (the database may be gone: keep trying)
                _log.warning("manager %s: cannot renew its leases: %s", self._manager.tid, exc)
            self._note_leadership()
            if self.own is None or time.monotonic() >= self.own.deadline:
                self.own = None
                self._manager.fence("its lease ran out before it could renew it")
                return

    async def _renew(self) -> None:
        ab, tid = self._manager.ab, self._manager.tid
        own = await ab.call(_leases.acquire, ab.broker, _leases.manager(tid), tid, self.seconds)
        if own is not None:
            self.own = own
        if self.lead:
            lease = await ab.call(_leases.acquire, ab.broker, LEADER, tid, self.seconds)
            if lease is not None:
                if self.leader is None or lease.token != self.leader.token:
                    _log.warning(
                        "manager %s: leader, token %d, from monotonic %.6f",
                        tid,
                        lease.token,
                        time.monotonic(),
                    )
                self.leader = lease
        self.leader_seen = await ab.call(_leases.current, ab.broker, LEADER)

    def _note_leadership(self) -> None:
        lease = self.leader
        if lease is not None and time.monotonic() >= lease.deadline:
            _log.warning(
                "manager %s: no longer leader, token %d, from monotonic %.6f",
                self._manager.tid,
                lease.token,
                lease.deadline,
            )
            self.leader = None

    async def release(self) -> None:
        """Give both leases up (a clean exit: another leader need not wait them out)."""
        ab, tid = self._manager.ab, self._manager.tid
        if self.leader is not None:
            await ab.call(partial(_leases.release, ab.broker, LEADER, tid))
            self.leader = None
        await ab.call(partial(_leases.release, ab.broker, _leases.manager(tid), tid))

    def status(self) -> dict[str, Any]:
        seen = self.leader_seen
        own = self.own
        return {
            "lease_s": self.seconds,
            "lease_left_s": None if own is None else max(0.0, own.deadline - time.monotonic()),
            "is_leader": self.is_leader(),
            "leader": None if seen is None else {"tid": seen[0], "token": seen[1]},
        }
