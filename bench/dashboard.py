"""Issue 4 benchmark: the dashboard's cost to the tree it shows.

Run: ``python -m bench.dashboard``. A project of 10,000 loops (``interval = 0``: each
tick is a bare run) runs in a manager; the figure is their total tick rate with the
dashboard serving and 5 event-stream clients connected (in another process, as browsers
would be), beside the same tree in the same kind of manager without a dashboard, runs
interleaved, best of three each.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from treadle.broker import resolve
from treadle.loop import Loop, loop
from treadle.manager import Manager
from treadle.project import ProjectRuntime
from treadle.web import Dashboard

from ._util import row

N_LOOPS = 10_000
SECONDS = 2.0
CLIENTS = 5

PROJECT = f"""
[project]
name = "bench"

[supervisor]
intensity = 100

[loops.tick]
target = "bench.dashboard:tick"
replicas = {N_LOOPS}
"""

# Five event-stream readers, in their own process; they print once all are connected.
READERS = textwrap.dedent(
    """
    import asyncio, sys, httpx
    async def read(client, ready):
        async with client.stream("GET", "/api/events", timeout=None) as r:
            ready.release()
            async for _ in r.aiter_lines():
                pass
    async def main():
        ready = asyncio.Semaphore(0)
        async with httpx.AsyncClient(base_url=sys.argv[1]) as client:
            tasks = [asyncio.create_task(read(client, ready)) for _ in range(int(sys.argv[2]))]
            for _ in tasks:
                await ready.acquire()
            print("connected", flush=True)
            await asyncio.gather(*tasks)
    asyncio.run(main())
    """
)


@loop(interval=0)
async def tick() -> None:
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _rate(root: Path, with_dashboard: bool) -> float:
    runtime = ProjectRuntime(root / "treadle.toml")
    manager = Manager(resolve(root / ".treadle" / "broker.db"), hosted=runtime)
    board = None
    if with_dashboard:
        board = Dashboard(manager, runtime, port=_free_port(), token="bench")
        manager.services.append(board)
    up = asyncio.Event()
    task = asyncio.create_task(manager.run(up.set))
    readers = None
    try:
        await up.wait()
        tree = runtime.tree()
        with tree.events() as events:
            while len(tree.children) < N_LOOPS or any(
                tree.child_state(n).value != "running" for n in tree.children[-10:]
            ):
                await events.get()
        if board is not None:
            with manager.supervisor.events() as events:
                while manager.supervisor.child_state("dashboard").value != "running":
                    await events.get()
            readers = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                READERS,
                board.url.rstrip("/"),
                str(CLIENTS),
                stdout=subprocess.PIPE,
            )
            assert readers.stdout is not None
            assert (await readers.stdout.readline()).startswith(b"connected")
        loops = [t for n in tree.children if isinstance(t := tree.target(n), Loop)]
        before = sum(lp.metrics.runs for lp in loops)
        start = time.perf_counter()
        await asyncio.sleep(SECONDS)
        ticks = sum(lp.metrics.runs for lp in loops) - before
        return ticks / (time.perf_counter() - start)
    finally:
        if readers is not None:
            readers.kill()
            await readers.wait()
        manager.request_stop()
        await task


def main() -> None:
    print(f"-- {N_LOOPS:,} loops (interval 0), tick rate with the dashboard and")
    print(f"   {CLIENTS} event-stream clients connected, vs without")
    with tempfile.TemporaryDirectory(prefix="treadle-bench-") as tmp:
        root = Path(tmp)
        (root / "treadle.toml").write_text(PROJECT)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        without: list[float] = []
        with_: list[float] = []
        for i in range(4):  # interleaved, each first in turn
            for dashboard in (False, True) if i % 2 else (True, False):
                (with_ if dashboard else without).append(asyncio.run(_rate(root, dashboard)))
    base, ours = max(without), max(with_)
    row("", "ticks/s", "ratio")
    row("without a dashboard", f"{base:,.0f}", "100%")
    row(f"dashboard + {CLIENTS} SSE clients", f"{ours:,.0f}", f"{ours / base:.0%}")
    print("  target: >= 90%")


if __name__ == "__main__":
    main()
