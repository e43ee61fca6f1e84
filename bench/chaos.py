"""Issue 14's chaos run: every scenario on SQLite and PostgreSQL, larger than the tests.

Run: ``python -m bench chaos`` (or ``python -m bench.chaos``; root, for the tmpfs, the
read-only mount and the second user; PostgreSQL on 127.0.0.1:5432 for its half). Each
scenario runs in the subreaper harness of ``tests/chaos`` (a process of its own, which
tears down its managers, descendants, temp files, mounts, user and schema whatever
happens) and prints one row: what it did and what it counted from outside. The figures to
reach are in ARCHITECTURE.md's guarantees table: 0 everywhere, 100% dead-lettered.
"""

from __future__ import annotations

import time

from tests.chaos._counting import Figures
from tests.chaos._harness import SCENARIOS
from tests.chaos._run import run_scenario

SIZE = 3  # tasks and faults, times the tests'
SEED = 2026
_COLUMNS = (
    ("tasks", 6),
    ("faults", 7),
    ("lost", 5),
    ("twice", 6),
    ("done-failed", 12),
    ("done-redone", 12),
    ("dup", 4),
    ("orphans", 8),
    ("zombies", 8),
    ("dl%", 5),
    ("trace", 6),
    ("s", 5),
)


def _cells(f: Figures, seconds: float) -> list[str]:
    pct = f.dead_lettered_pct
    return [
        str(f.tasks),
        str(f.kills + f.freezes),
        str(f.lost),
        str(f.started_twice),
        str(f.completed_failed),
        str(f.completed_redone),
        str(f.concurrent_duplicates),
        str(f.orphans),
        str(f.zombies),
        "-" if pct is None else f"{pct:.0f}",
        str(f.tracebacks),
        f"{seconds:.0f}",
    ]


def main() -> None:
    header = f"  {'scenario':<12}{'backend':<11}" + "".join(f"{n:>{w}}" for n, w in _COLUMNS)
    print(header)
    details: list[str] = []
    for scenario in SCENARIOS:
        for backend in ("sqlite", "postgresql"):
            begin = time.monotonic()
            try:
                f = run_scenario(scenario, backend, seed=SEED, size=SIZE, budget=240)
            except RuntimeError as exc:
                print(f"  {scenario:<12}{backend:<11}harness failed: {str(exc)[:80]}")
                continue
            seconds = time.monotonic() - begin
            label = f"  {scenario:<12}{backend:<11}"
            if f.skipped:
                print(label + f"skipped: {f.skipped}")
                continue
            cells = _cells(f, seconds)
            print(label + "".join(f"{c:>{w}}" for c, (_, w) in zip(cells, _COLUMNS, strict=True)))
            if f.extra:
                extra = ", ".join(f"{k} {v}" for k, v in sorted(f.extra.items()))
                details.append(f"  {scenario} on {backend}: {extra}")
            details.extend(f"  {scenario} on {backend}: {note}" for note in f.notes[:6])
    print("  (faults: kills + freezes; dup: concurrent duplicates; dl%: malformed messages")
    print("   dead-lettered with a reason; done-failed/redone: ran to their end, then")
    print("   reported failed / started again)")
    for line in details:
        print(line)


if __name__ == "__main__":
    main()
