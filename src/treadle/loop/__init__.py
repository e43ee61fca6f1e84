"""Loops: repeated async work with backoff, pause/resume, heartbeats and metrics.

``treadle.loop`` is both this package and the ``@loop`` decorator: the module is callable
(its class forwards calls to :func:`loop`), so ``treadle.loop(interval=5)`` works whether
or not the package has been imported, and ``import treadle`` need not import asyncio.
"""

import sys as _sys
import types as _types
from typing import Any as _Any

from ._decorator import FunctionLoop as FunctionLoop
from ._decorator import loop as loop
from ._error import ErrorInfo as ErrorInfo
from ._loop import Loop as Loop
from ._metrics import LoopMetrics as LoopMetrics

__all__ = ["ErrorInfo", "FunctionLoop", "Loop", "LoopMetrics", "loop"]


class _CallableModule(_types.ModuleType):
    def __call__(self, *args: _Any, **kwargs: _Any) -> _Any:
        return loop(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule
