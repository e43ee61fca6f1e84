"""Crash safety: kill -9 a manager; nothing queued is lost, running tasks follow policy."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from pydantic import BaseModel

from treadle.broker import Broker, Result, TaskEvent, TaskSpec, WorkerRecord, names
from treadle.client import Client
from treadle.manager import _registry

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def results(client: Client, tid: int) -> list[Result]:
    return [r for r, _ in client.broker.peek(names.outbox(tid), Result.model_validate_json)]


def test_kill_9_with_100_queued_and_10_running(client: Client) -> None:
    record_a, proc_a = client.start_manager(max_tasks=10, heartbeat=0.5)
    try:
        rerun = [client.submit(["sleep", "60"], restart="on-failure", retries=1) for _ in range(5)]
        once = [client.submit(["sleep", "60"]) for _ in range(5)]
        sleepers = {s.tid for s in rerun + once}

        def all_running() -> bool:
            return sum(e.event == "started" for e in client.events()) == 10

        until(client, all_running)
        queued = client.submit_many([{"argv": ["true"]}] * 100)
        pids = [e.pid for e in client.events() if e.tid in sleepers and e.pid is not None]
        procs = [psutil.Process(pid) for pid in pids]
        os.kill(proc_a.pid, signal.SIGKILL)
        proc_a.wait()
        _, alive = psutil.wait_procs(procs, timeout=10)
        assert alive == []  # the parent-death signal took the task processes down with it
    finally:
        if proc_a.poll() is None:
            proc_a.kill()
            proc_a.wait()
    assert all(client.task(s.tid).state == "queued" for s in queued)

    with manager(client) as (record_b, _):
        for spec in queued:
            assert client.wait(spec.tid, timeout=60).ok
        for spec in once:
            result = client.wait(spec.tid, timeout=30)
            assert result.state == "failed"
            assert f"manager {record_a.tid} died" in (result.error or "")

        def rerun_on_b() -> bool:
            return all(
                client.task(s.tid).manager == record_b.tid and client.task(s.tid).state == "running"
                for s in rerun
            )

        until(client, rerun_on_b)
        for spec in rerun:
            client.stop(spec.tid)
            assert client.wait(spec.tid, timeout=30).state == "stopped"
        everything = client.managers(everything=True)
    states = {r.tid: r.status for r in everything}
    assert states[record_a.tid] == "dead"
    for spec in [*queued, *once, *rerun]:
        assert len(results(client, spec.tid)) == 1, spec.tid
    assert not client.broker.has_pending(names.reserved(record_a.tid))


def test_requests_a_dead_manager_had_claimed_go_back_on_the_queue(client: Client) -> None:
    # a manager that died after claiming one request and starting another, on this host
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = client.broker.timestamp()
    now = time.time()
    record = WorkerRecord(
        tid=dead,
        status="active",
        pid=int(gone.stdout),
        host=os.uname()[1],
        started_at=now,
        heartbeat_at=now,
    )
    client.broker.write(names.REGISTRY, record)
    claimed = client.spec(argv=("true",))
    started = client.spec(argv=("sleep", "60"), restart="always")
    ended = client.spec(argv=("true",))  # it finished, but the claim was not cleaned up
    client.broker.insert(names.reserved(dead), [(s, s.tid) for s in (claimed, started, ended)])
    for spec in (started, ended):
        client.broker.write(
            names.TASK_LOG, TaskEvent(tid=spec.tid, event="started", manager=dead, pid=1)
        )
    client.broker.write(names.outbox(ended.tid), Result(tid=ended.tid, state="completed"))

    with manager(client):
        assert client.wait(claimed.tid, timeout=30).ok
        until(client, lambda: client.task(started.tid).state == "running")
        client.stop(started.tid)
        assert client.wait(started.tid, timeout=30).state == "stopped"
    [dead_record] = [r for r in client.managers(everything=True) if r.tid == dead]
    assert dead_record.status == "dead"
    assert "is gone" in dead_record.reason
    requeued = [e for e in client.events() if e.event == "requeued"]
    assert {e.tid for e in requeued} == {claimed.tid, started.tid}
    # not run again; the last event its manager did not write is written for it
    assert [e.event for e in client.events(ended.tid)] == ["started", "completed"]
    assert not client.broker.has_pending(names.reserved(dead))


def test_eight_clients_submitting_at_once_lose_and_duplicate_nothing(client: Client) -> None:
    script = (
        "import json, sys\n"
        "from treadle.client import Client\n"
        "with Client() as c:\n"
        "    tids = [c.submit(['true'], name=f'c{sys.argv[1]}-{i}').tid for i in range(25)]\n"
        "print(json.dumps(tids))\n"
    )
    with manager(client, max_tasks=16), contextlib.ExitStack() as procs_stack:
        procs = [
            procs_stack.enter_context(
                subprocess.Popen(
                    [sys.executable, "-c", script, str(n)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for n in range(8)
        ]
        procs_stack.callback(_kill_all, procs)
        tids: list[int] = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, err
            tids += json.loads(out)
        assert len(set(tids)) == 200
        for tid in tids:
            assert client.wait(tid, timeout=60).ok
    ended = Counter(e.tid for e in client.events() if e.event == "completed")
    assert set(ended) == set(tids)
    assert set(ended.values()) == {1}
    for tid in tids:
        assert len(results(client, tid)) == 1
    assert client.broker.peek(names.SPAWN, TaskSpec.model_validate_json) == []
    assert all(isinstance(e, TaskEvent) for e in client.events())


def _kill_all(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()


class _Died(Exception):
    """The recoverer's process ending at this very step."""


class _DyingBroker(Broker):
    """A broker whose first ``step`` ("write" of a result, "take" of a claim) is the
    recoverer's last act."""

    def __init__(self, path: str, step: str) -> None:
        super().__init__(path)
        self.step = step

    def write(self, queue: str, message: BaseModel | str) -> int:
        if self.step == "write" and queue.endswith(".outbox"):
            raise _Died(queue)
        return super().write(queue, message)

    def take(self, queue: str, message_id: int | None = None) -> tuple[str, int] | None:
        if self.step == "take" and queue.endswith(".reserved"):
            raise _Died(queue)
        return super().take(queue, message_id)


@pytest.mark.parametrize("step", ["write", "take"])
def test_a_recoverer_that_dies_mid_way_leaves_every_task_to_the_next(
    client: Client, broker_path: str, tmp_path: Path, step: str
) -> None:
    dead = client.broker.timestamp()
    never = client.spec(argv=("true",), restart="never")  # it may have run: failed
    exited = client.spec(argv=("true",), restart="on-failure")  # its spawner saw exit 0
    client.broker.insert(names.reserved(dead), [(s, s.tid) for s in (never, exited)])
    for spec in (never, exited):
        client.broker.write(
            names.TASK_LOG, TaskEvent(tid=spec.tid, event="started", manager=dead, pid=1)
        )
    exits = {f"T{exited.tid}": 0}
    with _DyingBroker(broker_path, step) as dying, pytest.raises(_Died):
        _registry.take_back(dying, dead, 1, "gone", exits, str(tmp_path))
    _registry.take_back(client.broker, dead, 2, "gone", exits, str(tmp_path))  # the next
    assert [r.state for r in results(client, never.tid)] == ["failed"]
    assert [r.state for r in results(client, exited.tid)] == ["completed"]
    assert not client.broker.has_pending(names.reserved(dead))
    for spec, last in ((never, "failed"), (exited, "completed")):
        assert [e.event for e in client.events(spec.tid)] == ["started", last]
