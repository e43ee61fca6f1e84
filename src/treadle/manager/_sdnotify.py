"""systemd's notification protocol (``sd_notify(3)``), for a manager that systemd started.

Owns the datagrams a manager sends to ``$NOTIFY_SOCKET``, a unix datagram socket that
systemd binds for a ``Type=notify`` service: ``READY=1`` once the manager takes work (and
its project's tree has started), ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC`` while its
event loop turns (a blocked loop misses them, and systemd restarts the service),
``STOPPING=1`` when it begins to stop, and ``STATUS=`` lines for ``systemctl status``.
Where ``NOTIFY_SOCKET`` is unset (not under systemd, or not ``Type=notify``) every call
does nothing. When to send is the manager's decision, not this module's.

The variables are taken out of this process's environment when read, as
``sd_notify(unset_environment=1)`` does: the processes the manager starts must not
speak for it (a child that uses sd_notify itself would otherwise tell systemd it is
ready on the manager's behalf).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import MutableMapping

__all__ = ["Notifier"]

_log = logging.getLogger("treadle.manager")
_VARIABLES = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")


class Notifier:
    """Sends sd_notify messages to ``address`` (None: sends nothing).

    Args:
        address: the socket's path, or ``@name`` for one in the abstract namespace.
        watchdog: seconds systemd waits for a ``WATCHDOG=1`` (``WatchdogSec=``); the
            manager sends one every half of that. None: no watchdog.
    """

    def __init__(self, address: str | None, watchdog: float | None = None) -> None:
        self.address = address
        self.watchdog = watchdog if address is not None else None
        self._sock: socket.socket | None = None

    @classmethod
    def from_environ(cls, environ: MutableMapping[str, str] | None = None) -> Notifier:
        """The notifier systemd asked for (via ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and
        ``WATCHDOG_PID``), which are removed from ``environ`` (default ``os.environ``)."""
        env = os.environ if environ is None else environ
        address, usec, pid = (env.pop(name, None) for name in _VARIABLES)
        if address is not None and not (address.startswith(("/", "@")) and len(address) > 1):
            _log.warning("NOTIFY_SOCKET=%r is not a unix socket: systemd is not told", address)
            address = None
        watchdog = None
        if usec is not None and (pid is None or pid == str(os.getpid())):
            try:
                watchdog = int(usec) / 1_000_000 or None
            except ValueError:
                _log.warning("WATCHDOG_USEC=%r is not a number: no watchdog pings", usec)
        return cls(address, watchdog)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def ping_every(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings: half the watchdog's period, as
        ``sd_watchdog_enabled(3)`` advises (None: no watchdog)."""
        return None if self.watchdog is None else self.watchdog / 2

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) in one datagram; True if sent.

        Never raises: systemd that stopped listening is no reason for the manager to
        fail. A datagram that cannot be sent is logged and dropped."""
        if self.address is None or not fields:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)  # never stall the event loop on systemd
            self._sock.sendto("\n".join(fields).encode(), target)
        except OSError as exc:
            _log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    async def keep_alive(self) -> None:
        """Send ``WATCHDOG=1`` at half the watchdog's period, until cancelled (returns at
        once without a watchdog)."""
        every = self.ping_every
        if every is None:
            return
        while True:
            self.notify("WATCHDOG=1")
            await asyncio.sleep(every)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __repr__(self) -> str:
        return f"Notifier(address={self.address!r}, watchdog={self.watchdog!r})"
