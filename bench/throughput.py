"""Issue 15: task throughput, treadle beside huey (``SqliteHuey``), in one run.

Run: ``python -m bench throughput``.

Each round submits 1,000 tasks at once and times until every result is in, for:

- function tasks: a no-op function on treadle's warm workers (a manager with its default
  pool, one worker per core) beside the same function as a huey task;
- process tasks: ``true`` as a treadle process task beside a huey task that runs
  ``subprocess.run(["true"])``;

each at two durabilities, compared like with like: a sync to the disk per commit
(treadle's default; huey with ``fsync=True``) and none per commit (treadle with
``TREADLE_SQLITE_SYNC=normal``; huey's default).

huey's consumer runs as many worker *processes* as treadle has warm workers (``-k
process``): like treadle's, each task runs in a worker process apart from the consumer,
a crash takes down one worker, and the GIL is not shared; huey's thread workers are
measured too, for reference. Its queue polling is set short (``-d 0.001 -m 0.05``, not
the default 0.1 s up to 10 s) so that polling does not slow it down. Every system starts
fresh each round on a new SQLite file, with one task run before the clock (the manager's
or the consumer's start-up is not timed); treadle's workers start lazily, within the
clock. Rounds are interleaved; medians are printed, with the ratios beside the goals.

Beside the rates, the CPU each system spent per task, by part: the client (this process),
the service (treadle's manager; huey's consumer), its helpers (treadle's spawner and warm
workers; huey's worker processes) and what those ran and reaped (the ``true`` processes,
and treadle's launchers): where the time goes, for whoever works on the gap.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil

from treadle.client import Client

from ._util import row

N_TASKS = 1000
ROUNDS = 3
ROOT = str(Path(__file__).resolve().parents[1])
WORKERS = os.cpu_count() or 1
GOALS = {"function": (1000.0, 1.2), "process": (600.0, 1.2)}  # tasks/s, and x huey


@contextlib.contextmanager
def _env(name: str, value: str | None) -> Iterator[None]:
    """``$name`` set (or unset) for what this process opens and starts meanwhile."""
    old = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if old is not None:
            os.environ[name] = old


PARTS = ("client", "service", "helpers", "ran")
Run = tuple[float, dict[str, float]]  # tasks per second, and CPU seconds per task by part


def _tree_cpu(root: int) -> dict[int, tuple[float, float]]:
    """CPU seconds of ``root`` and each live descendant: (its own, its reaped children's)."""
    found: dict[int, tuple[float, float]] = {}
    procs = [psutil.Process(root)]
    procs += procs[0].children(recursive=True)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            t = proc.cpu_times()
            found[proc.pid] = (t.user + t.system, t.children_user + t.children_system)
    return found


class _Cpu:
    """CPU spent from :meth:`__init__` to :meth:`per_task` by the client and a service's tree."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.client = time.process_time()
        self.before = _tree_cpu(root)

    def per_task(self, n: int) -> dict[str, float]:
        after = _tree_cpu(self.root)
        parts = dict.fromkeys(PARTS, 0.0)
        parts["client"] = time.process_time() - self.client
        for pid, (own, reaped) in after.items():
            own0, reaped0 = self.before.get(pid, (0.0, 0.0))
            parts["service" if pid == self.root else "helpers"] += own - own0
            parts["ran"] += reaped - reaped0
        return {k: v / n for k, v in parts.items()}


def _treadle(kind: str, sync: str = "full") -> Run:
    with _env("TREADLE_SQLITE_SYNC", sync):
        return _treadle_run(kind)


def _treadle_run(kind: str) -> Run:
    fields: dict[str, Any] = (
        {"function": "bench._noop:noop"} if kind == "function" else {"argv": ["true"]}
    )
    with tempfile.TemporaryDirectory() as tmp, Client(f"{tmp}/.treadle/broker.db") as client:
        record, proc = client.start_manager(workers=WORKERS)
        try:
            assert client.wait(client.submit(**fields).tid, timeout=60).ok
            cpu = _Cpu(proc.pid)
            begin = time.perf_counter()
            specs = client.submit_many([fields] * N_TASKS)
            results = [client.wait(s.tid, timeout=300) for s in specs]
            elapsed = time.perf_counter() - begin
            spent = cpu.per_task(N_TASKS)
        finally:
            client.stop_manager(record.tid)
            proc.wait(timeout=60)
    failed = [r for r in results if not r.ok]
    assert not failed, failed[0]
    return N_TASKS / elapsed, spent


@contextlib.contextmanager
def _consumer(db: str, worker_type: str) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, "-m", "huey.bin.huey_consumer", "bench._huey_app.huey", "-q"]
    argv += ["-w", str(WORKERS), "-k", worker_type, "-d", "0.001", "-m", "0.05", "-C"]
    env = {**os.environ, "BENCH_HUEY_DB": db, "PYTHONPATH": ROOT}
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)  # huey's graceful stop
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _huey(kind: str, worker_type: str = "process", fsync: bool = False) -> Run:
    with _env("BENCH_HUEY_FSYNC", "1" if fsync else None):
        return _huey_run(kind, worker_type)


def _huey_run(kind: str, worker_type: str) -> Run:
    from ._huey_app import make

    task = "noop" if kind == "function" else "true"
    with tempfile.TemporaryDirectory() as tmp:
        app, tasks = make(f"{tmp}/huey.db")
        with _consumer(f"{tmp}/huey.db", worker_type) as consumer:
            assert tasks[task]().get(blocking=True, timeout=60) == 1
            cpu = _Cpu(consumer.pid)
            begin = time.perf_counter()
            pending = [tasks[task]() for _ in range(N_TASKS)]
            while app.storage.result_store_size() < N_TASKS:  # one count, not 1,000 reads
                time.sleep(0.002)
            values = [r.get() for r in pending]
            elapsed = time.perf_counter() - begin
            spent = cpu.per_task(N_TASKS)
        app.storage.close()
    assert values == [1] * N_TASKS
    return N_TASKS / elapsed, spent


def main() -> None:
    # Each pair at the same durability: a sync to the disk per commit (treadle's default,
    # huey's fsync=True), or none per commit (treadle's TREADLE_SQLITE_SYNC=normal, which
    # still survives any crash of the processes; huey's default, which does not sync at
    # all).
    runs: dict[str, Callable[[], Run]] = {
        "function, synced: treadle": lambda: _treadle("function"),
        "function, synced: huey": lambda: _huey("function", fsync=True),
        "function, unsynced: treadle": lambda: _treadle("function", "normal"),
        "function, unsynced: huey": lambda: _huey("function"),
        "function, unsynced: huey threads": lambda: _huey("function", "thread"),
        "process, synced: treadle": lambda: _treadle("process"),
        "process, synced: huey": lambda: _huey("process", fsync=True),
        "process, unsynced: treadle": lambda: _treadle("process", "normal"),
        "process, unsynced: huey": lambda: _huey("process"),
    }
    samples: dict[str, list[float]] = {k: [] for k in runs}
    spent: dict[str, list[dict[str, float]]] = {k: [] for k in runs}
    for _ in range(ROUNDS):
        for label, run in runs.items():
            rate, cpu = run()
            samples[label].append(rate)
            spent[label].append(cpu)
    medians = {k: statistics.median(v) for k, v in samples.items()}
    print(f"  {N_TASKS} tasks submitted at once, until every result is in; {WORKERS} workers")
    row("", "median", "range", "vs huey")
    for label, values in samples.items():
        group = label.split(":")[0]
        peer = medians[f"{group}: huey"]
        spread = f"{min(values):.0f}-{max(values):.0f}"
        row(label, f"{medians[label]:.0f}/s", spread, f"{medians[label] / peer:.2f}x")
    print("  CPU per task, ms (medians): the client, the service (treadle's manager, huey's")
    print("  consumer), its helpers (spawner and warm workers; huey's workers), what they ran")
    print(f"  {'':<44}" + "".join(f"{p:>9}" for p in (*PARTS, "total")))
    for label, runs_cpu in spent.items():
        parts = {p: statistics.median(c[p] for c in runs_cpu) * 1e3 for p in PARTS}
        cells = [*parts.values(), sum(parts.values())]
        print(f"  {label:<44}" + "".join(f"{c:>9.3f}" for c in cells))
    for kind in ("function", "process"):
        rate, ratio_goal = GOALS[kind]
        for sync in ("synced", "unsynced"):
            mine, peer = medians[f"{kind}, {sync}: treadle"], medians[f"{kind}, {sync}: huey"]
            print(
                f"  goal {kind} ({sync}): >= {rate:.0f}/s (got {mine:.0f}/s) and"
                f" >= {ratio_goal}x huey (got {mine / peer:.2f}x)"
            )


if __name__ == "__main__":
    main()
