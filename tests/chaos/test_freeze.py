"""Scenario 2: a manager frozen (SIGSTOP) past its lease while another is up."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_a_frozen_manager_never_lets_a_task_run_twice_at_once(backend: str) -> None:
    f = figures_of("freeze", backend)
    assert f.freezes == 1, explain(f)
    assert f.concurrent_duplicates == 0, explain(f)
    assert f.started_twice == 0, explain(f)
    assert f.lost == 0, explain(f)
    assert f.completed_failed == 0, explain(f)
    assert f.orphans == 0, explain(f)
    assert f.zombies == 0, explain(f)
