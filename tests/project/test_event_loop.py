"""``[supervisor] event_loop``: read, checked (a name, and uvloop installed), and honoured by
``treadle up``, which the test runs as the user does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .test_load import error, load, where

TREADLE = str(Path(sys.executable).parent / "treadle")


def test_the_default_is_unset_and_uvloop_is_read(tmp_path: Path) -> None:
    assert load(tmp_path, "[project]\nname = 'p'\n").supervisor.event_loop is None
    config = load(tmp_path, '[supervisor]\nevent_loop = "uvloop"\n')
    assert config.supervisor.event_loop == "uvloop"


def test_an_unknown_loop_is_an_error_at_its_key(tmp_path: Path) -> None:
    exc = error(tmp_path, '[supervisor]\nevent_loop = "trio"\n')
    assert where(exc) == ("treadle.toml", 2, 1, "supervisor.event_loop")
    assert exc.message == 'must be one of asyncio, uvloop; got "trio"'


def test_uvloop_not_installed_is_said_at_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` fails, as if missing
    exc = error(tmp_path, '[supervisor]\nevent_loop = "uvloop"\n')
    assert where(exc) == ("treadle.toml", 2, 1, "supervisor.event_loop")
    assert exc.message == "uvloop is not installed (pip install uvloop, or treadle[uvloop])"


def test_a_nested_supervisor_has_no_event_loop_of_its_own(tmp_path: Path) -> None:
    exc = error(tmp_path, '[supervisors.bg]\nevent_loop = "uvloop"\n')
    assert where(exc)[3] == "supervisors.bg.event_loop"


PROJECT = """
[project]
name = "fast"

[supervisor]
event_loop = "{loop}"

[loops.which]
target = "jobs:which"
interval = "1h"
"""

JOBS = """
import asyncio, os
from treadle import loop

@loop(interval=3600)
async def which() -> None:
    with open(os.environ["WHICH_OUT"], "w") as f:
        f.write(type(asyncio.get_running_loop()).__module__)
"""


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_treadle_up_runs_the_project_on_its_event_loop(tmp_path: Path, loop: str) -> None:
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(PROJECT.format(loop=loop)))
    (tmp_path / "jobs.py").write_text(textwrap.dedent(JOBS))
    out = tmp_path / "which.out"
    env = {k: v for k, v in os.environ.items() if k not in ("TREADLE_BROKER", "TREADLE_EVENT_LOOP")}
    env["WHICH_OUT"] = str(out)
    proc = subprocess.Popen(
        [TREADLE, "up", "--no-logs"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (out.exists() and out.read_text()):  # written by another process
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "the loop never ran"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.read_text() == ("uvloop" if loop == "uvloop" else "asyncio.unix_events")
