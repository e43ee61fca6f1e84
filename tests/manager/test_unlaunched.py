"""A claimed task that cannot even be added to the tree fails alone: its result says
why, its claim is dropped, and the tasks claimed with it run."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from treadle.broker import BrokerURL, Result, TaskSpec, names, resolve
from treadle.client import Client
from treadle.manager import Manager


def wait_all(url: BrokerURL, tids: list[int]) -> list[Result]:
    """Every task's result, by a client opened, used and closed on one thread."""
    with Client(url) as client:
        return [client.wait(tid, 20) for tid in tids]


@pytest.mark.timeout(60)
async def test_a_task_the_tree_refuses_fails_alone(tmp_path: Path) -> None:
    url = resolve(tmp_path / "broker.db")
    with Client(url) as client:
        specs = client.submit_many([{"argv": ["true"]} for _ in range(3)])
    bad = specs[1].tid
    manager = Manager(url, heartbeat=0.5)
    launch = manager._launch

    def refusing(spec: TaskSpec, mid: int) -> None:
        if spec.tid == bad:  # a fault injected where no known input reaches any more
            raise RuntimeError("the tree refused it")
        launch(spec, mid)

    manager._launch = refusing  # type: ignore[method-assign]
    up = asyncio.Event()
    run = asyncio.create_task(manager.run(up.set))
    try:
        async with asyncio.timeout(30):
            await up.wait()
            results = await asyncio.to_thread(wait_all, url, [s.tid for s in specs])
    finally:
        manager.request_stop()
        async with asyncio.timeout(30):
            await run
    assert [r.state for r in results] == ["completed", "failed", "completed"]
    assert results[1].error == "cannot launch: the tree refused it"
    with Client(url) as client:
        assert not client.broker.has_pending(names.reserved(manager.tid))
        assert [e.event for e in client.events(bad)] == ["failed"]
