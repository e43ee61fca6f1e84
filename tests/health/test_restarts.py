"""A child that keeps restarting is degraded, even while it runs: a pure function of the
times of its restarts and the clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from treadle import HealthStatus
from treadle.health._health import LOOPING, from_restarts

LEAST, WINDOW = LOOPING


@given(st.lists(st.floats(min_value=0, max_value=3 * WINDOW), max_size=30))
def test_degraded_exactly_when_enough_restarts_are_recent(ages: list[float]) -> None:
    now = 10_000.0
    health = from_restarts([now - age for age in ages], now)
    recent = sum(1 for age in ages if age <= WINDOW)
    if recent >= LEAST:
        assert health.status is HealthStatus.DEGRADED
        assert health.reason == f"crash-looping: {recent} restarts in the last 5 min"
    else:
        assert health.status is HealthStatus.HEALTHY


def test_one_restart_is_no_loop_and_old_ones_are_forgotten() -> None:
    assert from_restarts([99.0], 100.0).status is HealthStatus.HEALTHY
    assert from_restarts([1.0, 2.0, 3.0], 3.0 + WINDOW + 10).status is HealthStatus.HEALTHY
