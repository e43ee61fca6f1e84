"""Running the harness from outside: one scenario in a subprocess, its figures parsed.

Shared by the tests and ``bench/chaos.py``, so that the subreaper setting never touches
the process that asks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

from ._counting import Figures
from ._harness import ROOT

__all__ = ["run_scenario"]


def run_scenario(
    scenario: str, backend: str, *, seed: int = 14, size: int = 1, budget: int = 90
) -> Figures:
    """Run one scenario; its figures. The harness tears down within ``budget`` seconds;
    past another 60 its process group is killed."""
    argv = [sys.executable, "-m", "tests.chaos._harness", scenario, "--backend", backend]
    argv += ["--seed", str(seed), "--size", str(size), "--budget", str(budget)]
    path = os.environ.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        # the repository first (tests.chaos), then what was there (the treadle under test)
        env={**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), path]))},
    )
    try:
        out, err = proc.communicate(timeout=budget + 60)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    lines = out.decode().strip().splitlines()
    if not lines or not lines[-1].startswith("{"):
        tail = err.decode(errors="replace")[-2000:]
        raise RuntimeError(f"chaos harness {scenario} on {backend}: no figures\n{tail}")
    return Figures.from_json(lines[-1])
