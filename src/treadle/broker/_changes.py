"""Blocking waits for a broker change, for synchronous callers (clients, the CLI).

simplebroker's own mechanism, run in the caller's thread: its polling strategy over
``PRAGMA data_version`` on SQLite (a burst of quick checks, then backing off to
``max_interval``), its native waiter elsewhere. A client waits briefly, so it may poll;
a manager waits for ever, so it does not (see :class:`~treadle.broker.AsyncBroker`).
"""

from __future__ import annotations

import threading
import time

from simplebroker.watcher import PollingStrategy

from . import _names as names
from ._broker import Broker

__all__ = ["Changes"]


class Changes:
    """``changes.wait(timeout)`` returns once the broker changed, or after ``timeout``."""

    def __init__(self, broker: Broker, max_interval: float = 0.05) -> None:
        self._stop = threading.Event()
        queue = broker.queue(names.SPAWN)
        self._changed = False
        self._strategy = PollingStrategy(self._stop, initial_checks=50, max_interval=max_interval)
        waiter = queue.create_activity_waiter(stop_event=self._stop)
        self._strategy.start(
            queue.get_data_version, on_data_version_change=self._mark, activity_waiter=waiter
        )

    def _mark(self) -> None:
        self._changed = True

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        self._changed = False
        while not self._changed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._strategy.wait_for_activity(timeout=remaining)
            if self._strategy.consume_native_activity_hint():
                return True
        return True

    def close(self) -> None:
        self._stop.set()
        self._strategy.close()
