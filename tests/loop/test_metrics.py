"""LoopMetrics: the duration window and its percentiles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from treadle.loop import LoopMetrics
from treadle.loop._metrics import percentile

durations = st.lists(st.floats(min_value=0, max_value=10, allow_nan=False), max_size=300)


@given(durations, st.integers(min_value=1, max_value=64))
def test_window_keeps_the_most_recent(ds: list[float], window: int) -> None:
    m = LoopMetrics(window)
    for d in ds:
        m.record_duration(d)
    assert m.durations() == ds[-window:]


@given(durations.filter(bool))
def test_summary_orders(ds: list[float]) -> None:
    m = LoopMetrics(len(ds))
    for d in ds:
        m.record_duration(d)
    s = m.summary()
    assert s["samples"] == len(ds)
    assert s["p50_ms"] <= s["p95_ms"] <= s["max_ms"] == max(ds) * 1000


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.5) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.95) == 4.0
    assert percentile([5.0], 0.0) == 5.0
