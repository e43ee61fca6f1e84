"""``treadle.run(tree)``: run a tree until SIGINT/SIGTERM, the way a service should.

The first signal asks for a graceful stop; a second one cancels at once (CPython's
``asyncio.run`` convention). Returns a process exit code.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Sequence

from .._exceptions import TreadleError
from .._runnable import Runnable

__all__ = ["run", "serve"]

_log = logging.getLogger("treadle")


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


def run(target: Runnable, *, started: Callable[[], None] = lambda: None) -> int:
    """Run ``target`` (a Supervisor or a Loop) until it ends or a signal stops it;
    ``started`` is called once it is ready (a manager: registered, taking work).

    Returns 0 after a clean stop, 1 if the target failed (the error is logged).
    """
    try:
        asyncio.run(serve(target, started=started))
    except TreadleError as exc:
        _log.error("%s", exc)
        return 1
    except asyncio.CancelledError:
        return 130
    return 0
