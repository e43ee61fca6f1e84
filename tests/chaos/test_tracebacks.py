"""Scenario 7: the CLI against a frozen manager, a read-only broker and a full disk."""

from __future__ import annotations

import pytest

from .conftest import explain, figures_of


@pytest.mark.timeout(150)
def test_the_cli_prints_no_traceback_under_faults(backend: str) -> None:
    f = figures_of("tracebacks", backend, budget=90)
    assert f.tasks > 0, explain(f)
    assert f.tracebacks == 0, explain(f)
    assert f.orphans == 0, explain(f)
    assert f.zombies == 0, explain(f)
