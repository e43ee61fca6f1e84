"""Issue 2 benchmarks: the control plane, each figure beside its baseline in one run.

Run: ``python -m bench.control``.

1. Throughput: 1,000 trivial tasks submitted at once, until every result is in.
2. The broker layer: typed messages written and read through ``treadle.broker`` versus
   the same texts through simplebroker's ``Queue`` directly.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from simplebroker import Queue

from treadle.broker import Broker, TaskEvent
from treadle.client import Client

from ._util import row

N_TASKS = 1000
N_MESSAGES = 2000


@contextlib.contextmanager
def a_manager(broker: str, **options: float) -> Iterator[Client]:
    with Client(broker) as client:
        record, proc = client.start_manager(**options)  # type: ignore[arg-type]
        try:
            yield client
        finally:
            client.stop_manager(record.tid)
            proc.wait(timeout=30)


def throughput(broker: str) -> None:
    with a_manager(broker) as client:
        begin = time.perf_counter()
        specs = client.submit_many([{"argv": ["true"]} for _ in range(N_TASKS)])
        submitted = time.perf_counter() - begin
        results = [client.wait(s.tid, timeout=300) for s in specs]  # nudged as each ends
        elapsed = time.perf_counter() - begin
    failed = sum(1 for r in results if not r.ok)
    row(f"{N_TASKS} trivial tasks (true), 1 manager", f"{N_TASKS / elapsed:.0f} tasks/s")
    print(f"  (submitting took {submitted:.2f} s; {failed} did not complete)")
    print("  target: >= 200 tasks/s on 2 cores")


def broker_rate(tmp: Path) -> None:
    event = TaskEvent(tid=1796000000000000000, event="completed", name="bench", manager=1)
    text = event.model_dump_json()

    def direct() -> tuple[float, float]:
        q = Queue("bench", db_path=str(tmp / "direct.db"), persistent=True)
        begin = time.perf_counter()
        for _ in range(N_MESSAGES):
            q.write(text)
        wrote = time.perf_counter() - begin
        begin = time.perf_counter()
        while q.read_one() is not None:
            pass
        read = time.perf_counter() - begin
        q.close()
        return N_MESSAGES / wrote, N_MESSAGES / read

    def treadle_layer() -> tuple[float, float]:
        with Broker(tmp / "treadle.db") as broker:
            begin = time.perf_counter()
            for _ in range(N_MESSAGES):
                broker.write("bench", event)  # a model, encoded by the layer
            wrote = time.perf_counter() - begin
            begin = time.perf_counter()
            while broker.claim("bench", TaskEvent.model_validate_json) is not None:
                pass  # validated on the way in
            read = time.perf_counter() - begin
        return N_MESSAGES / wrote, N_MESSAGES / read

    runs: dict[str, list[tuple[float, float]]] = {"simplebroker Queue": [], "treadle.broker": []}
    for _ in range(3):  # interleaved, best of three each
        runs["simplebroker Queue"].append(direct())
        runs["treadle.broker"].append(treadle_layer())
        for f in tmp.glob("*.db*"):
            f.unlink()
    best = {k: (max(w for w, _ in v), max(r for _, r in v)) for k, v in runs.items()}
    row("", "writes/s", "reads/s", "vs direct")
    base_w, base_r = best["simplebroker Queue"]
    for label, (w, r) in best.items():
        row(label, f"{w:,.0f}", f"{r:,.0f}", f"{w / base_w:.0%} / {r / base_r:.0%}")
    print("  target: treadle.broker >= 80% of simplebroker's own rate")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as tmp:
        print("-- throughput")
        throughput(str(Path(tmp) / "throughput" / "broker.db"))
        print("-- broker layer vs simplebroker")
        broker_rate(Path(tmp))


if __name__ == "__main__":
    main()
