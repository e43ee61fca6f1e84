"""Real components and a log watcher for the TaskMonitor tests: no doubles of the monitor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

LOGGER = "agent.task_monitor"  # the real module's logger


class Worker:
    """A component whose runs end when the test says: :meth:`fail`, :meth:`finish`.

    :meth:`factory` is a seed-style restart factory: it creates an asyncio Task and returns it.
    """

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self._gates: list[asyncio.Future[None]] = []
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def factory(self) -> asyncio.Task[None]:
        gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._run(gate))
        self.tasks.append(task)
        self._gates.append(gate)
        for n, fut in self._waiters:
            if len(self.tasks) >= n and not fut.done():
                fut.set_result(None)
        return task

    async def _run(self, gate: asyncio.Future[None]) -> None:
        await gate

    @property
    def current(self) -> asyncio.Task[None]:
        return self.tasks[-1]

    def fail(self, exc: BaseException) -> None:
        gate = self._gates[-1]
        gate.set_exception(exc)
        gate.exception()  # a task cancelled before it reads it would leave it "never retrieved"

    def finish(self) -> None:
        self._gates[-1].set_result(None)

    async def started(self, n: int) -> asyncio.Task[None]:
        """Wait until ``n`` tasks have been made in all; return the n-th."""
        while len(self.tasks) < n:
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((n, fut))
            await fut
        return self.tasks[n - 1]


class LogWatch(logging.Handler):
    """Collects the monitor's records; :meth:`next` awaits the next one that matches."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._seen = 0
        self._waiter: asyncio.Future[None] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self, match: Callable[[logging.LogRecord], bool]) -> logging.LogRecord:
        """The first record after the last one returned that ``match`` accepts."""
        while True:
            while self._seen < len(self.records):
                record = self.records[self._seen]
                self._seen += 1
                if match(record):
                    return record
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@contextlib.contextmanager
def watching() -> Iterator[LogWatch]:
    """Attach a :class:`LogWatch` to the monitor's logger at DEBUG for the block."""
    logger = logging.getLogger(LOGGER)
    watch = LogWatch()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(watch)
    try:
        yield watch
    finally:
        logger.removeHandler(watch)
        logger.setLevel(level)


def says(prefix: str | tuple[str, ...]) -> Callable[[logging.LogRecord], bool]:
    return lambda r: r.getMessage().startswith(prefix)


def extra(record: logging.LogRecord, *names: str) -> tuple[Any, ...]:
    """The structured fields a record carries (``logging``'s ``extra=``), by name."""
    return tuple(record.__dict__[name] for name in names)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now
