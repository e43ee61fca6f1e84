"""The dashboard's event stream: every lifecycle transition and output line of the
project, recorded in the broker and served as server-sent events.

Owns :class:`EventLog`. It records what happens (the tree's lifecycle events from its bus,
output lines from the project's log directory) into the queue ``T{manager}.events`` (and
hands restarts and duration samples to the charts' :class:`~._history.History`), one
message per batch (so a chatty child costs one write per flush, not one per line), and
drops batches older than ``keep`` seconds and the oldest past the newest ``keep_batches``.
A stream reads that queue, so a client that reconnects with ``Last-Event-ID`` gets
everything since, as long as the broker holds it.
Event IDs are ``MESSAGE-INDEX``: the batch's broker ID and the event's place in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import TYPE_CHECKING, Any

from .._lifecycle import Transition
from ..process._output import LINE_LIMIT, human_size
from ..project import rows
from ..project._logfiles import LogDir
from ._history import History

if TYPE_CHECKING:
    from ..manager import Manager
    from ..project import ProjectRuntime

__all__ = ["EventId", "EventLog", "parse_event_id"]

_log = logging.getLogger("treadle.web")
EventId = tuple[int, int]
_NS = 1_000_000_000


def parse_event_id(text: str | None) -> EventId | None:
    """``"MID-INDEX"`` from a Last-Event-ID header; None for none or garbage."""
    if not text:
        return None
    mid, _, index = text.strip().partition("-")
    try:
        return int(mid), int(index or "0")
    except ValueError:
        return None


class EventLog:
    """Records the project's events in the broker and streams them."""

    def __init__(
        self,
        manager: Manager,
        runtime: ProjectRuntime,
        *,
        history: History | None = None,
        flush: float = 0.1,
        poll_logs: float = 0.25,
        keep: float = 900.0,
        keep_batches: int = 10_000,
    ) -> None:
        self._manager = manager
        self._runtime = runtime
        self._history = history
        self._flush = flush
        self._poll_logs = poll_logs
        self._keep = keep
        self._keep_batches = keep_batches
        self._pending: list[dict[str, Any]] = []
        self._written = asyncio.Condition()
        self._writes = 0  # batches written, for streams waiting on the next
        self.recorded = 0

    @property
    def queue(self) -> str:
        return f"T{self._manager.tid}.events"

    # -- recording ------------------------------------------------------------------------

    async def run(self) -> None:
        """Record until cancelled (then write what is pending)."""
        tree = self._runtime.tree()
        prefix = tree.path + "."
        with tree.events(maxsize=10_000) as lifecycle, LogDir(self._runtime.log_dir) as logs:
            logs.skip()
            next_logs = next_trim = 0.0
            try:
                while True:
                    await asyncio.sleep(self._flush)
                    history = self._history
                    while (msg := lifecycle.get_nowait()) is not None:
                        if isinstance(msg.payload, Transition):
                            event = _lifecycle(msg.payload, prefix, self._runtime.name)
                            self._pending.append(event)
                            if history is not None and event["name"] != self._runtime.name:
                                history.transition(event)
                    now = time.monotonic()
                    if history is not None and history.due(now):
                        history.sample(rows(self._runtime.status()))
                    if now >= next_logs:
                        next_logs = now + self._poll_logs
                        self._pending.extend(
                            {
                                "type": "log",
                                "ts": e.ts,
                                "child": e.child,
                                "stream": e.stream,
                                "text": _cut(e.text),
                            }
                            for e in logs.poll()
                            if e.event is None and e.stream in ("stdout", "stderr")
                        )
                    await self._write()
                    if now >= next_trim:
                        next_trim = now + 30.0
                        await self._trim()
            finally:
                with contextlib.suppress(Exception):  # the broker may be closing under us
                    await asyncio.shield(self._write())

    async def _write(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        ab = self._manager.ab
        await ab.call(ab.broker.write, self.queue, json.dumps(batch, separators=(",", ":")))
        self.recorded += len(batch)
        async with self._written:
            self._writes += 1
            self._written.notify_all()

    def _wrote_since(self, writes: int) -> bool:
        return self._writes != writes

    async def _trim(self) -> None:
        """Drop batches older than ``keep`` (message IDs are broker timestamps: ~ns), and
        the oldest past the newest ``keep_batches``."""
        cutoff = int((time.time() - self._keep) * _NS)
        await self._manager.ab.call(self._trim_io, cutoff)

    def _trim_io(self, cutoff: int) -> None:
        broker = self._manager.ab.broker
        while stale := broker.peek_raw(self.queue, before=cutoff, limit=1000):
            broker.delete_many(self.queue, [mid for _, mid in stale])
        stats = broker.stats(prefix=self.queue)
        excess = sum(s.pending for s in stats if s.queue == self.queue) - self._keep_batches
        if excess > 0:
            oldest = broker.peek_raw(self.queue, limit=excess)
            broker.delete_many(self.queue, [mid for _, mid in oldest])

    # -- streaming ------------------------------------------------------------------------

    async def stream(
        self, after: EventId | None, *, keepalive: float = 15.0
    ) -> AsyncIterator[tuple[str, str, dict[str, Any]] | None]:
        """``(id, type, data)`` for every event after ``after`` (all new ones if None), as
        they come; None every ``keepalive`` seconds of quiet (for a comment line)."""
        ab = self._manager.ab
        peek = ab.broker.peek_raw
        if after is None:  # from now on: after the newest batch there is
            newest = await ab.call(partial(peek, self.queue, limit=1, newest=True))
            after = (newest[0][1], 1 << 30) if newest else (0, 0)
        last_mid, last_index = after
        while True:
            writes = self._writes
            batches = await ab.call(
                partial(peek, self.queue, after=last_mid - 1 if last_mid else None)
            )
            sent = False
            for raw, mid in batches:
                if mid < last_mid:
                    continue
                for index, event in enumerate(json.loads(raw)):
                    if mid == last_mid and index <= last_index:
                        continue
                    kind = event.pop("type")
                    yield f"{mid}-{index}", kind, event
                    sent = True
                last_mid, last_index = mid, 1 << 30
            if not sent:
                try:
                    async with asyncio.timeout(keepalive), self._written:
                        await self._written.wait_for(partial(self._wrote_since, writes))
                except TimeoutError:
                    yield None


def _cut(text: str) -> str:
    """A log line as an event: a long one cut, with a mark (its log file has it all)."""
    if len(text) <= LINE_LIMIT:
        return text
    return f"{text[:LINE_LIMIT]} [… {human_size(len(text) - LINE_LIMIT)} cut]"


def _lifecycle(t: Transition, prefix: str, project: str) -> dict[str, Any]:
    """The transition, named as the project's children are (the root: the project)."""
    data = t.as_dict()
    name = str(data["name"])
    data["name"] = name[len(prefix) :] if name.startswith(prefix) else project
    data["type"] = "lifecycle"
    return data
