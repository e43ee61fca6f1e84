"""``treadle.run(tree)``: run a tree until SIGINT/SIGTERM, the way a service should.

Owns :func:`run` and :func:`serve`, and the choice of the event loop they run on
(:func:`run_coroutine`): ``"asyncio"``, asyncio's own (what ``asyncio.run`` makes), or
``"uvloop"``; unnamed, ``$TREADLE_EVENT_LOOP`` says which, else asyncio. The first signal
asks for a graceful stop; a second one cancels at once (CPython's ``asyncio.run``
convention). :func:`run` returns a process exit code. It does not supervise: the tree it
runs does.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Literal, TypeVar

from .._exceptions import ConfigError, TreadleError
from .._runnable import Runnable

__all__ = [
    "EVENT_LOOPS",
    "EVENT_LOOP_ENV",
    "EventLoop",
    "loop_factory",
    "run",
    "run_coroutine",
    "serve",
]

_log = logging.getLogger("treadle")
_T = TypeVar("_T")

EventLoop = Literal["asyncio", "uvloop"]
EVENT_LOOPS: tuple[EventLoop, ...] = ("asyncio", "uvloop")
EVENT_LOOP_ENV = "TREADLE_EVENT_LOOP"
"""The event loop :func:`run` uses when none is named (``asyncio`` if unset)."""


def loop_factory(loop: str | None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the event loop named ``loop`` (None: ``$TREADLE_EVENT_LOOP``, else
    asyncio): None for asyncio's own, uvloop's ``new_event_loop``. A name that is
    neither, or uvloop not installed, is a :class:`ConfigError` naming ``loop`` (or the
    variable)."""
    field = "loop"
    if loop is None:
        loop = os.environ.get(EVENT_LOOP_ENV) or "asyncio"
        field = EVENT_LOOP_ENV
    if loop == "asyncio":
        return None
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            raise ConfigError(
                field, "uvloop is not installed (pip install uvloop, or treadle[uvloop])"
            ) from None
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return factory
    raise ConfigError(field, f"{loop!r} is not one of {', '.join(EVENT_LOOPS)}")


def run_coroutine(coro: Coroutine[Any, Any, _T], *, loop: str | None = None) -> _T:
    """``asyncio.run(coro)`` on the event loop named ``loop`` (``asyncio`` or ``uvloop``;
    None: ``$TREADLE_EVENT_LOOP``, else asyncio). A bad name, or uvloop missing, raises
    :class:`ConfigError` before anything runs (``coro`` is closed unawaited)."""
    try:
        factory = loop_factory(loop)
    except BaseException:
        coro.close()  # never to be awaited: no warning about it
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


async def serve(
    target: Runnable,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
    *,
    started: Callable[[], None] = lambda: None,
) -> None:
    """Run ``target`` in this task; the first signal stops it gracefully, the second cancels.
    ``started`` is called once the target says it is ready."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received = 0

    def on_signal(sig: signal.Signals) -> None:
        nonlocal received
        received += 1
        if received == 1:
            _log.warning("%s received: stopping gracefully (again to force)", sig.name)
            target.request_stop()
        elif task is not None:
            _log.warning("%s received again: cancelling", sig.name)
            task.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        await target.run(started)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


def run(
    target: Runnable, *, started: Callable[[], None] = lambda: None, loop: str | None = None
) -> int:
    """Run ``target`` (a Supervisor or a Loop) until it ends or a signal stops it;
    ``started`` is called once it is ready (a manager: registered, taking work).

    ``loop`` is the event loop to run on: ``"asyncio"`` (asyncio's own, what
    ``asyncio.run`` makes) or ``"uvloop"`` (installed apart: ``pip install uvloop``);
    None: ``$TREADLE_EVENT_LOOP``, else asyncio. Anything else, or uvloop missing, raises
    :class:`ConfigError` before anything runs.

    Returns 0 after a clean stop, 1 if the target failed (the error is logged).
    """
    factory = loop_factory(loop)
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(serve(target, started=started))
    except TreadleError as exc:
        _log.error("%s", exc)
        return 1
    except asyncio.CancelledError:
        return 130
    return 0
