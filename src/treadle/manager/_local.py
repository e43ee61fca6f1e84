"""The manager's side of local submission (see :mod:`treadle._wire` for the protocol).

Owns the listening socket on the broker's submit address (a socket file in a private
directory, :func:`treadle._paths.submit_address`), who holds it (the manager that holds
``<socket>.lock`` with ``flock``: a socket file left by a dead manager is stale, and the
next holder removes it; the holder removes its own when it stops), the peer check (only
the manager's own user, or root, may submit), one conversation per connection, the age
check of a request ID and the pruning of old receipts (:mod:`._receipts`), and the streams
of output and results to waiting clients, and ``treadle down`` of the project this
manager hosts (``{"down": FILE}``: it stops, and says so once it has, with the status its
registry record was left with). It does not decide where a task runs:
:meth:`Manager.accept` does, and writes it durably.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import socket
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .._exceptions import TreadleError
from .._paths import submit_address
from .._wire import MAX_LINE, peer_uid
from ..broker import WIRE, Output, Result
from ..broker._taskspec import first_error
from . import _receipts

if TYPE_CHECKING:
    from ._manager import Manager

__all__ = ["LocalSubmit"]

_log = logging.getLogger("treadle.manager")
_PRUNE_EVERY = 1000  # accepted requests between two prunings of old receipts


class LocalSubmit:
    """Takes submissions for ``manager`` on its broker's submit address, when it holds it."""

    def __init__(self, manager: Manager) -> None:
        self._manager = manager
        self.address = submit_address(manager.url.location, create=True)
        self._server: asyncio.Server | None = None
        self._lock: int | None = None  # the lock file's descriptor, while this one serves
        self._watchers: dict[int, asyncio.StreamWriter] = {}
        self._downs: list[asyncio.StreamWriter] = []  # `treadle down` clients, told at the end
        self._conversations: set[asyncio.Task[None]] = set()
        self._accepted = 0

    @property
    def serving(self) -> bool:
        return self._server is not None

    async def start(self) -> bool:
        """Bind the address; False when another manager of this broker holds it (or
        there is no private place for it: clients then use the queue)."""
        if self._server is not None:
            return True
        if self.address is None or (lock := _hold(self.address + ".lock")) is None:
            return False
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)  # a dead holder's: the lock was free
            sock.bind(self.address)
            os.chmod(self.address, 0o600)
            self._server = await asyncio.start_unix_server(
                self._converse, sock=sock, limit=MAX_LINE
            )
        except OSError as exc:
            sock.close()
            _release(self.address + ".lock", lock)
            _log.warning("manager: cannot serve %s: %s", self.address, exc)
            return False
        self._lock = lock
        with contextlib.suppress(Exception):  # pruning is housekeeping: it can wait
            await self._manager.ab.call(_receipts.prune, self._manager.ab.broker)
        return True

    async def aclose(self, status: str = "stopped") -> None:
        """Stop serving; tell each ``down`` client the manager's last ``status`` (its
        registry record's: ``stopped``, or ``active`` when it leaves its claims to
        recovery)."""
        for writer in self._downs:
            writer.write(json.dumps({"down": status}).encode() + b"\n")
            writer.close()
        self._downs.clear()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        lock, self._lock = self._lock, None
        if lock is not None and self.address is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)
            _release(self.address + ".lock", lock)
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
            writer.write(out.model_dump_json(context=WIRE).encode() + b"\n")

    def finished(self, result: Result) -> None:
        writer = self._watchers.pop(result.tid, None)
        if writer is not None:
            writer.write(result.model_dump_json(context=WIRE).encode() + b"\n")
            writer.close()

    def _down(self, project: str, writer: asyncio.StreamWriter) -> bool:
        """``treadle down``: stop this manager if it hosts ``project`` (the client is told
        how it ended when it has: :meth:`aclose`); False when it does not (answered)."""
        hosted = self._manager.hosted
        if hosted is None or hosted.source != project:
            _answer(writer, {"unavailable": "this manager does not host that project"})
            return False
        writer.write(json.dumps({"stopping": self._manager.tid}).encode() + b"\n")
        self._downs.append(writer)
        self._manager.request_stop()
        return True

    # -- one conversation -----------------------------------------------------------------

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conversations.add(task)
        tid: int | None = None
        try:
            line = await reader.readline()  # read first: the client sees the answer
            if not _same_user(writer):
                return _answer(writer, {"error": "only the manager's own user may submit"})
            if (project := _down(line)) is not None:
                if self._down(project, writer):
                    await reader.read()  # until aclose answers, or the client leaves
                return
            got = _request(line)
            if got is None:
                return _answer(writer, {"error": _SHAPE})
            fields, request, wait = got
            try:
                if _receipts.age(request) > _receipts.MAX_AGE:
                    return _answer(writer, {"unavailable": "the request is too old"})
            except ValueError as exc:
                return _answer(writer, {"error": f"request: {exc}"})
            try:
                spec, here = await self._manager.accept(fields, request)
            except ValidationError as exc:
                return _answer(writer, {"error": ": ".join(first_error(exc))})
            except TreadleError as exc:  # stopping, a receipt collision: the client queues it
                return _answer(writer, {"unavailable": str(exc)})
            self._accepted += 1
            if self._accepted % _PRUNE_EVERY == 0:
                await self._manager.ab.call(_receipts.prune, self._manager.ab.broker)
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
            if writer in self._downs:
                self._downs.remove(writer)
            writer.close()
            self._conversations.discard(task)


_SHAPE = "expected {'submit': {...}, 'request': ID, 'wait': bool}"


def _down(line: bytes) -> str | None:
    """The project file of a ``{"down": FILE}`` request, else None."""
    with contextlib.suppress(ValueError):
        request = json.loads(line)
        if isinstance(request, dict) and isinstance(request.get("down"), str):
            return str(request["down"])
    return None


def _request(line: bytes) -> tuple[dict[str, Any], str, bool] | None:
    try:
        request = json.loads(line)
    except ValueError:
        return None
    if not isinstance(request, dict) or not isinstance(request.get("submit"), dict):
        return None
    if not isinstance(request.get("request"), str):
        return None
    return request["submit"], request["request"], bool(request.get("wait"))


def _answer(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    writer.close()


def _same_user(writer: asyncio.StreamWriter) -> bool:
    return peer_uid(writer.get_extra_info("socket")) in (os.getuid(), 0)


def _hold(path: str) -> int | None:
    """Lock ``path`` (created 0600) for as long as this process serves; its descriptor,
    or None when another process holds it. The lock is taken on the file that is at
    ``path`` once held (a holder that was stopping may have just removed the one opened)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # removed or replaced while we locked it: take the one there now


def _release(path: str, fd: int) -> None:
    """Remove the lock file and let it go (removed first, while still held: whoever
    opened it meanwhile sees it replaced, see :func:`_hold`)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    os.close(fd)
