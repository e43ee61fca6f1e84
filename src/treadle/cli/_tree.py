"""A project's status tree as rows: what ``treadle status`` and ``treadle top`` show.

Owns flattening the nested status (supervisors, pools, processes, loops) into one row per
child, with the columns people look at first: state, pid, uptime, restarts, health, CPU,
memory and the last error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ._output import since, size

__all__ = ["COLUMNS", "Row", "cells", "rows"]

COLUMNS = (
    "NAME",
    "KIND",
    "STATE",
    "PID",
    "UPTIME",
    "RESTARTS",
    "HEALTH",
    "CPU",
    "MEM",
    "LAST ERROR",
)


@dataclass
class Row:
    name: str
    kind: str
    state: str
    pid: int | None
    uptime_s: float | None
    restarts: int
    health: str
    health_reason: str
    cpu_percent: float | None
    rss_bytes: int | None
    last_error: str
    runs: int | None  # a loop's runs so far (``top`` derives rates from it)
    errors: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def rows(project: Mapping[str, Any]) -> list[Row]:
    """One row per child of a project status (as the manager's STATUS answers it),
    operator-stopped children included."""
    tree = project.get("tree") or {}
    out = list(_walk(tree.get("children") or {}, ""))
    for name in project.get("stopped") or []:
        kind = (project.get("children") or {}).get(name, "")
        out.append(Row(name, kind, "stopped", None, None, 0, "", "", None, None, "", None, None))
    return out


def _walk(children: Mapping[str, Any], prefix: str) -> Iterator[Row]:
    for name, child in children.items():
        target = child.get("target") or {}
        kind = str(target.get("kind") or "coroutine")
        health = child.get("health") or {}
        yield Row(
            name=prefix + name,
            kind=kind,
            state=str(child.get("state", "")),
            pid=target.get("pid"),
            uptime_s=child.get("uptime_s"),
            restarts=int(child.get("restarts") or 0),
            health=str(health.get("status", "")),
            health_reason=str(health.get("reason", "")),
            cpu_percent=target.get("cpu_percent"),
            rss_bytes=target.get("rss_bytes"),
            last_error=_last_error(child, target),
            runs=target.get("runs"),
            errors=target.get("errors"),
        )
        if kind == "supervisor":
            yield from _walk(target.get("children") or {}, f"{prefix}{name}.")


def _last_error(child: Mapping[str, Any], target: Mapping[str, Any]) -> str:
    """A loop's last run error, else how the child last ended if not normally."""
    error = target.get("last_error")
    if not error:
        last = child.get("last_exit")
        if not isinstance(last, Mapping) or last.get("kind") == "normal":
            return ""
        error = last.get("error") or last.get("kind")
    if isinstance(error, Mapping):
        kind, message = error.get("type"), error.get("message")
        return f"{kind}: {message}" if kind and message else str(message or kind or "")
    return str(error)


def cells(row: Row) -> tuple[object, ...]:
    """The row as table cells, for people."""
    health = row.health if not row.health_reason else f"{row.health}: {row.health_reason}"
    return (
        row.name,
        row.kind,
        row.state,
        row.pid or "",
        "" if row.uptime_s is None else since(row.uptime_s),
        row.restarts,
        health,
        "" if row.cpu_percent is None else f"{row.cpu_percent:.0f}%",
        size(row.rss_bytes) if row.rss_bytes else "",
        row.last_error,
    )
