"""The spawner's socket to its host: length-prefixed ``marshal`` frames both ways.

Owns :func:`frames` (both ends read with it) and :class:`Channel`, the spawner's end: what
came in, decoded; what goes out, queued with the descriptors it carries (SCM_RIGHTS) and
written as the socket takes it, never blocking the spawner. It does not own what the
messages mean (``_spawnerd`` and ``_spawner``).
"""

from __future__ import annotations

import _socket
import marshal
import os
import select
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Channel", "frames"]


def frames(buf: bytearray) -> Iterator[tuple[Any, ...]]:
    """The whole frames at the start of ``buf`` (each taken out of it as it is read),
    decoded; a frame cut short stays for the next read."""
    while len(buf) >= 4:
        n = int.from_bytes(buf[:4], "little")
        if len(buf) < 4 + n:
            return
        msg: tuple[Any, ...] = marshal.loads(buf[4 : 4 + n])
        del buf[: 4 + n]
        yield msg


def _rights(fds: list[int]) -> list[tuple[int, int, bytes]]:
    data = b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds)
    return [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, data)]


class Channel:
    """The spawner's end, registered in its ``poll``; :attr:`lost` once the host is gone."""

    def __init__(self, fd: int, poll: select.epoll) -> None:
        os.set_inheritable(fd, False)
        self.sock = _socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self.poll = poll
        poll.register(fd, select.EPOLLIN)
        self._rbuf = bytearray()
        self._out: list[tuple[bytes, list[int]]] = []  # frames, and the fds they carry
        self._writing = False
        self.lost = False  # the host closed its end, or cannot be written to

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> list[tuple[Any, ...]]:
        """What has come, decoded; EOF sets :attr:`lost` (after what came before it)."""
        while True:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.lost = True
                break
            self._rbuf += data
        return list(frames(self._rbuf))

    def send(self, msg: tuple[Any, ...], fds: list[int] | None = None) -> None:
        """Queue ``msg`` (and hand over ``fds``: ours are closed once sent) and write."""
        data = marshal.dumps(msg)
        self._out.append((len(data).to_bytes(4, "little") + data, fds or []))
        self.flush()

    def flush(self) -> None:
        """Write what the socket takes; wait for EPOLLOUT for the rest."""
        out = self._out
        while out:
            frame, fds = out[0]
            try:
                n = self.sock.sendmsg([frame], _rights(fds)) if fds else self.sock.send(frame)
            except BlockingIOError:
                break
            except OSError:  # the host is gone: nobody to tell
                for _, dropped in out:
                    for fd in dropped:
                        os.close(fd)
                out.clear()
                self.lost = True
                break
            for fd in fds:
                os.close(fd)
            if n < len(frame):
                out[0] = (frame[n:], [])
            else:
                del out[0]
        if bool(out) != self._writing:
            self._writing = bool(out)
            mask = select.EPOLLIN | (select.EPOLLOUT if self._writing else 0)
            self.poll.modify(self.sock.fileno(), mask)

    def drain(self) -> None:
        """The last frames, if the host still listens (a second at most), blocking."""
        self.sock.settimeout(1.0)
        try:
            for frame, fds in self._out:
                if fds:
                    self.sock.sendmsg([frame], _rights(fds))
                else:
                    self.sock.sendall(frame)
        except OSError:
            pass
