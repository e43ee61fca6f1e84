"""A real project, run by a real manager with its dashboard, served on a real port."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from treadle.broker import resolve
from treadle.loop import loop
from treadle.manager import Manager
from treadle.project import ProjectRuntime
from treadle.web import Dashboard

TOKEN = "test-token-0123456789"
PROJECT = """
[project]
name = "shop"

[processes.web]
command = ["sh", "-c", "echo web up; exec sleep 60"]
env = { API_TOKEN = "s3cret-value" }

[processes.worker]
command = ["sleep", "60"]
scale = { min = 1, max = 3 }

[loops.ticker]
target = "tests.web._support:tick"
interval = "20ms"

[limiters]
io = 2
"""


@loop(interval=0.02)
async def tick() -> None:
    """The ticker loop's run (a loop target for the project above)."""


@contextlib.asynccontextmanager
async def dashboard(
    root: Path, text: str = PROJECT, token: str | None = TOKEN, allowed_hosts: tuple[str, ...] = ()
) -> AsyncIterator[tuple[Dashboard, httpx.AsyncClient]]:
    """The project in ``root`` up, with its dashboard on a free port, and a client for it."""
    (root / "treadle.toml").write_text(textwrap.dedent(text).lstrip())
    runtime = ProjectRuntime(root / "treadle.toml")
    manager = Manager(resolve(root / ".treadle" / "broker.db"), hosted=runtime)
    board = Dashboard(manager, runtime, port=0, token=token, allowed_hosts=allowed_hosts)
    manager.services.append(board)
    up = asyncio.Event()
    task = asyncio.create_task(manager.run(up.set))
    try:
        async with asyncio.timeout(30):
            await up.wait()
            with manager.supervisor.events() as events:
                while manager.supervisor.child_state("dashboard").value != "running":
                    await events.get()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{board.port}") as client:
            yield board, client
    finally:
        manager.request_stop()
        async with asyncio.timeout(30):
            await task
