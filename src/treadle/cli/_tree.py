"""How ``treadle status`` and ``treadle top`` print a project's rows, in the width there is.

Owns the columns, a row's cells, and :func:`fit`: on a terminal too narrow for every
column whole, the columns that say least per character give way first (HEALTH's reason
and the last error are cut, the wider first, with an ellipsis; then the gaps narrow; then
KIND, CPU and MEM go), so that NAME, STATE, PID and UPTIME are never cut. Piped, nothing
is cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rich.cells import cell_len, set_cell_size

from ..project import Row
from ._output import since, size

__all__ = ["COLUMNS", "SHRINK", "Fitted", "cells", "fit"]

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

# What gives way on a narrow terminal: these are cut (the widest first) down to so many cells
SHRINK: Final[Mapping[str, int]] = {"HEALTH": 7, "LAST ERROR": 10}
# then these columns go, in this order
DROP: Final = ("KIND", "CPU", "MEM", "ERRORS/S", "LAST ERROR")


def cells(row: Row) -> tuple[str, ...]:
    """The row as table cells, for people."""
    health = row.health if not row.health_reason else f"{row.health}: {row.health_reason}"
    return (
        row.name,
        row.kind,
        row.state,
        str(row.pid or ""),
        "" if row.uptime_s is None else since(row.uptime_s),
        str(row.restarts),
        health,
        "" if row.cpu_percent is None else f"{row.cpu_percent:.0f}%",
        size(row.rss_bytes) if row.rss_bytes else "",
        row.last_error,
    )


@dataclass(frozen=True)
class Fitted:
    """A table cut to a width: its columns, its rows, and the gap between columns."""

    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    gap: int


def fit(
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None,
    *,
    shrink: Mapping[str, int] = SHRINK,
    drop: Sequence[str] = DROP,
) -> Fitted:
    """``rows`` under ``columns`` in at most ``width`` cells (None: however wide)."""
    names = list(columns)
    widths = {c: max([cell_len(c), *(cell_len(r[i]) for r in rows)]) for i, c in enumerate(names)}

    def over(gap: int) -> int:
        return sum(widths[c] for c in names) + gap * (len(names) - 1) - (width or 0)

    gap = 2
    if width is not None:
        floors = {c: min(f, widths[c]) for c, f in shrink.items() if c in widths}
        while (excess := over(gap)) > 0:  # the widest that may give way, first
            room = [c for c in floors if widths[c] > floors[c]]
            if not room:
                break
            widest = max(room, key=lambda c: widths[c])
            below = max([floors[widest], *(widths[c] for c in room if c != widest)])
            widths[widest] -= max(1, min(excess, widths[widest] - below))
        if over(gap) > 0:
            gap = 1
        for column in drop:
            if over(gap) <= 0:
                break
            if column in names:
                names.remove(column)
    keep = [columns.index(c) for c in names]
    out = [tuple(_cut(row[i], widths[columns[i]]) for i in keep) for row in rows]
    return Fitted(tuple(names), out, gap)


def _cut(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(0, width - 1)) + "…"
