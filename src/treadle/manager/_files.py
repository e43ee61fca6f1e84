"""A manager's chores on its tasks' result files, off its event loop: :class:`Files`.

Owns one thread that reserves the disk space of a function task's return value before the
task starts (``T{tid}.{attempt}.json.part``, see :meth:`Files.reserve`) and takes a task's
result files away once its result is durable in the broker; the spare files it recycles
them into (see :meth:`Files.spares_in`); where a result file is and how its value is read
back (:func:`result_path`, :func:`returned_value`: the runner's and recovery's); and, on
the same thread, the space of the warm workers' value journals (``_journal``), which
spare their tasks a file each: the files here are those of tasks in interpreters of
their own, and of values too large for a journal.

Why a thread: on ext4 a file's creation or removal waits for the journal, and the
journal is busy with the broker's syncs: a busy manager syncs many times a second, and
an ``unlink`` on its event loop stalled every task for as long as the commit took (most
of the loop's time, measured). Here they wait in order on a thread of their own, and
the loop goes on.

Why spares: creating a file is the dear step (an inode allocated: on the ext4 root of the
benchmarks' machine, ~0.6 ms of CPU each, thirty times a rename), and a busy manager
would create one per task. A result file whose value is durable is renamed into the
spare directory instead of removed (a few dozen at most), and the next reservation
renames one back into place and reserves its space again; the spares are removed when
the manager stops, and a dead manager's by its recovery (:func:`clear_spares`).

It owns nothing of when a value is read (``_runner``: a task's; ``_registry``: recovery's).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import JsonValue

__all__ = [
    "RESERVE",
    "SPARES",
    "Files",
    "clear_spares",
    "result_path",
    "returned_value",
    "spare_dir",
]

RESERVE = 64 * 1024  # bytes of disk held for a function task's return value
SPARES = 64  # spare files kept at most (about the tasks a manager has in flight)
StrPath = str | os.PathLike[str]  # a result file's path (text, on the hot path)
_Asked = list[tuple[StrPath, "asyncio.Future[bool]"]]  # reservations asked, and their answers


def result_path(work_dir: Path, tid: int, attempt: int) -> Path:
    """Where a function task's attempt writes its return value (``TREADLE_RESULT_FILE``)."""
    return work_dir / f"{tid}.{attempt}.json"


def returned_value(path: str | os.PathLike[str]) -> tuple[JsonValue] | None:
    """The return value a function task's process wrote at ``path`` (whole, by a rename,
    once the function had returned: its work is done, whatever killed the process
    after), as a 1-tuple; None without the file."""
    try:
        with open(path, encoding="utf-8") as f:
            value: JsonValue = json.load(f)
    except (OSError, ValueError):
        return None
    return (value,)


def spare_dir(results: str | os.PathLike[str], manager: int) -> Path:
    """Where manager ``manager`` keeps its spare result files."""
    return Path(results) / f".spare-{manager}"


def clear_spares(results: str | os.PathLike[str], manager: int) -> None:
    """Remove manager ``manager``'s spare files (it stopped, or died)."""
    shutil.rmtree(spare_dir(results, manager), ignore_errors=True)


class _Spares:
    """Empty files to rename into place rather than create (files thread only)."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.free: list[str] = []
        self._made = False
        self._next = 0

    def take(self, path: str) -> None:
        """Rename a spare to ``path``, if there is one."""
        while self.free:
            try:
                os.rename(self.free.pop(), path)
                return
            except OSError:
                continue  # gone (removed by hand?): the next one

    def keep(self, path: str) -> bool:
        """Rename ``path`` into the spares; False if it is not kept (absent, too many)."""
        if len(self.free) >= SPARES:
            return False
        if not self._made:
            try:
                self.where.mkdir(mode=0o700, exist_ok=True)
            except OSError:
                return False
            self._made = True
        self._next += 1
        spare = f"{self.where}/{self._next}"
        try:
            os.rename(path, spare)
        except OSError:
            return False
        self.free.append(spare)
        return True


def _reserve(path: StrPath, spares: _Spares | None) -> bool:
    """Reserve the space of ``path.part``, where a function task's process writes its
    return value (over the reserved bytes, then cut to size: up to ``RESERVE`` bytes
    are written whatever the disk's state by then); False on a disk already full."""
    part = f"{path}.part"
    if spares is not None:
        spares.take(part)
    return _allocate(part, RESERVE)


def _allocate(path: str, size: int) -> bool:
    """Create ``path`` if need be, with ``size`` bytes reserved; False on a full disk."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        os.posix_fallocate(fd, 0, size)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _remove(paths: Iterable[StrPath], spares: _Spares | None) -> None:
    for path in paths:
        for name in (str(path), f"{path}.part"):  # its value, or its reservation unused
            with contextlib.suppress(OSError):
                if spares is not None and spares.keep(name):
                    break
                os.unlink(name)
                break


class Files:
    """The result-file chores of one manager, on one thread of its own. What is asked in
    one turn of the event loop goes to the thread as one job (a busy manager asks for
    many tasks at once: one hand-over, not one each)."""

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None
        self._spares: _Spares | None = None
        self._journals: str | None = None  # the workers' value journals (``_journal``)
        self._reserving: _Asked = []
        self._removing: list[StrPath] = []

    def spares_in(self, where: Path) -> None:
        """Recycle result files through ``where`` (see the module docstring); call it
        before the first reservation."""
        self._spares = _Spares(where)

    def journals_in(self, where: str) -> None:
        """The directory of the workers' value journals: removed by :meth:`close` if
        they are all gone (a journal whose values are not all durable stays, for the
        manager's recoverer)."""
        self._journals = where

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="treadle-files")
        return self._thread

    async def reserve(self, path: StrPath) -> bool:
        """:func:`_reserve`, waited for on the thread."""
        return await self.reserve_soon(path)

    def reserve_soon(self, path: StrPath) -> asyncio.Future[bool]:
        """:func:`_reserve` on the thread, asked now: its answer, to wait for later."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        if not self._reserving:
            loop.call_soon(self._send_reserves)
        self._reserving.append((path, done))
        return done

    def _send_reserves(self) -> None:
        asked, self._reserving = self._reserving, []
        spares = self._spares
        paths = [path for path, _ in asked]
        job = self._executor().submit(lambda: [_reserve(path, spares) for path in paths])
        asyncio.wrap_future(job).add_done_callback(lambda got: _settle(asked, got))

    def allocate_soon(self, path: str, size: int) -> asyncio.Future[bool]:
        """Create ``path`` (if need be) with ``size`` bytes reserved, on the thread: False
        on a disk already full (a warm worker's value journal: see ``_journal``)."""
        job = self._executor().submit(_allocate, path, size)
        return asyncio.wrap_future(job)

    def discard(self, paths: Sequence[StrPath]) -> None:
        """Remove each of ``paths`` soon (never into the spares); done before
        :meth:`close` returns."""
        if paths:
            self._executor().submit(_remove, paths, None)

    def remove(self, paths: Sequence[StrPath]) -> None:
        """Take away each of ``paths`` (or, if absent, its ``.part`` reservation), soon:
        the caller does not wait. Done before :meth:`close` returns."""
        if paths:
            if not self._removing:
                asyncio.get_running_loop().call_soon(self._send_removals)
            self._removing.extend(paths)

    def _send_removals(self) -> None:
        paths, self._removing = self._removing, []
        if paths:
            self._executor().submit(_remove, paths, self._spares)

    def close(self) -> None:
        """Finish what was asked, then remove the spares (blocking: call it once the
        tasks have ended)."""
        self._send_removals()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
        if self._spares is not None:
            shutil.rmtree(self._spares.where, ignore_errors=True)
            self._spares.free = []
        if self._journals is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self._journals)  # (empty: every value in it was durable)


def _settle(asked: _Asked, got: asyncio.Future[list[bool]]) -> None:
    exc = None if got.cancelled() else got.exception()
    for i, (_, done) in enumerate(asked):
        if done.done():
            continue  # its task was cancelled meanwhile
        if got.cancelled():
            done.cancel()
        elif exc is not None:
            done.set_exception(exc)
        else:
            done.set_result(got.result()[i])
