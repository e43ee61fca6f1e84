"""Local submission: a task handed to a real manager over its submit socket."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from treadle._paths import submit_address
from treadle._wire import Refused, Submission, exit_status, new_request
from treadle.broker import TaskSpec, names
from treadle.client import Client

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def address(client: Client) -> str:
    found = submit_address(client.url.location)
    assert found is not None
    return found


def test_a_task_runs_here_and_its_output_and_result_stream_back(client: Client) -> None:
    with manager(client) as (record, _), Submission(address(client)) as s:
        accepted = s.submit(
            {"argv": ["sh", "-c", "echo one; echo two >&2; exit 4"]}, True, new_request()
        )
        messages = list(s.messages())
    assert accepted["manager"] == record.tid
    assert accepted["queued"] is False
    output = [(m["stream"], m["lines"]) for m in messages if m["kind"] == "output"]
    assert sorted(output) == [("stderr", ["two"]), ("stdout", ["one"])]
    result = messages[-1]
    assert (result["kind"], result["state"], result["exit_code"]) == ("result", "failed", 4)
    assert exit_status(result) == 4
    # durable like any other task: the same log and outbox
    assert [e.event for e in client.events(accepted["tid"])] == ["starting", "started", "failed"]
    stored = client.result(accepted["tid"])
    assert stored is not None
    assert stored.exit_code == 4


def test_a_bad_spec_is_refused_naming_the_field_and_nothing_is_queued(client: Client) -> None:
    refused = pytest.raises(Refused, match=r"retries: Input should be greater than or equal")
    with manager(client), Submission(address(client)) as s, refused:
        s.submit({"argv": ["true"], "retries": -1}, True, new_request())
    assert client.tasks() == []
    assert not client.broker.has_pending(names.SPAWN)


def test_what_this_manager_cannot_run_goes_on_the_spawn_queue(client: Client) -> None:
    with manager(client), Submission(address(client)) as s:
        accepted = s.submit({"argv": ["true"], "capabilities": ["gpu"]}, True, new_request())
    assert accepted["queued"] is True
    [(spec, mid)] = client.broker.peek(names.SPAWN, TaskSpec.model_validate_json)
    assert spec.tid == mid == accepted["tid"]
    with manager(client, capabilities=["gpu"]):
        assert client.wait(spec.tid, timeout=20).ok


def test_stop_on_the_connection_stops_the_task(client: Client) -> None:
    with manager(client), Submission(address(client)) as s:
        accepted = s.submit({"argv": ["sleep", "30"]}, True, new_request())
        until(client, lambda: client.task(accepted["tid"]).state == "running")
        s.stop()
        *_, result = s.messages()
    assert result["state"] == "stopped"
    assert exit_status(result) == 128 + signal.SIGTERM


def test_a_client_that_leaves_does_not_take_its_task_with_it(client: Client) -> None:
    with manager(client):
        with Submission(address(client)) as s:
            tid = s.submit({"argv": ["sh", "-c", "sleep 0.3; echo done"]}, True, new_request())[
                "tid"
            ]
        result = client.wait(tid, timeout=20)
    assert result.ok
    assert result.stdout == "done\n"


def test_a_task_accepted_locally_survives_its_manager_being_killed(client: Client) -> None:
    record, proc = client.start_manager(heartbeat=0.5)
    try:
        with Submission(address(client)) as s:
            spec = {"argv": ["sleep", "60"], "restart": "on-failure", "retries": 1}
            tid = s.submit(spec, False, new_request())["tid"]
        until(client, lambda: client.task(tid).state == "running")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with manager(client) as (other, _):
        until(client, lambda: client.task(tid).manager == other.tid)
        until(client, lambda: client.task(tid).state == "running")
        client.stop(tid)
        assert client.wait(tid, timeout=30).state == "stopped"
    assert "requeued" in client.task(tid).events
    assert not client.broker.has_pending(names.reserved(record.tid))


def test_only_one_manager_serves_the_address_and_another_takes_over(client: Client) -> None:
    with (
        manager(client, heartbeat=0.3) as (first, first_proc),
        manager(client, heartbeat=0.3) as (second, _),
    ):
        with Submission(address(client)) as s:
            assert s.submit({"argv": ["true"]}, False, new_request())["manager"] == first.tid
        client.stop_manager(first.tid)
        first_proc.wait(timeout=20)

        def second_serves() -> bool:
            try:
                with Submission(address(client)) as s:
                    return bool(
                        s.submit({"argv": ["true"]}, False, new_request())["manager"] == second.tid
                    )
            except OSError:
                return False

        until(client, second_serves)
