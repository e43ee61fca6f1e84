"""The real ``treadle`` command, run as a process against a real broker file."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil

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
    """Wait for a process that is not ours (a manager started in the background) to end."""
    with contextlib.suppress(psutil.NoSuchProcess):
        psutil.Process(pid).wait(timeout=20)
