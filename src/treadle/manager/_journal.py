"""One warm worker's value journal, as its manager keeps it: :class:`Journal`.

Owns where the worker writes its next value (the file's format and why it exists:
``_values``): the file's space, reserved on the files thread before the first task (and
again, after a failure, for as long as the disk is full), the region written now and
the offset in it, and how many values in each region are not durable yet. A region is
written again from its start only once none in it is waited for: a worker whose other
region still holds a value not yet durable waits (for one group commit of its manager's
writes, at most once per few thousand tasks). A journal whose worker has ended is
removed once its last value is durable.

It owns neither the writing (the worker's, ``_worker``) nor the reading (recovery's,
``_registry``).
"""

from __future__ import annotations

import asyncio

from ._files import Files
from ._values import RECORD_MAX, REGION

__all__ = ["Journal"]


class Journal:
    """The journal at ``path`` (see the module docstring); ``files`` reserves its space."""

    def __init__(self, path: str, files: Files) -> None:
        self.path = path
        self._files = files
        self._region = 0
        self._at = 0  # where the next record goes
        self._pending = [0, 0]  # values not durable yet, by region
        self._reserved = False
        self._reserving: asyncio.Future[bool] | None = None
        self._freed: asyncio.Future[bool] | None = None  # the other region, waited for
        self._ended = False

    def place(self) -> int | None:
        """The offset of the next record, if one may be written now (None: :meth:`wait`).
        Past it, at least ``RECORD_MAX`` bytes of the region are free and reserved."""
        if not self._reserved:
            return None
        end = (self._region + 1) * REGION
        if self._at + RECORD_MAX <= end:
            return self._at
        other = 1 - self._region
        if self._pending[other]:
            return None
        self._region, self._at = other, other * REGION
        return self._at

    def wait(self) -> asyncio.Future[bool]:
        """Done when :meth:`place` may give an offset: True, or False if the space could
        not be reserved (a full disk: wait a while, and ask again)."""
        if not self._reserved:
            if self._reserving is None:
                self._reserving = self._files.allocate_soon(self.path, 2 * REGION)
                self._reserving.add_done_callback(self._reserved_now)
            return self._reserving
        if self._freed is None or self._freed.done():
            self._freed = asyncio.get_running_loop().create_future()
        return self._freed

    def _reserved_now(self, fut: asyncio.Future[bool]) -> None:
        self._reserving = None
        self._reserved = not fut.cancelled() and fut.exception() is None and fut.result()

    def wrote(self, end: int) -> int:
        """The worker wrote a record, up to ``end``; the region it is in (see
        :meth:`durable`)."""
        self._at = end
        self._pending[self._region] += 1
        return self._region

    def durable(self, region: int) -> None:
        """A value written in ``region`` is durable as its task's result."""
        self._pending[region] -= 1
        if self._pending[region]:
            return
        if self._freed is not None and not self._freed.done():
            self._freed.set_result(True)
        if self._ended and not any(self._pending):
            self._files.discard([self.path])

    def end(self) -> None:
        """Its worker has ended: the file goes once no value in it is waited for."""
        self._ended = True
        if self._freed is not None and not self._freed.done():
            self._freed.cancel()
        if not any(self._pending):
            self._files.discard([self.path])

    def __repr__(self) -> str:
        return f"<Journal {self.path} region={self._region} at={self._at} {self._pending}>"
