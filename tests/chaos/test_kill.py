"""Scenario 1: managers SIGKILLed at random points under load, new ones started."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_nothing_lost_nothing_run_twice_when_managers_are_killed(backend: str) -> None:
    f = figures_of("kill", backend)
    assert f.kills > 0, explain(f)
    assert f.lost == 0, explain(f)
    assert f.started_twice == 0, explain(f)
    assert f.completed_failed == 0, explain(f)
    assert f.completed_redone == 0, explain(f)
    assert f.orphans == 0, explain(f)
    assert f.zombies == 0, explain(f)
