"""Pools: replicas=N runs name[0..N-1]; scale() changes N at run time."""

from __future__ import annotations

import asyncio

import pytest

from treadle import ChildNotFound, ConfigError, State
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import FAST, wait_for


class Worker(Loop):
    made = 0

    def __init__(self) -> None:
        Worker.made += 1
        super().__init__(name=f"worker{Worker.made}", interval=3600)

    async def run_once(self) -> None:
        pass


async def test_replicas_run_as_named_members() -> None:
    async with Supervisor([ChildSpec(Worker, name="w", replicas=3)]) as sup:
        await sup.wait_running()
        assert sup.children == ["w[0]", "w[1]", "w[2]"]
        targets = {id(sup.target(n)) for n in sup.children}
        assert len(targets) == 3  # one fresh instance each


async def test_scale_up_and_down() -> None:
    async with Supervisor([ChildSpec(Worker, name="w", replicas=2)]) as sup:
        assert await sup.scale("w", 5) == [f"w[{i}]" for i in range(5)]
        await sup.wait_running()
        assert all(sup.child_state(n) is State.RUNNING for n in sup.children)
        assert await sup.scale("w", 1) == ["w[0]"]
        assert sup.children == ["w[0]"]
        assert await sup.scale("w", 0) == []
        assert await sup.scale("w", 2) == ["w[0]", "w[1]"]
        await sup.wait_running()


async def test_remove_a_pool_removes_every_member() -> None:
    async with Supervisor([ChildSpec(Worker, name="w", replicas=2), Worker]) as sup:
        await sup.remove("w")
        assert len(sup.children) == 1


async def test_a_pool_needs_a_factory() -> None:
    with pytest.raises(ConfigError, match="replicas need a factory"):
        ChildSpec(Worker(), replicas=2)


async def test_scale_of_a_non_pool_is_refused() -> None:
    async with Supervisor([Worker]) as sup:
        with pytest.raises(ChildNotFound, match="not a pool"):
            await sup.scale("Worker", 2)


async def test_pool_members_restart_independently() -> None:
    starts: list[int] = []

    async def member() -> None:
        starts.append(1)
        if len(starts) == 1:
            raise RuntimeError("one member crashes once")
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(member, name="p", replicas=3, backoff=FAST)]) as sup:
        await wait_for(
            sup,
            lambda: (
                len(starts) == 4 and all(sup.child_state(n) is State.RUNNING for n in sup.children)
            ),
        )
        restarts = sorted(c["restarts"] for c in sup.status()["children"].values())
        assert restarts == [0, 0, 1]


async def test_a_pool_of_one_can_be_scaled() -> None:
    async with Supervisor([ChildSpec(Worker, name="w", pool=True)]) as sup:
        await sup.wait_running()
        assert sup.children == ["w[0]"]
        assert await sup.scale("w", 3) == ["w[0]", "w[1]", "w[2]"]
        assert await sup.scale("w", 1) == ["w[0]"]
    with pytest.raises(ConfigError, match="replicas need a factory"):
        ChildSpec(Worker(), pool=True)


async def test_pause_resume_and_restart_a_pool_act_on_every_member() -> None:
    async with Supervisor([ChildSpec(Worker, name="w", replicas=2)]) as sup:
        await sup.wait_running()
        before = [sup.target(n) for n in sup.children]
        sup.pause("w")
        assert [sup.child_state(n) for n in sup.children] == [State.PAUSED] * 2
        sup.resume("w")
        assert [sup.child_state(n) for n in sup.children] == [State.RUNNING] * 2
        await sup.restart("w")
        await sup.wait_running()
        restarts = [sup.status()["children"][n]["restarts"] for n in sup.children]
        assert restarts == [0, 0]  # an operator's restart is not counted against intensity
        assert all(sup.target(n) is not b for n, b in zip(sup.children, before, strict=True))
