"""An idle manager sleeps: what wakes it, what its heartbeat finds, what it writes."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from treadle.broker import Control, Reply, TaskSpec, names
from treadle.client import Client
from treadle.manager import _registry

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_a_request_written_without_a_nudge_is_found_by_the_heartbeat(client: Client) -> None:
    with manager(client, heartbeat=0.3):
        spec = TaskSpec.build(tid=client.broker.timestamp(), argv=("true",))
        client.broker.insert(names.SPAWN, [(spec, spec.tid)])  # a plain write: nobody told
        assert client.wait(spec.tid, timeout=20).ok


def test_a_control_request_written_without_a_nudge_is_answered(client: Client) -> None:
    with manager(client, heartbeat=0.3) as (record, _):
        reply_to = f"{names.ctrl_out(record.tid)}.{secrets.token_hex(4)}"
        control = Control(op="PING", request_id="r", reply_to=reply_to)
        client.broker.write(names.ctrl_in(record.tid), control)
        replies: list[tuple[Reply, int]] = []

        def replied() -> bool:
            replies.extend(client.broker.peek(reply_to, Reply.model_validate_json))
            return bool(replies)

        until(client, replied)
        assert replies[0][0].reply == "PONG"


def test_an_idle_manager_rewrites_no_record_yet_its_heartbeat_moves_on(client: Client) -> None:
    with manager(client, heartbeat=0.2) as (record, _):
        mids = [mid for _, mid in client.broker.peek_raw(names.REGISTRY)]
        first = _registry.liveness(client.broker)[record.tid][0].heartbeat_at
        until(
            client,
            lambda: _registry.liveness(client.broker)[record.tid][0].heartbeat_at > first + 0.5,
        )
        assert [mid for _, mid in client.broker.peek_raw(names.REGISTRY)] == mids
        spec = client.submit(["sleep", "30"])
        until(client, lambda: _registry.liveness(client.broker)[record.tid][0].tasks == 1)
        client.stop(spec.tid)
        client.wait(spec.tid, timeout=20)
