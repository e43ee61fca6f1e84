"""Stacks as text: where a task is, down the whole ``await`` chain, for stuck reports.

``Task.get_stack()`` shows only the task's own coroutine; a stuck child is stuck somewhere
below it, so this follows ``cr_await`` (and ``gi_yieldfrom`` for generator-based awaitables)
from the task's coroutine to the innermost frame.
"""

from __future__ import annotations

import asyncio
import traceback
import types
from collections.abc import Iterator

__all__ = ["task_stack"]


def _await_chain(obj: object, limit: int) -> Iterator[types.FrameType]:
    for _ in range(limit):
        if isinstance(obj, types.CoroutineType):
            frame, obj = obj.cr_frame, obj.cr_await
        elif isinstance(obj, types.GeneratorType):
            frame, obj = obj.gi_frame, obj.gi_yieldfrom
        elif isinstance(obj, types.AsyncGeneratorType):
            frame, obj = obj.ag_frame, obj.ag_await
        else:
            return  # a Future, or something we cannot see into
        if frame is None:
            return
        yield frame


def task_stack(task: asyncio.Task[object], limit: int = 50) -> str:
    """The task's await chain, outermost first, as traceback-style text with source lines."""
    frames = [(f, f.f_lineno) for f in _await_chain(task.get_coro(), limit)]
    if not frames:
        return f"{task.get_name()}: no frames (done or not started)\n"
    lines = traceback.StackSummary.extract(frames).format()
    return f"Stack of task {task.get_name()!r} (most recent call last):\n" + "".join(lines)
