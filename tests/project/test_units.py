"""Durations and sizes: exact examples, and properties over all inputs with hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle.project import parse_duration, parse_size
from treadle.project._units import format_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (5, 5.0),
        (0.25, 0.25),
        ("5", 5.0),
        ("500ms", 0.5),
        ("2s", 2.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        ("1m 30s", 90.0),
        (".5s", 0.5),
        ("1.5h", 5400.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "5 sec", "s", "-1s", "1x", "1h-", True, -1, math.inf, [1]])
def test_bad_durations_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError, match=r"duration|>= 0"):
        parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (1024, 1024),
        ("10MB", 10_000_000),
        ("512MiB", 512 * 2**20),
        ("2GiB", 2 * 2**30),
        ("1.5KiB", 1536),
        ("100", 100),
        ("7 b", 7),
        ("3kb", 3000),
    ],
)
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["", "10 parsecs", "MB", "-1MB", 1.5, True, -3])
def test_bad_sizes_say_how_to_write_one(bad: object) -> None:
    with pytest.raises(ValueError, match=r"size|bytes|>= 0"):
        parse_size(bad)


@given(st.integers(min_value=0, max_value=10**7))
def test_whole_seconds_round_trip_through_their_shortest_form(seconds: int) -> None:
    assert parse_duration(format_duration(float(seconds))) == seconds


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=1000), st.sampled_from(["ms", "s", "m", "h", "d"])
        ),
        min_size=1,
        max_size=4,
    )
)
def test_duration_parts_add_up(parts: list[tuple[int, str]]) -> None:
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = "".join(f"{n}{u}" for n, u in parts)
    assert parse_duration(text) == pytest.approx(sum(n * unit[u] for n, u in parts))


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(["B", "KB", "MB", "GB", "KiB", "MiB", "GiB"]),
    st.booleans(),
)
def test_sizes_scale_by_their_unit_in_any_case(n: int, unit: str, lower: bool) -> None:
    factor = {
        "B": 1,
        "KB": 10**3,
        "MB": 10**6,
        "GB": 10**9,
        "KiB": 2**10,
        "MiB": 2**20,
        "GiB": 2**30,
    }
    assert parse_size(f"{n}{unit.lower() if lower else unit}") == n * factor[unit]
