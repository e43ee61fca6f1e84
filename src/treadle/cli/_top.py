"""``treadle top``: the project's tree, live, with rates.

Each refresh is one STATUS request to the project's manager; rates (loop runs and errors
per second, restarts per minute) are the differences between two refreshes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..project import Row, rows
from ._app import Exit
from ._output import STATE_STYLES, console
from ._projects import Project, project, project_options
from ._tree import cells

__all__ = ["top"]

_COLUMNS = ("NAME", "KIND", "STATE", "PID", "UPTIME", "RESTARTS", "HEALTH", "CPU", "MEM")


@click.command()
@click.option("-i", "--interval", type=click.FloatRange(min=0.2), default=1.0, show_default=True)
@click.option("-n", "--iterations", type=click.IntRange(min=1), help="Stop after N refreshes.")
@project_options
def top(
    interval: float,
    iterations: int | None,
    file: Path | None,
    procfile: Path | None,
    broker: str | None,
) -> int:
    """A live view of the project's children: states, resources, rates. Ctrl-C leaves.

    \b
    Examples:
      treadle top
      treadle top -i 0.5
    """
    p = project(file, procfile, broker)
    p.require()
    before: dict[str, Row] = {}
    then = time.monotonic()
    count = 0
    try:
        with Live(console=console, auto_refresh=False, transient=False) as live:
            while iterations is None or count < iterations:
                now = time.monotonic()
                found = rows(_status(p))
                live.update(_render(p, found, before, now - then), refresh=True)
                before, then = {r.name: r for r in found}, now
                count += 1
                if iterations is None or count < iterations:
                    time.sleep(interval)  # the refresh rate of a terminal view
    except KeyboardInterrupt:
        pass
    return Exit.OK


def _status(p: Project) -> dict[str, Any]:
    return (p.control("STATUS").status or {}).get("project") or {}


def _render(p: Project, found: list[Row], before: dict[str, Row], elapsed: float) -> Group:
    table = Table(header_style="bold", box=None, pad_edge=False, expand=False)
    for column in (*_COLUMNS, "RUNS/S", "ERRORS/S", "LAST ERROR"):
        table.add_column(column, no_wrap=column != "LAST ERROR", overflow="ellipsis")
    states: dict[str, int] = {}
    for row in found:
        states[row.state] = states.get(row.state, 0) + 1
        base = [str(c) for c in cells(row)]
        last = before.get(row.name)
        runs = _rate(row.runs, last.runs if last else None, elapsed)
        errors = _rate(row.errors, last.errors if last else None, elapsed)
        style = STATE_STYLES.get(row.state, "")
        base[2] = f"[{style}]{row.state}[/]" if style else row.state
        table.add_row(*base[:9], runs, errors, base[9])
    summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    header = Text.from_markup(f"[bold]{p.name}[/]  {len(found)} children: {summary or 'none'}")
    return Group(header, table)


def _rate(value: int | None, previous: int | None, elapsed: float) -> str:
    if value is None or previous is None or elapsed <= 0:
        return ""
    return f"{(value - previous) / elapsed:.1f}"
