"""One warm worker as its manager sees it: :class:`Worker`.

Owns one worker process (a :class:`~treadle.process.Process` started with a task's
``env`` and ``cwd``, through the manager's spawner: its lease, parent death and
subreaping, as for a task's process), its connection, the exchange of one task
(:meth:`Worker.execute`) and where its output lines go meanwhile, and its retirement.

A worker's output lines go to the task it runs: what its pipes give while the task runs,
and what they hold when its reply comes (the worker flushes every stdio buffer, C's
included, before it replies: all the task wrote is in the pipes then, and is read out at
once; a last line without a newline ends there). What a thread the task left running
writes afterwards goes to the next task, or nowhere between tasks; a line longer than the
manager's line limit reaches the task's log file cut, as in the broker (a process task's
log file has all of it).

Which task gets which worker, and when one is retired, is the pool's (``_pool``).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any, cast

from ..process import Process, ProcessSpec
from ._journal import Journal

__all__ = ["Key", "Sink", "Worker"]

Key = tuple[tuple[tuple[str, str], ...], str | None]  # a task's env and cwd
Sink = Callable[[str, str], None]  # (stream, line) of the task that runs

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Start the worker without importing treadle (a tenth of a second of imports it never
# uses): bare package modules whose __path__ lets the worker's relative imports work,
# dropped once it is loaded, so that a task that imports treadle gets the real package.
_BOOT = f"""import sys
names = ("treadle", "treadle.process", "treadle.manager")
for n, p in zip(names, ({_PKG!r}, {_PKG + "/process"!r}, {_PKG + "/manager"!r})):
    m = type(sys)(n); m.__path__ = [p]; sys.modules[n] = m
from treadle.manager._worker import main
for n in names: del sys.modules[n]
sys.exit(main())
"""
_CLOSE_PATIENCE = 5.0  # seconds a retired worker has to exit before it is killed
_HELLO_BYTES = 256  # longest hello line (``ID:TOKEN``) a connection may send


class Worker:
    """One worker process: its connection, and where its output lines go now.

    Args:
        address: the pool's socket (``@name``), which it connects to.
        ident: its number in the pool (its process is named ``W{ident}``).
        key: the env and cwd it is started with.
        record_dir: the manager's journal (the spawner's records of its processes).
        line_limit: bytes of an output line kept.
        rss: its replies say its RSS (a pool with a memory limit needs it).
        journal: where it writes its tasks' values (``_values``; None: each to a file of
            the task's own, unreserved).
    """

    def __init__(
        self,
        address: str,
        ident: int,
        key: Key,
        record_dir: str | None,
        line_limit: int,
        *,
        rss: bool = True,
        journal: Journal | None = None,
    ) -> None:
        self.ident = ident
        self.journal = journal
        self.key = key
        self.token = secrets.token_hex(8)
        self.tasks = 0  # run so far
        self.rss = 0
        self.retired = False
        env, cwd = dict(key[0]), key[1]
        env.update(TREADLE_POOL=address, TREADLE_WORKER=f"{ident}:{self.token}")
        if rss:
            env["TREADLE_WORKER_RSS"] = "1"
        if journal is not None:
            env["TREADLE_WORKER_VALUES"] = journal.path
        self.process = Process(
            ProcessSpec(
                argv=(sys.executable, "-c", _BOOT),
                name=f"W{ident}",
                env=env,
                cwd=cwd,
                record_dir=record_dir,
                leased=True,  # killed with its manager's tasks when the lease runs out
                ring_lines=0,
            )
        )
        self.process.output.listener = self._line
        self.process.output.line_limit = line_limit
        self.job: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self.connected: asyncio.Future[asyncio.Transport] = loop.create_future()
        self._reply: asyncio.Future[bytes | None] | None = None  # the task's, while it runs
        self._sink: Sink | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.job is not None and not self.job.done()

    async def execute(self, msg: dict[str, Any], sink: Sink) -> dict[str, Any] | None:
        """Run one task; its reply, or None if the worker ended first (see :attr:`job`)."""
        assert self.job is not None
        if self.job.done():
            return None  # it ended already: its Process says how
        self._sink = sink
        self._reply = replied = asyncio.get_running_loop().create_future()
        self.connected.result().write(json.dumps(msg).encode() + b"\n")
        try:
            raw = await replied
            if not raw:
                return None  # it ended, or its connection broke: its Process says how
            reply: dict[str, Any] = json.loads(raw)
            # what the task wrote is in its pipes now (flushed before the reply): its own
            pumps = self.process.output.pumps.values()
            if not all([pump.drain() for pump in pumps]) or not reply.get("streams", True):
                reply["children"] = True  # it closed or replaced a stream: retire it
            self.tasks += 1
            self.rss = int(reply.get("rss", 0))
            return reply
        finally:
            self._reply = None
            self._sink = None

    def replied(self, line: bytes | None) -> None:
        """Its connection's next line, the reply of the task it runs (None: it hung up,
        or ended)."""
        replied = self._reply
        if replied is not None and not replied.done():
            replied.set_result(line)

    def _line(self, stream: str, line: str) -> None:
        sink = self._sink
        if sink is not None:  # (between tasks: nothing of a task's, a stray thread's at most)
            sink(stream, line)

    def retire(self) -> None:
        """No more tasks: EOF on its connection (it exits), killed if it lingers."""
        self.retired = True
        if self.connected.done() and not self.connected.cancelled():
            self.connected.result().close()
        else:
            self.process.request_stop()
        if self.alive:
            loop = asyncio.get_running_loop()
            loop.call_later(_CLOSE_PATIENCE, self._linger)

    def _linger(self) -> None:
        if self.alive:
            self.process.request_stop()

    def __repr__(self) -> str:
        return f"<Worker W{self.ident} pid={self.pid} tasks={self.tasks}>"


class Connection(asyncio.Protocol):
    """A worker's connection to its pool: its hello (``ID:TOKEN``, handed to ``hello``,
    which says which worker it is), then the replies of its tasks, a line each."""

    def __init__(self, hello: Callable[[bytes, asyncio.Transport], Worker | None]) -> None:
        self._hello = hello
        self._transport: asyncio.Transport | None = None
        self._worker: Worker | None = None
        self._buffer = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's transport: uvloop's is not an asyncio.Transport subclass.
        self._transport = cast("asyncio.Transport", transport)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        start, look = 0, len(buffer)  # what came before has no newline: not looked at again
        buffer += data
        while (end := buffer.find(b"\n", look)) >= 0:
            line = bytes(buffer[start : end + 1])
            start = look = end + 1
            if self._worker is not None:
                self._worker.replied(line)
                continue
            assert self._transport is not None
            self._worker = self._hello(line, self._transport)
            if self._worker is None:  # not one of ours
                self._transport.close()
                buffer.clear()
                return
        del buffer[:start]
        if self._worker is None and len(buffer) > _HELLO_BYTES:  # no hello of ours is this long
            assert self._transport is not None
            self._transport.close()
            buffer.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._worker is not None:
            self._worker.replied(None)
