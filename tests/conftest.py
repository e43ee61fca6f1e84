"""Suite-wide: every test cleans up what it starts; ``--event-loop`` picks the loop.

``pytest --event-loop=uvloop`` runs every test on uvloop: pytest-asyncio's loops and
``asyncio.run``'s (the event loop policy), ``treadle.run``'s and those of the processes the
tests start (``TREADLE_EVENT_LOOP``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--event-loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="the event loop every test runs on (default: asyncio)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # A shell without job control starts a background command (`make test &`) with
    # Ctrl-C ignored, and every process a test starts would inherit that: the tests
    # that press Ctrl-C would wait in vain. Handled here, it is the default after exec.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if config.getoption("event_loop") == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        os.environ["TREADLE_EVENT_LOOP"] = "uvloop"


def pytest_report_header(config: pytest.Config) -> str:
    return f"event loop: {config.getoption('event_loop')}"


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
