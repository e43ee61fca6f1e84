"""A child that keeps failing and coming back is reported degraded while it runs (not
healthy), with how often it restarted; restarts an operator asked for do not count."""

from __future__ import annotations

import asyncio

from treadle import State
from treadle.supervisor import ChildSpec, Supervisor

from ._support import FAST, wait_for, wait_state


async def test_a_crash_looping_child_is_degraded_while_it_runs() -> None:
    starts = 0
    steady = asyncio.Event()

    async def flaky() -> None:
        nonlocal starts
        starts += 1
        if starts <= 3:
            raise RuntimeError("not yet")
        steady.set()
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(flaky, backoff=FAST)], name="t", intensity=10) as sup:
        await steady.wait()
        await wait_state(sup, "flaky", State.RUNNING)
        health = sup.status()["children"]["flaky"]["health"]
        report = sup.health_report()
    assert health == {"status": "degraded", "reason": "crash-looping: 3 restarts in the last 5 min"}
    assert "flaky: degraded (crash-looping" in report.reason


async def test_an_operators_restarts_are_not_a_loop() -> None:
    async def steady() -> None:
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(steady, backoff=FAST)], name="t") as sup:
        for _ in range(4):
            await wait_state(sup, "steady", State.RUNNING)
            await sup.restart("steady")
        await wait_for(sup, lambda: sup.child_state("steady") is State.RUNNING)
        health = sup.status()["children"]["steady"]["health"]
    assert health["status"] == "healthy"
