"""Scenarios 1 and 2: managers SIGKILLed at random points under load, and a manager
frozen (SIGSTOP) past its lease while another is up.

Each submits its tasks in one burst, injects its faults at seeded random moments, waits
(bounded) for every task's result, and counts with ``_counting``.
"""

from __future__ import annotations

import signal
import time

from ._fleet import mixed_tasks, submit, task_fields, wait_results
from ._scene import Scene

__all__ = ["freeze", "kill"]


def kill(s: Scene) -> None:
    """Two managers; ``3 * size`` of them SIGKILLed and replaced while ``40 * size``
    tasks run."""
    n, kills = 40 * s.size, 3 * s.size
    for _ in range(2):
        s.fleet.start()
    planned = submit(s.client, mixed_tasks(s.ledger_path, s.rng, n, 0.25, "k"))
    for _ in range(kills):
        time.sleep(s.rng.uniform(0.1, 0.8))  # the fault's moment, drawn from the seed
        alive = s.fleet.alive()
        if alive:
            s.fleet.kill(s.rng.choice(alive))
            s.figures.kills += 1
        s.fleet.start()
    results = wait_results(s.client, [p.tid for p in planned], timeout=20.0 + 10 * s.size)
    s.finish(planned, results)


def freeze(s: Scene) -> None:
    """One manager runs ``4 * size`` long tasks; a second comes up; the first is frozen
    three leases long, then continued."""
    n = 4 * s.size
    first = s.fleet.start()
    tasks = []
    for i in range(n):
        token = f"f{i}"
        restart = "on-failure" if i % 2 == 0 else "never"
        kind = "argv" if (i // 2) % 2 == 0 else "function"
        seconds = 4 * s.fleet.lease + s.rng.uniform(0, 1)
        fields = task_fields(s.ledger_path, token, round(seconds, 3), kind=kind, restart=restart)
        tasks.append((token, restart, fields))
    planned = submit(s.client, tasks)
    if s.wait_lines("start", n) < n:
        s.figures.notes.append("not every task started on the first manager")
    s.fleet.start()
    s.fleet.signal(first, signal.SIGSTOP)
    s.figures.freezes += 1
    time.sleep(3 * s.fleet.lease)  # the fault itself: frozen past its lease
    s.fleet.signal(first, signal.SIGCONT)
    results = wait_results(s.client, [p.tid for p in planned], timeout=20.0 + 10 * s.size)
    s.finish(planned, results)
