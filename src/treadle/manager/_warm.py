"""One attempt of a function task on a warm worker: :class:`WorkerTask`.

Owns what a :class:`~treadle.manager.TaskRunner` needs of its target, as a
:class:`~treadle.process.Process` gives it: ``run(started)`` (wait for a worker of the
task's environment, report started, wait to be admitted, run, end with the worker's
reply), ``request_stop`` (the worker is stopped as a process task's process is: its stop
signal, SIGKILL after the task's ``stop_timeout``; the pool starts another),
``pause``/``resume`` (SIGSTOP/SIGCONT to the worker), ``status``, ``pid`` and
``returncode``. The task is handed to the worker only once the runner has its "started"
event durable (:meth:`admit`): recovery tells a task that may have run from one that never
did by that event, as it tells a process task's by its journaled exit. A worker that
dies fails (or retries) this attempt as a process task's death would.

It does not own the workers (``_pool``) nor the child's side (``_worker``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Callable
from typing import Any

from .._exceptions import SpawnError, TreadleError
from ..broker import TaskSpec
from ..process._output import Output
from ._journal import Journal
from ._pool import Pool
from ._pooled import Key, Worker

__all__ = ["FunctionRaised", "WorkerTask"]

_log = logging.getLogger("treadle.manager")
_EXIT_PATIENCE = 5.0  # seconds a worker that hung up mid-task has to exit on its own


class FunctionRaised(TreadleError):
    """A function task raised on its worker: its type and message (the traceback is on
    the task's stderr); as a fresh interpreter would, it counts as exit code 1."""

    returncode = 1


class WorkerTask:
    """Runs ``spec`` (a function task) once on one of ``pool``'s workers."""

    def __init__(
        self, pool: Pool, spec: TaskSpec, result: str, output: Output, attempt: int = 1
    ) -> None:
        self.spec = spec
        self.attempt = attempt
        self.output = output  # the task's lines: its listener, its log file
        self._pool = pool
        self._result = result
        self._worker: Worker | None = None
        self._running = False  # handed to the worker, not ended yet
        self._admitted = asyncio.Event()
        if spec.restart != "on-failure":
            # "never": its durable "starting" mark already says it may have run (it is not
            # run again); "always": it is run again whatever recovery finds. Only a task
            # retried on failure waits for its "started" event (see admit()).
            self._admitted.set()
        self._stop = asyncio.Event()
        self._waiting: asyncio.Future[Any] | None = None  # what it waits for (_until_stopped)
        self._paused = False
        self.returncode: int | None = None
        self.returned: tuple[Any] | None = None  # its value (also in its result file)
        self.journaled: tuple[Journal, int] | None = None  # or in a journal's region

    @property
    def name(self) -> str:
        return f"T{self.spec.tid}"

    @property
    def stop_grace(self) -> float:
        return self.spec.stop_timeout + 1.0

    @property
    def pid(self) -> int | None:
        return self._worker.pid if self._worker is not None else None

    def admit(self) -> None:
        """Its "started" event is durable: it may run."""
        self._admitted.set()

    async def run(self, started: Callable[[], None]) -> None:
        spec = self.spec
        self._check_cwd()
        key: Key = (tuple(sorted(spec.env.items())), spec.cwd)
        worker = self._pool.take(key)  # an idle one, without waiting
        if worker is None:
            worker = await self._acquire(key)
            if worker is None:
                return
        self._worker = worker
        reply: dict[str, Any] | None = None
        try:
            started()
            if not self._admitted.is_set():
                await self._until_stopped(self._admitted.wait())
            if self._stop.is_set():
                self._pool.release(worker)
                return
            process = worker.process
            if process.spec.stop_timeout != spec.stop_timeout:  # the task's, for its stop
                process.spec = dataclasses.replace(process.spec, stop_timeout=spec.stop_timeout)
            if self._paused:
                process.pause()
            msg = {"seq": worker.tasks + 1, "fn": spec.function, "args": spec.args}
            msg.update(tid=spec.tid, attempt=self.attempt, result=self._result)
            if worker.journal is not None:
                at = await self._place(worker.journal)
                if at is None:  # stopped while the disk was full
                    self._pool.release(worker)
                    return
                msg["at"] = at
            self._running = True
            try:
                reply = await worker.execute(msg, self.output.line)
            except asyncio.CancelledError:
                if worker.job is not None:
                    worker.job.cancel()  # its Process kills it (no grace left) and reaps it
                raise
        finally:
            self._running = False
            self.output.close()
        if reply is None:  # it ended (stopped, killed, sys.exit, ...) or hung up
            return await self._ended(worker)
        if "at" in reply and worker.journal is not None:  # its value is in the journal
            self.journaled = (worker.journal, worker.journal.wrote(int(reply["at"])))
        self._pool.release(worker, reply)
        if not reply.get("ok"):
            self.returncode = FunctionRaised.returncode
            raise FunctionRaised(str(reply.get("error")))
        self.returncode = 0
        if "value" in reply:
            self.returned = (reply["value"],)

    async def _place(self, journal: Journal) -> int | None:
        """Where the worker writes the task's value in its journal: at once, most often;
        once its space is reserved (waiting while the disk is full, rather than running
        work whose result could not be kept); None if the task is stopped meanwhile."""
        delay = 0.25
        while (at := journal.place()) is None:
            ok = await self._until_stopped(journal.wait())
            if self._stop.is_set():
                return None
            if ok is False:
                if delay == 0.25:
                    _log.warning("task %s waits for disk space for its result", self.spec.tid)
                await self._until_stopped(asyncio.sleep(delay))
                delay = min(delay * 2, 5.0)
        return at

    def _check_cwd(self) -> None:
        cwd = self.spec.cwd  # as a Process checks its own, before a worker is spent on it
        if cwd is not None and not os.path.isdir(cwd):
            raise SpawnError(f"process {self.name!r}: cwd {cwd!r} is not a directory")

    async def _acquire(self, key: Key) -> Worker | None:
        """A worker of the pool's, when its turn comes; None if the task is stopped first
        (:meth:`request_stop` cancels the wait)."""
        if self._stop.is_set():
            return None
        turn = self._pool.wait_for(key)
        self._waiting = turn
        try:
            got = await turn
        except asyncio.CancelledError:
            self._pool.abandon(turn)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # cancelled itself (its runner's patience ran out)
            return None  # its wait was cancelled: stopped (or the pool is closing)
        finally:
            self._waiting = None
        if got is None:  # room for a worker of its own
            got = await self._pool.grow(key)  # (a stop waits until it has started)
            if self._stop.is_set():
                self._pool.release(got)
                return None
        return got

    async def _until_stopped(self, aw: Any) -> Any:
        """``aw``'s result, or None (``aw`` cancelled) if the task is stopped first
        (:meth:`request_stop` cancels it)."""
        job = asyncio.ensure_future(aw)
        self._waiting = job
        try:
            if self._stop.is_set():
                job.cancel()
            await asyncio.wait([job])
        finally:
            self._waiting = None
            if not job.done():
                job.cancel()
                await asyncio.wait([job])
        if job.cancelled():
            return None
        return job.result()

    async def _ended(self, worker: Worker) -> None:
        """The worker ended under the task: how, as its Process says."""
        job = worker.job
        assert job is not None
        if not job.done():  # it hung up on the pool: exiting, most likely (sys.exit)
            await asyncio.wait([job], timeout=_EXIT_PATIENCE)
        if not job.done():  # or it lives on: it is not to be trusted
            worker.retire()
            worker.process.request_stop()
            await asyncio.wait([job])
        self.returncode = worker.process.returncode
        exc = job.exception()
        if exc is not None:
            raise exc  # ProcessExited, ProcessLimitExceeded, SpawnError: as a process task's

    def request_stop(self) -> None:
        self._stop.set()
        if self._waiting is not None:
            self._waiting.cancel()  # for a worker, or to be admitted: it stops waiting
        worker = self._worker
        if worker is not None and self._running:
            worker.process.request_stop()

    def pause(self) -> None:
        self._paused = True
        if self._worker is not None and self._running:
            self._worker.process.pause()

    def resume(self) -> None:
        self._paused = False
        if self._worker is not None and self._running:
            self._worker.process.resume()

    def status(self) -> dict[str, Any]:
        worker = self._worker
        return {
            "name": self.name,
            "kind": "worker",
            "function": self.spec.function,
            "worker": None if worker is None else f"W{worker.ident}",
            "pid": self.pid,
            "running": self._running,
        }

    def __repr__(self) -> str:
        return f"<WorkerTask {self.name} pid={self.pid}>"
