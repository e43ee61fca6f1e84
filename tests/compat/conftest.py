"""Fixtures of the loom layer's tests (``test_loom``, ``test_loom_runtime``): a loom
project in a temporary directory (HOME and the cache there too), the directory the fake
runtime and agents record into, and a local release server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.artifacts._server import Server

from ._loom_support import loom_project, markers_dir, releases


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # An orchestrator without logs_dir writes loom-NAME.log in the temporary directory:
    # the test's, not the machine's /tmp.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return loom_project(tmp_path, monkeypatch)


@pytest.fixture
def markers(project: Path) -> Path:
    return markers_dir()


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    with releases(monkeypatch) as s:
        yield s
