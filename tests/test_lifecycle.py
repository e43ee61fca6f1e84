"""The transitions table, checked cell by cell."""

from __future__ import annotations

import itertools
import json
import logging

import pytest

from treadle import InvalidTransition, State, Transition
from treadle._lifecycle import check_transition, log_transition

S = State
ALLOWED = {
    (S.PENDING, S.STARTING),
    (S.PENDING, S.STOPPED),
    (S.STARTING, S.RUNNING),
    (S.STARTING, S.STOPPING),
    (S.STARTING, S.STOPPED),
    (S.STARTING, S.FAILED),
    (S.RUNNING, S.PAUSED),
    (S.RUNNING, S.STOPPING),
    (S.RUNNING, S.STOPPED),
    (S.RUNNING, S.FAILED),
    (S.PAUSED, S.RUNNING),
    (S.PAUSED, S.STOPPING),
    (S.PAUSED, S.STOPPED),
    (S.PAUSED, S.FAILED),
    (S.STOPPING, S.STOPPED),
    (S.STOPPING, S.FAILED),
    (S.STOPPED, S.STARTING),
    (S.STOPPED, S.BACKOFF),
    (S.STOPPED, S.PENDING),
    (S.FAILED, S.BACKOFF),
    (S.FAILED, S.STARTING),
    (S.FAILED, S.STOPPED),
    (S.FAILED, S.PENDING),
    (S.BACKOFF, S.STARTING),
    (S.BACKOFF, S.PENDING),
    (S.BACKOFF, S.STOPPED),
    (S.GIVEN_UP, S.STARTING),
    (S.GIVEN_UP, S.PENDING),
    (S.GIVEN_UP, S.STOPPED),
} | {(s, S.GIVEN_UP) for s in S if s is not S.GIVEN_UP}


@pytest.mark.parametrize(("a", "b"), list(itertools.product(State, State)))
def test_table(a: State, b: State) -> None:
    if (a, b) in ALLOWED:
        check_transition("x", a, b)
    else:
        with pytest.raises(InvalidTransition) as info:
            check_transition("x", a, b)
        assert str(a) in str(info.value)
        assert str(b) in str(info.value)


def test_a_transition_logs_one_json_line(caplog: pytest.LogCaptureFixture) -> None:
    t = Transition(1.0, "root.w", S.RUNNING, S.FAILED, "boom", 2, 0.5, "Traceback...")
    with caplog.at_level(logging.INFO, logger="treadle.lifecycle"):
        log_transition(t)
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    data = json.loads(record.getMessage())
    assert data == {
        "ts": 1.0,
        "name": "root.w",
        "from": "running",
        "to": "failed",
        "reason": "boom",
        "attempt": 2,
        "backoff_s": 0.5,
        "error": "Traceback...",
    }
