"""``treadle top``: the project's tree, live, with rates, steered from the keyboard.

Each refresh is one STATUS request to the project's manager; rates (loop runs and errors
per second, restarts per minute) are averaged over the last ten seconds (:mod:`._rates`).
As in ``pm2 monit``, a child is selected with the arrow keys (or j/k) and restarted (r),
paused or resumed (p), stopped or started (s), its log shown under the table (l); q
leaves (:mod:`._keys` reads the keys). With standard input not a terminal it only shows.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .._exceptions import TreadleError
from .._paths import STATE_DIR
from ..project import Row, rows
from ..project._logfiles import Entry, LogDir
from ._app import Exit
from ._keys import Keyboard
from ._logs import _Selection
from ._logview import _describe
from ._output import STATE_STYLES, console
from ._projects import Project, project, project_options
from ._rates import Rates
from ._tree import COLUMNS, cells, fit

__all__ = ["top"]

_WINDOW = 10.0  # seconds the rates are averaged over
_LOG_LINES = 8
_DROP = ("KIND", "CPU", "MEM", "RESTARTS/M", "ERRORS/S", "LAST ERROR")  # narrow: these go
_HELP = "↑/↓ select  r restart  p pause/resume  s stop/start  l logs  q quit"


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
    """A live view of the project's children: states, resources, rates (over 10 s).

    \b
    Keys: up/down (or k/j) select a child; r restarts it, p pauses or resumes it,
    s stops or starts it, l shows its log; q (or Ctrl-C) leaves.
    \b
    Examples:
      treadle top
      treadle top -i 0.5
      treadle top -n 1            one refresh, printed (for a script or a pipe)
    """
    p = project(file, procfile, broker)
    p.require()
    view = _View(p)
    count = 0
    due = time.monotonic()
    try:
        with Keyboard() as keys, view.logs, _live() as live:
            view.keyed = keys.live
            while True:
                if time.monotonic() >= due:
                    view.refresh(time.monotonic())
                    count += 1
                    due = time.monotonic() + interval
                live.update(view.render(), refresh=True)
                if iterations is not None and count >= iterations:
                    break
                key = keys.read(due - time.monotonic())
                if key in ("q", "Q"):
                    break
                if key is not None:
                    view.press(key, live_update=lambda: live.update(view.render(), refresh=True))
    except KeyboardInterrupt:
        pass
    return Exit.OK


class _View:
    """What ``top`` shows, and what a key does to it."""

    def __init__(self, p: Project) -> None:
        self.p = p
        self.found: list[Row] = []
        self.rates = Rates(_WINDOW)
        self.selected: str | None = None
        self.keyed = False
        self.message = ""
        self.logs = _LogPane(p.root / STATE_DIR / "logs")

    def refresh(self, now: float) -> None:
        data: dict[str, Any] = (self.p.control("STATUS").status or {}).get("project") or {}
        self.found = rows(data)
        self.rates.add(now, self.found)
        names = [r.name for r in self.found]
        if self.selected not in names:
            self.selected = names[0] if names else None
        self.logs.poll()

    # -- keys -----------------------------------------------------------------------------

    def press(self, key: str, live_update: Callable[[], None]) -> None:
        names = [r.name for r in self.found]
        if key in ("up", "k", "down", "j") and names:
            at = names.index(self.selected) if self.selected in names else 0
            step = -1 if key in ("up", "k") else 1
            self.selected = names[max(0, min(len(names) - 1, at + step))]
            if self.logs.shown:
                self.logs.show(self.selected)
            return
        if key == "l":
            self.logs.show(None if self.logs.shown else self.selected)
            return
        row = next((r for r in self.found if r.name == self.selected), None)
        if row is None or key not in ("r", "p", "s"):
            return
        op = {
            "r": "RESTART",
            "p": "RESUME" if row.state == "paused" else "PAUSE",
            "s": "START" if row.state == "stopped" else "STOP",
        }[key]
        self.message = f"{row.name}: {op.lower()}…"
        live_update()
        try:
            reply = self.p.control(op, target=row.name, timeout=60.0)
            self.message = f"{row.name}: {reply.reply or op.lower()}"
        except TreadleError as exc:
            self.message = f"{row.name}: {exc}"
        self.refresh(time.monotonic())

    # -- drawing --------------------------------------------------------------------------

    def render(self) -> RenderableType:
        columns = (*COLUMNS[:-1], "RUNS/S", "ERRORS/S", "RESTARTS/M", COLUMNS[-1])
        table_rows = []
        for row in self.found:
            base = cells(row)
            rates = (
                _rate(self.rates.per_second(row.name, "runs"), 1),
                _rate(self.rates.per_second(row.name, "errors"), 1),
                _rate(self.rates.per_second(row.name, "restarts"), 60),
            )
            table_rows.append((*base[:-1], *rates, base[-1]))
        width = console.width if console.is_terminal else None
        fitted = fit(columns, table_rows, width, drop=_DROP)
        table = Table(
            header_style="bold",
            box=None,
            pad_edge=False,
            padding=(0, fitted.gap - fitted.gap // 2, 0, fitted.gap // 2),
        )
        for column in fitted.columns:
            table.add_column(column, no_wrap=True, overflow="ellipsis")
        state_at = fitted.columns.index("STATE")
        for row, cells_ in zip(self.found, fitted.rows, strict=True):
            texts = [Text(c) for c in cells_]
            texts[state_at].stylize(STATE_STYLES.get(row.state, ""))
            selected = self.keyed and row.name == self.selected
            table.add_row(*texts, style="reverse" if selected else None)
        states: dict[str, int] = {}
        for row in self.found:
            states[row.state] = states.get(row.state, 0) + 1
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        header = Text.from_markup(
            f"[bold]{self.p.name}[/]  {len(self.found)} children: {summary or 'none'}"
            f"  [dim](rates over {_WINDOW:g}s)[/]"
        )
        parts: list[RenderableType] = [header, table]
        if self.logs.shown:
            parts += [Text(f"── {self.logs.shown} ──", style="bold"), *self.logs.lines()]
        if self.keyed:
            parts.append(Text(self.message or _HELP, style="dim" if not self.message else ""))
        return Group(*parts)


class _LogPane:
    """The last lines of one child's log (what ``treadle logs NAME`` prints), kept fresh."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.shown: str | None = None
        self._dir: LogDir | None = None
        self._select: _Selection | None = None
        self._lines: deque[Entry] = deque(maxlen=_LOG_LINES)

    def show(self, name: str | None) -> None:
        """Show ``name``'s log (None: none)."""
        self.close()
        self.shown = name
        self._lines.clear()
        if name is None:
            return
        self._dir = LogDir(self.directory)
        self._select = _Selection([name], self._dir.lifecycle_paths())
        select = self._select
        self._lines.extend(e for e in self._dir.history(final=False) if select(e))

    def poll(self) -> None:
        if self._dir is not None and self._select is not None:
            select = self._select
            self._lines.extend(e for e in self._dir.poll() if select(e))

    def lines(self) -> list[Text]:
        if not self._lines:
            return [Text("(no lines yet)", style="dim")]
        out = []
        for entry in self._lines:
            stamp = time.strftime("%H:%M:%S", time.localtime(entry.ts)) if entry.ts else ""
            text = _describe(entry.event) if entry.event is not None else entry.text
            mark = "!" if entry.stream == "stderr" else "|"
            style = "red" if entry.stream == "stderr" else "dim" if entry.event else ""
            line = Text.assemble((stamp, "dim"), f" {mark} ", (text, style))
            line.truncate(console.width, overflow="ellipsis")
            out.append(line)
        return out

    def close(self) -> None:
        if self._dir is not None:
            self._dir.close()
            self._dir = None

    def __enter__(self) -> _LogPane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _live() -> Live:
    return Live(console=console, auto_refresh=False, transient=False)


def _rate(per_second: float | None, scale: float) -> str:
    return "" if per_second is None else f"{per_second * scale:.1f}"
