"""Scenario 5: a second local user binds the submission address before the manager."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(120)
def test_a_second_user_receives_no_spec(backend: str) -> None:
    f = figures_of("second-user", backend)
    assert f.extra.get("squatter_specs") == 0, explain(f)
    assert f.tracebacks == 0, explain(f)
    assert f.orphans == 0, explain(f)
