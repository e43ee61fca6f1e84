"""A real manager process on a real SQLite file: submit, wait, results, retries, inbox."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest

from treadle import ClientTimeout
from treadle.broker import names
from treadle.client import Client

from ._support import ENV, manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_a_command_runs_and_its_output_and_exit_code_come_back(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sh", "-c", "echo out; echo err >&2; exit 0"])
        result = client.wait(spec.tid, timeout=20)
    assert result.state == "completed"
    assert result.exit_code == 0
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    assert [e.event for e in client.events(spec.tid)] == ["starting", "started", "completed"]


def test_a_function_task_returns_its_value(client: Client) -> None:
    with manager(client):
        spec = client.submit(function="tests.manager._tasks:add", args=[2, 3], env=ENV)
        result = client.wait(spec.tid, timeout=20)
    assert result.ok, result
    assert result.value == 5


def test_a_raising_function_fails_with_its_traceback(client: Client) -> None:
    with manager(client):
        spec = client.submit(function="tests.manager._tasks:boom", env=ENV)
        result = client.wait(spec.tid, timeout=20)
    assert result.state == "failed"
    assert result.exit_code == 1
    assert "RuntimeError: boom from a task" in result.stderr


def test_on_failure_retries_then_fails_with_every_attempt_logged(client: Client) -> None:
    with manager(client):
        spec = client.submit(
            ["sh", "-c", "exit 3"], restart="on-failure", retries=2, retry_delay=0.01
        )
        result = client.wait(spec.tid, timeout=20)
    assert (result.state, result.exit_code, result.attempts) == ("failed", 3, 3)
    events = [e.event for e in client.events(spec.tid)]
    assert events == [
        "started",
        "retrying",
        "started",
        "retrying",
        "started",
        "failed",
    ]


def test_a_timeout_fails_the_attempt_and_stops_the_process(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sleep", "30"], limits={"timeout": 0.3}, stop_timeout=2)
        result = client.wait(spec.tid, timeout=20)
    assert result.state == "failed"
    assert result.error == "timed out after 0.3s"
    assert result.exit_code == -15


def test_the_inbox_message_is_there_before_the_task_starts(client: Client) -> None:
    with manager(client):
        tid = client.broker.timestamp()
        spec = client.submit(
            tid=tid,
            function="tests.manager._tasks:read_inbox",
            args=[tid],
            env=ENV,
            inbox={"hello": "task"},
        )
        result = client.wait(spec.tid, timeout=20)
    assert result.ok, result
    assert result.value == '{"hello": "task"}'


def test_output_is_streamed_to_the_outbox_before_the_result(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sh", "-c", "for i in 1 2 3; do echo line$i; done"])
        messages = list(client.follow(spec.tid, timeout=20))
    lines = [line for m in messages if m.kind == "output" for line in m.lines]
    assert lines == ["line1", "line2", "line3"]
    assert messages[-1].kind == "result"


def test_a_task_needing_a_capability_waits_for_a_manager_that_offers_it(client: Client) -> None:
    with manager(client):
        spec = client.submit(["true"], capabilities=["gpu"])
        with pytest.raises(ClientTimeout):
            client.wait(spec.tid, timeout=0.5)
        assert client.task(spec.tid).state == "queued"
        with manager(client, capabilities=["gpu", "big"]) as (gpu, _):
            result = client.wait(spec.tid, timeout=20)
    assert result.ok
    assert client.task(spec.tid).manager == gpu.tid


def test_secrets_in_env_are_redacted_in_status_and_reach_the_task(client: Client) -> None:
    with manager(client):
        spec = client.submit(
            ["sh", "-c", 'echo "$API_TOKEN"; sleep 30'], env={"API_TOKEN": "s3cret", "MODE": "fast"}
        )
        status = client.status(spec.tid)
        client.stop(spec.tid)
        result = client.wait(spec.tid, timeout=20)
    assert status["spec"]["env"] == {"API_TOKEN": "***", "MODE": "fast"}
    assert "s3cret" not in repr(status)
    assert result.stdout == "s3cret\n"  # the task itself gets the real value


def test_a_task_process_gets_the_parent_death_signal(client: Client) -> None:
    with manager(client) as (record, proc):
        spec = client.submit(["sleep", "30"])
        until(client, lambda: client.task(spec.tid).state == "running")
        pid = client.status(spec.tid)["target"]["pid"]
        spawner = psutil.Process(pid).parent()  # the manager's spawner: it reaps and kills
        assert spawner.parent().pid == proc.pid
        client.stop(spec.tid)
        assert client.wait(spec.tid, timeout=20).state == "stopped"
    assert not client.broker.has_pending(names.reserved(record.tid))


def test_a_loop_task_runs_inside_the_manager_until_stopped(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])  # the manager imports the class
    with manager(client) as (record, proc):
        spec = client.submit(loop="tests.manager._tasks:Ticker", args={"every": 0.01})
        until(client, lambda: client.task(spec.tid).state == "running")
        until(client, lambda: client.status(spec.tid)["target"]["runs"] >= 3)
        status = client.status(spec.tid)
        assert status["kind"] == "loop"
        assert status["target"]["name"] == "ticker"
        assert "pid" not in status["target"]  # in-process: no process of its own
        # in-process: the manager's one child is its spawner (no process runs the task)
        [spawner] = psutil.Process(proc.pid).children()
        assert "treadle.process._spawnerd" in " ".join(spawner.cmdline())
        assert spawner.children() == []
        assert client.pause(spec.tid).ok
        paused_at = client.status(spec.tid)["target"]["runs"]
        assert client.status(spec.tid)["target"]["paused"] is True
        assert client.status(spec.tid)["target"]["runs"] == paused_at
        assert client.resume(spec.tid).ok
        client.stop(spec.tid)
        result = client.wait(spec.tid, timeout=20)
    assert result.state == "stopped"
    assert [e.event for e in client.events(spec.tid)][-1] == "stopped"
    assert record.tid == client.task(spec.tid).manager


def test_a_loop_task_that_cannot_start_fails_with_the_reason(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])
    with manager(client):
        missing = client.submit(loop="tests.manager._tasks:Nowhere")
        broken = client.submit(loop="tests.manager._tasks:Broken")
        not_a_loop = client.submit(loop="tests.manager._tasks:add")
        results = [client.wait(s.tid, timeout=20) for s in (missing, broken, not_a_loop)]
    assert [r.state for r in results] == ["failed"] * 3
    assert "Nowhere" in (results[0].error or "")
    assert "cannot start" in (results[1].error or "")
    assert "not a treadle.Loop subclass" in (results[2].error or "")
