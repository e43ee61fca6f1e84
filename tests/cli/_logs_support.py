"""Log files written as treadle writes them, and ``treadle logs -f`` running to read from."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from ._support import TREADLE

T0 = time.mktime((2024, 5, 1, 12, 0, 0, 0, 0, -1))  # 12:00:00 local time


def stamp(ts: float) -> str:
    """``2024-05-01 12:00:00,250``: logging's asctime for ``ts``."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) + f",{int(ts * 1000) % 1000:03d}"


def output(ts: float, text: str, stream: str = "stdout") -> str:
    """A line of a child's NAME.log."""
    return f"{stamp(ts)} {stream} {text}\n"


def lifecycle(ts: float, name: str, old: str, new: str, reason: str = "") -> str:
    """A line of treadle.log for a Transition."""
    data = {
        "ts": ts,
        "name": name,
        "from": old,
        "to": new,
        "reason": reason,
        "attempt": 0,
        "backoff_s": None,
        "error": None,
    }
    return f"{stamp(ts)} treadle.lifecycle {json.dumps(data, separators=(',', ':'))}\n"


def append(path: Path, *lines: str) -> None:
    with open(path, "a") as f:
        f.write("".join(lines))


class Following:
    """``treadle logs -f ARGS`` running; its stdout read line by line, with a deadline."""

    def __init__(self, *args: str, stderr: Path, cwd: str | None = None) -> None:
        self._stderr = open(stderr, "w")  # noqa: SIM115 - closed in __exit__
        self.proc = subprocess.Popen(
            [TREADLE, "logs", "-f", *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            cwd=cwd,
        )
        assert self.proc.stdout is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(self.proc.stdout,))
        self._reader.start()
        self.seen: list[str] = []

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def expect(self, *texts: str, timeout: float = 20) -> list[str]:
        """Read until a line containing each of ``texts`` has come, in this order; the
        lines read."""
        deadline = time.monotonic() + timeout
        got: list[str] = []
        wanted = list(texts)
        while wanted:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"still waiting for {wanted}; got {got}") from None
            if line is None:
                raise AssertionError(f"treadle logs -f ended; waiting for {wanted}; got {got}")
            got.append(line)
            if wanted[0] in line:
                wanted.pop(0)
        self.seen += got
        return got

    def interrupt(self) -> int:
        """Ctrl-C: its exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=20)

    def __enter__(self) -> Following:
        return self

    def __exit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=20)
        self._reader.join(timeout=20)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._stderr.close()
