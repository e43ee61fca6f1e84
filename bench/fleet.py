"""Issue 5 benchmarks: a fleet of managers on PostgreSQL, in one run.

Run: ``python -m bench.fleet`` (needs the PostgreSQL server on 127.0.0.1:5432, database
``test``). Every broker is a fresh schema, dropped afterwards.

1. Throughput of trivial tasks (``true``) with 1, 2 and 4 managers on PostgreSQL, beside
   1 manager on SQLite, with the managers' CPU per task (theirs and their spawners').
2. Scaling: tasks that wait (``sleep 0.1``), 8 at once per manager, with 1, 2 and 4
   managers: throughput against linear (n times one manager's), and CPU per task.
3. Takeover: the leader killed (SIGKILL), until another manager holds the lease; and a
   manager killed with a task running, until that task runs on another manager. The
   managers play different hosts, so only the lease tells them apart (lease 2 s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from treadle.client import Client
from treadle.manager import _leases

from ._util import row

PG = "postgresql://postgres@127.0.0.1:5432/test"
N_TASKS = 600
LEASE = 2.0
ROUNDS = 3
IO_SLOTS = 8  # tasks at once per manager in the scaling run (2 cores for 4 managers)


@contextlib.contextmanager
def pg_broker() -> Iterator[str]:
    import psycopg

    name = f"bench_{secrets.token_hex(5)}"
    try:
        yield f"{PG}?schema={name}"
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@contextlib.contextmanager
def fleet(
    client: Client, n: int, **options: float
) -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    started = []
    try:
        for i in range(n):
            tid = client.broker.timestamp()
            argv = [sys.executable, "-m", "treadle.manager", "--broker", client.url.location]
            argv += ["--tid", str(tid)]
            for key, value in options.items():
                argv += [f"--{key.replace('_', '-')}", str(value)]
            os.environ["TREADLE_HOST"] = f"bench-host-{i}"
            try:
                record, proc = client.launch(argv, tid, timeout=60)
            finally:
                del os.environ["TREADLE_HOST"]
            started.append((record.tid, proc))
        yield started
    finally:
        for tid, proc in started:
            if proc.poll() is None:
                with contextlib.suppress(Exception):
                    client.stop_manager(tid, timeout=20)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _cpu(pids: list[int]) -> float:
    """CPU seconds of these processes and their descendants (the spawners)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            top = psutil.Process(pid)
            for proc in [top, *top.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = proc.cpu_times()
                    total += t.user + t.system
    return total


def throughput(url: str, managers: int, argv: list[str], n: int, **options: float) -> Rate:
    """Tasks/s from submission to the last result, and the managers' CPU ms per task."""
    with Client(url) as client, fleet(client, managers, **options) as started:
        pids = [proc.pid for _, proc in started]
        client.wait(client.submit(argv).tid, timeout=60)  # every manager's spawner is up
        cpu = _cpu(pids)
        begin = time.perf_counter()
        specs = client.submit_many([{"argv": argv} for _ in range(n)])
        for spec in specs:
            client.wait(spec.tid, timeout=300)
        elapsed = time.perf_counter() - begin
        return Rate(n / elapsed, (_cpu(pids) - cpu) * 1e3 / n)


@dataclasses.dataclass
class Rate:
    per_s: float
    cpu_ms: float


def scaling() -> None:
    """I/O-bound tasks (each sleeps 100 ms) with 1, 2 and 4 managers, rounds interleaved."""
    per_manager = IO_SLOTS / 0.1  # the rate one manager can reach: its slots, 100 ms each
    rates: dict[int, list[Rate]] = {1: [], 2: [], 4: []}
    for _ in range(ROUNDS):
        for n in rates:
            with pg_broker() as url:
                count = int(per_manager * n * 2.5)  # about 2.5 s of work whatever n
                rates[n].append(throughput(url, n, ["sleep", "0.1"], count, max_tasks=IO_SLOTS))
    one = statistics.median(r.per_s for r in rates[1])
    row("", "tasks/s", "vs linear", "CPU/task", "ideal")
    for n, got in rates.items():
        rate = statistics.median(r.per_s for r in got)
        cpu = statistics.median(r.cpu_ms for r in got)
        label = f"{n} manager{'s' if n > 1 else ''} x {IO_SLOTS} slots"
        row(
            label,
            f"{rate:.0f}",
            f"{rate / (n * one):.2f}x",
            f"{cpu:.2f} ms",
            f"{per_manager * n:.0f}",
        )
    print("  goal: >= 0.8x linear (4 managers >= 3.2x one)")


def trivial() -> None:
    """Trivial tasks (``true``): 1 manager on SQLite beside 1, 2 and 4 on PostgreSQL."""
    rates: dict[str, list[Rate]] = {}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory(prefix="treadle-bench-") as tmp:
            one = throughput(str(Path(tmp) / "broker.db"), 1, ["true"], N_TASKS)
            rates.setdefault("1 manager, SQLite", []).append(one)
        for n in (1, 2, 4):
            with pg_broker() as url:
                label = f"{n} manager{'s' if n > 1 else ''}, PostgreSQL"
                rates.setdefault(label, []).append(throughput(url, n, ["true"], N_TASKS))
    base = statistics.median(r.per_s for r in rates["1 manager, SQLite"])
    row("", "tasks/s", "vs SQLite", "CPU/task")
    for label, got in rates.items():
        rate = statistics.median(r.per_s for r in got)
        cpu = statistics.median(r.cpu_ms for r in got)
        row(label, f"{rate:.0f}", f"{rate / base:.0%}", f"{cpu:.2f} ms")
    print("  goal: 1 manager on PostgreSQL >= 400/s; 4 managers not slower than 1")


def takeover(url: str) -> tuple[float, float]:
    with Client(url) as client, fleet(client, 2, heartbeat=0.5, lease=LEASE) as managers:
        while (held := _leases.current(client.broker, _leases.LEADER)) is None:
            time.sleep(0.05)
        leader = held[0]
        [proc] = [p for tid, p in managers if tid == leader]
        killed = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        while (held := _leases.current(client.broker, _leases.LEADER)) is None or held[0] == leader:
            time.sleep(0.01)
        leader_took = time.monotonic() - killed

        # a task running on one manager: kill it, until the task runs on the other
        [(alive, _)] = [(tid, p) for tid, p in managers if p.poll() is None]
        with fleet(client, 1, heartbeat=0.5, lease=LEASE) as [(victim, victim_proc)]:
            client.control(alive, "PAUSE")  # so that the victim takes the task
            spec = client.submit(["sleep", "60"], restart="on-failure", retries=1)
            while client.task(spec.tid).state != "running":
                time.sleep(0.02)
            client.control(alive, "RESUME")
            killed = time.monotonic()
            os.kill(victim_proc.pid, signal.SIGKILL)
            victim_proc.wait()
            while (info := client.task(spec.tid)).manager == victim or info.state != "running":
                time.sleep(0.02)
            task_took = time.monotonic() - killed
            client.stop(spec.tid)
            client.wait(spec.tid, timeout=30)
        return leader_took, task_took


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as tmp:
        here = os.getcwd()
        os.chdir(tmp)  # a PostgreSQL broker's managers keep their files in the cwd
        try:
            print(f"-- throughput: {N_TASKS} trivial tasks, submit to all results in")
            trivial()
            print(f"-- scaling: tasks that sleep 100 ms, {IO_SLOTS} at once per manager")
            scaling()
            print(f"-- takeover, lease {LEASE:.0f} s (3 runs, median)")
            results = []
            for _ in range(3):
                with pg_broker() as url:
                    results.append(takeover(url))
            row("", "median", "worst")
            leader = [r[0] for r in results]
            task = [r[1] for r in results]
            row(
                "leader killed -> a new leader",
                f"{statistics.median(leader):.2f} s",
                f"{max(leader):.2f} s",
            )
            row(
                "manager killed -> its task runs elsewhere",
                f"{statistics.median(task):.2f} s",
                f"{max(task):.2f} s",
            )
            print(f"  bound: the lease ({LEASE:.0f} s) plus one renewal period ({LEASE / 3:.2f} s)")
        finally:
            os.chdir(here)


if __name__ == "__main__":
    main()
