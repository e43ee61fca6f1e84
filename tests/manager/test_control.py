"""Control messages to tasks and managers, answered by a real manager process."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import psutil
import pytest

from treadle import ClientTimeout
from treadle.broker import DeadLetter, names
from treadle.client import Client

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_ping_status_pause_resume_stop_a_task(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sleep", "30"])
        assert client.ping(spec.tid)  # answered from "starting" on: its event may be in flight
        until(client, lambda: client.status(spec.tid)["state"] == "running")
        status = client.status(spec.tid)
        proc = psutil.Process(status["target"]["pid"])
        assert client.pause(spec.tid).reply == "paused"
        assert proc.status() == psutil.STATUS_STOPPED
        refused = client.pause(spec.tid)
        assert not refused.ok
        assert "paused" in (refused.error or "")
        assert client.resume(spec.tid).reply == "running"
        assert proc.status() != psutil.STATUS_STOPPED
        assert client.stop(spec.tid).reply == "stopping"
        result = client.wait(spec.tid, timeout=20)
    assert result.state == "stopped"
    assert [e.event for e in client.events(spec.tid)] == [
        "starting",
        "started",
        "paused",
        "resumed",
        "stopped",
    ]


def test_a_paused_manager_takes_no_new_work_until_resumed(client: Client) -> None:
    with manager(client) as (record, _):
        assert client.ping(record.tid)
        assert client.pause(record.tid).reply == "paused"
        spec = client.submit(["true"])
        with pytest.raises(ClientTimeout):
            client.wait(spec.tid, timeout=0.5)
        assert client.status(record.tid)["paused"] is True
        client.resume(record.tid)
        assert client.wait(spec.tid, timeout=20).ok


def test_stop_ends_the_manager_cleanly_and_marks_it_stopped(client: Client) -> None:
    record, proc = client.start_manager()
    try:
        assert client.stop(record.tid).reply == "stopping"
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert client.managers() == []
    [last] = client.managers(everything=True)
    assert last.status == "stopped"


def test_an_idle_manager_exits_after_its_idle_timeout(client: Client) -> None:
    _record, proc = client.start_manager(idle_timeout=0.5)
    try:
        spec = client.submit(["true"])
        assert client.wait(spec.tid, timeout=20).ok
        assert proc.wait(timeout=20) == 0  # nothing more to do: it leaves by itself
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    assert client.managers(everything=True)[0].status == "stopped"


def test_garbage_goes_to_the_dead_letter_queue_and_the_manager_goes_on(client: Client) -> None:
    with manager(client) as (record, proc):
        client.broker.write(names.SPAWN, "not json at all")
        client.broker.write(names.SPAWN, '{"tid": 1, "argv": ["true"], "function": "a:b"}')
        client.broker.write(names.ctrl_in(record.tid), '{"op": "EXPLODE"}')
        spec = client.submit(["true"])
        assert client.wait(spec.tid, timeout=20).ok
        assert client.ping(record.tid)
        assert proc.poll() is None
    letters = [d for d, _ in client.broker.peek(names.DEADLETTER, DeadLetter.model_validate_json)]
    raws = {d.raw: d for d in letters}
    assert set(raws) == {
        "not json at all",
        '{"tid": 1, "argv": ["true"], "function": "a:b"}',
        '{"op": "EXPLODE"}',
    }
    assert (
        "exactly one of argv, function or loop"
        in raws['{"tid": 1, "argv": ["true"], "function": "a:b"}'].error
    )
    assert raws['{"op": "EXPLODE"}'].queue == names.ctrl_in(record.tid)
