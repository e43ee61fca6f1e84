"""Poisoned queues, on SQLite and on the real PostgreSQL server: malformed messages
written straight into every queue a manager reads, between valid ones. Every malformed
one ends in the dead-letter queue with a reason; every valid one runs; listings,
recovery and a new manager's start-up all go on."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from treadle.broker import DeadLetter, TaskSpec, WorkerRecord, names
from treadle.client import Client
from treadle.manager import _registry

from ..fleet._support import schema
from ._support import manager, until


@pytest.fixture(params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Client]:
    monkeypatch.chdir(tmp_path)  # a PostgreSQL broker's managers keep their files here
    if request.param == "sqlite":
        url = str(tmp_path / ".treadle" / "broker.db")
        monkeypatch.setenv("TREADLE_BROKER", url)
        with Client(url) as c:
            yield c
        return
    with schema() as url:
        monkeypatch.setenv("TREADLE_BROKER", url)
        with Client(url) as c:
            yield c


def malformed(tid: Callable[[], int]) -> list[str]:
    """Spawn requests that must be refused (``tid()``: a fresh TID, so that each fails
    for its own reason)."""
    return [
        "not json at all",
        "",
        "[1, 2]",
        "null",
        '"a string"',
        f'{{"tid": {tid()}, "argv": "true"}}',
        f'{{"tid": {tid()}}}',
        f'{{"tid": {tid()}, "argv": ["true"], "bogus": 1}}',
        f'{{"tid": {tid()}, "argv": []}}',
        # oversized once escaped: 6 MB of quotes (not JSON), 3 M escaped quotes (JSON)
        f'{{"tid": {tid()}, "argv": ["' + '"' * 6_000_000 + '"]}',
        f'{{"tid": {tid()}, "argv": ["true"], "bogus": "' + '\\"' * 3_000_000 + '"}',
        '{"tid": NaN, "argv": ["true"]}',
        '{"tid": Infinity, "argv": ["true"]}',
        f'{{"tid": {tid()}, "argv": ["true"], "retry_delay": NaN}}',
        f'{{"tid": {tid()}, "argv": ["true"], "limits": {{"timeout": -Infinity}}}}',
        f'{{"tid": {2**80}, "argv": ["true"]}}',  # beyond 64 bits: not its message ID
        f'{{"tid": {"9" * 5000}, "argv": ["true"]}}',
        f'{{"tid": {tid()}, "argv": ["true"], "retries": {-(2**80)}}}',
        f'{{"tid": {tid()}, "argv": ["\\ud800"]}}',  # lone surrogates
        f'{{"tid": {tid()}, "argv": ["true"], "name": "\\udfff"}}',
        f'{{"tid": {tid()}, "function": "m:f", "args": ' + "[" * 100_000 + "]" * 100_000 + "}",
        TaskSpec(tid=tid(), argv=("true",)).model_dump_json(),  # valid, but another's TID
    ]


def letters(client: Client) -> dict[int | None, DeadLetter]:
    parse = DeadLetter.model_validate_json
    return {d.message_id: d for d, _ in client.broker.peek(names.DEADLETTER, parse, limit=10**6)}


@pytest.mark.timeout(180)
def test_poison_in_every_queue_costs_only_itself(client: Client) -> None:
    broker = client.broker
    db = broker.db  # simplebroker itself: nothing of treadle's checks on the way in
    bad: dict[int, str] = {}
    valid: list[int] = []

    def good() -> None:
        tid = db.generate_timestamp()
        spec = TaskSpec(tid=tid, argv=("sh", "-c", "echo ran"), name="good")
        db.insert_messages([(names.SPAWN, spec.model_dump_json(), tid)])
        valid.append(tid)

    for text in malformed(db.generate_timestamp):
        good()
        bad[db.write(names.SPAWN, text)] = text
    good()

    # a dead manager of this host, its claims poisoned too, and its log
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    dead = db.generate_timestamp()
    record = WorkerRecord(
        tid=dead,
        status="active",
        pid=int(gone.stdout),
        host=_registry.HOST,
        started_at=time.time(),
        heartbeat_at=time.time(),
    )
    db.write(names.REGISTRY, record.model_dump_json())
    requeued = db.generate_timestamp()
    spec = TaskSpec(tid=requeued, argv=("true",), name="claimed by the dead")
    db.insert_messages([(names.reserved(dead), spec.model_dump_json(), requeued)])
    valid.append(requeued)
    for queue in (names.reserved(dead), names.TASK_LOG, names.REGISTRY):
        for text in ("not json", '{"tid": 1' + " " * 6_000_000 + "}", '{"tid": 1, "event": 5}'):
            bad[db.write(queue, text)] = text
    for text in (
        f'{{"tid": {requeued}, "event": "started", "manager": {2**80}}}',
        record.model_copy(update={"pid": -1}).model_dump_json(),
    ):
        bad[db.write(names.TASK_LOG, text)] = text

    with manager(client, heartbeat=0.5) as (first, _):
        for text in ("not json", '{"op": "' + '"' * 6_000_000 + '"}', '{"op": "EXPLODE"}'):
            bad[db.write(names.ctrl_in(first.tid), text)] = text
        assert client.ping(first.tid, timeout=30)
        for tid in valid:
            result = client.wait(tid, timeout=60)
            assert result.ok, (tid, result)
        until(client, lambda: set(bad) <= set(letters(client)), timeout=60)
        assert {t.tid for t in client.tasks()} >= set(valid)
        assert [m.tid for m in client.managers()] == [first.tid]
    for queue in (names.SPAWN, names.TASK_LOG, names.REGISTRY):  # what listings meet
        for text in malformed(db.generate_timestamp)[:12]:
            bad[db.write(queue, text)] = text
    assert {t.tid for t in client.tasks()} >= set(valid)
    assert [m.tid for m in client.managers(everything=True)] == [dead, first.tid]
    with manager(client) as (second, _):  # start-up recovery stops on nothing either
        assert client.ping(second.tid, timeout=30)

    got = letters(client)
    for mid, text in bad.items():
        letter = got[mid]
        assert letter.error, letter
        assert letter.raw_bytes == len(text.encode())
        assert letter.raw_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert letter.raw == text[: len(letter.raw)]
    assert set(got) == set(bad)  # and nothing valid was dead-lettered
    assert not broker.has_pending(names.SPAWN)


@pytest.mark.timeout(120)
def test_250_unrunnable_requests_do_not_starve_10_plain_ones(client: Client) -> None:
    pad = {"pad": "x" * 50_000}
    gpu = client.submit_many(
        [{"argv": ["true"], "capabilities": ["gpu"], "metadata": pad} for _ in range(250)]
    )
    plain = client.submit_many([{"argv": ["true"]} for _ in range(10)])
    with manager(client, max_tasks=4):
        for spec in plain:
            assert client.wait(spec.tid, timeout=60).ok
        assert all(client.task(s.tid).state == "queued" for s in gpu)
