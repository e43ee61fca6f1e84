"""Scenario 3: malformed spawn requests interleaved with valid ones."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_every_malformed_request_is_dead_lettered_and_costs_only_itself(backend: str) -> None:
    f = figures_of("poison", backend)
    assert f.malformed > 0, explain(f)
    assert f.dead_lettered == f.malformed, explain(f)  # each with a reason, oversized too
    assert f.lost == 0, explain(f)  # every valid one ran
    assert f.extra.get("listing_errors") == 0, explain(f)
    assert f.extra.get("restart_failed") == 0, explain(f)
    assert f.orphans == 0, explain(f)
    assert f.zombies == 0, explain(f)
