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


# -- the event loop ------------------------------------------------------------------------------

WHICH = textwrap.dedent(
    """
    import asyncio, sys, treadle
    from treadle.supervisor import Supervisor

    async def which():
        print(type(asyncio.get_running_loop()).__module__, flush=True)
        sup.request_stop()

    sup = Supervisor(name="svc")
    sup.add(which)
    sys.exit(treadle.run(sup, **eval(sys.argv[1])))
    """
)


@pytest.mark.parametrize(
    ("kwargs", "env", "module"),
    [
        ({"loop": "uvloop"}, None, "uvloop"),
        ({"loop": "asyncio"}, "uvloop", "asyncio.unix_events"),  # named: the variable waits
        ({}, "uvloop", "uvloop"),
        ({}, None, "asyncio.unix_events"),
    ],
)
def test_run_runs_on_the_event_loop_named(
    kwargs: dict[str, str], env: str | None, module: str
) -> None:
    environ = {k: v for k, v in os.environ.items() if k != "TREADLE_EVENT_LOOP"}
    if env is not None:
        environ["TREADLE_EVENT_LOOP"] = env
    done = subprocess.run(
        [sys.executable, "-c", WHICH, repr(kwargs)],
        capture_output=True,
        text=True,
        timeout=30,
        env=environ,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == module


def test_a_bad_event_loop_is_a_config_error_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from treadle import ConfigError, run
    from treadle.loop import Loop
    from treadle.supervisor import Supervisor, run_coroutine

    class Never(Loop):
        async def run_once(self) -> None:
            raise AssertionError("it ran")

    with pytest.raises(ConfigError) as caught:
        run(Supervisor([Never()]), loop="trio")
    assert caught.value.field == "loop"
    assert caught.value.message == "'trio' is not one of asyncio, uvloop"

    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` fails, as if missing
    with pytest.raises(ConfigError, match=r"^loop: uvloop is not installed \(pip install uvloop"):
        run(Supervisor([Never()]), loop="uvloop")

    async def main() -> None:
        raise AssertionError("it ran")

    monkeypatch.setenv("TREADLE_EVENT_LOOP", "uvloop")
    with pytest.raises(ConfigError, match=r"^TREADLE_EVENT_LOOP: uvloop is not installed"):
        run_coroutine(main())  # closed, never awaited: no warning either
