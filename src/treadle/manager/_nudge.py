"""Local nudges: a datagram that says "look at the broker now", never what to do.

The broker stays the source of truth; a nudge only saves a waiter the polling interval of
SQLite's change detection. Addresses are Linux abstract-namespace socket names written
``@name`` (no file to clean up, no path-length limit to hit); a lost nudge costs latency,
never correctness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
from collections.abc import Callable

from .._wire import sockaddr

__all__ = ["CONTROL", "SPAWN", "Nudge", "Waiter", "poke"]


CONTROL = b"c"  # a control request is waiting on some ctrl_in queue
SPAWN = b"s"  # a spawn request (or anything else) is waiting


def poke(address: str, kind: bytes = SPAWN) -> None:
    """Send one nudge; silently nothing if nobody listens."""
    with contextlib.suppress(OSError):
        _sender().sendto(kind, sockaddr(address))


_SENDER: tuple[int, socket.socket] | None = None  # (pid, an unbound datagram socket)


def _sender() -> socket.socket:
    """One sending socket per process (a busy manager nudges a client per task)."""
    global _SENDER
    if _SENDER is None or _SENDER[0] != os.getpid():
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        _SENDER = (os.getpid(), sock)
    return _SENDER[1]


class Nudge:
    """Listens on ``address`` inside an event loop and calls ``on_nudge`` per burst, with
    the kinds of nudge received (``CONTROL``, ``SPAWN``)."""

    def __init__(self, address: str, on_nudge: Callable[[set[bytes]], None]) -> None:
        self.address = address
        self._on_nudge = on_nudge
        self._sock: socket.socket | None = None

    async def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(sockaddr(self.address))
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        sock = self._sock
        assert sock is not None
        kinds: set[bytes] = set()
        with contextlib.suppress(BlockingIOError):
            while kind := sock.recv(64):
                kinds.add(kind[:1])
        self._on_nudge(kinds)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()


class Waiter:
    """The blocking side, for synchronous clients: ``wait(timeout)`` returns on a nudge."""

    def __init__(self) -> None:
        self.address = f"@treadle-client-{secrets.token_hex(8)}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(sockaddr(self.address))

    def wait(self, timeout: float) -> bool:
        self._sock.settimeout(max(timeout, 0.0) or 1e-6)
        try:
            self._sock.recv(64)
        except (TimeoutError, BlockingIOError):
            return False
        self._sock.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while self._sock.recv(64):
                pass
        return True

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Waiter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
