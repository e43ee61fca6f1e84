"""The real ``treadle`` command, run as a process against a real broker file."""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TREADLE = str(Path(sys.executable).parent / "treadle")


def treadle(
    *args: str, timeout: float = 60, cwd: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``treadle ARGS`` to its end (TREADLE_BROKER comes from the test's env)."""
    return subprocess.run(
        [TREADLE, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )


def treadle_json(*args: str) -> Any:
    done = treadle(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def gone(pid: int) -> None:
    """Wait for a manager started in the background to end: its exit, through a pidfd,
    not its reaping (its parent here may be an init that reaps late); reaped if it is
    this process's child."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        ready, _, _ = select.select([fd], [], [], 20)
        assert ready, f"process {pid} did not end within 20 s"
    finally:
        os.close(fd)
    with contextlib.suppress(ChildProcessError):  # ours after all (started here): reaped
        os.waitpid(pid, 0)


@contextlib.contextmanager
def up_in_background(root: Path) -> Iterator[Path]:
    """The project in ``root`` up with ``treadle up -d`` for a block; down after it (its
    manager gone). The caller unsets TREADLE_BROKER: the project's own broker is used."""
    up = treadle("up", "-d", cwd=str(root))
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        yield root
    finally:
        treadle("down", cwd=str(root))
        gone(pid)
