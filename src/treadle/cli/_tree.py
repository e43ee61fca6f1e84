"""How ``treadle status`` and ``treadle top`` print a project's rows."""

from __future__ import annotations

from ..project import Row
from ._output import since, size

__all__ = ["COLUMNS", "cells"]

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
