"""Claiming spawn requests: the one step that decides which manager runs a task.

Owns moving requests from ``treadle.spawn.requests`` into a manager's claim queue
(``T{tid}.reserved``), atomically per message so that two managers never both take one;
the capability check; dead-lettering a request that does not validate; and writing each
claimed task's first inbox message. It runs on the broker thread and starts nothing.

A manager's :class:`Claimer` remembers between passes how far down the queue it has
looked and which requests there it cannot run (their IDs, not their texts), so a pass
reads what is new, not what waits: requests that need what this manager lacks never
stand in front of those it can run, and are read once, not once a pass. Two things can
put a request behind where it has looked: a submitter that minted a TID, then wrote (so
a pass reads again the last ``LAG`` seconds of the queue), and a dead manager's request
put back under its old ID (so every ``SWEEP`` seconds a sweep walks the queue from the
head, a page a pass, reading texts but parsing only what it does not know).

Each request is judged on its own: one that fails validation is moved out of the spawn
queue (into this manager's claims, so that only one manager reports it), dead-lettered
and dropped; if even its letter cannot be written it stays in the claims, out of
everyone's way, and the recovery of this manager's claims dead-letters it later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from ..broker import Broker, TaskSpec
from ..broker import names as q
from ..broker._broker import invalid

__all__ = ["LAG", "SCAN", "SWEEP", "Claimer", "write_inbox"]

SCAN = 200  # spawn requests read per page
LAG = 1.0  # seconds of the queue read again each pass (a TID is minted before it is written)
SWEEP = 10.0  # seconds between sweeps from the head (requests put back under their old ID)
_NS = 1_000_000_000  # broker timestamps count about nanoseconds
_log = logging.getLogger("treadle.manager")


@dataclass
class _Pass:
    broker: Broker
    mine: str  # this manager's claim queue
    free: int
    taken: list[tuple[TaskSpec, int]] = field(default_factory=list)

    def full(self, pending: int = 0) -> bool:
        return len(self.taken) + pending >= self.free


class Claimer:
    """One manager's claiming of spawn requests (see the module docstring).

    Args:
        capabilities: what the manager offers; it takes a request only if it offers all
            the request needs.
        lag: seconds of the queue's newest end read again each pass.
        sweep: seconds between sweeps of the queue from its head.
    """

    def __init__(
        self,
        capabilities: Collection[str],
        *,
        lag: float = LAG,
        sweep: float = SWEEP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capabilities = frozenset(capabilities)
        self._lag = int(lag * _NS)
        self._sweep_every = sweep
        self._clock = clock
        self.cursor: int | None = None  # every request up to this ID has been judged
        self.unrunnable: set[int] = set()  # requests judged not for this manager, by ID
        self.sweep: int | None = None  # how far the sweep under way has come (0: the head)
        self._sweep_at = clock() + sweep
        self._swept: set[int] = set()  # unrunnable requests the sweep found still queued
        self._rescan = False  # a sweep from the head is wanted now
        self.read = 0  # requests read, all passes together (what passes cost)

    def due(self) -> bool:
        """Whether a pass has work even if the broker did not change (a sweep)."""
        return self._clock() >= self.next_due()

    def next_due(self) -> float:
        """When (``clock`` time) a pass has work even if the broker did not change."""
        return float("-inf") if self._rescan or self.sweep is not None else self._sweep_at

    def behind(self, broker: Broker) -> bool:
        """Whether the spawn queue holds a request newer than any judged (one read)."""
        newest = broker.db.latest_pending_timestamp(q.SPAWN)
        return newest is not None and (self.cursor is None or newest > self.cursor)

    def rescan(self) -> None:
        """Sweep from the head now (this manager put a dead one's requests back)."""
        self._rescan = True

    def claim(self, broker: Broker, manager: int, free: int) -> list[tuple[TaskSpec, int]]:
        """Claim up to ``free`` requests manager ``manager`` can run, oldest first.

        If the broker fails half-way, what was claimed so far is returned (to run) and
        the rest waits for the next pass; it raises only if nothing was.
        """
        p = _Pass(broker, q.reserved(manager), free)
        try:
            if self._rescan or (self.sweep is None and self._clock() >= self._sweep_at):
                self._rescan = False
                self.sweep, self._swept = 0, set()
            if self.sweep is not None:
                self._sweep_page(p)
            self._fresh(p)
        except Exception as exc:  # the broker failed: what was claimed still runs
            if not p.taken:
                raise
            _log.warning("claiming stopped after %d requests: %s", len(p.taken), exc)
        for spec, _ in p.taken:
            write_inbox(broker, spec)
        return p.taken

    # -- reading the queue ------------------------------------------------------------------

    def _fresh(self, p: _Pass) -> None:
        """Judge what came since the last pass (and the last ``lag`` of the queue)."""
        start = None if self.cursor is None else self.cursor - self._lag
        while not p.full():
            # as many as it may take, and those it knows it cannot (a long queue is not
            # read a page at a time for the few slots a busy manager frees at once)
            limit = min(SCAN, p.free - len(p.taken) + len(self.unrunnable))
            page = p.broker.peek_raw(q.SPAWN, after=start, limit=limit)
            self.read += len(page)
            if not page:
                return
            last = self._judge(p, page)
            if last is not None:
                self.cursor = last
            if len(page) < limit and last == page[-1][1]:
                return
            if last is None or (start is not None and last <= start):
                return  # no way forward this pass
            start = last

    def _sweep_page(self, p: _Pass) -> None:
        """One page of the sweep, up to where :meth:`_fresh` reads anyway."""
        end = None if self.cursor is None else self.cursor - self._lag
        before = None if end is None else end + 1
        page = p.broker.peek_raw(q.SPAWN, after=self.sweep or None, before=before, limit=SCAN)
        self.read += len(page)
        last = self._judge(p, page, sweeping=True) if page else None
        if len(page) < SCAN and (not page or last == page[-1][1]):
            # done: forget what left the queue meanwhile (taken by another manager)
            keep = self._swept
            self.unrunnable = {m for m in self.unrunnable if m in keep or end is None or m > end}
            self.sweep, self._swept = None, set()
            self._sweep_at = self._clock() + self._sweep_every
        elif last is not None:
            self.sweep = last

    def _judge(self, p: _Pass, page: list[tuple[str, int]], sweeping: bool = False) -> int | None:
        """Judge a page in order; the ID up to which it was judged (None: not even its
        first: no slot was free)."""
        run: list[tuple[TaskSpec, int]] = []  # runnable, side by side: moved in one batch
        last: int | None = None
        for raw, mid in page:
            if mid in self.unrunnable:
                if sweeping:
                    self._swept.add(mid)
            elif p.full(len(run)):
                break
            else:
                got = _request(raw, mid)
                if isinstance(got, str):
                    left = self._take(p, run)
                    run = []
                    if left is not None:
                        return left - 1
                    self._reject(p, raw, mid, got)
                elif not set(got.capabilities) <= self.capabilities:
                    self.unrunnable.add(mid)
                    if sweeping:
                        self._swept.add(mid)
                else:
                    run.append((got, mid))
            last = mid
        left = self._take(p, run)
        return last if left is None else left - 1

    # -- claiming and rejecting -------------------------------------------------------------

    def _take(self, p: _Pass, run: list[tuple[TaskSpec, int]]) -> int | None:
        """Move a run of requests judged runnable into the claims. The ID of the first
        one that may still be queued (None: none), to be judged again."""
        if not run:
            return None
        broker = p.broker
        if len(run) == 1:
            spec, mid = run[0]
            if broker.move(q.SPAWN, p.mine, mid) is not None:  # None: another was quicker
                p.taken.append((spec, mid))
            return None
        judged = {mid: spec for spec, mid in run}
        moved = broker.move_many(
            q.SPAWN, p.mine, len(run), after=run[0][1] - 1, before=run[-1][1] + 1
        )
        for raw, mid in moved:
            known = judged.get(mid)
            if known is not None:
                p.taken.append((known, mid))
                continue
            # written meanwhile under an older TID, among those judged: judge it now
            got = _request(raw, mid)
            if isinstance(got, str):
                self._letter(p, raw, mid, got)
            elif set(got.capabilities) <= self.capabilities:
                p.taken.append((got, mid))
            else:
                broker.move(p.mine, q.SPAWN, mid)
                self.unrunnable.add(mid)
        if len(moved) < len(run):
            return None  # every one in range was moved, or taken by others
        got_ids = {mid for _, mid in moved}
        left = [mid for _, mid in run if mid not in got_ids]
        return min(left) if left else None

    def _reject(self, p: _Pass, raw: str, mid: int, error: str) -> None:
        """Take an invalid request out of the spawn queue, then dead-letter it."""
        if p.broker.move(q.SPAWN, p.mine, mid) is not None:  # None: another reports it
            self._letter(p, raw, mid, error)

    def _letter(self, p: _Pass, raw: str, mid: int, error: str) -> None:
        if p.broker.dead_letter(q.SPAWN, mid, raw, error):
            p.broker.delete(p.mine, mid)
        else:
            _log.error("request %s: left in %s (its dead letter was refused)", mid, p.mine)


def _request(raw: str, mid: int) -> TaskSpec | str:
    """The request in ``raw``, or why it is not one."""
    got = invalid(raw, TaskSpec.model_validate_json)
    if isinstance(got, str):
        return got
    spec = got[0]
    if spec.tid != mid:  # a TID names a task's queues: this one would write another's
        return f"tid {spec.tid} is not the request's message ID {mid}"
    return spec


def write_inbox(broker: Broker, spec: TaskSpec) -> None:
    """A task's first message, in its inbox before it starts."""
    if spec.inbox is not None:
        value = spec.inbox
        broker.write(q.inbox(spec.tid), value if isinstance(value, str) else json.dumps(value))
