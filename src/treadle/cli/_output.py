"""How commands print: rich tables for people, JSON for scripts, one style for both.

Owns the console (stdout) and the error console (stderr), table building, and the
formatting of times, ages and byte counts, and how an ID is written in JSON (as text).
Commands hand it plain data.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = [
    "ID_KEYS",
    "age",
    "console",
    "emit_json",
    "errors",
    "ids_as_text",
    "print_table",
    "since",
    "size",
]

# Piped into grep or a file, a row is one line however wide: rich would fold it at 80.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 10_000)
errors = Console(stderr=True, highlight=False)

STATE_STYLES = {
    "running": "green",
    "active": "green",
    "completed": "green",
    "queued": "cyan",
    "reserved": "cyan",
    "starting": "cyan",
    "paused": "yellow",
    "retrying": "yellow",
    "requeued": "yellow",
    "stopped": "dim",
    "failed": "red",
    "rejected": "red",
    "dead": "red",
}


# Keys whose whole-number values are TIDs or broker message IDs: 64-bit, so written as
# text (jq 1.6 and JavaScript read a JSON number as a double, and round one past 2**53).
ID_KEYS = frozenset({"tid", "manager", "message_id"})


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (never through rich: no markup, no wrapping);
    the IDs under :data:`ID_KEYS` as text, wherever they are."""
    print(json.dumps(ids_as_text(data), indent=2, default=str))


def ids_as_text(data: Any) -> Any:
    """``data`` with every whole number under one of :data:`ID_KEYS` as text."""
    if isinstance(data, dict):
        return {
            k: str(v)
            if k in ID_KEYS and isinstance(v, int) and not isinstance(v, bool)
            else ids_as_text(v)
            for k, v in data.items()
        }
    if isinstance(data, list | tuple):
        return [ids_as_text(v) for v in data]
    return data


def print_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    title: str | None = None,
    gap: int = 2,
) -> None:
    """Rows under columns, ``gap`` cells apart; a cell is text, never markup."""
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=None,
        pad_edge=False,
        padding=(0, gap - gap // 2, 0, gap // 2),
    )
    for column in columns:  # the last column (a reason, say) folds; the rest never wrap
        last = column == columns[-1]
        table.add_column(column, overflow="fold" if last else "ellipsis", no_wrap=not last)
    state_col = columns.index("STATE") if "STATE" in columns else None
    count = 0
    for row in rows:
        cells = ["" if v is None else escape(str(v)) for v in row]
        if state_col is not None:
            style = STATE_STYLES.get(cells[state_col], "")
            cells[state_col] = f"[{style}]{cells[state_col]}[/]" if style else cells[state_col]
        table.add_row(*cells)
        count += 1
    if count:
        console.print(table)
    else:
        errors.print(f"[dim](no {title or 'rows'})[/]")


def age(ts: float | None, now: float | None = None) -> str:
    """``12s``, ``4m``, ``3h``, ``2d`` since a wall-clock time."""
    if not ts:
        return ""
    return since((now or time.time()) - ts)


def since(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f}{unit}"
    return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"


def size(n: float | None) -> str:
    if n is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1024
    return f"{n:.1f}TiB"
