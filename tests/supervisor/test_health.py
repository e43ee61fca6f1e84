"""Stuck children, health checks, readiness and the tree's health roll-up, for real."""

from __future__ import annotations

import asyncio
import contextlib
import json

import treadle
from treadle import Health, HealthStatus, State, Transition
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import FAST, wait_for, wait_state


class Hanging(Loop):
    """A loop whose first run hangs without a heartbeat (a deadlock, a lost await)."""

    runs = 0

    async def run_once(self) -> None:
        Hanging.runs += 1
        if Hanging.runs == 1:
            await asyncio.Event().wait()  # the line the stack must show


async def test_a_stuck_loop_is_cancelled_with_its_stack_and_restarted() -> None:
    Hanging.runs = 0
    sup = Supervisor([ChildSpec(Hanging(interval=0.01), heartbeat_timeout=0.05, backoff=FAST)])
    with sup.events(maxsize=1000) as events:
        async with sup:
            await wait_for(sup, lambda: Hanging.runs >= 2)
            st = sup.status()["children"]["Hanging"]
        failures = [
            m.payload
            for m in iter(events.get_nowait, None)
            if isinstance(m.payload, Transition) and m.payload.to is State.FAILED
        ]
    assert st["restarts"] == 1
    assert st["history"][0]["reason"].startswith("stuck: no heartbeat for")
    (stuck,) = failures
    assert stuck.error is not None
    assert "run_once" in stuck.error
    assert "await asyncio.Event().wait()" in stuck.error


async def test_a_coroutine_that_beats_is_not_stuck_one_that_stops_beating_is() -> None:
    phase = {"beating": True}
    starts: list[int] = []

    async def worker() -> None:
        starts.append(1)
        while phase["beating"]:
            treadle.beat()
            await asyncio.sleep(0.005)
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(worker, heartbeat_timeout=0.25, backoff=FAST)]) as sup:
        await sup.wait_running()
        await asyncio.sleep(0.5)  # two timeouts' worth of beating (every 5 ms): not stuck
        assert starts == [1]
        phase["beating"] = False
        await wait_for(sup, lambda: len(starts) == 2)
    assert "stuck" in sup.status()["children"]["worker"]["history"][0]["reason"]


async def test_stuck_and_deaf_to_cancellation_is_abandoned_not_awaited() -> None:
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await release.wait()

    sup = Supervisor(
        [ChildSpec(deaf, heartbeat_timeout=0.02, restart=treadle.Restart.TEMPORARY)],
        cancel_grace=0.02,
    )
    async with sup:
        await wait_state(sup, "deaf", State.FAILED)
        assert len(sup.abandoned) == 1
    release.set()
    await asyncio.wait(set(sup.abandoned) or {asyncio.ensure_future(asyncio.sleep(0))})


class Probe(Loop):
    def __init__(self, name: str, verdicts: list[Health]) -> None:
        super().__init__(name=name, interval=3600)
        self.verdicts = verdicts
        self.checks = 0

    async def run_once(self) -> None:
        pass

    async def health(self) -> Health:
        self.checks += 1
        return self.verdicts.pop(0) if self.verdicts else Health.healthy()


async def test_unhealthy_in_a_row_restarts_the_child() -> None:
    made: list[Probe] = []

    def make() -> Probe:
        bad = Health.unhealthy("db unreachable")
        probe = Probe("p", [Health.healthy(), bad, bad] if not made else [])
        made.append(probe)
        return probe

    spec = ChildSpec(make, name="p", health_interval=0.01, health_failures=2, backoff=FAST)
    async with Supervisor([spec]) as sup:
        await wait_for(sup, lambda: len(made) == 2 and sup.child_state("p") is State.RUNNING)
        history = sup.status()["children"]["p"]["history"]
    assert history[0]["reason"] == "unhealthy 2 checks in a row: db unreachable"


async def test_a_slow_check_times_out_as_unhealthy() -> None:
    class Slow(Probe):
        async def health(self) -> Health:
            await asyncio.sleep(3600)
            raise AssertionError("unreachable")

    slow = Slow("slow", [])
    spec = ChildSpec(slow, health_interval=0.01, health_timeout=0.01, health_failures=100)
    async with Supervisor([spec]) as sup:
        await wait_for(
            sup, lambda: sup.status()["children"]["slow"]["health"]["status"] == "unhealthy"
        )
        verdict = sup.status()["children"]["slow"]["health"]
    assert verdict["reason"] == "health check timed out after 0.01s"


async def test_dependants_wait_for_the_first_passing_check() -> None:
    db = Probe("db", [Health.unhealthy("warming up")] * 3)
    log: list[str] = []

    class Api(Loop):
        async def on_start(self) -> None:
            log.append(f"api starts after {db.checks} checks")

        async def run_once(self) -> None:
            pass

    sup = Supervisor(
        [
            ChildSpec(db, health_interval=0.01, health_failures=10),
            ChildSpec(Api(interval=3600), depends_on=("db",)),
        ]
    )
    async with sup:
        await sup.wait_running("Api")
    assert log == ["api starts after 4 checks"]  # three failed, the fourth passed


async def test_the_tree_rolls_up_worst_first_with_reasons() -> None:
    async def crashes() -> None:
        raise RuntimeError("x")

    inner = Supervisor([Probe("deep", [Health.degraded("slow disk")] * 1000)], name="inner")
    inner_spec = ChildSpec(inner)
    deep_spec = ChildSpec(Probe("ok", []), health_interval=0.01)
    sup = Supervisor([inner_spec, deep_spec], name="root")
    async with sup:
        await sup.wait_running()
        assert sup.health_report().status is HealthStatus.HEALTHY
        sup.add(ChildSpec(crashes, backoff=treadle.Backoff(initial=3600, max=3600)))
        await wait_state(sup, "crashes", State.BACKOFF)
        report = sup.health_report()
        assert report.status is HealthStatus.UNHEALTHY
        assert "crashes: unhealthy (restarting after a failure)" in report.reason
        json.dumps(sup.status()["health"])
