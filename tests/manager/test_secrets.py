"""STATUS replies show no secret: by a variable's name, and inside URL-shaped values."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from treadle.broker import TaskSpec
from treadle.client import Client

from ._support import manager, until


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


ENV = {
    "DB_URL": "postgresql://app:pw123@db/shop",
    "MIRROR": "https://TOK456@host/x?sig=SIG789",
    "API_TOKEN": "plain-secret",
    "MODE": "fast",
}


def test_redacted_hides_url_credentials_whatever_the_name() -> None:
    shown = TaskSpec.build(tid=1, argv=["true"], env=ENV).redacted()["env"]
    assert shown == {
        "DB_URL": "postgresql://app:***@db/shop",
        "MIRROR": "https://***@host/x?sig=***",
        "API_TOKEN": "***",
        "MODE": "fast",
    }


def test_a_status_reply_shows_no_secret(client: Client) -> None:
    with manager(client) as (record, _):
        spec = client.submit(["sleep", "30"], env=ENV)
        status: dict[str, object] = {}

        def listed() -> bool:
            status.update(client.status(record.tid))
            return any(t["tid"] == spec.tid for t in status["tasks"])  # type: ignore[attr-defined]

        until(client, listed)
        text = repr(status) + repr(client.status(spec.tid))
        client.stop(spec.tid)
        client.wait(spec.tid, timeout=20)
    for secret in ("pw123", "TOK456", "SIG789", "plain-secret"):
        assert secret not in text
    assert "postgresql://app:***@db/shop" in text
