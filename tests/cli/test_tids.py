"""What the user did: a TID taken from ``--json`` with jq, handed back to ``treadle``.

jq 1.6 reads JSON numbers as doubles: ``1796638195978276864`` came out as
``1796638195978276900`` and ``treadle task status`` found no such task. A TID in JSON is
text, so ``jq -r`` gives it whole. Run through a real shell and the installed command."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ._support import TREADLE, gone, treadle, treadle_json

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="no jq")


def shell(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in sh, as a person types it, with the installed treadle on PATH."""
    path = f"{Path(TREADLE).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        ["sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "PATH": path},
    )


def test_a_tid_from_task_list_through_jq_names_its_task(broker_path: str, tmp_path: Path) -> None:
    started = treadle_json("worker", "start")
    try:
        first = shell("treadle run --wait -- true && treadle run --wait -- echo second", tmp_path)
        assert first.returncode == 0, first.stderr
        listed = treadle_json("task", "list")
        assert all(isinstance(t["tid"], str) and isinstance(t["manager"], str) for t in listed)
        done = shell("treadle task status $(treadle task list --json | jq -r '.[1].tid')", tmp_path)
        assert done.returncode == 0, done.stderr
        assert listed[1]["tid"] in done.stdout
        assert "completed" in done.stdout
        status = shell(
            "treadle task status --json $(treadle task list --json | jq -r '.[1].tid')"
            " | jq -r .manager",
            tmp_path,
        )
        assert status.stdout.strip() == started["tid"]
        run = shell("treadle run --json -- true | jq -r .tid", tmp_path)
        assert run.stdout.strip() == str(int(run.stdout))  # whole: no 1.79e+18, no rounding
        workers = shell("treadle worker list --json | jq -r '.[0].tid'", tmp_path)
        assert workers.stdout.strip() == started["tid"]
    finally:
        stopped = treadle("worker", "stop", started["tid"])
        gone(started["pid"])
    assert stopped.returncode == 0
