"""Scenario 6: tasks leave grandchildren, some setsid'd; managers stopped and killed."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_no_descendant_outlives_its_manager(backend: str) -> None:
    f = figures_of("descendants", backend)
    assert f.extra.get("grandchildren", 0) > 0, explain(f)
    assert f.orphans == 0, explain(f)  # setsid'd grandchildren included
    assert f.zombies == 0, explain(f)
