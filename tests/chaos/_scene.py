"""One scenario run: its broker, client, managers, ledger and figures, torn down whatever
happens.

Owns :class:`Scene` (what a scenario works with) and :func:`scene`, the context that makes
it and, on the way out, stops every manager, takes the census of descendants (orphans,
zombies), kills what is left and drops the broker. :class:`Skip` says why a scenario does
not apply to a backend or this machine.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from treadle.broker import Result
from treadle.client import Client

from ._backends import broker_url
from ._counting import Figures, Planned, count_census, count_tasks
from ._fleet import Fleet
from ._ledger import Ledger, Watcher
from ._reaper import Reaper

__all__ = ["Scene", "Skip", "scene"]

SETTLE = 3.0  # seconds descendants get to go once every manager has stopped


class Skip(Exception):
    """The scenario cannot run here; the message says why."""


@dataclass
class Scene:
    backend: str
    url: str
    root: Path
    rng: random.Random
    size: int
    reaper: Reaper
    figures: Figures
    client: Client
    fleet: Fleet
    watcher: Watcher
    ledger_path: Path
    counted: bool = False

    def wait_lines(self, kind: str, n: int, timeout: float = 30.0) -> int:
        """Block until the ledger holds ``n`` lines of ``kind`` (bounded); how many it has."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.ledger_path.read_text() if self.ledger_path.exists() else ""
            got = sum(1 for line in text.splitlines() if line.startswith(kind + " "))
            if got >= n or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def ledger(self) -> Ledger:
        return Ledger.read(self.ledger_path, self.watcher.gone)

    def finish(self, planned: list[Planned], results: dict[int, Result | None]) -> Ledger:
        """Stop every manager, then count the tasks and the descendants left."""
        self.end()
        ledger = self.ledger()
        count_tasks(self.figures, planned, results, ledger, self.reaper)
        return ledger

    def end(self) -> None:
        """Stop every manager and take the census (once)."""
        if self.counted:
            return
        self.counted = True
        self.fleet.stop_all()
        self.watcher.close()
        count_census(self.figures, self.reaper.settle(SETTLE))


@contextlib.contextmanager
def scene(
    name: str,
    backend: str,
    root: Path,
    seed: int,
    size: int,
    reaper: Reaper,
    broker_dir: Path | None = None,
) -> Iterator[Scene]:
    figures = Figures(name, backend)
    ledger = root / f"ledger-{name}.txt"
    with broker_url(backend, broker_dir or root) as url:
        client = Client(url)
        fleet = Fleet(client, reaper)
        watcher = Watcher(ledger)
        s = Scene(
            backend,
            url,
            root,
            random.Random(seed),
            size,
            reaper,
            figures,
            client,
            fleet,
            watcher,
            ledger,
        )
        try:
            yield s
        finally:
            try:
                s.end()
            finally:
                reaper.kill_all()
                client.close()
