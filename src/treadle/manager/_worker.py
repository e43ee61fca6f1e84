"""The child side of a warm worker: one interpreter that runs function tasks one at a time.

A manager's :class:`~treadle.manager._pool.Pool` starts it (through the spawner, like any
task's process) with ``TREADLE_POOL`` (the pool's socket, ``@name``) and
``TREADLE_WORKER`` (``ID:TOKEN``) in its environment; it connects, says who it is, and
then reads tasks, one JSON line each, until EOF (retired: it exits 0). Its replies say
its RSS when ``TREADLE_WORKER_RSS`` is ``1`` (its pool has a memory limit)::

    → {"seq": 1, "fn": "mod:fn", "args": [2, 3], "tid": 9, "attempt": 1, "at": 0,
       "result": "/…/9.1.json"}
    ← {"seq": 1, "ok": true, "at": 27, "rss": 31457280, "children": false, "streams": true,
       "value": 5}
    ← {"seq": 2, "ok": false, "error": "RuntimeError: boom", "rss": …, "children": false, …}

A task is the fresh interpreter's ``_entry`` in all but the interpreter, but for where its
return value goes: into the worker's value journal (``TREADLE_WORKER_VALUES``; see
``_values``) at the offset ``at`` its manager gives, the reply saying where the record
ends; or, without room there, to the task's result file, whole or absent
(:func:`~treadle.process._entry.write_data`);
an exception prints its traceback on stderr and fails the task with its type and message
(a target that does not import: one line, no traceback);
``sys.exit`` ends the worker with that code, as it would end the fresh interpreter. A
coroutine runs on an event loop the worker keeps. After each task the worker flushes
Python's and C's stdio buffers before it replies: every byte the task wrote is in its
pipes by then, and the pool reads them out (to the task) when the reply comes. Its reply
says whether the task left child processes, and whether its stdout and stderr are still
the pipes it was started with (``streams``: a task may close or replace them): a worker
that fails either is not used again (it is stopped, and its process group with it).

It owns nothing of the manager's side (dispatch, output, recycling: ``_pool``), and uses
the standard library only: it is started without importing treadle (see ``_pool._BOOT``).
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import json
import os
import socket
import sys
import traceback
from typing import Any

from ..process._entry import TargetNotFound, call, encode, write_data
from ._values import RECORD_MAX, record

__all__ = ["main"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


class _Worker:
    def __init__(self, journal: str | None = None) -> None:
        self._journal = journal  # where its values go (``_values``), at its manager's word
        self._journal_fd: int | None = None
        self._streams = _streams()  # what a task must leave them as
        self._loop: Any = None  # asyncio's, made on the first coroutine
        try:
            self._fflush: Any = ctypes.CDLL(None).fflush
        except (OSError, AttributeError):
            self._fflush = None

    def run(self, msg: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]:
        """Run one task: the reply, and the value's JSON (as written to its file)."""
        reply: dict[str, Any] = {"seq": msg["seq"], "ok": True}
        value = None
        os.environ["TREADLE_RESULT_FILE"] = msg["result"]
        try:
            result = call(msg["fn"], msg["args"])
            if inspect.iscoroutine(result):
                result = self._run_async(result)
            data = encode(result)
            end = self._keep(msg, data)
            if end is not None:
                reply["at"] = end  # where its record ends in the journal
            value = data  # (once kept: a value that could not be is no value)
        except TargetNotFound as exc:  # as the fresh interpreter says it: one line
            reply["ok"] = False
            reply["error"] = f"{msg['fn']}: {exc}"
            print(reply["error"], file=sys.stderr)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 (the task's, reported as the fresh interpreter would)
            sys.stdout.flush()
            traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next)  # type: ignore[union-attr]
            reply["ok"] = False
            reply["error"] = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        finally:
            os.environ.pop("TREADLE_RESULT_FILE", None)
            self.flush()
        return reply, value

    def _keep(self, msg: dict[str, Any], value: bytes) -> int | None:
        """Write the task's value where its manager said: at ``at`` in the journal (where
        the record ends is returned), or, if it has no room there, to the task's own
        result file (None)."""
        at = msg.get("at")
        if at is not None and self._journal is not None:
            data = record(msg["tid"], msg["attempt"], value)
            if len(data) <= RECORD_MAX:
                if self._journal_fd is None:
                    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
                    self._journal_fd = os.open(self._journal, flags, 0o600)
                os.pwrite(self._journal_fd, data, at)
                return int(at) + len(data) - 1  # (its NUL: overwritten by the next)
        write_data(msg["result"], value)
        return None

    def _run_async(self, coro: Any) -> Any:
        import asyncio  # only then: it costs tens of milliseconds to import

        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        return self._loop.run_until_complete(coro)

    def flush(self) -> None:
        out, err = sys.stdout, sys.stderr
        for stream in (out, err, sys.__stdout__, sys.__stderr__):
            if stream is None or (stream is sys.__stdout__ and out is stream):
                continue  # (the same stream: flushed once)
            if stream is sys.__stderr__ and err is stream:
                continue
            with contextlib.suppress(Exception):  # a task may have closed or replaced them
                stream.flush()
        if self._fflush is not None:
            self._fflush(None)  # C code's stdio buffers, as exit() would flush them

    def streams_intact(self) -> bool:
        """Whether fds 1 and 2 are still the pipes the worker started with."""
        return _streams() == self._streams


def _streams() -> tuple[tuple[int, int] | None, ...]:
    """What fds 1 and 2 are (device and inode; None: closed)."""
    found: list[tuple[int, int] | None] = []
    for fd in (1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            found.append(None)
        else:
            found.append((st.st_dev, st.st_ino))
    return tuple(found)


def _read(path: str) -> bytes:
    """A small /proc file's text (plain system calls: no file object per task)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _has_children() -> bool:
    try:
        return bool(_read(f"/proc/self/task/{os.getpid()}/children").strip())
    except OSError:
        return False


def _rss() -> int:
    try:
        return int(_read("/proc/self/statm").split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def main() -> int:
    address = os.environ.pop("TREADLE_POOL")
    ident = os.environ.pop("TREADLE_WORKER")
    rss = os.environ.pop("TREADLE_WORKER_RSS", "") == "1"  # its pool holds it to a limit
    worker = _Worker(os.environ.pop("TREADLE_WORKER_VALUES", None))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect("\0" + address[1:] if address.startswith("@") else address)
    sock.sendall(f"{ident}\n".encode())
    tasks = sock.makefile("rb")
    for raw in tasks:
        msg = json.loads(raw)
        reply, value = worker.run(msg)
        if rss:
            reply["rss"] = _rss()
        reply["children"] = _has_children()
        reply["streams"] = worker.streams_intact()
        line = json.dumps(reply).encode()
        if value is not None:  # the value's JSON as it is, not encoded again
            line = line[:-1] + b', "value": ' + value + b"}"
        sock.sendall(line + b"\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
