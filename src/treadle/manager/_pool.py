"""A manager's warm workers for function tasks: :class:`Pool` and its :class:`Worker`.

Owns the worker processes (at most ``size``, spawned lazily through treadle's own
:class:`~treadle.process.Process`: the manager's spawner, its lease, parent death and
subreaping, as for a task's process), the socket they connect to, who gets an idle one,
and recycling: a worker is retired (EOF: it exits) after ``max_tasks`` tasks, above
``max_memory`` bytes of RSS after a task, or when it has to make room for a task of
another environment. Workers are kept apart by a task's ``env`` and ``cwd``: a worker is
started with them, so a task sees exactly the process a fresh interpreter would have had,
and only tasks with the same ones share it.

One worker, as the manager sees it, is a :class:`~._pooled.Worker`; running one task on a
worker (the runner's target) is :class:`~._warm.WorkerTask`; the child's side is
:mod:`._worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections import deque
from typing import Any

from .._exceptions import ConfigError, SpawnError
from ..process._output import LINE_LIMIT
from ._files import Files
from ._journal import Journal
from ._pooled import Connection, Key, Worker

__all__ = ["Pool"]

_CLOSE_PATIENCE = 5.0  # seconds a retired worker has to exit before it is killed


class Pool:
    """Up to ``size`` warm workers of one manager (see the module docstring)."""

    def __init__(
        self,
        size: int,
        *,
        max_tasks: int | None = None,
        max_memory: int | None = None,
        line_limit: int = LINE_LIMIT,
    ) -> None:
        for field, value in (
            ("workers", size),
            ("max_tasks_per_worker", max_tasks),
            ("max_memory_per_worker", max_memory),
        ):
            if value is not None and value < 1:
                raise ConfigError(field, f"must be >= 1, got {value}")
        self.size = size
        self.max_tasks = max_tasks
        self.max_memory = max_memory
        self.line_limit = line_limit  # a longer output line is cut (the task's log file too)
        self.address = f"@treadle-pool-{os.getpid()}-{secrets.token_hex(8)}"
        self._record_dir: str | None = None  # the manager's journal: its workers' exits
        self._values: tuple[str, Files] | None = None  # where workers journal their values
        self._idle: list[Worker] = []
        self._workers: dict[int, Worker] = {}  # every live one, busy or idle
        self._waiters: deque[tuple[Key, asyncio.Future[Worker | None]]] = deque()
        self._next = 0
        self._granted = 0  # room handed to waiting tasks that have not started a worker yet
        self._server: asyncio.Server | None = None
        self.closed = False

    async def start(self, record_dir: str, values: tuple[str, Files] | None = None) -> None:
        """Listen for workers; ``values``: the directory of their value journals, and
        the manager's files thread, which reserves their space (``_journal``)."""
        self._record_dir = record_dir
        self._values = values
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(
            lambda: Connection(self.hello), "\0" + self.address[1:]
        )

    def hello(self, line: bytes, transport: asyncio.Transport) -> Worker | None:
        """A connection's first line (``ID:TOKEN``): the worker it is, if it is one."""
        ident, _, token = line.decode(errors="replace").strip().partition(":")
        worker = self._workers.get(int(ident)) if ident.isdigit() else None
        if worker is None or not secrets.compare_digest(token, worker.token):
            return None
        if worker.connected.done():
            return None  # it said hello once already
        worker.connected.set_result(transport)
        return worker

    def wait_for(self, key: Key) -> asyncio.Future[Worker | None]:
        """A worker for ``key``, in turn: an idle one, None for room to start one (see
        :meth:`grow`), else the next to be freed. A future to await, not a task of its
        own: handed a worker, its waiter runs at once. A waiter that gives up calls
        :meth:`abandon`."""
        fut: asyncio.Future[Worker | None] = asyncio.get_running_loop().create_future()
        worker = self.take(key)
        if worker is not None:
            fut.set_result(worker)
        elif self._room():
            self._granted += 1
            fut.set_result(None)
        else:
            self._waiters.append((key, fut))
        return fut

    def abandon(self, fut: asyncio.Future[Worker | None]) -> None:
        """The waiter of ``fut`` gave up: what it was handed goes to the next one."""
        if not fut.done():
            fut.cancel()  # (dispatching skips it)
        elif not fut.cancelled():
            if (worker := fut.result()) is not None:
                self.release(worker)  # handed over as it gave up: pass it on
            else:
                self._granted -= 1  # room made for it: somebody else's now
                self._dispatch()

    async def grow(self, key: Key) -> Worker:
        """A new worker for ``key``, in the room :meth:`wait_for` granted."""
        self._granted -= 1
        return await self._spawn(key)

    def take(self, key: Key, queued: bool = False) -> Worker | None:
        """An idle worker for ``key``, if there is one (not past a waiting task: None)."""
        if self._waiters and not queued:
            return None
        for i, worker in enumerate(self._idle):
            if worker.key == key and worker.alive:
                return self._idle.pop(i)
        return None

    def _room(self) -> bool:
        """Whether a worker may be started now (retiring an idle one for it if need be)."""
        if len(self._workers) + self._granted < self.size:
            return True
        if self._idle and not any(w.retired for w in self._workers.values()):
            self._idle.pop(0).retire()  # it frees its place once it has exited
        return False

    async def _spawn(self, key: Key) -> Worker:
        if self.closed:
            raise SpawnError("no worker: the manager is stopping")
        self._next += 1
        journal = None
        if self._values is not None:
            where, files = self._values
            journal = Journal(f"{where}/W{self._next}-{secrets.token_hex(4)}", files)
            journal.wait()  # its space reserved meanwhile (its first task waits for it)
        worker = Worker(
            self.address,
            self._next,
            key,
            self._record_dir,
            self.line_limit,
            rss=self.max_memory is not None,  # measured after each task only to be held to it
            journal=journal,
        )
        self._workers[worker.ident] = worker
        up: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def is_up() -> None:
            if not up.done():
                up.set_result(None)

        worker.job = job = asyncio.ensure_future(worker.process.run(is_up))
        job.add_done_callback(lambda _: self._gone(worker))
        job.add_done_callback(lambda _: worker.replied(None))  # no reply is coming now
        try:
            both: list[asyncio.Future[Any]] = [worker.connected, job]
            await asyncio.wait(both, return_when="FIRST_COMPLETED")
            if worker.connected.done() and not up.done() and not job.done():
                # its hello came before the spawner's word that it started: its pipes are
                # read from then on, and a task's output is read out of them (_pooled)
                await asyncio.wait([up, job], return_when="FIRST_COMPLETED")
        except asyncio.CancelledError:
            worker.retire()
            raise
        if not worker.connected.done():
            job.result()  # its exception: why it could not start (or ProcessExited)
            raise SpawnError(f"process 'W{worker.ident}': the worker exited before it connected")
        return worker

    def release(self, worker: Worker, reply: dict[str, Any] | None = None) -> None:
        """A task is done with ``worker``: idle again, or retired (see the docstring)."""
        over = (self.max_tasks is not None and worker.tasks >= self.max_tasks) or (
            self.max_memory is not None and worker.rss > self.max_memory
        )
        if over or self.closed or (reply or {}).get("children") or not worker.alive:
            worker.retire()
            return
        self._idle.append(worker)
        self._dispatch()

    def _gone(self, worker: Worker) -> None:
        self._workers.pop(worker.ident, None)
        if worker.journal is not None:
            worker.journal.end()
        with contextlib.suppress(ValueError):
            self._idle.remove(worker)
        if worker.connected.done() and not worker.connected.cancelled():
            worker.connected.result().close()
        elif not worker.connected.done():
            worker.connected.cancel()
        if not self.closed:
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand idle workers, or room for new ones, to the waiting tasks in turn."""
        while self._waiters:
            key, fut = self._waiters[0]
            if fut.done():
                self._waiters.popleft()
                continue
            worker = self.take(key, queued=True)
            if worker is None and not self._room():
                return
            self._waiters.popleft()
            if worker is None:
                self._granted += 1
            fut.set_result(worker)  # None: room to start one

    def status(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "workers": [{"name": f"W{w.ident}", "pid": w.pid} for w in self._workers.values()],
            "idle": len(self._idle),
            "waiting": len(self._waiters),
        }

    async def aclose(self) -> None:
        """Retire every worker and wait (bounded) for them to exit."""
        self.closed = True
        for _, fut in self._waiters:
            fut.cancel()
        self._waiters.clear()
        jobs = [w.job for w in self._workers.values() if w.job is not None]
        for worker in list(self._workers.values()):
            worker.retire()
        if jobs:
            await asyncio.wait(jobs, timeout=_CLOSE_PATIENCE + 11.0)
        for job in jobs:
            job.cancel()  # past every patience: its Process kills it
        if jobs:
            await asyncio.wait(jobs)
        if self._server is not None:
            self._server.close()
