"""The one place where synchronous simplebroker meets asyncio: :class:`AsyncBroker`.

Owns the broker thread and change detection. Every broker call runs, in order, on one
worker thread (SQLite wants a single writer per process anyway), so the event loop never
blocks on the database. The calls made in one turn of the event loop go to that thread
together, as one job, and their results come back together: a busy manager makes several
calls per task, and a hand-over between the threads (a wake-up each way, fought for under
the GIL) costs as much as a small call itself.

Change detection costs nothing while nothing happens. A waiter in
:meth:`AsyncBroker.changed` wakes on :meth:`AsyncBroker.poke` (a local nudge: every local
writer of work or control sends one) and, on a backend with native notifications
(LISTEN/NOTIFY on PostgreSQL, :attr:`AsyncBroker.native`), on a write to one of the
queues given to :meth:`AsyncBroker.start`, waited for by a watcher thread (see
:mod:`._listen`). Nothing polls: what a writer that does neither wrote (a plain
simplebroker command on SQLite) is found by the caller's own slow look, when
:meth:`AsyncBroker.changed` times out. It does not decide what a change means: callers
re-read their queues after :meth:`AsyncBroker.changed` returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from . import _names as names
from ._broker import Broker

if TYPE_CHECKING:
    from ._listen import Listener  # psycopg: imported only where PostgreSQL is used

__all__ = ["AsyncBroker"]

T = TypeVar("T")
_Call = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]
_log = logging.getLogger("treadle.broker")
_RETRY = 1.0  # seconds before the watcher listens again after its connection failed


class AsyncBroker:
    """``await ab.call(broker.write, queue, message)``; ``await ab.changed(timeout)``."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="treadle-broker")
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._listener: Listener | None = None  # the watcher's, while it listens
        self._listener_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._turn: list[_Call] = []  # calls made in this turn of the loop, not yet sent

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the broker thread, in order with every other call. Loop
        thread only. Cancelled before its turn's job starts, it does not run at all."""
        loop = self._loop or asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        if not self._turn:
            loop.call_soon(self._send, loop)
        self._turn.append((fn, args, done))
        return await done

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        """End of the turn: hand its calls to the broker thread as one job."""
        calls = [c for c in self._turn if not c[2].cancelled()]
        self._turn = []
        if not calls:
            return
        try:
            job = self._executor.submit(self._run, loop, calls)
        except RuntimeError as exc:  # shut down: nothing will run them
            _deliver([(done, None, exc) for _, _, done in calls])
            return

        def dropped(job: Future[None]) -> None:
            if job.cancelled():  # aclose(wait=False) dropped it unrun: its callers stop waiting
                with contextlib.suppress(RuntimeError):  # the loop closed under us
                    loop.call_soon_threadsafe(_cancel, calls)

        job.add_done_callback(dropped)

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, calls: list[_Call]) -> None:
        """Broker thread: run one turn's calls in order; hand back every outcome at once."""
        outcomes: list[_Outcome] = []
        for fn, args, done in calls:
            try:
                outcomes.append((done, fn(*args), None))
            except BaseException as exc:  # noqa: BLE001 (each caller gets its own, as from an executor)
                outcomes.append((done, None, exc))
        with contextlib.suppress(RuntimeError):  # the loop closed under us
            loop.call_soon_threadsafe(_deliver, outcomes)

    def poke(self) -> None:
        """Something changed that this process knows of (a local nudge, a slot freed):
        wake waiters. Loop thread only."""
        if self._event is not None:
            self._event.set()

    async def changed(self, timeout: float) -> bool:  # noqa: ASYNC109 (the fallback poll)
        """Wait until poked or notified since the last call, at most ``timeout`` seconds;
        whether it was."""
        assert self._event is not None, "AsyncBroker not started"
        event = self._event
        if not event.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await event.wait()
        was = event.is_set()
        event.clear()
        return was

    @property
    def native(self) -> bool:
        """Whether writes by others wake :meth:`changed` (the backend notifies them)."""
        return self.broker.url.kind != "sqlite"

    # -- lifetime ---------------------------------------------------------------------------

    async def start(self, watch: Sequence[str] = (names.SPAWN,)) -> None:
        """Start waking :meth:`changed` on pokes, and on native notifications of writes to
        the queues ``watch`` where the backend has them."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        if self.native:
            self._watcher = threading.Thread(
                target=self._watch, args=(tuple(watch),), name="treadle-broker-watch"
            )
            self._watcher.daemon = True
            self._watcher.start()

    async def aclose(self, wait: bool = True) -> None:
        """Stop the watcher, then close the broker on its own thread. ``wait=False``:
        leave at once, whatever the broker thread is stuck in (a database out of reach)."""
        self._stop.set()
        watcher, self._watcher = self._watcher, None
        if not wait:
            self._executor.shutdown(wait=False, cancel_futures=True)
            return
        if watcher is not None:
            await asyncio.to_thread(self._unwatch, watcher)
        await self.call(self.broker.close)
        self._executor.shutdown(wait=True)

    async def __aenter__(self) -> AsyncBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- the watcher thread (backends with native notifications) -----------------------------

    def _watch(self, watch: tuple[str, ...]) -> None:
        """Wait for notifications of writes to ``watch`` and wake the loop on each."""
        loop, event = self._loop, self._event
        assert loop is not None
        assert event is not None

        def wake() -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                loop.call_soon_threadsafe(event.set)

        from ._listen import Listener

        while not self._stop.is_set():
            listener: Listener | None = None
            try:
                listener = Listener(self.broker.url, watch)
                with self._listener_lock:
                    self._listener = listener
                if self._stop.is_set():
                    return  # aclose() may have looked before it was set
                wake()  # what was written before it listened is looked for
                while listener.wait():
                    wake()
            except Exception as exc:  # noqa: BLE001 (the database went away: wait, start over)
                _log.warning("broker %s: change detection failed: %s", self.broker.url, exc)
                wake()  # whoever waits looks for themselves (and meets the error)
                self._stop.wait(_RETRY)
            finally:
                with self._listener_lock:
                    self._listener = None
                if listener is not None:
                    listener.release()

    def _unwatch(self, watcher: threading.Thread) -> None:
        """End the watcher's wait and join it."""
        while watcher.is_alive():
            with self._listener_lock:
                if self._listener is not None:
                    self._listener.close()
            watcher.join(0.1)


def _deliver(outcomes: list[_Outcome]) -> None:
    for done, value, exc in outcomes:
        if done.cancelled():
            continue
        if exc is None:
            done.set_result(value)
        else:
            done.set_exception(exc)


def _cancel(calls: list[_Call]) -> None:
    for _, _, done in calls:
        done.cancel()
