"""Issue 8 benchmarks: restart after a crash, and 100 idle processes, against supervisord.

Run: ``python -m bench.processes`` (``make bench`` installs supervisord for it). A tiny C
program stamps its first instruction and its exit; the restart latency is from one run's
exit to the next run's first instruction.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import psutil

from treadle import Backoff, Jitter, ProcessSpec
from treadle.supervisor import ChildSpec, Supervisor

from ._util import in_fresh_process, row

CRASHER_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static long long now(void) {
    struct timespec ts; clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
int main(int argc, char **argv) {
    long long start = now();
    char buf[64];
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
    long long end = now();
    int n = snprintf(buf, sizeof buf, "%lld %lld\n", start, end);
    write(fd, buf, n);
    close(fd);
    return 1;
}
"""

N_TREADLE = 200
N_SUPERVISORD = 8  # its 1 s tick makes each sample cost a second
N_IDLE = 100


def _build(tmp: Path) -> Path:
    src = tmp / "crasher.c"
    src.write_text(CRASHER_C)
    exe = tmp / "crasher"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def _latencies(stamps: Path) -> list[float]:
    rows = [tuple(map(int, line.split())) for line in stamps.read_text().splitlines()]
    return [(rows[i + 1][0] - rows[i][1]) / 1e9 for i in range(len(rows) - 1)]


async def _wait_lines(path: Path, n: int, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{path}: fewer than {n} runs in {within}s")


async def _treadle_restarts(exe: Path, stamps: Path, pdeathsig: bool) -> list[float]:
    spec = ProcessSpec(
        argv=[str(exe), str(stamps)],
        name="crasher",
        parent_death_signal=signal.SIGKILL if pdeathsig else None,
    )
    zero = Backoff(initial=0, max=0, jitter=Jitter.NONE)
    async with Supervisor([ChildSpec(spec, backoff=zero)], intensity=10**6):
        await _wait_lines(stamps, N_TREADLE + 1, 120)
    return _latencies(stamps)[:N_TREADLE]


def _supervisord_conf(tmp: Path, program: str) -> Path:
    conf = tmp / "supervisord.conf"
    conf.write_text(
        textwrap.dedent(
            f"""
            [supervisord]
            nodaemon=true
            loglevel=error
            user=root
            logfile={tmp}/supervisord.log
            pidfile={tmp}/supervisord.pid
            childlogdir={tmp}
            {program}
            """
        )
    )
    return conf


def _supervisord_restarts(tmp: Path, exe: Path, stamps: Path) -> list[float]:
    program = f"""
[program:crasher]
command={exe} {stamps}
autorestart=true
startsecs=0
startretries=1000000
"""
    conf = _supervisord_conf(tmp, program)
    sd = subprocess.Popen(
        [shutil.which("supervisord") or "supervisord", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(_wait_lines(stamps, N_SUPERVISORD + 1, 60))
    finally:
        sd.terminate()
        sd.wait(timeout=30)
    return _latencies(stamps)[:N_SUPERVISORD]


def _stats_ms(samples: list[float]) -> tuple[str, str]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered) * 1e3:.2f} ms", f"{p99 * 1e3:.2f} ms"


def restart_latency() -> None:
    print("1. crash -> restart: a process that exits 1 at once, zero backoff")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        exe = _build(tmp)
        ours = asyncio.run(_treadle_restarts(exe, tmp / "t1", pdeathsig=True))
        ours_bare = asyncio.run(_treadle_restarts(exe, tmp / "t2", pdeathsig=False))
        theirs = _supervisord_restarts(tmp, exe, tmp / "s")
    row("", "median", "p99", "samples")
    row("supervisord 4 (startsecs=0)", *_stats_ms(theirs), str(len(theirs)))
    row("treadle (parent-death signal on)", *_stats_ms(ours), str(len(ours)))
    row("treadle (parent_death_signal=None)", *_stats_ms(ours_bare), str(len(ours_bare)))
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"  treadle is {ratio:,.0f}x faster than supervisord (target >= 10x)")


# -- 2. 100 idle processes -------------------------------------------------------------------


async def _idle_treadle() -> dict[str, float]:
    specs = [
        ChildSpec(ProcessSpec(argv=["sleep", "1000"], name=f"s{i}", stop_timeout=10))
        for i in range(N_IDLE)
    ]
    sup = Supervisor(specs, name="idle")
    await sup.start()
    await sup.wait_running()
    me = psutil.Process()
    await asyncio.sleep(0.5)
    cpu0 = sum(me.cpu_times()[:2])
    await asyncio.sleep(2.0)
    cpu = (sum(me.cpu_times()[:2]) - cpu0) / 2.0
    rss = me.memory_info().rss
    start = time.perf_counter()
    await sup.stop()
    return {"rss": rss, "cpu": cpu, "stop_s": time.perf_counter() - start}


def _idle_supervisord() -> dict[str, float]:
    program = f"""
[program:s]
command=sleep 1000
process_name=%(program_name)s_%(process_num)03d
numprocs={N_IDLE}
startsecs=0
stopwaitsecs=10
"""
    with tempfile.TemporaryDirectory() as d:
        conf = _supervisord_conf(Path(d), program)
        sd = psutil.Popen(
            [shutil.which("supervisord") or "supervisord", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while len(sd.children()) < N_IDLE and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
            cpu0 = sum(sd.cpu_times()[:2])
            time.sleep(2.0)
            cpu = (sum(sd.cpu_times()[:2]) - cpu0) / 2.0
            rss = sd.memory_info().rss
            start = time.perf_counter()
            sd.send_signal(signal.SIGTERM)
            sd.wait(timeout=60)
            return {"rss": rss, "cpu": cpu, "stop_s": time.perf_counter() - start}
        finally:
            if sd.poll() is None:
                sd.kill()
                sd.wait()


def idle() -> None:
    print(f"2. {N_IDLE} supervised `sleep` processes, idle")
    ours: dict[str, Any] = in_fresh_process("bench.processes", "idle-treadle")
    theirs = _idle_supervisord()
    row("", "supervisord", "treadle", "")
    row("supervisor RSS", f"{theirs['rss'] / 2**20:.1f} MiB", f"{ours['rss'] / 2**20:.1f} MiB", "")
    row("supervisor CPU while idle", f"{theirs['cpu']:.2%}", f"{ours['cpu']:.2%}", "(~0)")
    row("stop all gracefully", f"{theirs['stop_s']:.3f} s", f"{ours['stop_s']:.3f} s", "")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "idle-treadle":
        print(json.dumps(asyncio.run(_idle_treadle())))
        return
    if shutil.which("supervisord") is None or shutil.which("gcc") is None:
        print("bench.processes needs supervisord (pip install '.[bench]') and gcc; skipped")
        return
    restart_latency()
    idle()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
