"""depends_on on shared state and on health; state and limits shared by a nested tree;
the supervisor's watchdog catching a child that blocks the loop; CPU accounting."""

from __future__ import annotations

import asyncio
import time

import pytest

from treadle import ConfigError, DependencyError, Health, State
from treadle.health import BlockReport
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import wait_for


class Noop(Loop):
    async def run_once(self) -> None:
        pass


async def test_a_child_waits_for_a_state_key() -> None:
    sup = Supervisor(
        [ChildSpec(Noop(name="follower", interval=3600), depends_on=("state:leader",))]
    )
    async with sup:
        await asyncio.sleep(0)
        assert sup.child_state("follower") is State.PENDING
        assert sup.shared.get("leader") is None
        sup.shared.set("leader", "node-1")
        await sup.wait_running("follower")


async def test_healthy_dependency_waits_for_full_health() -> None:
    verdicts = [Health.degraded("replica lagging")] * 3

    class Db(Loop):
        async def run_once(self) -> None:
            pass

        async def health(self) -> Health:
            return verdicts.pop(0) if verdicts else Health.healthy()

    sup = Supervisor(
        [
            ChildSpec(Db(name="db", interval=3600), health_interval=0.01),
            ChildSpec(Noop(name="ready_dep", interval=3600), depends_on=("db",)),
            ChildSpec(Noop(name="healthy_dep", interval=3600), depends_on=("healthy:db",)),
        ]
    )
    async with sup:
        await sup.wait_running("ready_dep")  # degraded is ready enough for a plain dependency
        assert verdicts  # ...while db was still degraded
        assert sup.child_state("healthy_dep") is State.PENDING
        await sup.wait_running("healthy_dep")
        assert not verdicts


def test_conditions_are_validated() -> None:
    with pytest.raises(ConfigError, match="names nothing after state:"):
        ChildSpec(Noop(), depends_on=("state:",))
    with pytest.raises(DependencyError, match="unknown child 'ghost'"):
        Supervisor([ChildSpec(Noop(), depends_on=("healthy:ghost",))])


async def test_a_nested_tree_shares_state_and_limits() -> None:
    inner = Supervisor([Noop(name="leaf", interval=3600)], name="inner")
    async with Supervisor([inner], name="outer") as sup:
        await sup.wait_running()
        sup.shared.set("mode", "degraded")
        assert inner.shared.value("mode") == "degraded"
        sup.limits.configure("io", 2)
        async with inner.limits.acquire("io"):
            assert sup.limits.stats()["io"]["in_use"] == 1
        dump = sup.dump()
        assert dump["shared"] == {"mode": {"value": "degraded", "version": 1}}
        assert dump["limits"]["io"]["acquired"] == 1


async def test_the_watchdog_names_the_child_that_blocks_the_loop() -> None:
    release = asyncio.Event()

    class Blocker(Loop):
        async def run_once(self) -> None:
            await release.wait()
            time.sleep(0.5)  # noqa: ASYNC251 - the bug under test
            self.request_stop()

    sup = Supervisor([Blocker(name="blocker", interval=0)], watchdog=0.15, name="w")
    async with sup:
        with sup.bus.subscribe("health.w.blocked") as blocked:
            release.set()
            msg = await blocked.get()
        report = msg.payload
        assert isinstance(report, BlockReport)
        assert "time.sleep(0.5)" in report.stack
        assert report.task is not None
        assert "blocker" in report.task
        assert sup.status()["watchdog"]["blocks"] == 1


async def test_cpu_time_is_accounted_when_asked() -> None:
    class Burn(Loop):
        async def run_once(self) -> None:
            deadline = time.thread_time() + 0.02
            while time.thread_time() < deadline:
                pass
            if self.metrics.runs >= 2:
                self.request_stop()

    burn = Burn(interval=0, cpu_time=True)
    await burn.run_forever()
    assert burn.metrics.cpu_s is not None
    assert burn.metrics.cpu_s >= 0.05
    assert Noop().status()["cpu_s"] is None  # off by default: no cost


async def test_waiting_on_a_condition_is_event_driven() -> None:
    sup = Supervisor([ChildSpec(Noop(name="f", interval=3600), depends_on=("state:go",))])
    async with sup:
        sup.shared.set("go", 0)  # falsy: still waiting
        await asyncio.sleep(0)
        assert sup.child_state("f") is State.PENDING
        sup.shared.set("go", 1)
        await wait_for(sup, lambda: sup.child_state("f") is State.RUNNING)
