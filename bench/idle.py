"""Issue 15 benchmark: what an idle manager costs, and how soon it wakes for new work.

Run: ``python -m bench idle`` (supervisord from the ``bench`` extra; the PostgreSQL rows
need the server on 127.0.0.1:5432, database ``test``, and are skipped without it).

1. CPU of an idle manager (no task), its spawner included, all threads (their
   ``schedstat``), on SQLite and on PostgreSQL, beside supervisord running one program:
   all three idle at once, measured over the same windows, the median window reported.
   Goal: <= 0.1% of a core.
2. Wake-up: a client submits ``true`` to an idle manager: a local client on SQLite (it
   nudges the manager), and a client on PostgreSQL (no nudge reaches a manager there:
   LISTEN/NOTIFY wakes it); rounds interleaved. Printed: the client's call, then from
   its return (the request durable) to the task's claim (its first inbox message's ID, a
   broker timestamp), its "starting" event (launched) and its "started" event (its
   process runs). Goal: median and p90 <= 5 ms. The floor beside them: one durable
   write to the same broker (a claim makes two), in the same rounds. And a writer that
   does not nudge (a plain broker write on SQLite): the heartbeat's look finds it
   (bound: one heartbeat).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

from treadle.broker import TaskSpec
from treadle.broker import names as q
from treadle.client import Client

from ._util import row
from .fleet import pg_broker
from .processes import _supervisord_conf

WINDOW = 10.0  # seconds of one CPU measurement
WINDOWS = 3
WAKES = 15  # submissions per client kind
SETTLE = 0.5  # seconds a manager is left idle before a submission
HEARTBEAT = 2.0  # the default


def _supervisord_bin() -> str | None:
    """supervisord on PATH, else beside this interpreter (the venv, not activated)."""
    beside = Path(sys.executable).with_name("supervisord")
    return shutil.which("supervisord") or (str(beside) if beside.exists() else None)


def _pg_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _manager(client: Client) -> Iterator[psutil.Process]:
    """One manager of ``client``'s broker, as ``treadle worker start`` runs it."""
    tid = client.broker.timestamp()
    argv = [sys.executable, "-m", "treadle.manager", "--broker", client.url.location]
    argv += ["--tid", str(tid), "--heartbeat", str(HEARTBEAT)]
    _, proc = client.launch(argv, tid, timeout=60)
    try:
        yield psutil.Process(proc.pid)
    finally:
        with contextlib.suppress(Exception):
            client.stop_manager(tid, timeout=20)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def _supervisord(tmp: Path) -> Iterator[psutil.Process]:
    conf = _supervisord_conf(tmp, "[program:s]\ncommand=sleep 1000\nstartsecs=0\n")
    sd = psutil.Popen(
        [_supervisord_bin() or "supervisord", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not sd.children() and time.monotonic() < deadline:
            time.sleep(0.1)
        yield sd
    finally:
        sd.terminate()
        try:
            sd.wait(timeout=30)
        except psutil.TimeoutExpired:
            sd.kill()
            sd.wait()


def _cpu(proc: psutil.Process, with_children: bool) -> float:
    """CPU seconds of ``proc``, all threads (and of its children: a manager's spawner),
    so far. From each thread's ``schedstat`` (ns): psutil's ``cpu_times`` count clock
    ticks (10 ms), a resolution of 0.1% over a 10 s window, the goal itself."""
    procs = [proc, *(proc.children(recursive=True) if with_children else [])]
    total = 0
    for p in procs:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for task in os.listdir(f"/proc/{p.pid}/task"):
                path = f"/proc/{p.pid}/task/{task}/schedstat"
                with contextlib.suppress(FileNotFoundError, ProcessLookupError), open(path) as f:
                    total += int(f.read().split()[0])
    return total / 1e9


def idle_cpu(subjects: dict[str, tuple[psutil.Process, bool]]) -> None:
    print(f"1. CPU while idle: {WINDOWS} windows of {WINDOW:.0f} s, all idle at once")
    time.sleep(3.0)  # past their start
    shares: dict[str, list[float]] = {name: [] for name in subjects}
    for _ in range(WINDOWS):
        before = {n: _cpu(p, kids) for n, (p, kids) in subjects.items()}
        start = time.monotonic()
        time.sleep(WINDOW)
        took = time.monotonic() - start
        for n, (p, kids) in subjects.items():
            shares[n].append((_cpu(p, kids) - before[n]) / took)
    row("", "median", "windows (%)", "goal")
    for name, got in shares.items():
        goal = "(peer)" if name.startswith("supervisord") else "<= 0.10%"
        cells = " ".join(f"{s * 100:.2f}" for s in got)
        row(name, f"{statistics.median(got):.3%}", cells, goal)


def _wake(client: Client, nudge: bool) -> tuple[float, float, float, float]:
    """An idle manager's wake-up for one submission (by this host's clock): seconds the
    client's call took, then from its return (the request durable, the nudge sent) to
    the task's claim, to its "starting" event (launched) and to its "started" event."""
    time.sleep(SETTLE)  # the manager is idle again
    begun = time.time()
    if nudge:
        tid = client.submit(["true"], inbox="x").tid
    else:  # a plain write: nobody is told
        spec = TaskSpec.build(tid=client.broker.timestamp(), argv=("true",), inbox="x")
        client.broker.insert(q.SPAWN, [(spec, spec.tid)])
        tid = spec.tid
    sent = time.time()
    client.wait(tid, timeout=30)
    at = {e.event: e.at for e in client.events(tid)}
    # the claim writes the task's inbox message (given: "x"): its ID, a broker timestamp (ns)
    claimed = client.broker.peek_raw(q.inbox(tid))[0][1] / 1e9
    return sent - begun, claimed - sent, at["starting"] - sent, at["started"] - sent


def _ms(samples: list[float]) -> str:
    """Median / p90, in ms."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    med, p90 = statistics.median(ordered) * 1e3, p90 * 1e3
    return f"{med:.1f} / {p90:.1f} ms" if p90 < 100 else f"{med:.0f} / {p90:.0f} ms"


def wake_latency(clients: dict[str, Client]) -> None:
    print(f"2. wake-up of an idle manager, {WAKES} rounds (median / p90)")
    got: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in clients}
    floor: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(WAKES):
        for name, client in clients.items():
            got[name].append(_wake(client, nudge=True))
            start = time.perf_counter()
            client.broker.write("bench.floor", "x")  # what a claim costs at least
            floor[name].append(time.perf_counter() - start)
    sqlite = next(iter(clients.values()))
    unnudged = [_wake(sqlite, nudge=False) for _ in range(3)]
    row("", "the call", "-> claimed", "-> starting", "-> started", "goal")
    for name, samples in [*got.items(), ("SQLite, a write nobody nudges for", unnudged)]:
        goal = f"<= {HEARTBEAT:.0f} s" if "nobody" in name else "<= 5 ms"
        row(name, *(_ms([sample[i] for sample in samples]) for i in range(4)), goal)
    for name, writes in floor.items():
        row(f"floor: one durable write, {name.split(',')[0].split(' ')[0]}", "", _ms(writes))
    print("  the call: the client's submit (its TID, the durable write, the nudge); then from")
    print("  its return to the claim, the 'starting' event (launched) and 'started' (running);")
    print("  a claim is durable writes (the move, the inbox): the floor is one such write")


def main() -> None:
    if _supervisord_bin() is None:
        print("bench.idle needs supervisord (pip install '.[bench]'); skipped")
        return
    pg = _pg_answers()
    if not pg:
        print("  (no PostgreSQL on 127.0.0.1:5432: its rows are skipped)")
    here = os.getcwd()
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        os.chdir(tmp)  # a PostgreSQL broker's managers keep their files in the cwd
        stack.callback(os.chdir, here)
        clients = {"SQLite, local client (nudge)": stack.enter_context(Client(tmp / "b.db"))}
        if pg:
            url = stack.enter_context(pg_broker())
            clients["PostgreSQL client (NOTIFY)"] = stack.enter_context(Client(url))
        subjects: dict[str, tuple[psutil.Process, bool]] = {}
        for name, client in clients.items():
            backend = name.split(",")[0].split(" ")[0]
            proc = stack.enter_context(_manager(client))
            subjects[f"treadle manager, {backend}"] = (proc, True)
        subjects["supervisord 4, one program"] = (stack.enter_context(_supervisord(tmp)), False)
        idle_cpu(subjects)
        wake_latency(clients)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
