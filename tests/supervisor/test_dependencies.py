"""depends_on: start after what you need is running; stop before it; bad graphs refused."""

from __future__ import annotations

import asyncio

import pytest

from treadle import DependencyError, State, Transition
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor


class Recorder(Loop):
    def __init__(self, name: str, log: list[str], delay: float = 0) -> None:
        super().__init__(name=name, interval=3600)
        self.log = log
        self.delay = delay

    async def on_start(self) -> None:
        await asyncio.sleep(self.delay)  # a slow start: dependants must wait for it
        self.log.append(f"start {self.name}")

    async def on_stop(self) -> None:
        self.log.append(f"stop {self.name}")

    async def run_once(self) -> None:
        pass


async def test_start_in_dependency_order_and_stop_in_reverse() -> None:
    log: list[str] = []
    sup = Supervisor(
        [
            ChildSpec(Recorder("api", log), depends_on=("db", "cache")),
            ChildSpec(Recorder("cache", log, delay=0.02), depends_on=("db",)),
            Recorder("db", log, delay=0.02),
        ]
    )
    async with sup:
        await sup.wait_running()
        assert sup.child_state("api") is State.RUNNING
    assert log == ["start db", "start cache", "start api", "stop api", "stop cache", "stop db"]


async def test_a_waiting_child_is_pending_with_a_reason() -> None:
    log: list[str] = []
    gate = asyncio.Event()

    class Slow(Recorder):
        async def on_start(self) -> None:
            await gate.wait()

    sup = Supervisor([Slow("db", log), ChildSpec(Recorder("api", log), depends_on=("db",))])
    with sup.events(maxsize=100) as events:
        async with sup:
            await asyncio.sleep(0)
            assert sup.child_state("api") is State.PENDING
            assert sup.child_state("db") is State.STARTING
            gate.set()
            await sup.wait_running()
        reasons = []
        while (msg := events.get_nowait()) is not None:
            t = msg.payload
            assert isinstance(t, Transition)
            if t.name.endswith(".api") and t.to is State.STARTING:
                reasons.append(t.reason)
    assert reasons == ["dependencies ready"]


async def test_stopping_while_pending_does_not_start_it() -> None:
    log: list[str] = []
    never = asyncio.Event()

    class Stuck(Recorder):
        async def on_start(self) -> None:
            await never.wait()

    stuck = ChildSpec(Stuck("db", log), shutdown_timeout=0.1)  # its start is cancelled at once
    sup = Supervisor([stuck, ChildSpec(Recorder("api", log), depends_on=("db",))])
    async with sup:
        await asyncio.sleep(0)
    assert "start api" not in log
    assert sup.child_state("api") is State.STOPPED


async def test_unknown_dependency_is_a_clear_error() -> None:
    with pytest.raises(DependencyError, match=r"api\.depends_on: unknown child 'dbb'"):
        Supervisor([ChildSpec(Recorder("api", []), depends_on=("dbb",)), Recorder("db", [])])


async def test_cycle_is_a_clear_error() -> None:
    with pytest.raises(DependencyError, match="cycle: a -> b -> c -> a"):
        Supervisor(
            [
                ChildSpec(Recorder("a", []), depends_on=("b",)),
                ChildSpec(Recorder("b", []), depends_on=("c",)),
                ChildSpec(Recorder("c", []), depends_on=("a",)),
            ]
        )


async def test_removing_a_needed_child_is_refused() -> None:
    log: list[str] = []
    sup = Supervisor([Recorder("db", log), ChildSpec(Recorder("api", log), depends_on=("db",))])
    async with sup:
        with pytest.raises(DependencyError, match=r"\['api'\] depend on it"):
            await sup.remove("db")
        await sup.remove("api")
        await sup.remove("db")
        assert sup.children == []


async def test_a_dependency_added_and_removed_at_run_time_is_counted() -> None:
    # The tree keeps a count of children with depends_on (a tree without any asks nothing
    # of its other children on a remove): adding, scaling and removing keep it right.
    log: list[str] = []
    async with Supervisor([Recorder("db", log)]) as sup:
        sup.add(ChildSpec(lambda: Recorder("w", log), name="w", replicas=2, depends_on=("db",)))
        await sup.wait_running()
        with pytest.raises(DependencyError, match=r"\['w\[0\]', 'w\[1\]'\] depend on it"):
            await sup.remove("db")
        await sup.scale("w", 1)
        with pytest.raises(DependencyError, match=r"\['w\[0\]'\] depend on it"):
            await sup.remove("db")
        await sup.remove("w")
        await sup.remove("db")  # nobody depends on it any more
        assert sup.children == []
        sup.add(Recorder("db", log))
        sup.add(ChildSpec(Recorder("api", log), depends_on=("db",)))
        with pytest.raises(DependencyError, match=r"\['api'\] depend on it"):
            await sup.remove("db")


async def test_add_with_unknown_dependency_is_refused() -> None:
    async with Supervisor() as sup:
        with pytest.raises(DependencyError, match="unknown child 'nope'"):
            sup.add(ChildSpec(Recorder("x", []), depends_on=("nope",)))
        assert sup.children == []


async def test_depending_on_a_pool_waits_for_every_member() -> None:
    log: list[str] = []
    sup = Supervisor(
        [
            ChildSpec(lambda: Recorder("w", log, delay=0.01), name="w", replicas=3),
            ChildSpec(Recorder("front", log), depends_on=("w",)),
        ]
    )
    async with sup:
        await sup.wait_running()
    assert log[:4] == ["start w", "start w", "start w", "start front"]
