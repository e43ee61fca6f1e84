"""top's rates: the change over the last ten seconds, not between two refreshes."""

from __future__ import annotations

from dataclasses import replace

from treadle.cli._rates import Rates
from treadle.project import Row

LOOP = Row(
    name="prices",
    kind="loop",
    state="running",
    pid=None,
    uptime_s=1.0,
    restarts=0,
    health="healthy",
    health_reason="",
    cpu_percent=None,
    rss_bytes=None,
    last_error="",
    last_traceback=None,
    runs=0,
    errors=0,
    duration_p50_ms=None,
    duration_p95_ms=None,
)


def test_a_rate_is_averaged_over_the_window() -> None:
    rates = Rates(window=10.0)
    rates.add(0.0, [LOOP])
    assert rates.per_second("prices", "runs") is None  # one sample: no rate yet
    # a burst of 30 runs in the last second of twenty: 1/s over the window, not 30/s
    for t in range(1, 20):
        rates.add(float(t), [replace(LOOP, runs=t)])
    rates.add(20.0, [replace(LOOP, runs=19 + 30)])
    assert rates.span("prices") == 10.0
    assert rates.per_second("prices", "runs") == (49 - 10) / 10


def test_restarts_and_errors_have_rates_and_a_process_has_no_runs() -> None:
    rates = Rates(window=10.0)
    process = replace(LOOP, name="web", kind="process", runs=None, errors=None)
    rates.add(0.0, [process, LOOP])
    rates.add(5.0, [replace(process, restarts=2), replace(LOOP, errors=5)])
    assert rates.per_second("web", "restarts") == 2 / 5
    assert rates.per_second("web", "runs") is None
    assert rates.per_second("prices", "errors") == 1.0


def test_a_child_gone_is_forgotten_and_a_restarted_counter_is_not_negative() -> None:
    rates = Rates(window=10.0)
    rates.add(0.0, [replace(LOOP, runs=100)])
    rates.add(1.0, [replace(LOOP, runs=3)])  # restarted: its counters begin again
    assert rates.per_second("prices", "runs") == 0.0
    rates.add(2.0, [])
    assert rates.per_second("prices", "runs") is None
