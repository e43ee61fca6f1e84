"""LoopMetrics: the duration window and its percentiles."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from treadle import Backoff
from treadle.loop import Loop, LoopMetrics
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


def test_a_failure_keeps_the_last_success() -> None:
    m = LoopMetrics(4)
    assert (m.last_duration, m.last_success_end, m.last_success_duration) == (None, None, None)
    m.record_failed_run(RuntimeError("first"), 1.0, 1.5)  # no success before it
    assert (m.last_success_end, m.last_success_duration, m.last_duration) == (None, None, 0.5)
    m.record_run(2.0, 4.0)  # a success (the Loop's tick records these inline)
    assert (m.last_success_end, m.last_success_duration) == (4.0, 2.0)
    m.record_failed_run(RuntimeError("a"), 5.0, 5.25)
    m.record_failed_run(TimeoutError("b"), 6.0, 9.0, timed_out=True)
    assert (m.last_success_end, m.last_success_duration, m.last_duration) == (4.0, 2.0, 3.0)
    assert (m.runs, m.errors, m.consecutive_errors) == (4, 3, 2)
    assert (m.timeouts, m.consecutive_timeouts) == (1, 1)
    assert m.last_run_end == 9.0


async def test_a_loop_counts_successful_time() -> None:
    class Three(Loop):
        async def run_once(self) -> None:
            if self.metrics.runs == 1:
                raise RuntimeError("second")
            if self.metrics.runs == 2:
                self.request_stop()

    lp = Three(interval=0, backoff=Backoff.none())
    await asyncio.wait_for(lp.run_forever(), 5)
    m = lp.metrics
    assert (m.runs, m.errors, m.consecutive_errors) == (3, 1, 0)
    durations = m.durations()
    assert m.success_s == durations[0] + durations[2]
    assert m.last_success_end == m.last_run_end
    assert m.last_success_duration == m.last_duration == durations[2]
