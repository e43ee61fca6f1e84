"""An exception in a child is never lost: it is in the event, the log line and status()."""

from __future__ import annotations

import json
import logging

import pytest

from treadle import State, Transition
from treadle.supervisor import ChildSpec, Restart, Supervisor

from ._support import FAST, wait_state


async def test_a_crash_is_in_the_event_the_log_and_status(caplog: pytest.LogCaptureFixture) -> None:
    async def doomed() -> None:
        raise LookupError("the key vanished")

    sup = Supervisor([ChildSpec(doomed, restart=Restart.TEMPORARY, backoff=FAST)], name="obs")
    with caplog.at_level(logging.INFO, logger="treadle.lifecycle"), sup.events() as events:
        async with sup:
            await wait_state(sup, "doomed", State.FAILED)
            status = sup.status()["children"]["doomed"]
        failed = []
        while (msg := events.get_nowait()) is not None:
            assert isinstance(msg.payload, Transition)
            if msg.payload.to is State.FAILED:
                failed.append(msg.payload)

    (event,) = failed
    assert event.name == "obs.doomed"
    assert event.reason == "LookupError: the key vanished"
    assert event.error is not None
    assert "the key vanished" in event.error
    assert "in doomed" in event.error  # the traceback names the function

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "treadle.lifecycle"]
    logged = [line for line in lines if line["to"] == "failed"]
    assert logged[0]["name"] == "obs.doomed"
    assert "the key vanished" in logged[0]["error"]
    assert {"ts", "name", "from", "to", "reason", "attempt", "backoff_s"} <= set(logged[0])

    assert status["last_exit"]["kind"] == "error"
    assert status["last_exit"]["error"]["type"] == "LookupError"
    assert "in doomed" in status["last_exit"]["error"]["traceback"]


async def test_a_quiet_child_logs_only_its_failures_and_the_bus_has_every_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def doomed() -> None:
        raise LookupError("the key vanished")

    spec = ChildSpec(doomed, restart=Restart.TEMPORARY, backoff=FAST, log=False)
    sup = Supervisor([spec], name="quiet")
    with caplog.at_level(logging.INFO, logger="treadle.lifecycle"), sup.events() as events:
        async with sup:
            await wait_state(sup, "doomed", State.FAILED)
        changes = []
        while (msg := events.get_nowait()) is not None:
            assert isinstance(msg.payload, Transition)
            if msg.payload.name == "quiet.doomed":
                changes.append(msg.payload.to)

    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "treadle.lifecycle"]
    mine = [line["to"] for line in lines if line["name"] == "quiet.doomed"]
    assert mine == ["failed"]
    assert State.RUNNING in changes
    assert State.FAILED in changes
