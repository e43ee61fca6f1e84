"""The figures of one scenario run, and how a run of tasks is counted into them.

Owns :class:`Figures` (what the harness prints as JSON and the bench tabulates) and the
rules that turn the ledger, the results treadle reports and the reaper's census into
counts. A task's program "completed" when it wrote its end line and did not die by a
signal afterwards (an adopted copy's exit status says so; a copy its manager reaped
exited 0, since the program exits 0 right after its end line).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from treadle.broker import Result

from ._ledger import Ledger
from ._reaper import Census, Reaper

__all__ = ["Figures", "Planned", "count_census", "count_tasks"]


@dataclass
class Figures:
    """What one scenario on one backend measured (-1: not measured there)."""

    scenario: str
    backend: str
    tasks: int = 0
    kills: int = 0
    freezes: int = 0
    lost: int = 0
    started_twice: int = 0  # restart="never" tasks with two start lines
    completed_failed: int = 0  # ran to their end line, reported failed (or no result)
    completed_redone: int = 0  # ran to their end line, started again
    concurrent_duplicates: int = 0  # two copies of one task running at once
    orphans: int = 0  # descendants alive once every manager is gone
    zombies: int = 0
    malformed: int = 0
    dead_lettered: int = 0  # of the malformed, with a reason
    tracebacks: int = 0
    extra: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    skipped: str | None = None

    @property
    def dead_lettered_pct(self) -> float | None:
        return None if not self.malformed else 100.0 * self.dead_lettered / self.malformed

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Figures:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


@dataclass(frozen=True)
class Planned:
    """A task the scenario submitted: its ledger token, TID and restart policy."""

    token: str
    tid: int
    restart: str


def count_tasks(
    figures: Figures,
    planned: list[Planned],
    results: dict[int, Result | None],
    ledger: Ledger,
    reaper: Reaper,
) -> None:
    """Lost, started twice, completed-but-failed, completed-redone, concurrent duplicates."""
    figures.tasks += len(planned)
    for task in planned:
        result = results.get(task.tid)
        completed = [
            c for c in ledger.finished(task.token) if reaper.exited_ok(c.pid) in (None, True)
        ]
        found = []
        if result is None or (task.restart != "never" and not completed):
            figures.lost += 1
            found.append("lost")
        if task.restart == "never" and ledger.started(task.token) > 1:
            figures.started_twice += 1
            found.append("started twice")
        if completed and (result is None or not result.ok):
            figures.completed_failed += 1
            found.append("completed, reported failed")
        if completed and task.token in ledger.redone:
            figures.completed_redone += 1
            found.append("completed, redone")
        if ledger.overlapping(task.token):
            figures.concurrent_duplicates += 1
            found.append("two copies at once")
        if found:  # which task, for a post-mortem (the managers' logs: CHAOS_KEEP=1)
            why = "" if result is None else f" ({result.state}: {result.error})"
            figures.notes.append(
                f"{task.token} T{task.tid} {task.restart}: {', '.join(found)}{why}"
            )


def count_census(figures: Figures, census: Census) -> None:
    figures.orphans += len(census.alive)
    figures.zombies += len(census.zombies)
    figures.notes.extend(f"left behind: {c}" for c in census.commands[:5])
