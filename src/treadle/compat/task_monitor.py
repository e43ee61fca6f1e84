"""Seed 003's interface on treadle: :class:`TaskMonitor` and the global ``io_semaphore``.

For code written to ``agent.task_monitor`` and ``concurrency.io``: import from here instead.
``TaskMonitor`` restarts the asyncio Tasks its caller created and registered, with
treadle's ``Backoff`` and ``Intensity`` as the rules; ``io_semaphore()`` and friends are
the process-wide limiter ``"io"`` of :mod:`treadle.limits`.
"""

from ._task_monitor_io import IO_LIMITER as IO_LIMITER
from ._task_monitor_io import IOSemaphore as IOSemaphore
from ._task_monitor_io import IOSemaphoreStats as IOSemaphoreStats
from ._task_monitor_io import get_io_semaphore_stats as get_io_semaphore_stats
from ._task_monitor_io import io_semaphore as io_semaphore
from ._task_monitor_io import set_io_semaphore_count as set_io_semaphore_count
from ._task_monitor_io import with_io_semaphore as with_io_semaphore
from ._task_monitor_restarts import ComponentStats as ComponentStats
from ._task_monitor_restarts import RestartFactory as RestartFactory
from ._task_monitor_restarts import TaskMonitor as TaskMonitor

__all__ = [
    "IO_LIMITER",
    "ComponentStats",
    "IOSemaphore",
    "IOSemaphoreStats",
    "RestartFactory",
    "TaskMonitor",
    "get_io_semaphore_stats",
    "io_semaphore",
    "set_io_semaphore_count",
    "with_io_semaphore",
]
