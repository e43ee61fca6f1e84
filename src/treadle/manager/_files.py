"""A manager's chores on its tasks' result files, off its event loop: :class:`Files`.

Owns one thread that reserves the disk space of a function task's return value before the
task starts (``T{tid}.{attempt}.json.part``, see :meth:`Files.reserve`) and removes a task's
result files once its result is durable in the broker.

Why a thread: on ext4 a file's creation or removal waits for the journal, and the
journal is busy with the broker's syncs: a busy manager syncs many times a second, and
an ``unlink`` on its event loop stalled every task for as long as the commit took (most
of the loop's time, measured). Here they wait in order on a thread of their own, and
the loop goes on.

It owns nothing of what the files mean (``_runner``: what a task writes and reads back;
``_registry``: what recovery reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["RESERVE", "Files"]

RESERVE = 64 * 1024  # bytes of disk held for a function task's return value


def _reserve(path: Path) -> bool:
    """Reserve the space of ``path.part``, where a function task's process writes its
    return value (over the reserved bytes, then cut to size: up to ``RESERVE`` bytes
    are written whatever the disk's state by then); False on a disk already full."""
    try:
        fd = os.open(f"{path}.part", os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return False
    try:
        os.posix_fallocate(fd, 0, RESERVE)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            os.unlink(path)
        except FileNotFoundError:  # its value was written: the reservation was renamed
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{path}.part")


class Files:
    """The result-file chores of one manager, on one thread of its own."""

    def __init__(self) -> None:
        self._thread: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="treadle-files")
        return self._thread

    async def reserve(self, path: Path) -> bool:
        """:func:`_reserve`, waited for on the thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), _reserve, path)

    def remove(self, paths: list[Path]) -> None:
        """Remove each of ``paths`` (or, if absent, its ``.part`` reservation), soon: the
        caller does not wait. Removed before :meth:`close` returns."""
        if paths:
            self._executor().submit(_remove, paths)

    def close(self) -> None:
        """Finish what was asked (blocking: call it once the tasks have ended)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=True)
