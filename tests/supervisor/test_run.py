"""treadle.run: a real process, real signals. First SIGTERM/SIGINT stops gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, treadle
    from treadle.loop import Loop
    from treadle.supervisor import Supervisor

    class Ticker(Loop):
        async def on_start(self):
            print("ready", flush=True)
        async def run_once(self):
            pass
        async def on_stop(self):
            print("on_stop ran", flush=True)

    sys.exit(treadle.run(Supervisor([Ticker(interval=3600)], name="svc")))
    """
)

STUBBORN = textwrap.dedent(
    """
    import asyncio, sys, treadle
    from treadle.supervisor import ChildSpec, Supervisor

    async def slow_to_stop():
        print("ready", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(3600)  # cleanup that never ends

    sys.exit(treadle.run(Supervisor([ChildSpec(slow_to_stop, shutdown_timeout=3600)])))
    """
)


def _start(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_tree_gracefully(sig: signal.Signals) -> None:
    proc = _start(SCRIPT)
    try:
        os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0, err
    assert "on_stop ran" in out
    assert "stopping gracefully" in err


def test_a_second_signal_forces() -> None:
    proc = _start(STUBBORN)
    try:
        os.kill(proc.pid, signal.SIGINT)
        # the first signal started a graceful stop that cannot finish; the second forces
        assert proc.stderr is not None
        while "stopping gracefully" not in proc.stderr.readline():
            pass
        os.kill(proc.pid, signal.SIGINT)
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130
