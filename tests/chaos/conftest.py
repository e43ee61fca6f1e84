"""The chaos tests: each runs one small, seeded scenario in the subreaper harness and
asserts issue 14's figures on what it counted."""

from __future__ import annotations

import pytest

from ._counting import Figures
from ._run import run_scenario

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def figures_of(scenario: str, backend: str, budget: int = 60) -> Figures:
    """The scenario's figures; a scenario that does not apply here is skipped, with why."""
    figures = run_scenario(scenario, backend, seed=14, size=1, budget=budget)
    if figures.skipped:
        pytest.skip(figures.skipped)
    assert not figures.extra.get("harness_error"), explain(figures)
    return figures


def explain(figures: Figures) -> str:
    return f"{figures.scenario} on {figures.backend}: {figures.to_json()}"
