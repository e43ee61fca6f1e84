"""Restart intensity (OTP's MaxR/MaxT) as a pure function of restart times."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle import ConfigError, Intensity
from treadle._intensity import allows

times = st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), max_size=60).map(sorted)


@given(times, st.integers(min_value=0, max_value=20), st.floats(min_value=0.1, max_value=1e3))
def test_record_agrees_with_the_pure_rule(ts: list[float], intensity: int, period: float) -> None:
    window = Intensity(intensity, period)
    accepted: list[float] = []
    for now in ts:
        expected = allows(accepted, now, intensity, period)
        assert window.record(now) is expected
        if expected:
            accepted.append(now)
        recent = [t for t in accepted if t > now - period]
        assert len(recent) <= intensity


@given(st.integers(min_value=1, max_value=20), st.floats(min_value=1, max_value=100))
def test_exactly_intensity_restarts_fit_in_a_period(intensity: int, period: float) -> None:
    window = Intensity(intensity, period)
    assert all(window.record(0.0) for _ in range(intensity))
    assert window.record(0.0) is False
    assert window.record(period + 0.001) is True  # the old ones left the window


def test_zero_intensity_never_restarts() -> None:
    assert Intensity(0, 10).record(1.0) is False


def test_reset_forgets() -> None:
    w = Intensity(1, 10)
    assert w.record(1)
    assert not w.record(2)
    w.reset()
    assert w.record(3)
    assert w.times == (3,)


@pytest.mark.parametrize(("i", "p", "field"), [(-1, 1, "intensity"), (1, 0, "period")])
def test_bad_values(i: int, p: float, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Intensity(i, p)
    assert info.value.field == field
