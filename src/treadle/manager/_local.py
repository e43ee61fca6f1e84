"""The manager's side of local submission (see :mod:`treadle._wire` for the protocol).

Owns the listening socket on the broker's submit address, the peer check (only the
manager's own user, or root, may submit: an abstract socket has no file permissions), one
conversation per connection, and the streams of output and results to waiting clients. It
does not decide where a task runs: :meth:`Manager.accept` does, and writes it durably.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import struct
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._exceptions import TreadleError
from .._paths import submit_address
from .._wire import MAX_LINE, sockaddr
from ..broker import Output, Result
from ..broker._taskspec import first_error

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["LocalSubmit"]

_CRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class LocalSubmit:
    """Takes submissions for ``manager`` on its broker's submit address, when it holds it."""

    def __init__(self, manager: Manager) -> None:
        self._manager = manager
        self.address = submit_address(manager.url.location)
        self._server: asyncio.Server | None = None
        self._watchers: dict[int, asyncio.StreamWriter] = {}
        self._conversations: set[asyncio.Task[None]] = set()

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self) -> bool:
        """Bind the address; False when another manager of this broker holds it."""
        if self._server is not None:
            return True
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(sockaddr(self.address))
        except OSError:
            sock.close()
            return False
        self._server = await asyncio.start_unix_server(self._converse, sock=sock, limit=MAX_LINE)
        return True

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in self._watchers.values():
            writer.close()
        self._watchers.clear()
        for task in list(self._conversations):
            task.cancel()
        if self._conversations:
            await asyncio.wait(self._conversations)

    # -- what the manager reports ---------------------------------------------------------

    def output(self, tid: int, stream: str, line: str) -> None:
        writer = self._watchers.get(tid)
        if writer is not None:
            out = Output(tid=tid, stream=stream, lines=[line])  # type: ignore[arg-type]
            writer.write(out.model_dump_json().encode() + b"\n")

    def finished(self, result: Result) -> None:
        writer = self._watchers.pop(result.tid, None)
        if writer is not None:
            writer.write(result.model_dump_json().encode() + b"\n")
            writer.close()

    # -- one conversation -----------------------------------------------------------------

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conversations.add(task)
        tid: int | None = None
        try:
            request = await _request(reader)  # read first: the client sees the answer
            if not _same_user(writer):
                return _answer(writer, {"error": "only the manager's own user may submit"})
            if request is None:
                return _answer(writer, {"error": "expected {'submit': {...}, 'wait': bool}"})
            fields, wait = request
            try:
                spec, here = await self._manager.accept(fields)
            except ValidationError as exc:
                return _answer(writer, {"error": ": ".join(first_error(exc))})
            except TreadleError as exc:  # e.g. the manager is stopping
                return _answer(writer, {"error": str(exc)})
            if wait and here:
                tid = spec.tid
                self._watchers[tid] = writer
            accepted = {"tid": spec.tid, "manager": self._manager.tid, "queued": not here}
            writer.write(json.dumps({"accepted": accepted}).encode() + b"\n")
            if tid is None:
                return writer.close()
            while line := await reader.readline():  # until the result closes it, or EOF
                with contextlib.suppress(ValueError):
                    if json.loads(line).get("stop"):
                        self._manager.stop_task(tid, reason="stopped by its client")
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away: the task goes on, its result is in its outbox
        finally:
            if tid is not None and self._watchers.get(tid) is writer:
                del self._watchers[tid]
            writer.close()
            self._conversations.discard(task)


async def _request(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bool] | None:
    line = await reader.readline()
    try:
        request = json.loads(line)
    except ValueError:
        return None
    if not isinstance(request, dict) or not isinstance(request.get("submit"), dict):
        return None
    return request["submit"], bool(request.get("wait"))


def _answer(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    writer.close()


def _same_user(writer: asyncio.StreamWriter) -> bool:
    sock = writer.get_extra_info("socket")
    _pid, uid, _gid = _CRED.unpack(
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    )
    return uid in (os.getuid(), 0)
