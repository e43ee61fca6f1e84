"""A manager on either event loop (``$TREADLE_EVENT_LOOP``) runs every kind of task: what
its warm workers and its spawner hand it are transports of that loop's own making."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from treadle.client import Client

from ._support import manager


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_manager_runs_function_and_process_tasks_on_either_loop(
    client: Client, loop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip(loop)
    monkeypatch.setenv("TREADLE_EVENT_LOOP", loop)
    with manager(client, workers=1):
        function = client.submit(function="json:dumps", args={"obj": [1, 2]})
        process = client.submit(argv=["sh", "-c", "echo out; echo err >&2"])
        done = client.wait(function.tid, timeout=30)
        assert done.ok, done
        assert done.value == "[1, 2]"
        ran = client.wait(process.tid, timeout=30)
        assert ran.ok, ran
        assert (ran.stdout, ran.stderr) == ("out\n", "err\n")
