"""A supervised tree that crashes, backs off and recovers, printing its live status.

Run with ``make up`` (or ``python examples/crashing_tree.py``); Ctrl-C stops it gracefully,
a second Ctrl-C forces. ``--seconds N`` stops it by itself after N seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import time
from typing import Any

import treadle
from treadle import Backoff, Jitter, ProcessSpec
from treadle.loop import Loop, loop
from treadle.supervisor import ChildSpec, Supervisor


class Poller(Loop):
    """Polls a flaky upstream: fails a third of the time, backing off between failures."""

    async def run_once(self) -> None:
        await asyncio.sleep(0.05)
        if random.random() < 0.33:
            raise ConnectionError("upstream timed out")


class Leader(Loop):
    """Leader-only work: gated by should_run(), so followers idle rather than fail."""

    def should_run(self) -> bool:
        return int(time.time()) % 10 < 5  # leadership moves every 5 s in this demo

    async def run_once(self) -> None:
        await asyncio.sleep(0.01)


@loop(interval=0.5)
async def heartbeat() -> None:
    await asyncio.sleep(0.001)


async def crashy_worker() -> None:
    """A plain coroutine that dies after a while; its supervisor restarts it."""
    await asyncio.sleep(random.uniform(1, 4))
    raise RuntimeError("worker lost its connection")


def describe(status: dict[str, Any], depth: int = 0) -> list[str]:
    lines = []
    for name, child in status["children"].items():
        target = child.get("target") or {}
        detail = ""
        if target.get("kind") == "loop":
            detail = f"runs={target['runs']:<5} errors={target['errors']:<4}"
            if target.get("backoff_s"):
                detail += f" backoff={target['backoff_s']:.2f}s"
            if target.get("gated"):
                detail += " (idle: not leader)"
        elif target.get("kind") == "process":
            last = (child["last_exit"] or {}).get("error") or {}
            detail = f"pid={target['pid']} last exit: {last.get('message', '-')}"
        elif target.get("kind") == "supervisor":
            detail = f"strategy={target['strategy']}"
        lines.append(
            f"{'  ' * depth}{name:<18} {child['state']:<9} restarts={child['restarts']:<3} {detail}"
        )
        if target.get("kind") == "supervisor":
            lines.extend(describe(target, depth + 1))
    return lines


async def main(seconds: float | None) -> None:
    backoff = Backoff(initial=0.5, max=4, jitter=Jitter.EQUAL)
    workers = Supervisor(
        [ChildSpec(crashy_worker, name="worker", replicas=3, backoff=backoff)],
        name="workers",
        intensity=50,
        period=60,
    )
    # An OS process that prints for a while, then crashes: restarted like any child.
    flaky_process = ProcessSpec(
        argv=[
            sys.executable,
            "-c",
            "import random, time\n"
            "for i in range(random.randint(2, 6)):\n"
            "    print('working', i, flush=True); time.sleep(0.5)\n"
            "raise SystemExit(3)",
        ],
        name="flaky-process",
        stop_timeout=2,
    )
    tree = Supervisor(
        [
            ChildSpec(flaky_process, backoff=backoff),
            ChildSpec(Poller(name="poller", interval=0.2, backoff=backoff)),
            ChildSpec(Leader(name="leader-only", interval=0.5), depends_on=("poller",)),
            heartbeat,
            ChildSpec(workers, depends_on=("heartbeat",)),
        ],
        name="demo",
        intensity=100,
        period=60,
    )

    async def report() -> None:
        while True:
            await asyncio.sleep(1)
            print(f"\n-- {time.strftime('%H:%M:%S')}  tree {tree.state.value}", flush=True)
            print("\n".join(describe(tree.status())), flush=True)

    async def stop_later() -> None:
        if seconds is not None:
            await asyncio.sleep(seconds)
            tree.request_stop()

    side = [asyncio.ensure_future(report()), asyncio.ensure_future(stop_later())]
    try:
        await treadle.serve(tree)
    finally:
        for task in side:
            task.cancel()
        await asyncio.gather(*side, return_exceptions=True)
    print("stopped cleanly", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(main(args.seconds))
    except KeyboardInterrupt:
        sys.exit(130)
