"""The charts' past: restarts and duration samples kept for the window, then dropped; and
``/api/history`` answering with them (a child's restarts from before any page was open)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from treadle.project import Row
from treadle.web._history import History

from ._support import dashboard

CRASHING = """
[project]
name = "shop"

[supervisor]
intensity = 1000

[processes.crasher]
command = ["sh", "-c", "exit 3"]
backoff = { initial = "20ms", max = "20ms" }
"""


def row(name: str, p50: float | None, p95: float | None) -> Row:
    return Row(name, "loop", "running", None, 1.0, 0, "healthy", "", None, None, "", None,
               1, 0, p50, p95)  # fmt: skip


def test_restarts_and_samples_are_kept_for_the_window() -> None:
    h = History(window=300, every=10)
    h.transition({"name": "web", "from": "backoff", "to": "starting", "ts": 1000.0})
    h.transition({"name": "web", "from": "failed", "to": "starting", "ts": 1100.0})
    h.transition({"name": "web", "from": "pending", "to": "starting", "ts": 1100.0})  # a start
    h.transition({"name": "web", "from": "running", "to": "stopping", "ts": 1200.0})
    h.sample([row("tick", 1.5, 3.0), row("web", None, None)], now=1150.0)
    assert h.snapshot(now=1200.0) == {
        "now": 1200.0,
        "window_s": 300,
        "children": {
            "tick": {"restarts": [], "samples": [{"t": 1150.0, "p50_ms": 1.5, "p95_ms": 3.0}]},
            "web": {"restarts": [1000.0, 1100.0], "samples": []},
        },
    }
    later = h.snapshot(now=1350.0)["children"]
    assert later == {
        "tick": {"restarts": [], "samples": [{"t": 1150.0, "p50_ms": 1.5, "p95_ms": 3.0}]},
        "web": {"restarts": [1100.0], "samples": []},
    }
    assert h.snapshot(now=2000.0)["children"] == {}


def test_a_sample_is_due_every_few_seconds() -> None:
    h = History(every=10)
    assert h.due(100.0)
    assert not h.due(105.0)
    assert h.due(110.0)


async def test_api_history_has_the_restarts_from_before(tmp_path: Path) -> None:
    async with dashboard(tmp_path, CRASHING) as (_, client):
        async with asyncio.timeout(30):
            while True:
                past = (await client.get("/api/history")).json()
                if len(past["children"].get("crasher", {}).get("restarts", ())) >= 2:
                    break
                await asyncio.sleep(0.05)  # polling an HTTP API: nothing to await on
    assert past["window_s"] == 300
    assert all(t <= past["now"] for t in past["children"]["crasher"]["restarts"])
