"""Supervisor: restart types, strategies, intensity, escalation, status and events."""

from __future__ import annotations

import asyncio
import json

import pytest

from treadle import (
    Backoff,
    ChildNotFound,
    DuplicateChild,
    Jitter,
    NotPausable,
    State,
    SupervisorFailed,
    Transition,
)
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Restart, Supervisor

from ._support import FAST, wait_for, wait_state


class Beat(Loop):
    """A loop that counts its starts in a shared dict."""

    def __init__(self, name: str, starts: dict[str, int], interval: float = 3600) -> None:
        super().__init__(name=name, interval=interval)
        self.starts = starts

    async def on_start(self) -> None:
        self.starts[self.name] = self.starts.get(self.name, 0) + 1

    async def run_once(self) -> None:
        pass


def crash_n_times(n: int, started: list[int]) -> ChildSpec:
    async def crasher() -> None:
        started.append(1)
        if len(started) <= n:
            raise RuntimeError(f"crash {len(started)}")
        await asyncio.Event().wait()

    return ChildSpec(crasher, backoff=FAST)


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    starts: dict[str, int] = {}
    attempts: list[int] = []
    sup = Supervisor([Beat("a", starts), crash_n_times(2, attempts), Beat("b", starts)])
    async with sup:
        await wait_for(
            sup, lambda: len(attempts) == 3 and sup.child_state("crasher") is State.RUNNING
        )
        st = sup.status()["children"]
        assert st["crasher"]["restarts"] == 2
        assert st["crasher"]["last_exit"]["error"]["message"] == "crash 2"
        assert [h["reason"] for h in st["crasher"]["history"]] == [
            "RuntimeError: crash 1",
            "RuntimeError: crash 2",
        ]
    assert starts == {"a": 1, "b": 1}
    assert sup.state is State.STOPPED
    assert all(s == State.STOPPED for s in (sup.child_state(n) for n in sup.children))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("one_for_one", {"a": 1, "b": 2, "c": 1}),
        ("one_for_all", {"a": 2, "b": 2, "c": 2}),
        ("rest_for_one", {"a": 1, "b": 2, "c": 2}),
    ],
)
async def test_strategies(strategy: str, expected: dict[str, int]) -> None:
    starts: dict[str, int] = {}

    async def b() -> None:
        starts["b"] = starts.get("b", 0) + 1
        if starts["b"] == 1:
            raise RuntimeError("b fails once")
        await asyncio.Event().wait()

    sup = Supervisor(
        [Beat("a", starts), ChildSpec(b, backoff=FAST), Beat("c", starts)], strategy=strategy
    )
    async with sup:
        # settled: b restarted once and every child is running again
        await wait_for(
            sup,
            lambda: (
                sup.status()["children"]["b"]["restarts"] == 1
                and all(sup.child_state(n) is State.RUNNING for n in sup.children)
                and starts == expected
            ),
        )
        assert starts == expected


async def test_transient_restarts_only_after_an_abnormal_exit() -> None:
    runs: list[str] = []

    async def ok() -> None:
        runs.append("ok")

    async def bad() -> None:
        runs.append("bad")
        if runs.count("bad") < 3:
            raise ValueError("v")

    sup = Supervisor(
        [
            ChildSpec(ok, restart=Restart.TRANSIENT, backoff=FAST),
            ChildSpec(bad, restart=Restart.TRANSIENT, backoff=FAST),
        ]
    )
    async with sup:
        await wait_state(sup, "ok", State.STOPPED)
        await wait_state(sup, "bad", State.STOPPED)
        await _drain_ticks()
    assert runs.count("ok") == 1
    assert runs.count("bad") == 3  # failed twice, then exited normally
    assert sup.status()["children"]["bad"]["last_exit"]["kind"] == "normal"


async def test_temporary_never_restarts() -> None:
    runs: list[int] = []

    async def once() -> None:
        runs.append(1)
        raise RuntimeError("gone")

    async with Supervisor([ChildSpec(once, restart=Restart.TEMPORARY, backoff=FAST)]) as sup:
        await wait_state(sup, "once", State.FAILED)
        await _drain_ticks()
        assert sup.child_state("once") is State.FAILED
    assert runs == [1]


async def test_intensity_gives_up_a_child() -> None:
    runs: list[int] = []

    async def always() -> None:
        runs.append(1)
        raise RuntimeError("always")

    events: list[Transition] = []
    sup = Supervisor([ChildSpec(always, backoff=FAST)], intensity=3, period=60)
    with sup.events(maxsize=1000) as sub:
        async with sup:
            await wait_state(sup, "always", State.GIVEN_UP)
        while (msg := sub.get_nowait()) is not None:
            assert isinstance(msg.payload, Transition)
            events.append(msg.payload)
    assert len(runs) == 4  # the first run and three restarts
    given_up = [t for t in events if t.to is State.GIVEN_UP]
    assert len(given_up) == 1
    assert "more than 3 restarts in 60s" in given_up[0].reason
    backoffs = [t for t in events if t.to is State.BACKOFF]
    assert [t.attempt for t in backoffs] == [1, 2, 3]


async def test_escalate_fails_the_supervisor_and_cancels_the_body() -> None:
    async def always() -> None:
        raise RuntimeError("always")

    sup = Supervisor([ChildSpec(always, backoff=FAST)], intensity=1, escalate=True, name="top")
    with pytest.raises(SupervisorFailed) as info:
        async with sup:
            await asyncio.sleep(3600)  # cancelled by the failure, as a TaskGroup would
    assert info.value.child == "always"
    assert sup.state is State.FAILED
    assert sup.status()["failure"] is not None


async def test_nested_supervisor_failure_goes_to_its_parent() -> None:
    starts: dict[str, int] = {}
    inner_runs: list[int] = []

    def make_inner() -> Supervisor:
        async def flaky() -> None:
            inner_runs.append(1)
            if len(inner_runs) <= 2:
                raise RuntimeError("inner")
            await asyncio.Event().wait()

        return Supervisor(
            [ChildSpec(flaky, backoff=FAST)], name="inner", intensity=1, escalate=True
        )

    outer = Supervisor([ChildSpec(make_inner, name="inner", backoff=FAST), Beat("x", starts)])
    async with outer:
        await wait_for(
            outer,
            lambda: len(inner_runs) == 3 and outer.child_state("inner") is State.RUNNING,
        )
        st = outer.status()["children"]["inner"]
        assert st["restarts"] >= 1
        assert "SupervisorFailed" in st["history"][0]["reason"]
        inner = outer.target("inner")
        assert isinstance(inner, Supervisor)
        assert inner.path == "outer.inner" or inner.path.endswith(".inner")
    assert starts == {"x": 1}


async def test_backoff_resets_after_a_long_enough_run() -> None:
    runs: list[float] = []
    release = asyncio.Event()

    async def child() -> None:
        runs.append(1)
        await release.wait()
        release.clear()
        raise RuntimeError("later")

    backoff = Backoff(initial=0, max=0, jitter=Jitter.NONE, reset_after=0)
    async with Supervisor([ChildSpec(child, backoff=backoff)], intensity=100) as sup:
        for _ in range(3):
            await wait_state(sup, "child", State.RUNNING)
            release.set()
            await wait_state(sup, "child", State.BACKOFF, State.STARTING)
        await wait_state(sup, "child", State.RUNNING)
        assert sup.status()["children"]["child"]["attempt"] == 1  # reset before each restart


async def test_duplicate_names_are_refused() -> None:
    starts: dict[str, int] = {}
    with pytest.raises(DuplicateChild, match="'a' already exists"):
        Supervisor([Beat("a", starts), Beat("a", starts)])
    sup = Supervisor([Beat("a", starts)])
    with pytest.raises(DuplicateChild):
        sup.add(Beat("a", starts))


async def test_unknown_child_is_named() -> None:
    sup = Supervisor(name="root")
    with pytest.raises(ChildNotFound, match="no child 'ghost'"):
        sup.child_state("ghost")
    with pytest.raises(ChildNotFound):
        await sup.restart("ghost")


async def test_status_is_json_safe_and_whole() -> None:
    starts: dict[str, int] = {}
    inner = Supervisor([Beat("leaf", starts)], name="inner")
    async with Supervisor([Beat("a", starts), inner], name="root") as sup:
        await sup.wait_running()
        s = sup.status()
        json.dumps(s)
        assert s["state"] == "running"
        assert s["children"]["a"]["target"]["kind"] == "loop"
        nested = s["children"]["inner"]["target"]
        assert nested["kind"] == "supervisor"
        assert nested["path"] == "root.inner"
        assert nested["children"]["leaf"]["state"] == "running"


async def test_events_carry_every_transition_of_the_tree() -> None:
    starts: dict[str, int] = {}
    inner = Supervisor([Beat("leaf", starts)], name="inner")
    sup = Supervisor([Beat("a", starts), inner], name="root")
    with sup.events(maxsize=1000) as sub:
        async with sup:
            await sup.wait_running()
            await inner.wait_running()
        seen: list[tuple[str, str, str]] = []
        while (msg := sub.get_nowait()) is not None:
            t = msg.payload
            assert isinstance(t, Transition)
            seen.append((t.name, t.from_.value, t.to.value))
    assert ("root.a", "pending", "starting") in seen
    assert ("root.a", "starting", "running") in seen
    assert ("root.inner.leaf", "starting", "running") in seen
    assert ("root.a", "stopping", "stopped") in seen
    assert ("root", "stopping", "stopped") in seen


async def test_pause_and_resume_a_loop_child() -> None:
    starts: dict[str, int] = {}

    async def coro() -> None:
        await asyncio.Event().wait()

    async with Supervisor([Beat("a", starts, interval=0), coro]) as sup:
        await sup.wait_running()
        sup.pause("a")
        assert sup.child_state("a") is State.PAUSED
        a = sup.target("a")
        assert isinstance(a, Loop)
        assert a.state is State.PAUSED
        with pytest.raises(NotPausable):
            sup.pause("coro")
        sup.resume("a")
        assert sup.child_state("a") is State.RUNNING
        sup.pause()  # everything that can pause
        assert sup.child_state("a") is State.PAUSED
        assert sup.child_state("coro") is State.RUNNING
        sup.resume()
        assert sup.child_state("a") is State.RUNNING


async def test_add_remove_restart_at_run_time() -> None:
    starts: dict[str, int] = {}
    async with Supervisor([Beat("a", starts)]) as sup:
        assert sup.add(Beat("b", starts)) == ["b"]
        await sup.wait_running("b")
        await sup.restart("b")
        await sup.wait_running("b")
        assert starts["b"] == 2
        await sup.remove("b")
        assert sup.children == ["a"]
        with pytest.raises(ChildNotFound):
            sup.child_state("b")


async def test_restart_revives_a_given_up_child() -> None:
    runs: list[int] = []

    async def child() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("first")
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(child, backoff=FAST)], intensity=0) as sup:
        await wait_state(sup, "child", State.GIVEN_UP)
        await sup.restart("child")
        await sup.wait_running("child")
    assert len(runs) == 2


async def test_unexpected_cancellation_is_a_failure() -> None:
    runs: list[int] = []

    async def child() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise asyncio.CancelledError  # e.g. awaited a future someone cancelled
        await asyncio.Event().wait()

    async with Supervisor([ChildSpec(child, backoff=FAST)]) as sup:
        await wait_for(sup, lambda: len(runs) == 2 and sup.child_state("child") is State.RUNNING)
        st = sup.status()["children"]["child"]
        assert st["history"][0]["reason"] == "cancelled unexpectedly"


async def test_a_failing_factory_is_a_failing_child() -> None:
    calls: list[int] = []

    def factory() -> Loop:
        calls.append(1)
        if len(calls) < 3:
            raise ImportError("plugin missing")
        return Beat("made", {})

    async with Supervisor([ChildSpec(factory, name="made", backoff=FAST)]) as sup:
        await wait_for(sup, lambda: len(calls) == 3 and sup.child_state("made") is State.RUNNING)
        assert sup.status()["children"]["made"]["restarts"] == 2


async def _drain_ticks() -> None:
    for _ in range(10):
        await asyncio.sleep(0)
