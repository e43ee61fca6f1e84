"""A real pseudo-terminal for the commands people run at one (``status``, ``top``)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time
from types import TracebackType
from typing import Self

from ._support import TREADLE

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][A-Za-z0-9]|[=>78M])")


def plain(text: str) -> str:
    """What the terminal shows, without its escape sequences."""
    return _ANSI.sub("", text).replace("\r", "")


class Terminal:
    """``treadle ARGS`` at a terminal ``columns`` wide: what it writes, keys sent to it."""

    def __init__(self, *args: str, cwd: str, columns: int = 80, rows: int = 30) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
        env["TERM"] = "xterm-256color"
        self.proc = subprocess.Popen(
            [TREADLE, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            start_new_session=True,  # the terminal is its controlling one
        )
        os.close(slave)
        self.output = ""

    def read_until(self, text: str, timeout: float = 30.0) -> str:
        """Read what it writes until ``text`` has been shown (after what was read before)."""
        start = len(plain(self.output))
        deadline = time.monotonic() + timeout
        while text not in plain(self.output)[start:]:
            left = deadline - time.monotonic()
            assert left > 0, f"never shown: {text!r}; last: {plain(self.output)[-2000:]}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    data = os.read(self.master, 65536)
                except OSError:  # it ended: the terminal has nothing more
                    data = b""
                if not data:
                    assert text in plain(self.output)[start:], plain(self.output)[-2000:]
                    break
                self.output += data.decode(errors="replace")
        return plain(self.output)[start:]

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def wait(self, timeout: float = 30.0) -> int:
        """Its exit status, once it has ended (what it wrote meanwhile is read)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            assert time.monotonic() < deadline, "it did not end"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                with contextlib.suppress(OSError):  # it ended
                    self.output += os.read(self.master, 65536).decode(errors="replace")
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
