"""A manager's leases, kept: its own, and the fleet's leadership when it can get it.

Owns the loop that renews them (every third of the lease, on a broker connection and
thread of its own, on the beat it shares with the heartbeat: :func:`until_beat`), the
rules that follow from them, and what it says of them:

- Its own lease (``manager:TID``) makes its claims its own: when it runs out, any other
  manager may seize it (moving its token on) and take them back (see ``_registry``). It
  is renewed with the token it holds, so once seized the database refuses it: the
  manager fences itself (stops its tasks, writes nothing more). A manager that cannot
  reach the database before its lease runs out fences itself too (it may be cut off;
  its tasks will run elsewhere), except when the database is a local SQLite file that
  refuses every writer (a full disk, a read-only file): nobody can take its tasks over
  then, so they go on, and it renews as soon as the file takes writes again.
- Every write of the task protocol checks the lease first (:meth:`Leasing.check`, on
  the broker thread, just before the write): a manager frozen past its lease and thawed
  writes nothing until it has renewed, or fenced itself.
- The leader lease makes one manager of the fleet the leader: ``is_leader()`` is true
  only before the lease's local deadline, so a leader cut off stops leading before
  anyone can take over. Each new leader gets a higher fencing token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from .._exceptions import TreadleError
from ..broker import AsyncBroker, Broker
from . import _leases
from ._leases import LEADER, Lease

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["LeaseLapsed", "Leasing", "refused_by_everyone", "until_beat"]

_log = logging.getLogger("treadle.manager")
_RETRY = 0.2  # seconds between renewals once the lease has run out on a refusing file
# what SQLite says when it refuses every writer, not just this one
_REFUSALS = ("full", "readonly", "read-only", "disk i/o", "no space")


def until_beat(every: float, tid: int) -> float:
    """Seconds until manager ``tid``'s next beat of period ``every``: on a grid of the
    monotonic clock, shifted by a phase of its own. The heartbeat and the lease renewals
    of one manager, of the same period (the default), fall due together and wake it
    once; those of several managers do not all write at the same instant."""
    phase = (tid % 997) / 997 * every
    return every - (time.monotonic() - phase) % every


class LeaseLapsed(TreadleError):
    """This manager's lease ran out: it may not write the task protocol until renewed."""


def refused_by_everyone(kind: str, exc: BaseException) -> bool:
    """Whether ``exc`` is a local SQLite file refusing writes (to every process alike)."""
    return kind == "sqlite" and any(word in str(exc).lower() for word in _REFUSALS)


class Leasing:
    """``manager``'s leases, ``seconds`` long; ``lead``: it takes part in the election."""

    def __init__(self, manager: Manager, seconds: float, lead: bool) -> None:
        self._manager = manager
        self.seconds = seconds
        self.lead = lead
        self.own: Lease | None = None
        self.leader: Lease | None = None
        self.leader_seen: tuple[int, int, float] | None = None  # holder, token, seconds left
        self.held_since: float | None = None  # monotonic: valid without a gap since then
        self.refused = False  # the broker file refuses every writer: the tasks go on
        self.on_deadline: Callable[[float], None] | None = None  # told how long tasks may run
        self._lane: AsyncBroker | None = None  # a connection of its own: see start()

    @property
    def every(self) -> float:
        return self.seconds / 3

    def is_leader(self) -> bool:
        lease = self.leader
        return lease is not None and time.monotonic() < lease.deadline

    def valid(self) -> bool:
        """Whether this manager may act on its claims now (any thread)."""
        own = self.own
        return own is not None and time.monotonic() < own.deadline

    def check(self) -> None:
        """Raise :class:`LeaseLapsed` unless :meth:`valid` (any thread: the broker
        thread calls it right before each write of the task protocol)."""
        if not self.valid():
            raise LeaseLapsed(f"manager {self._manager.tid}: its lease has run out")

    def held_for(self) -> float:
        """Seconds this manager has held its lease without a gap (0 if it does not now):
        a recoverer takes a lease over only after holding its own for longer than that
        lease, so that a manager back from a refusing file renews before anyone acts."""
        if self.held_since is None or not self.valid():
            return 0.0
        return time.monotonic() - self.held_since

    @property
    def lane(self) -> AsyncBroker:
        assert self._lane is not None, "leasing not started"
        return self._lane

    async def start(self) -> None:
        """Take this manager's own lease (nobody else can hold it: the TID is unique).

        Leases go through a broker connection (and thread) of their own: a renewal that
        waited behind a busy manager's writes of output and results would let its lease
        run out while it is alive and well, and the watchdog kill its tasks."""
        if self._lane is None:
            self._lane = AsyncBroker(Broker(self._manager.url))
        ab, tid = self.lane, self._manager.tid
        own = await ab.call(_leases.acquire, ab.broker, _leases.manager(tid), tid, self.seconds)
        if own is None:
            raise RuntimeError(f"manager {self._manager.tid}: its lease is held elsewhere")
        self._renewed(own)
        await self._lead()

    async def run(self) -> None:
        """Renew until cancelled; fence the manager once its own lease is lost."""
        while True:
            beat = until_beat(self.every, self._manager.tid)  # with the heartbeat (_presence)
            await asyncio.sleep(_RETRY if self.refused else beat)
            failure: BaseException | None = None
            own = self.own
            # a slow renewal still counts while the lease lasts: wait for it until then
            patience = max(self.every, 0.0 if own is None else own.deadline - time.monotonic())
            try:
                async with asyncio.timeout(patience):
                    await self._renew()
            except Exception as exc:  # noqa: BLE001 (the database may be gone: keep trying)
                failure = exc
                _log.warning("manager %s: cannot renew its leases: %s", self._manager.tid, exc)
            self._note_leadership()
            if self.own is None:
                self._manager.fence("its lease was taken over: another manager owns its tasks")
                return
            if failure is None:
                continue
            if refused_by_everyone(self._manager.url.kind, failure):
                if not self.refused:
                    _log.error(
                        "manager %s: the broker refuses writes (%s): its tasks go on, and it "
                        "renews its lease once the broker takes writes again",
                        self._manager.tid,
                        failure,
                    )
                self.refused = True
                if time.monotonic() >= self.own.deadline:
                    self.held_since = None
                # Nobody can take its tasks over while nobody can write: they go on (the
                # watchdog's deadline moved on, bounded: a manager frozen now still fences)
                self._tell(self.seconds / 2)
                continue
            if time.monotonic() < self.own.deadline:
                continue
            self.own = None
            self._manager.fence("its lease ran out before it could renew it")
            return

    def _renewed(self, own: Lease) -> None:
        if self.held_since is None or self.own is None or time.monotonic() >= self.own.deadline:
            self.held_since = time.monotonic()
        self.own = own
        self.refused = False
        self._tell(own.deadline - time.monotonic())

    def _tell(self, seconds: float) -> None:
        if self.on_deadline is not None:
            self.on_deadline(seconds)

    async def _renew(self) -> None:
        """Renew its own lease, and take or keep the leader's (see :func:`_leases.keep`)."""
        ab = self.lane
        own = self.own
        if own is None:
            return
        held = self.leader if self.is_leader() else None
        renewed, leader, seen = await ab.call(
            _leases.keep, ab.broker, own, self.seconds, self.lead, held
        )
        if renewed is None:
            self.own = None  # seized: the database says so, whatever our clock says
            return
        self._renewed(renewed)
        if leader is not None:
            self._new_leader(leader)
        self.leader_seen = seen

    async def _lead(self) -> None:
        ab, tid = self.lane, self._manager.tid
        if self.lead:
            lease = await ab.call(_leases.acquire, ab.broker, LEADER, tid, self.seconds)
            if lease is not None:
                self._new_leader(lease)
        self.leader_seen = await ab.call(_leases.current, ab.broker, LEADER)

    def _new_leader(self, lease: Lease) -> None:
        if self.leader is None or lease.token != self.leader.token:
            _log.info(  # news, not trouble (losing it is a warning)
                "manager %s: leader, token %d, from monotonic %.6f",
                self._manager.tid,
                lease.token,
                time.monotonic(),
            )
        self.leader = lease

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
        ab, tid = self.lane, self._manager.tid
        if self.leader is not None:
            await ab.call(partial(_leases.release, ab.broker, LEADER, tid))
            self.leader = None
        await ab.call(partial(_leases.release, ab.broker, _leases.manager(tid), tid))

    async def aclose(self, wait: bool = True) -> None:
        """Close its connection (``wait=False``: at once, whatever it is stuck in)."""
        lane, self._lane = self._lane, None
        if lane is not None:
            await lane.aclose(wait=wait)

    def status(self) -> dict[str, Any]:
        seen = self.leader_seen
        own = self.own
        return {
            "lease_s": self.seconds,
            "lease_left_s": None if own is None else max(0.0, own.deadline - time.monotonic()),
            "is_leader": self.is_leader(),
            "leader": None if seen is None else {"tid": seen[0], "token": seen[1]},
        }
