"""Scenario 4: the broker's disk fills while tasks run, then space is freed."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_a_full_disk_kills_no_work_and_loses_no_result(backend: str) -> None:
    f = figures_of("disk", backend)
    assert f.completed_failed == 0, explain(f)
    assert f.extra.get("killed_by_disk") == 0, explain(f)
    assert f.extra.get("results_lost") == 0, explain(f)
    assert f.lost == 0, explain(f)
    assert f.started_twice == 0, explain(f)
    assert f.orphans == 0, explain(f)
    assert f.zombies == 0, explain(f)
