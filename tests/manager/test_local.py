"""Local submission: a task handed to a real manager over its submit socket."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle._paths import submit_address
from treadle._wire import Refused, Submission, exit_status
from treadle.broker import TaskSpec, names
from treadle.client import Client

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def address(client: Client) -> str:
    return submit_address(client.url.location)


def test_a_task_runs_here_and_its_output_and_result_stream_back(client: Client) -> None:
    with manager(client) as (record, _), Submission(address(client)) as s:
        accepted = s.submit({"argv": ["sh", "-c", "echo one; echo two >&2; exit 4"]}, True)
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
        s.submit({"argv": ["true"], "retries": -1}, True)
    assert client.tasks() == []
    assert not client.broker.has_pending(names.SPAWN)


def test_what_this_manager_cannot_run_goes_on_the_spawn_queue(client: Client) -> None:
    with manager(client), Submission(address(client)) as s:
        accepted = s.submit({"argv": ["true"], "capabilities": ["gpu"]}, True)
    assert accepted["queued"] is True
    [(spec, mid)] = client.broker.peek(names.SPAWN, TaskSpec.model_validate_json)
    assert spec.tid == mid == accepted["tid"]
    with manager(client, capabilities=["gpu"]):
        assert client.wait(spec.tid, timeout=20).ok


def test_stop_on_the_connection_stops_the_task(client: Client) -> None:
    with manager(client), Submission(address(client)) as s:
        accepted = s.submit({"argv": ["sleep", "30"]}, True)
        until(client, lambda: client.task(accepted["tid"]).state == "running")
        s.stop()
        *_, result = s.messages()
    assert result["state"] == "stopped"
    assert exit_status(result) == 128 + signal.SIGTERM


def test_a_client_that_leaves_does_not_take_its_task_with_it(client: Client) -> None:
    with manager(client):
        with Submission(address(client)) as s:
            tid = s.submit({"argv": ["sh", "-c", "sleep 0.3; echo done"]}, True)["tid"]
        result = client.wait(tid, timeout=20)
    assert result.ok
    assert result.stdout == "done\n"


def test_another_user_may_not_submit(client: Client) -> None:
    # The client half of the protocol is the standard library alone: the system's Python
    # runs it as nobody (who may not run this venv's, under /root).
    system = shutil.which("python3", path="/usr/bin:/bin")
    if os.getuid() != 0 or system is None:
        pytest.skip("needs root and a system python3 to act as another user")
    code = (
        "import sys\n"
        "from treadle._wire import Refused, Submission\n"
        "try:\n"
        "    Submission(sys.argv[1]).submit({'argv': ['true']}, False)\n"
        "    print('accepted')\n"
        "except Refused as exc:\n"
        "    print(exc)\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    with manager(client):
        done = subprocess.run(
            [system, "-c", code, address(client)],
            user="nobody",
            env={"PYTHONPATH": src, "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert done.stdout.strip() == "only the manager's own user may submit", done.stderr
    assert client.tasks() == []


def test_a_task_accepted_locally_survives_its_manager_being_killed(client: Client) -> None:
    record, proc = client.start_manager(heartbeat=0.5)
    try:
        with Submission(address(client)) as s:
            spec = {"argv": ["sleep", "60"], "restart": "on-failure", "retries": 1}
            tid = s.submit(spec, False)["tid"]
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
            assert s.submit({"argv": ["true"]}, False)["manager"] == first.tid
        client.stop_manager(first.tid)
        first_proc.wait(timeout=20)

        def second_serves() -> bool:
            try:
                with Submission(address(client)) as s:
                    return bool(s.submit({"argv": ["true"]}, False)["manager"] == second.tid)
            except OSError:
                return False

        until(client, second_serves)
