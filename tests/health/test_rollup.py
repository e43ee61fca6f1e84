"""Health roll-up: the worst child wins, and every unhealthy reason is kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from treadle import Health, HealthStatus, State
from treadle.health import from_state, rollup, worst

verdicts = st.builds(Health, st.sampled_from(list(HealthStatus)), st.text(max_size=10))


@given(st.dictionaries(st.text("abc", min_size=1, max_size=3), verdicts))
def test_worst_wins_and_reasons_are_kept(children: dict[str, Health]) -> None:
    top = rollup(children)
    worst_severity = max((h.status.severity for h in children.values()), default=0)
    assert top.status.severity == worst_severity
    for name, h in children.items():
        if h.status is not HealthStatus.HEALTHY:
            assert f"{name}: {h.status.value}" in top.reason


def test_states_speak_for_health() -> None:
    assert from_state(State.RUNNING).status is HealthStatus.HEALTHY
    assert from_state(State.BACKOFF).status is HealthStatus.UNHEALTHY
    assert from_state(State.PAUSED) == Health.degraded("paused")
    assert worst() == Health.healthy()
    assert not Health.unhealthy("x").ok
    assert Health.degraded("y").ok
