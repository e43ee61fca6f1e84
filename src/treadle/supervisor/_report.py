"""Reporting on a tree: status, health roll-up, process accounting, and the debug dump.

Owns the JSON-safe views of a :class:`Supervisor`; it reads the tree and changes nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psutil

from .._lifecycle import UP
from ..health._health import Health, rollup, worst
from ..health._stack import task_stack

if TYPE_CHECKING:
    from ._supervisor import Supervisor

__all__ = ["dump", "health_report", "process_rss", "process_stats", "status"]


def status(sup: Supervisor) -> dict[str, Any]:
    """The whole tree as a JSON-safe dict."""
    return {
        "name": sup.name,
        "path": sup.path,
        "kind": "supervisor",
        "state": sup._state.value,
        "strategy": sup.strategy.value,
        "intensity": sup.intensity,
        "period": sup.period,
        "escalate": sup.escalate,
        "failure": str(sup._failure) if sup._failure else None,
        "running": sup._events.up,
        "abandoned": len(sup.abandoned),
        "health": sup.health_report().as_dict(),
        "slots": sup._slots.stats(),
        "watchdog": sup._watchdog.stats() if sup._watchdog is not None else None,
        "children": {name: child.status() for name, child in sup._children.items()},
    }


def health_report(sup: Supervisor) -> Health:
    """The tree's health now: the worst child wins, every unhealthy reason kept."""
    from ._supervisor import Supervisor  # a cycle at import time only

    verdicts: dict[str, Health] = {}
    for name, child in sup._children.items():
        verdict = child.current_health()
        if isinstance(child.target, Supervisor) and child.state in UP:
            verdict = worst(verdict, child.target.health_report())
        verdicts[name] = verdict
    return rollup(verdicts)


def _process(sup: Supervisor) -> psutil.Process:
    """This process, as psutil sees it: one object per supervisor, so that its CPU% is
    the share since this supervisor last asked."""
    if sup._process is None:
        sup._process = psutil.Process()
    return sup._process


def process_rss(sup: Supervisor) -> int:
    return int(_process(sup).memory_info().rss)


def process_stats(sup: Supervisor) -> dict[str, Any]:
    """This host process: pid, RSS, CPU% since the last call, threads, open files."""
    proc = _process(sup)
    with proc.oneshot():
        return {
            "pid": proc.pid,
            "rss_bytes": proc.memory_info().rss,
            "cpu_percent": proc.cpu_percent(None),
            "threads": proc.num_threads(),
            "open_files": proc.num_fds(),
        }


def dump(sup: Supervisor) -> dict[str, Any]:
    """Everything there is to know, for debugging: the status tree plus each running
    child's current stack, the bus, shared state, limiters, slots and the process."""
    from ._supervisor import Supervisor  # a cycle at import time only

    tree = sup.status()
    for name, child in sup._children.items():
        entry = tree["children"][name]
        entry["stack"] = task_stack(child.task) if child.task is not None else None
        if isinstance(child.target, Supervisor):
            entry["target"] = child.target.dump()
    tree["bus"] = sup.bus.stats()
    tree["shared"] = sup.shared.snapshot()
    tree["limits"] = sup.limits.stats()
    tree["process"] = sup.process_stats()
    return tree
