"""How others steer a loop: :class:`Control`, a base of :class:`~treadle.Loop`.

Owns the requests a supervisor, an operator or a caller makes of a running loop (stop,
pause, resume: each returns at once; the loop acts on it after its current run) and
running a loop without a supervisor, in a task of its own (:meth:`Control.start`,
:meth:`Control.stop`). It does not run anything itself (``Loop.run`` does) nor decide what
a request does to the next wait (``_pacing``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .._lifecycle import PAUSED, RUNNING, STOPPING, UP
from ._settings import Settings

__all__ = ["Control"]

_log = logging.getLogger("treadle.loop")


class Control(Settings):
    """Stop, pause, resume; start and stop on its own (see the module's docstring)."""

    __slots__ = ()

    async def run(self, started: Callable[[], None] | None = None) -> None:
        raise NotImplementedError  # the Loop's: the one frame a loop's task runs

    def request_stop(self) -> None:
        """Ask the loop to stop after the current run; returns at once."""
        self._stop_requested = True
        self._attention = True
        if self._state in UP:
            self._set_state(STOPPING)
        self._interrupt()

    def pause(self) -> None:
        """Finish the current run, then idle until :meth:`resume`."""
        self._paused = True
        self._attention = True
        if self._state is RUNNING:
            self._set_state(PAUSED)
        self._interrupt()

    def resume(self) -> None:
        self._paused = False
        self._attention = True
        if self._state is PAUSED:
            self._set_state(RUNNING)
        self._interrupt()

    def start(self) -> asyncio.Task[None]:
        """Run this loop in a task of its own (without a supervisor); :meth:`stop` ends it."""
        extra = self._extra_record()  # a task of its own is rare: not a slot of every loop
        if extra.task is not None and not extra.task.done():
            raise RuntimeError(f"loop {self._name!r} is already started")
        task = asyncio.get_running_loop().create_task(self.run(), name=f"loop:{self._name}")
        extra.task = task
        return task

    async def stop(self, timeout: float | None = 10.0) -> None:  # noqa: ASYNC109 - a boundary
        """Stop a loop started with :meth:`start`: graceful, then cancelled after ``timeout``.

        Re-raises the loop's own failure, if it failed.
        """
        self.request_stop()
        task = None if self._extra is None else self._extra.task
        if task is None:
            return
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self._opts.hook_timeout)
            if not done:
                _log.error("loop %s ignores cancellation; abandoning its task", self._name)
                return
        self._extra_record().task = None
        if not task.cancelled() and (exc := task.exception()) is not None:
            raise exc

    async def run_forever(self) -> None:
        """Run in the current task until stopped; the same as ``run()``."""
        await self.run()
