"""Suite-wide guard: every test cleans up what it starts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


@pytest.fixture(autouse=True)
def leaves_nothing_behind() -> Iterator[None]:
    """No child process (running or zombie) and no watchdog thread may outlive a test."""
    yield
    children = psutil.Process().children(recursive=True)
    assert children == [], f"test left processes behind: {children}"
    threads = [t.name for t in threading.enumerate() if t.name.startswith("treadle-")]
    assert threads == [], f"test left threads behind: {threads}"


@pytest.fixture
def broker_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite broker file, also exported as TREADLE_BROKER for child processes."""
    path = str(tmp_path / ".treadle" / "broker.db")
    monkeypatch.setenv("TREADLE_BROKER", path)
    return path
