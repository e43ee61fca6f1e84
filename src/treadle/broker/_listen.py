"""PostgreSQL's notifications of writes, waited for without polling: :class:`Listener`.

Owns one connection that LISTENs on the channel simplebroker-pg notifies at every write
(the payload names the queue written), and a blocking :meth:`Listener.wait` that returns
on a notification for one of the watched queues, or when :meth:`Listener.close` ends it.
It sleeps in ``select`` on the connection's socket and a wake-up pipe, with no timeout.

simplebroker-pg has its own waiter, but its shared listener thread asks psycopg for
notifications with a 0.1 s timeout, and psycopg's wait wakes every 0.1 s as well: an idle
process pays ~0.9% of a core for it (measured, 2-core VM). This costs nothing while
nothing is written. It does not say what a change means (see :class:`AsyncBroker`).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import threading

import psycopg
from simplebroker_pg._identifiers import activity_channel_name

from ._target import BrokerURL

__all__ = ["Listener"]

_ANY = "*"  # the payload of a notification for every queue (simplebroker-pg)


class Listener:
    """LISTENs for writes to ``queues`` of the PostgreSQL broker at ``url``."""

    def __init__(self, url: BrokerURL, queues: tuple[str, ...]) -> None:
        self._queues = frozenset(queues)
        self._conn = psycopg.connect(url.dsn, autocommit=True)
        self._lock = threading.Lock()
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._selector = selectors.DefaultSelector()
        try:
            channel = activity_channel_name(url.schema)
            self._conn.execute(f'LISTEN "{channel}"')
            self._selector.register(self._conn.fileno(), selectors.EVENT_READ)
            self._selector.register(self._wake_r, selectors.EVENT_READ)
        except BaseException:
            self.release()
            raise

    def wait(self) -> bool:
        """Block until a watched queue is written (True) or :meth:`close` (False).
        Raises psycopg's errors when the connection fails."""
        pgconn = self._conn.pgconn
        while not self._closed:
            ready = {key.fd for key, _ in self._selector.select()}
            if self._wake_r in ready or self._closed:
                return False
            pgconn.consume_input()
            written = False
            while (notify := pgconn.notifies()) is not None:
                payload = notify.extra.decode()
                written = written or payload in self._queues or payload == _ANY
            if written:
                return True
        return False

    def close(self) -> None:
        """End any wait (from any thread) and the connection: once."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def release(self) -> None:
        """Free what it holds, once no thread waits on it any more (the waiter's thread)."""
        self.close()
        self._selector.close()
        with contextlib.suppress(Exception):  # the connection may be broken already
            self._conn.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
