"""A spec that validates can launch, and one that cannot launch costs only itself.

Each case of issue 14 item 2 (a retry delay over the backoff cap, an infinite or NaN stop
timeout, a CPU limit prlimit would not take, a loop whose import calls ``sys.exit``), on
three paths: refused by ``Client.submit`` (no TID handed out), dead-lettered with a reason
when written to the queue behind the client's back, and failed with a reason when it gets
as far as a real manager, with the slot freed and the other tasks untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from treadle import ConfigError
from treadle.broker import DeadLetter, TaskSpec, names
from treadle.broker._taskspec import MAX_CPU, MAX_RETRY_DELAY, MAX_STOP_TIMEOUT
from treadle.client import Client

from ._support import ENV, manager, until

UNLAUNCHABLE: list[tuple[dict[str, Any], str]] = [
    ({"retry_delay": MAX_RETRY_DELAY + 1}, "retry_delay"),
    ({"stop_timeout": float("inf")}, "stop_timeout"),
    ({"stop_timeout": "inf"}, "stop_timeout"),
    ({"stop_timeout": float("nan")}, "stop_timeout"),
    ({"stop_timeout": 1e300}, "stop_timeout"),
    ({"limits": {"cpu": MAX_CPU + 1}}, "limits.cpu"),
    ({"limits": {"cpu": 2**64}}, "limits.cpu"),
    ({"limits": {"memory": 2**80}}, "limits.memory"),
    ({"limits": {"timeout": float("inf")}}, "limits.timeout"),
    ({"retries": 10**12}, "retries"),
    ({"env": {"A=B": "x"}}, "env"),
    ({"env": {"A": "x\0y"}}, "env"),
    ({"argv": ["echo", "a\0b"]}, "argv"),
    ({"cwd": "/tmp\0x"}, "cwd"),
]


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


@pytest.mark.parametrize(("fields", "field"), UNLAUNCHABLE)
def test_the_client_refuses_what_the_manager_would_and_mints_no_tid(
    client: Client, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        client.submit(**{"argv": ["true"], **fields})
    assert caught.value.field == field
    assert client.broker.peek_raw(names.SPAWN) == []


def test_the_bounds_are_the_runtimes_own() -> None:
    assert TaskSpec.build(tid=1, argv=["x"], retry_delay=MAX_RETRY_DELAY).retry_delay == 30.0
    assert TaskSpec.build(tid=1, argv=["x"], stop_timeout=MAX_STOP_TIMEOUT).stop_timeout > 0
    assert TaskSpec.build(tid=1, argv=["x"], limits={"cpu": MAX_CPU}).limits.cpu == MAX_CPU


def test_unlaunchable_requests_in_the_queue_are_dead_lettered_and_the_rest_run(
    client: Client,
) -> None:
    """Written behind the client's back (an older client, a hand-written message): each is
    dead-lettered naming its field, and valid requests around them run."""
    good = [client.spec(argv=["true"]) for _ in range(3)]
    bad = []
    for fields, _ in UNLAUNCHABLE[:6]:
        tid = client.broker.timestamp()
        raw = {"tid": tid, "argv": ["true"], **fields}
        text = json.dumps(raw, allow_nan=True)
        bad.append(tid)
        client.broker.insert(names.SPAWN, [(text, tid)])
    client.submit_many(good)
    with manager(client, max_tasks=2):
        for spec in good:
            assert client.wait(spec.tid, timeout=30).ok
        until(client, lambda: len(client.broker.peek_raw(names.DEADLETTER)) >= len(bad))
    letters = [
        DeadLetter.model_validate_json(raw) for raw, _ in client.broker.peek_raw(names.DEADLETTER)
    ]
    assert sorted(letter.message_id or 0 for letter in letters) == sorted(bad)
    by_tid = sorted(letters, key=lambda x: x.message_id or 0)
    for letter, (_, field) in zip(by_tid, UNLAUNCHABLE[: len(bad)], strict=True):
        assert field.split(".")[-1] in letter.error, letter.error


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("tests.manager._exits:Never", "SystemExit(7)"),
        ("tests.manager._interrupts:Nothing", "KeyboardInterrupt"),
    ],
)
def test_a_loop_whose_import_exits_fails_alone_and_frees_its_slot(
    client: Client, monkeypatch: pytest.MonkeyPatch, target: str, why: str
) -> None:
    monkeypatch.setenv("PYTHONPATH", ENV["PYTHONPATH"])
    with manager(client, max_tasks=1) as (record, proc):
        sleeper = client.submit(["sleep", "0.3"])
        exits = client.submit(loop=target)
        after = [client.submit(["true"]) for _ in range(2)]
        failed = client.wait(exits.tid, timeout=30)
        assert failed.state == "failed"
        assert why in (failed.error or ""), failed.error
        assert "cannot launch" in (failed.error or "")
        assert client.wait(sleeper.tid, timeout=30).ok
        for spec in after:  # one slot: they ran after it, so it was freed
            assert client.wait(spec.tid, timeout=30).ok
        assert proc.poll() is None  # the manager is still up
        assert client.ping(record.tid)
