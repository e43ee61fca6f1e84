"""Issue 15 benchmarks: the command line at full speed, each figure beside its floor.

Run: ``python -m bench cli``. Every command goes through the installed ``treadle``
(``Path(sys.executable).parent / "treadle"``), rounds interleaved, medians reported.

1. Warm: ``treadle run --wait -- true`` with a manager already up, beside ``python -c
   pass`` and ``/bin/true`` (goal: at most 2x ``python -c pass``).
2. Cold: the same with no manager running (the command starts one; it is stopped after
   each round), beside ``python -c pass`` and the 250 ms goal.
3. ``treadle down`` of a project of 100 ``sleep`` processes (a treadle.toml in a temp
   dir, ``treadle up -d`` before each round), beside a Supervisor stopping the same 100
   in-process (goal: at most 0.3 s).

Children run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed from their
environment), as an installed package has it; the first round writes the caches.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treadle import ChildSpec, ProcessSpec, Supervisor
from treadle.client import Client

from ._util import row
from .control import a_manager

TREADLE = str(Path(sys.executable).parent / "treadle")
N_WARM = 30
N_COLD = 8
N_DOWN = 5
N_PROCESSES = 100


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **extra}


def _time(argv: list[str], env: dict[str, str], cwd: str | None = None) -> float:
    begin = time.perf_counter()  # stderr: the cold runs' "started manager" lines
    subprocess.run(
        argv, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - begin


def _report(samples: dict[str, list[float]], base: str) -> dict[str, float]:
    medians = {k: statistics.median(v) for k, v in samples.items()}
    row("", "median", "p90", "ratio")
    for label, values in samples.items():
        p90 = sorted(values)[int(len(values) * 0.9)]
        ratio = medians[label] / medians[base]
        row(label, f"{medians[label] * 1e3:.1f} ms", f"{p90 * 1e3:.1f} ms", f"{ratio:.2f}x")
    return medians


def latency(broker: str) -> None:
    """Warm: a manager is up."""
    env = _env(TREADLE_BROKER=broker)
    commands = {
        "/bin/true": ["/bin/true"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "treadle run --wait -- true": [TREADLE, "run", "--wait", "--", "true"],
    }
    samples: dict[str, list[float]] = {k: [] for k in commands}
    with a_manager(broker):
        for argv in commands.values():  # warm the page cache, the bytecode and the manager
            _time(argv, env)
        for _ in range(N_WARM):
            for label, argv in commands.items():
                samples[label].append(_time(argv, env))
    _report(samples, "python -c pass")
    print("  goal: treadle run --wait at most 2x python -c pass")


def cold(broker: str) -> None:
    """Cold: no manager; the command starts one, stopped after each round."""
    env = _env(TREADLE_BROKER=broker)
    run = [TREADLE, "run", "--wait", "--", "true"]
    stop = [TREADLE, "worker", "stop", "--all"]
    samples: dict[str, list[float]] = {"python -c pass": [], "treadle run --wait -- true": []}
    Client(broker).close()  # the broker file exists, as after any first use
    for i in range(N_COLD + 1):
        bare = _time([sys.executable, "-c", "pass"], env)
        took = _time(run, env)
        subprocess.run(stop, check=True, env=env, stdout=subprocess.DEVNULL)
        if i:  # the first round writes the bytecode caches
            samples["python -c pass"].append(bare)
            samples["treadle run --wait -- true"].append(took)
    medians = _report(samples, "python -c pass")
    print(
        f"  goal: at most 250 ms (median {medians['treadle run --wait -- true'] * 1e3:.0f} ms);"
        " weft takes ~2.1 s"
    )


def _project(root: Path) -> None:
    lines = ['[project]\nname = "hundred"\n']
    for i in range(N_PROCESSES):
        lines.append(f'[processes.p{i}]\ncommand = ["sleep", "600"]\n')
    (root / "treadle.toml").write_text("\n".join(lines))


async def _supervisor_stop() -> float:
    """A Supervisor runs the same 100 in-process; how long stopping them takes."""
    specs = [
        ChildSpec(ProcessSpec(argv=["sleep", "600"], name=f"p{i}")) for i in range(N_PROCESSES)
    ]
    sup = Supervisor(specs, name="hundred")
    await sup.start()
    await sup.wait_running()
    begin = time.perf_counter()
    await sup.stop()
    return time.perf_counter() - begin


def down(root: Path) -> None:
    env = {k: v for k, v in _env().items() if k != "TREADLE_BROKER"}
    _project(root)
    samples: dict[str, list[float]] = {"Supervisor.stop() in-process": [], "treadle down": []}
    for i in range(N_DOWN + 1):
        supervisor = asyncio.run(_supervisor_stop())
        subprocess.run(
            [TREADLE, "up", "-d"], check=True, env=env, cwd=root, stdout=subprocess.DEVNULL
        )
        took = _time([TREADLE, "down"], env, cwd=str(root))
        if i:
            samples["Supervisor.stop() in-process"].append(supervisor)
            samples["treadle down"].append(took)
    medians = _report(samples, "Supervisor.stop() in-process")  # the ratio is against it
    print(f"  goal: at most 0.3 s (median {medians['treadle down']:.2f} s)")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as tmp:
        print("-- treadle run --wait -- true, a manager already up (warm)")
        latency(str(Path(tmp) / "warm" / "broker.db"))
        print("-- treadle run --wait -- true, no manager running (cold)")
        cold(str(Path(tmp) / "cold" / "broker.db"))
        print(f"-- treadle down, a project of {N_PROCESSES} processes")
        (Path(tmp) / "project").mkdir()
        down(Path(tmp) / "project")


if __name__ == "__main__":
    main()
