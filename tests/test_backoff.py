"""Backoff is a pure policy: checked over all inputs with hypothesis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle import Backoff, ConfigError, Jitter

finite = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0, max_value=1, exclude_max=True)


@st.composite
def backoffs(draw: st.DrawFn) -> Backoff:
    initial = draw(finite)
    maximum = draw(st.floats(min_value=initial, max_value=2e6, allow_nan=False))
    multiplier = draw(st.floats(min_value=1, max_value=100, allow_nan=False))
    jitter = draw(st.sampled_from(list(Jitter)))
    return Backoff(initial=initial, max=maximum, multiplier=multiplier, jitter=jitter)


@given(backoffs(), st.integers(min_value=1, max_value=10_000), unit)
def test_delay_is_within_bounds(b: Backoff, attempt: int, r: float) -> None:
    base = b.base_delay(attempt)
    d = b.delay(attempt, lambda: r)
    assert 0 <= base <= b.max
    assert 0 <= d <= base
    if b.jitter is Jitter.NONE:
        assert d == base
    if b.jitter is Jitter.EQUAL:
        assert d >= base / 2


@given(backoffs(), st.integers(min_value=1, max_value=10_000))
def test_base_delay_never_decreases(b: Backoff, attempt: int) -> None:
    assert b.base_delay(attempt + 1) >= b.base_delay(attempt)


@given(backoffs())
def test_first_attempt_waits_initial(b: Backoff) -> None:
    assert b.base_delay(1) == b.initial
    assert b.base_delay(0) == 0


def test_default_doubles_from_half_a_second_to_a_minute() -> None:
    b = Backoff(jitter=Jitter.NONE)
    assert [b.base_delay(n) for n in range(1, 10)] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]


def test_full_jitter_spans_zero_to_base() -> None:
    b = Backoff(initial=4, max=4, jitter="full")  # type: ignore[arg-type]
    assert b.delay(1, lambda: 0.0) == 0
    assert b.delay(1, lambda: 0.5) == 2


def test_none_retries_at_once() -> None:
    assert Backoff.none().delay(50) == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"initial": -1}, "backoff.initial"),
        ({"max": float("inf")}, "backoff.max"),
        ({"multiplier": 0.5}, "backoff.multiplier"),
        ({"initial": 10, "max": 1}, "backoff.max"),
        ({"jitter": "sometimes"}, None),
    ],
)
def test_bad_values_name_the_field(kwargs: dict[str, object], field: str | None) -> None:
    with pytest.raises((ConfigError, ValueError)) as info:
        Backoff(**kwargs)  # type: ignore[arg-type]
    if field is not None:
        assert isinstance(info.value, ConfigError)
        assert info.value.field == field
