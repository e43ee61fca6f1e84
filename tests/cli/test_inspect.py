"""``treadle task``, ``treadle worker`` and ``treadle queue`` against real managers."""

from __future__ import annotations

from collections.abc import Iterator

import psutil
import pytest

from tests.manager._support import manager, until
from treadle.client import Client

from ._support import gone, treadle, treadle_json


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_task_list_status_and_log(client: Client) -> None:
    with manager(client) as (record, _):
        ok = client.submit(["sh", "-c", "echo hello; echo oops >&2"], name="greeter")
        bad = client.submit(["sh", "-c", "exit 7"])
        client.wait(ok.tid, timeout=20)
        client.wait(bad.tid, timeout=20)
        table = treadle("task", "list")
        listed = treadle_json("task", "list")
        failed = treadle_json("task", "list", "--state", "failed")
        status = treadle_json("task", "status", str(bad.tid))
        log = treadle("task", "log", str(ok.tid))
    assert table.returncode == 0
    assert "greeter" in table.stdout
    assert str(bad.tid) in table.stdout  # a TID is never folded over two lines
    assert [(t["tid"], t["state"]) for t in listed] == [  # TIDs as text: jq rounds numbers
        (str(ok.tid), "completed"),
        (str(bad.tid), "failed"),
    ]
    assert [t["tid"] for t in failed] == [str(bad.tid)]
    assert status["manager"] == str(record.tid)
    assert status["result"]["exit_code"] == 7
    assert log.returncode == 0
    assert "started" in log.stdout
    assert "completed" in log.stdout
    assert log.stdout.rstrip().endswith("hello")
    assert log.stderr == "oops\n"


def test_task_control_commands(client: Client) -> None:
    with manager(client):
        spec = client.submit(["sleep", "30"])
        until(client, lambda: client.task(spec.tid).state == "running")
        pid = client.task(spec.tid).pid
        assert pid is not None
        tid = str(spec.tid)
        assert treadle("task", "ping", tid).stdout == f"{tid}: PONG\n"
        assert treadle("task", "pause", tid).returncode == 0
        assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
        again = treadle("task", "pause", tid)
        assert again.returncode == 1
        assert "paused" in again.stdout
        assert treadle("task", "resume", tid).returncode == 0
        live = treadle_json("task", "status", tid)
        assert live["live"]["state"] == "running"
        assert treadle("task", "stop", tid).returncode == 0
        assert client.wait(spec.tid, timeout=20).state == "stopped"
        ended = treadle("task", "ping", tid)
    assert ended.returncode == 1
    assert "has ended (stopped)" in ended.stderr


def test_an_unknown_tid_exits_3(client: Client) -> None:
    done = treadle("task", "status", "12345")
    assert done.returncode == 3
    assert "no task 12345" in done.stderr


def test_worker_start_list_status_stop(client: Client) -> None:
    started = treadle_json("worker", "start", "--capability", "gpu", "--max-tasks", "3")
    tid = started["tid"]
    assert isinstance(tid, str)
    try:
        assert started["capabilities"] == ["gpu"]
        listed = treadle_json("worker", "list")
        assert [m["tid"] for m in listed] == [started["tid"]]
        status = treadle_json("worker", "status", tid)
        assert status["pid"] == started["pid"]
        assert treadle("worker", "status", "999").returncode == 3
    finally:
        stopped = treadle("worker", "stop", tid)
    assert stopped.returncode == 0
    assert stopped.stdout == f"manager {tid} stopped\n"
    gone(started["pid"])
    assert treadle_json("worker", "list") == []
    assert [m["status"] for m in treadle_json("worker", "list", "--all")] == ["stopped"]


def test_queue_list_and_peek_redact_secrets(client: Client) -> None:
    spec = client.submit(["true"], env={"API_TOKEN": "s3cret", "MODE": "x"})
    listed = treadle_json("queue", "list")
    peeked = treadle_json("queue", "peek", "treadle.spawn.requests")
    plain = treadle("queue", "peek", "treadle.spawn.requests")
    assert {"queue": "treadle.spawn.requests", "pending": 1, "claimed": 0, "total": 1} in listed
    [message] = peeked
    assert message["id"] == message["message"]["tid"] == str(spec.tid)
    assert message["message"]["env"] == {"API_TOKEN": "***", "MODE": "x"}
    assert "s3cret" not in plain.stdout
    assert "***" in plain.stdout
