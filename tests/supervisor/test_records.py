"""A child's records: what only some children need is made when one needs it, and an
exit's error is formatted when someone reads it, not when the child exits."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from treadle import ProcessSpec, State
from treadle.loop import Loop
from treadle.supervisor import ChildSpec, Supervisor

from ._support import FAST, wait_for


class Idle(Loop):
    async def run_once(self) -> None:
        pass


async def test_an_idle_child_has_no_record_of_rare_things() -> None:
    sup = Supervisor([Idle(name=f"l{i}", interval=3600) for i in range(3)])
    async with sup:
        await sup.wait_running()
        child = sup._children["l0"]
        assert child._rare is None  # no restarts, waiters, checks, faults, slot
        assert (child.restarts, child.history, child.timer, child.check) == (0, None, None, None)
        child.degraded = False  # the default: still no record
        assert child._rare is None


async def test_a_restarting_child_keeps_its_rare_things_in_its_record() -> None:
    crashes = 0

    async def crasher() -> None:
        nonlocal crashes
        crashes += 1
        if crashes <= 2:
            raise RuntimeError(f"crash {crashes}")
        await asyncio.Event().wait()

    sup = Supervisor([ChildSpec(crasher, backoff=FAST)])
    async with sup:
        await wait_for(sup, lambda: crashes == 3 and sup.child_state("crasher") is State.RUNNING)
        child = sup._children["crasher"]
        assert child._rare is not None
        assert child.restarts == 2
        assert [h["reason"] for h in child.history or ()] == [
            "RuntimeError: crash 1",
            "RuntimeError: crash 2",
        ]
        assert sup.status()["children"]["crasher"]["restarts"] == 2


@pytest.fixture
def formatted(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Every exception ``traceback.format_exception`` formats (it still does)."""
    seen: list[BaseException] = []
    real: Callable[..., list[str]] = traceback.format_exception

    def spy(exc: BaseException, /, *args: Any, **kwargs: Any) -> list[str]:
        seen.append(exc)
        return real(exc, *args, **kwargs)

    monkeypatch.setattr(traceback, "format_exception", spy)
    return seen


async def test_a_crash_nobody_reads_is_never_formatted(
    formatted: list[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    # Nobody reads: not even the lifecycle log (another test may have left the root
    # logger at INFO in this process).
    caplog.set_level(logging.WARNING, logger="treadle.lifecycle")
    crashes = 0
    fourth = asyncio.Event()

    async def crasher() -> None:
        nonlocal crashes
        crashes += 1
        if crashes <= 3:
            raise RuntimeError(f"crash {crashes}")
        fourth.set()
        await asyncio.Event().wait()

    sup = Supervisor([ChildSpec(crasher, backoff=FAST, log=False)])
    async with sup:
        with sup.bus.subscribe("health.*"):  # a subscriber, but not to its transitions
            await fourth.wait()
        assert formatted == []  # three exits, no traceback made
        error = sup.status()["children"]["crasher"]["last_exit"]["error"]
        assert "RuntimeError: crash 3" in error["traceback"]  # made now, when read
        assert len(formatted) == 1


async def test_a_process_childs_exit_is_reported_by_its_lines_not_a_traceback(
    formatted: list[BaseException],
) -> None:
    ended = asyncio.Event()

    def observe(t: Any) -> None:
        if t.to is State.BACKOFF:
            ended.set()

    spec = ProcessSpec(argv=["sh", "-c", "echo bad input >&2; exit 3"], name="p")
    sup = Supervisor([ChildSpec(spec, backoff=FAST, on_transition=observe)], intensity=100)
    async with sup:
        with sup.events():  # someone listens: the error goes with the event
            await ended.wait()
            await sup.terminate("p")
        error = sup.status()["children"]["p"]["last_exit"]["error"]
    assert "bad input" in error["traceback"]
    assert formatted == []
