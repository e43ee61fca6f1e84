"""What a manager's tasks report, written to the broker: :class:`Reports`.

Owns the Reporter every :class:`TaskRunner` of the manager speaks to: the "starting" mark
of a task that must not run twice (durable before its process exists: see
``_registry``), each attempt's "started" event, other events, output lines (to the
task's outbox in batches, and to a local client streaming it), the result and the last
event, and dropping the claims of ended tasks in batches, after their results.

Every write checks the manager's lease on the broker thread just before it is made (a
manager thawed past its lease writes nothing of its tasks), and a write the broker
refuses is tried again with backoff for as long as the manager holds its lease: a result
is kept until the broker takes it, and a task goes on running meanwhile. A fenced
manager writes nothing (its tasks are others' now).

The outbox keeps a task's first ``broker_bytes`` of output (see :class:`OutputLimits`);
what follows is not written, and when the task ends one line says how much there was
and which log file has it all (the result keeps the last lines, as always).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..broker import Output, Result, TaskEvent, TaskSpec
from ..broker import names as q
from ..broker._messages import EventKind
from ..process._output import human_size
from ._nudge import poke

if TYPE_CHECKING:
    from ._manager import Manager
    from ._runner import TaskRunner

__all__ = ["Reports"]

_log = logging.getLogger("treadle.manager")
_FLUSH = 0.05  # output lines reach the outbox in batches this often
_BACKOFF = (0.05, 5.0)  # first and longest wait between tries of a refused write
_MESSAGE_BYTES = 1024 * 1024  # of output lines in one outbox message (simplebroker: 10 MB)
_Record = tuple[str, BaseModel]  # a queue and a message for it
_Pending = tuple[list[_Record], "Callable[[], None] | None", "asyncio.Future[None]"]


class Reports:
    """The Reporter of ``manager``'s runners."""

    def __init__(self, manager: Manager) -> None:
        self._m = manager
        self._lines: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        self._kept: dict[int, int] = defaultdict(int)  # bytes of output sent to the outbox
        self._over: dict[int, _Over] = {}  # tasks past their budget: what was not kept
        self._done: list[int] = []  # claims of ended tasks, to drop (broker thread only)
        self._finishing: set[asyncio.Future[Any]] = set()  # results not yet in the broker
        self._starting: set[asyncio.Future[Any]] = set()  # "started" events, likewise
        self._queued: list[_Pending] = []  # writes for the next batch
        self._writer: asyncio.Future[None] | None = None  # writes batches while there are any
        self._due = asyncio.Event()  # lines or claims wait for the next flush
        self._pokes: set[str] = set()  # clients to nudge once this turn of the loop ends

    async def starting(self, runner: TaskRunner) -> bool:
        """Mark the task as possibly started, durably, before its first attempt; False if
        it cannot be (the manager lost its lease): then it must not start."""
        return await self._write([(q.TASK_LOG, self._event(runner, "starting"))])

    async def started(self, runner: TaskRunner, attempt: int, pid: int | None) -> None:
        # the acknowledgement of an attempt; recovery tells a task that may have started
        # (restart policy decides) from one that never did (requeued) by this or "starting"
        event = self._event(runner, "started", attempt=attempt, pid=pid)
        await self._write([(q.TASK_LOG, event)])

    async def event(self, runner: TaskRunner, kind: EventKind, **fields: Any) -> None:
        await self._write([(q.TASK_LOG, self._event(runner, kind, **fields))])

    async def _write(
        self,
        records: list[_Record],
        then: Callable[[], None] | None = None,
        failed: BaseException | None = None,
    ) -> bool:
        """Messages of the task protocol, written together (in the next group commit, with
        every other write that came meanwhile: see :meth:`_batch`) after a check of the
        lease on the broker thread; ``then`` runs on the broker thread once they are.
        Tried again while the broker refuses them (``failed``: a first try already was,
        with that error). False once the manager is fenced."""
        delay = _BACKOFF[0]
        failing = failed is not None
        if failed is not None:
            _log.warning("manager %s: a broker write failed: %s", self._m.tid, failed)
            delay = await self._backoff(delay)
        while not self._m.fenced:
            try:
                await self._batch(records, then)
                if failing:
                    _log.warning("manager %s: the broker takes writes again", self._m.tid)
                return True
            except Exception as exc:  # noqa: BLE001 (the broker failed, or the lease lapsed: wait, try again)
                if not failing:
                    _log.warning("manager %s: a broker write failed: %s", self._m.tid, exc)
                failing = True
            delay = await self._backoff(delay)
        return False

    async def _backoff(self, delay: float) -> float:
        """Wait ``delay`` s (less if the manager is fenced meanwhile); the next delay."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._m.fenced_event.wait()
        return min(delay * 2, _BACKOFF[1])

    def _batch(
        self, records: list[_Record], then: Callable[[], None] | None
    ) -> asyncio.Future[None]:
        """Join the next batch of writes; done when it is written (or failed). One batch is
        written at a time (group commit): what comes while one is being written goes into
        the next, so a busy manager writes many tasks' messages per transaction, and an
        idle one still writes each at once."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queued.append((records, then, done))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_batches())
        return done

    async def _write_batches(self) -> None:
        try:
            while batch := [entry for entry in self._queued if not entry[2].cancelled()]:
                self._queued = []
                try:
                    await self._m.ab.call(self._guarded, self._batch_io, batch)
                except Exception as exc:  # noqa: BLE001 (each writer gets it, and decides)
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
        except asyncio.CancelledError:
            _settle([*batch, *self._queued], asyncio.CancelledError())
            self._queued = []
            raise
        finally:
            self._writer = None

    def _batch_io(self, batch: list[_Pending]) -> None:
        """Broker thread: one transaction for the batch's writes, then their ``then``s."""
        self._m.ab.broker.write_many([record for records, _, _ in batch for record in records])
        for _, then, _ in batch:
            if then is not None:
                then()

    def _guarded(self, fn: Callable[..., object], *args: Any) -> object:
        self._m.leasing.check()
        return fn(*args)

    def output(self, runner: TaskRunner, stream: str, line: str) -> None:
        tid = runner.spec.tid
        size = (len(line) if line.isascii() else len(line.encode())) + 1
        kept = self._kept[tid] + size
        if kept <= runner.output_limits.broker_bytes:
            self._kept[tid] = kept
            self._lines[tid][stream].append(line)
            self._due.set()
        else:
            over = self._over.get(tid)
            if over is None:
                over = self._over[tid] = _Over(stream)
            over.lines += 1
            over.size += size
        if self._m.local is not None:
            self._m.local.output(runner.spec.tid, stream, line)

    async def finished(self, runner: TaskRunner, result: Result) -> None:
        """Write the task's result (however long the broker takes), then free it. A runner
        cancelled while it waits leaves its result to be written (see :meth:`drain`)."""
        await self._finish(runner, result)

    async def drain(self, timeout: float) -> None:  # noqa: ASYNC109 (the manager's last wait)
        """Wait (at most ``timeout`` s) for the results not yet in the broker; those left
        are its claims' to tell (recovery reads the exits its processes left)."""
        if self._finishing:
            await asyncio.wait(set(self._finishing), timeout=timeout)

    def _finish(self, runner: TaskRunner, result: Result) -> asyncio.Future[None]:
        """Join the task's result to the next batch of writes (see :meth:`_soon`); done
        once it is written and the task freed."""
        tid = runner.spec.tid
        _, mid = self._m.runners.pop(tid)
        self._m.ab.poke()  # its slot is free: the next claim goes with its result
        lines = self._lines.pop(tid, {})
        self._kept.pop(tid, None)
        over = self._over.pop(tid, None)
        if over is not None:
            path = runner.output_limits.log_path(tid)
            where = f"the full output is in {path}" if path else "no log file has it"
            mark = (
                f"[… {over.lines} lines, {human_size(over.size)} not kept in the broker; {where}]"
            )
            lines = {**lines, over.stream: [*lines.get(over.stream, []), mark]}
        event = self._event(
            runner,
            result.state,
            attempt=result.attempts,
            exit_code=result.exit_code,
            reason=result.error or "",
        )
        records = [*_line_records(tid, lines), (q.outbox(tid), result), (q.TASK_LOG, event)]

        def then() -> None:
            self._done.append(mid)

        return self._soon(records, then, lambda: self._freed(runner, result), self._finishing)

    def started_soon(
        self, runner: TaskRunner, attempt: int, pid: int | None
    ) -> asyncio.Future[None]:
        """:meth:`started`, joined to the next batch now, without a coroutine to wait in:
        a future done once the event is written (or the manager is fenced)."""
        event = self._event(runner, "started", attempt=attempt, pid=pid)
        return self._soon([(q.TASK_LOG, event)], None, None, self._starting)

    def _soon(
        self,
        records: list[_Record],
        then: Callable[[], None] | None,
        after: Callable[[], None] | None,
        pending: set[asyncio.Future[Any]],
    ) -> asyncio.Future[None]:
        """Join ``records`` to the next batch of writes (``then``: see :meth:`_write`); a
        future of the caller's own, done once they are written and ``after`` has run
        (at once, without ``after``, once fenced). Cancelling it does not stop the write.

        No task of its own: the batch's future says when the write is made, and only a
        refused write goes on in a task that tries again (:meth:`_write`). What is still
        to be written is in ``pending`` meanwhile."""
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._m.fenced:
            written.set_result(None)  # fenced: its tasks are another manager's now
            return written

        def end(job: asyncio.Future[Any]) -> None:
            pending.discard(job)
            if job.cancelled():
                if not written.done():
                    written.cancel()
                return
            exc = job.exception()
            if exc is not None and not isinstance(job, asyncio.Task):
                # refused: tried again (a task: the retries) until taken, or fenced
                retry = asyncio.ensure_future(self._write(records, then, exc))
                pending.add(retry)
                retry.add_done_callback(end)
                return
            try:
                if exc is None and job.result() is not False and after is not None:
                    after()  # (False: fenced)
            finally:
                if not written.done():  # (cancelled: its waiter stopped waiting)
                    written.set_result(None)

        batch = self._batch(records, then)
        pending.add(batch)
        batch.add_done_callback(end)
        return written

    def _freed(self, runner: TaskRunner, result: Result) -> None:
        """The task's result is durable: its claim, its files and its waiters are done."""
        self._due.set()  # its claim is dropped with the next flush
        runner.forget()  # its exits are no longer needed to tell how it ended
        if self._m.local is not None:  # after the outbox: a client that reads it finds it
            self._m.local.finished(result)
        self._m.last_busy = time.monotonic()
        if runner.spec.notify:
            self._notify(runner.spec.notify)

    def _notify(self, address: str) -> None:
        """Nudge ``address`` (a waiting client) soon: once for all the tasks of one batch
        of results (their writers all resume in this turn of the loop), not once each."""
        if not self._pokes:
            asyncio.get_running_loop().call_soon(self._poke_all)
        self._pokes.add(address)

    def _poke_all(self) -> None:
        pokes, self._pokes = self._pokes, set()
        for address in pokes:
            poke(address)

    async def unlaunched(self, spec: TaskSpec, mid: int, why: str) -> None:
        """A claimed task that could not even be started: it fails, alone."""
        result = Result(tid=spec.tid, state="failed", error=why)
        event = TaskEvent(
            tid=spec.tid, event="failed", name=spec.label, manager=self._m.tid, reason=why
        )
        records: list[_Record] = [(q.outbox(spec.tid), result), (q.TASK_LOG, event)]
        await self._write(records, lambda: self._done.append(mid))
        self._due.set()

    def _event(self, runner: TaskRunner, kind: str, **fields: Any) -> TaskEvent:
        return TaskEvent.model_validate(
            {
                "tid": runner.spec.tid,
                "event": kind,
                "name": runner.spec.label,
                "manager": self._m.tid,
                **fields,
            }
        )

    async def run(self) -> None:
        """Write output lines and drop ended claims until cancelled: ``_FLUSH`` s after
        the first of them came (a batch, however many come meanwhile), and not at all
        while nothing comes (an idle manager does not wake for this)."""
        while True:
            await self._due.wait()
            await asyncio.sleep(_FLUSH)
            self._due.clear()  # what comes from now on is for the next batch
            try:
                await self.flush()
            except Exception as exc:  # noqa: BLE001 (the broker failed: output waits, the task goes on)
                _log.warning("manager %s: output not written: %s", self._m.tid, exc)
                self._due.set()  # tried again with the next batch

    async def flush(self) -> None:
        pending = {tid: dict(streams) for tid, streams in self._lines.items() if streams}
        if not pending and not self._done:
            return
        for streams in self._lines.values():
            streams.clear()
        try:
            await self._m.ab.call(self._guarded, self._flush_io, pending)
        except BaseException:
            self._keep(pending)  # written with the next flush, or the result
            raise

    def _keep(self, pending: dict[int, dict[str, list[str]]]) -> None:
        """Lines a failed flush did not write go back in front of newer ones."""
        for tid, streams in pending.items():
            if tid not in self._m.runners:
                continue  # ended meanwhile: its result carries the tail
            kept = self._lines[tid]
            for stream, chunk in streams.items():
                kept[stream][:0] = chunk

    def _flush_io(self, pending: dict[int, dict[str, list[str]]]) -> None:
        broker = self._m.ab.broker
        broker.write_many(
            [r for tid, streams in pending.items() for r in _line_records(tid, streams)]
        )
        # Claims of ended tasks, dropped in one transaction, after their results. Until
        # then a claim outlives its task; a recoverer that finds one sees the result in
        # the outbox and drops it.
        if self._done:
            broker.delete_many(q.reserved(self._m.tid), self._done)
            self._done = []


def _settle(batch: list[_Pending], exc: BaseException | None) -> None:
    for _, _, done in batch:
        if done.done():
            continue
        if exc is None:
            done.set_result(None)
        elif isinstance(exc, asyncio.CancelledError):
            done.cancel()
        else:
            done.set_exception(exc)


@dataclass
class _Over:
    """Output of a task past its budget: where it started, how much, not kept."""

    stream: str
    lines: int = 0
    size: int = 0


def _line_records(tid: int, streams: dict[str, list[str]]) -> list[_Record]:
    """Output lines as outbox messages of at most ``_MESSAGE_BYTES`` each."""
    records: list[_Record] = []
    outbox = q.outbox(tid)
    for stream, lines in streams.items():
        start, size = 0, 0
        for i, line in enumerate(lines):
            size += len(line) + 8
            if size > _MESSAGE_BYTES and i > start:
                records.append((outbox, Output(tid=tid, stream=stream, lines=lines[start:i])))  # type: ignore[arg-type]
                start, size = i, len(line) + 8
        if start < len(lines):
            records.append((outbox, Output(tid=tid, stream=stream, lines=lines[start:])))  # type: ignore[arg-type]
    return records
