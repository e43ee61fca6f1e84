"""``python -m bench``: every benchmark, each figure beside its baseline.

``python -m bench NAME...`` runs only those (e.g. ``python -m bench chaos``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def _benchmarks() -> dict[str, tuple[str, list[Callable[[], object]]]]:
    from . import (
        artifacts,
        chaos,
        cli,
        compat_p2p,
        compat_task_monitor,
        control,
        coordination,
        dashboard,
        fidelity,
        fleet,
        foundation,
        idle,
        processes,
        spawn,
        throughput,
    )

    return {
        "foundation": ("foundation (issue 6)", [foundation.main]),
        "coordination": ("coordination (issue 7)", [coordination.main]),
        "processes": ("process children (issue 8)", [processes.main]),
        "spawn": ("the spawner (issue 14)", [spawn.main]),
        "control": ("control plane (issue 2)", [control.main]),
        "cli": ("the command line: run --wait warm and cold, down (issue 15)", [cli.main]),
        "dashboard": ("dashboard (issue 4)", [dashboard.main]),
        "fleet": ("fleet on PostgreSQL (issue 5)", [fleet.main]),
        "compat": (
            "seed interfaces (issue 10)",
            [compat_p2p.main, compat_task_monitor.main, artifacts.main],
        ),
        "fidelity": ("the seeds' real modules, matched (issue 16)", [fidelity.main]),
        "throughput": ("task throughput beside huey (issue 15)", [throughput.main]),
        "chaos": ("chaos: guarantees under faults (issue 14)", [chaos.main]),
        "idle": ("an idle manager: its CPU, and how soon it wakes (issue 15)", [idle.main]),
    }


def main(names: list[str]) -> int:
    benchmarks = _benchmarks()
    unknown = [n for n in names if n not in benchmarks]
    if unknown:
        print(
            f"python -m bench: no benchmark {', '.join(unknown)}; one of: {', '.join(benchmarks)}"
        )
        return 2
    for name in names or list(benchmarks):
        title, runs = benchmarks[name]
        print(f"== {title}")
        for run in runs:
            run()
    return 0


sys.exit(main(sys.argv[1:]))
