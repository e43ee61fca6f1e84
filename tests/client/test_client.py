"""The Python client against a real broker file and real manager processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.manager._support import manager
from treadle import ClientTimeout, ConfigError, ManagerGone, TaskNotFound
from treadle.broker import TaskSpec, WorkerRecord, names
from treadle.client import Client


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_submit_many_mints_ordered_tids_in_one_transaction(client: Client) -> None:
    specs = client.submit_many([{"argv": ["true"], "name": f"t{i}"} for i in range(50)])
    tids = [s.tid for s in specs]
    assert tids == sorted(set(tids))
    assert [t.tid for t in client.tasks()] == tids
    assert {t.state for t in client.tasks()} == {"queued"}
    assert client.result(tids[0]) is None
    assert client.outbox(tids[0]) == []
    # each TID is its request's message ID, minted in the write
    queued = client.broker.peek(names.SPAWN, TaskSpec.model_validate_json, limit=100)
    assert [(spec.tid, mid) for spec, mid in queued] == [(tid, tid) for tid in tids]


def test_one_bad_spec_among_many_writes_none(client: Client) -> None:
    with pytest.raises(ConfigError, match="retry_delay"):
        client.submit_many([{"argv": ["true"]}, {"argv": ["true"], "retry_delay": -1}])
    assert client.tasks() == []


def test_a_bad_spec_is_a_config_error_naming_the_field(client: Client) -> None:
    with pytest.raises(ConfigError, match="retry_delay") as info:
        client.submit(["true"], retry_delay=-1)
    assert info.value.field == "retry_delay"
    with pytest.raises(ConfigError, match="give exactly one of argv, function or loop"):
        client.submit()
    with pytest.raises(ConfigError, match="op"):
        client.control(1, "REBOOT")
    assert client.tasks() == []


def test_waiting_has_a_timeout_and_unknown_tids_are_not_found(client: Client) -> None:
    spec = client.submit(["true"])  # no manager runs it
    begin = time.monotonic()
    with pytest.raises(ClientTimeout, match=f"task {spec.tid} did not end within 0.3s"):
        client.wait(spec.tid, timeout=0.3)
    assert time.monotonic() - begin < 5
    with pytest.raises(TaskNotFound):
        client.task(42)
    with pytest.raises(TaskNotFound):
        client.stop_manager(42)


def test_events_outbox_and_follow_tell_the_same_story(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sh", "-c", "echo a; echo b"], name="ab")
        followed = list(client.follow(spec.tid, timeout=20))
    stored = client.outbox(spec.tid)
    assert followed == stored
    assert [line for m in stored if m.kind == "output" for line in m.lines] == ["a", "b"]
    info = client.task(spec.tid)
    assert (info.name, info.state, info.exit_code, info.ended) == ("ab", "completed", 0, True)
    assert info.events == ["starting", "started", "completed"]


def test_managers_lists_the_alive_and_with_everything_the_dead(client: Client) -> None:
    now = time.time()
    ghost = WorkerRecord(
        tid=client.broker.timestamp(),
        status="active",
        pid=os.getpid(),
        host="elsewhere.example",
        started_at=now - 60,
        heartbeat_at=now - 30,
        heartbeat_interval=2.0,
    )
    client.broker.write(names.REGISTRY, ghost)
    with manager(client) as (record, _):
        alive = client.managers()
        everything = client.managers(everything=True)
    assert [m.tid for m in alive] == [record.tid]
    states = {m.tid: (m.status, m.reason) for m in everything}
    assert states[ghost.tid][0] == "dead"
    assert "no heartbeat for" in states[ghost.tid][1]
    assert client.stop_manager(ghost.tid).status == "dead"


def test_a_manager_that_dies_before_it_replies_is_said_at_once(client: Client) -> None:
    """A control call to a manager of this host whose process is gone ends with
    ManagerGone (the CLI's one line), not a wait for the call's whole timeout, and
    leaves no request behind."""
    with manager(client) as (record, proc):
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with pytest.raises(ManagerGone, match=rf"manager {record.tid} \(pid {proc.pid}\)"):
            client.control(record.tid, "STATUS", timeout=60)
        assert client.broker.peek_raw(names.ctrl_in(record.tid), limit=10) == []
