"""Keys pressed at a terminal, one at a time, for ``treadle top``: :class:`Keyboard`.

Owns the terminal's mode while a live view runs (cbreak: a key is read when pressed,
without echo; Ctrl-C still interrupts), restoring it however the view ends, and naming
what was pressed (``"up"``, ``"down"``, ``"enter"``, or the character). Standard input
that is not a terminal gives no keys: the view only waits.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from types import TracebackType
from typing import Any, Final, Self

__all__ = ["Keyboard"]

_NAMES: Final = {
    b"\x1b[A": "up",
    b"\x1bOA": "up",
    b"\x1b[B": "down",
    b"\x1bOB": "down",
    b"\x1b[C": "right",
    b"\x1b[D": "left",
    b"\r": "enter",
    b"\n": "enter",
    b"\x1b": "escape",
    b"\x7f": "backspace",
}


class Keyboard:
    """The keys pressed on ``fd`` (default: standard input), if it is a terminal."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.live = os.isatty(self.fd)
        self._saved: list[Any] | None = None
        self._pending: list[str] = []

    def __enter__(self) -> Self:
        if self.live:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None

    def read(self, timeout: float) -> str | None:
        """The next key pressed within ``timeout`` seconds, else None."""
        if self._pending:
            return self._pending.pop(0)
        if not self.live:
            time.sleep(max(0.0, timeout))  # the refresh rate of a terminal view
            return None
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return None
        data = os.read(self.fd, 64)
        if not data:  # the terminal went away: nothing more will come
            self.live = False
            return None
        self._pending = split(data)
        return self._pending.pop(0) if self._pending else None


def split(data: bytes) -> list[str]:
    """The keys in what one read returned (a fast typist, or a pasted run, sends several);
    an escape sequence it does not know is left out."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        three = data[i : i + 3]
        if three in _NAMES:
            keys.append(_NAMES[three])
            i += 3
        elif data[i : i + 2] == b"\x1bO":
            i += 3  # another key's sequence (F1...): not one of ours
        elif data[i : i + 2] == b"\x1b[":
            i += 2  # the same, up to its final byte (@ to ~)
            while i < len(data) and not 0x40 <= data[i] <= 0x7E:
                i += 1
            i += 1
        else:
            one = data[i : i + 1]
            keys.append(_NAMES.get(one) or one.decode(errors="replace"))
            i += 1
    return keys
