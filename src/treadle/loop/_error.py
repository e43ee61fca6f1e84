"""A run's error, kept as text: :class:`ErrorInfo`.

Owns the record of one exception (type, message, when, and its traceback or a treadle
error's own report), made when the exception is recorded so that its frames are not kept
alive. It does not decide when that happens (a loop's failure record does).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from .._exceptions import TreadleError

__all__ = ["ErrorInfo"]


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception, kept as text so its frames are not kept alive."""

    type: str
    message: str
    ts: float
    traceback: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> ErrorInfo:
        """The exception's type, message and traceback; a TreadleError's own report (a
        process's last lines) in place of a traceback that shows only treadle's frames."""
        report = exc.report() if isinstance(exc, TreadleError) else None
        return cls(
            type=type(exc).__qualname__,
            message=str(exc),
            ts=time.time(),
            traceback=report or "".join(traceback.format_exception(exc)),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "message": self.message,
            "ts": self.ts,
            "traceback": self.traceback,
        }

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type
