"""The watchdog: notice when the event loop stops turning, and say who is blocking it.

Owns :class:`LoopWatchdog` and :class:`BlockReport`. A callback on the loop records when the
loop last turned; a daemon thread wakes every ``threshold / 4`` and, if the loop has not
turned for ``threshold`` seconds, samples the loop thread's stack (``sys._current_frames``)
and the running task. That is a report, not a kill. Nothing patches asyncio internals, so it
works under uvloop too. Idle cost: one timer callback per ``threshold / 4`` on the loop, and
a sleeping thread.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

__all__ = ["BlockReport", "LoopWatchdog"]

_log = logging.getLogger("treadle.health")


@dataclass
class BlockReport:
    """One episode of a blocked loop. ``duration`` is set once the loop turns again."""

    started_at: float  # wall clock when the loop last turned
    detected_after: float  # seconds blocked when first noticed
    duration: float | None
    task: str | None  # the task running when sampled, if one was
    stack: str  # the loop thread's stack when sampled

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "detected_after": self.detected_after,
            "duration": self.duration,
            "task": self.task,
            "stack": self.stack,
        }


class LoopWatchdog:
    """Watch one event loop from a thread; ``with LoopWatchdog(threshold=1.0):``."""

    def __init__(
        self,
        threshold: float = 1.0,
        *,
        on_block: Callable[[BlockReport], None] | None = None,
        max_reports: int = 100,
    ) -> None:
        if not threshold > 0:
            raise ValueError(f"threshold must be > 0, got {threshold}")
        self.threshold = threshold
        self.on_block = on_block
        self._reports: deque[BlockReport] = deque(maxlen=max_reports)
        self.blocks = 0
        self.longest_s = 0.0
        # Written by the loop thread (one float store: atomic under the GIL), read by the
        # watcher thread. The open episode is handed over under a lock.
        self._last_turn = time.monotonic()
        self._open: BlockReport | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- control --------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start watching ``loop`` (default: the running one); call from the loop's thread."""
        if self._thread is not None:
            raise RuntimeError("watchdog already started")
        self._loop = loop or asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._last_turn = time.monotonic()
        self._stop.clear()
        self._tick()
        self._thread = threading.Thread(target=self._watch, name="treadle-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(1.0, self.threshold))
            self._thread = None

    def __enter__(self) -> LoopWatchdog:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> LoopWatchdog:
        return self.__enter__()

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- observation ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def reports(self) -> list[BlockReport]:
        with self._lock:
            return list(self._reports)

    def stats(self) -> dict[str, Any]:
        last = self.reports[-1] if self._reports else None
        summary = (
            None if last is None else {k: v for k, v in last.as_dict().items() if k != "stack"}
        )
        return {
            "threshold": self.threshold,
            "running": self.running,
            "blocks": self.blocks,
            "longest_s": self.longest_s,
            "last": summary,
        }

    # -- mechanism: the loop's side --------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        if self._open is not None:  # the loop turned again: close the episode
            with self._lock:
                report, self._open = self._open, None
            if report is not None:
                report.duration = now - self._last_turn
                self.longest_s = max(self.longest_s, report.duration)
        self._last_turn = now
        assert self._loop is not None
        self._handle = self._loop.call_later(self.threshold / 4, self._tick)

    # -- mechanism: the watcher thread -----------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.wait(self.threshold / 4):
            blocked_for = time.monotonic() - self._last_turn
            if blocked_for > self.threshold and self._open is None:
                self._report(blocked_for)

    def _report(self, blocked_for: float) -> None:
        frame = sys._current_frames().get(self._loop_thread or 0)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else ""
        report = BlockReport(
            started_at=time.time() - blocked_for,
            detected_after=blocked_for,
            duration=None,
            task=self._running_task(),
            stack=stack,
        )
        with self._lock:
            self._open = report
            self._reports.append(report)
            self.blocks += 1
        _log.warning(
            "event loop blocked for %.3fs (threshold %.3gs) by %s:\n%s",
            blocked_for,
            self.threshold,
            report.task or "a callback",
            stack,
        )
        if self.on_block is not None:
            try:
                self.on_block(report)  # runs in the watcher thread
            except Exception:  # noqa: BLE001 - a broken callback must not end the watch
                _log.exception("watchdog on_block callback failed")

    def _running_task(self) -> str | None:
        # Best effort, read from another thread: asyncio keeps the running task per loop in
        # a private dict (a plain dict read under the GIL). If that ever moves, we say None.
        current = getattr(asyncio.tasks, "_current_tasks", None)
        if not isinstance(current, dict) or self._loop is None:
            return None
        task = current.get(self._loop)
        if task is None:
            return None
        coro = task.get_coro()
        return f"{task.get_name()} ({getattr(coro, '__qualname__', type(coro).__name__)})"
