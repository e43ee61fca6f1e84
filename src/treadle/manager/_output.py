"""A task's output, bounded: :class:`OutputLimits` and the result's tail.

Owns how much of a task's output the broker keeps (the outbox's budget, a line's longest
length) and where all of it goes (the task's own log file), and the last lines a result
carries (:class:`Tail`). It writes nothing itself: the runner and its reporter do.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path

from .._exceptions import ConfigError
from ..process._output import human_size

__all__ = ["OutputLimits", "Tail"]

_TAIL_BYTES = 64 * 1024  # of stdout and of stderr kept in the result
_LINE_MAX = 1024 * 1024  # the longest line limit (escaped, it must fit a broker message)


@dataclass(frozen=True)
class OutputLimits:
    """Where a task's output goes, and how much of it the broker keeps.

    Args:
        log_dir: every line, in ``T{tid}.log`` there (both streams, each line says
            which), rotated at ``log_bytes`` with ``log_backups`` old files; None: no file.
        broker_bytes: output lines a task may write to its outbox; past them, one line
            says how much more there was and where it is.
        line_bytes: a longer line is cut to this many bytes, with a mark of the cut (its
            log file has all of it).
    """

    log_dir: Path | None = None
    broker_bytes: int = 4 * 1024 * 1024
    line_bytes: int = 64 * 1024
    log_bytes: int = 32 * 1024 * 1024
    log_backups: int = 4

    def __post_init__(self) -> None:
        if self.broker_bytes < 0:
            raise ConfigError("output_limit", f"must be >= 0 bytes, got {self.broker_bytes}")
        if not 0 < self.line_bytes <= _LINE_MAX:  # one line must fit a broker message
            raise ConfigError("line_limit", f"must be 1..{_LINE_MAX} bytes, got {self.line_bytes}")
        if self.log_bytes < 1 or self.log_backups < 0:
            raise ConfigError("log_bytes", "log sizes and counts must be positive")

    def log_path(self, tid: int) -> Path | None:
        return None if self.log_dir is None else self.log_dir / f"T{tid}.log"

    @property
    def log_dir_text(self) -> str | None:
        """``log_dir`` as text (made once: a task's log file is named for each task)."""
        text: str | None = self.__dict__.get("_log_dir_text")
        if text is None and self.log_dir is not None:
            text = str(self.log_dir)
            object.__setattr__(self, "_log_dir_text", text)
        return text


class Tail:
    """The last ``_TAIL_BYTES`` of a stream (of a longer line, its end and a mark)."""

    def __init__(self) -> None:
        self.lines: deque[str] = deque()
        self.size = 0

    def add(self, line: str) -> None:
        if len(line) >= _TAIL_BYTES:
            cut = len(line) - _TAIL_BYTES // 2
            line = f"[… {human_size(cut)} cut] " + line[cut:]
        self.lines.append(line)
        self.size += len(line) + 1
        while self.size > _TAIL_BYTES and len(self.lines) > 1:
            self.size -= len(self.lines.popleft()) + 1

    def text(self) -> str:
        return "\n".join(self.lines) + ("\n" if self.lines else "")
