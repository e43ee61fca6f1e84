"""Loops: repeated async work with backoff, pause/resume, heartbeats and metrics."""

from ._decorator import FunctionLoop as FunctionLoop
from ._decorator import loop as loop
from ._loop import Loop as Loop
from ._metrics import ErrorInfo as ErrorInfo
from ._metrics import LoopMetrics as LoopMetrics

__all__ = ["ErrorInfo", "FunctionLoop", "Loop", "LoopMetrics", "loop"]
