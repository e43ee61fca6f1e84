"""How a log line looks: ``12:00:01.250 web     | text``, or one JSON object a line.

Owns :class:`Printer`: the time (local, to the millisecond), the child's name padded to
the widest and in a color of its own (a fixed palette, chosen by a hash of the name, so
a child keeps its color from one run to the next), stderr marked (``!`` and red), and a
lifecycle event said in words (``web[0]: running → failed (exit 3)``). Which lines, and
from where, is :mod:`._logs`'s and :mod:`._logfiles`'s.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from rich.text import Text

from ..project._logfiles import POLL, SUPERVISOR, Entry, LogDir
from ._output import STATE_STYLES, console

__all__ = ["Printer", "follow_to_console", "wants_color"]

_PALETTE: Final = (
    "cyan",
    "green",
    "yellow",
    "blue",
    "magenta",
    "bright_cyan",
    "bright_green",
    "bright_yellow",
    "bright_blue",
    "bright_magenta",
)


def wants_color(no_color: bool) -> bool:
    """Colors on a terminal (rich honours ``NO_COLOR`` and ``FORCE_COLOR``), unless refused."""
    return not no_color and console.color_system is not None


class Printer:
    """Lines as people read them (``12:00:01.250 web    | text``) or as JSON."""

    def __init__(self, as_json: bool, *, color: bool, names: Iterable[str] = ()) -> None:
        self.as_json = as_json
        self.color = color
        self.width = max(map(len, names), default=len(SUPERVISOR))  # grows with new names
        self._clock: tuple[int, str] = (-1, "")

    def all(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.one(entry)
        sys.stdout.flush()

    def one(self, entry: Entry) -> None:
        text = _describe(entry.event) if entry.event is not None else entry.text
        if self.as_json:
            data: dict[str, Any] = {
                "ts": entry.ts,
                "child": entry.child,
                "stream": entry.stream,
                "text": text,
            }
            if entry.event is not None:
                data["event"] = dict(entry.event)
            sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
            return
        self.width = max(self.width, len(entry.child))
        mark = "!" if entry.stream == "stderr" else "|"
        line = Text.assemble(
            (self._time(entry.ts), "dim"),
            " ",
            (entry.child.ljust(self.width), _style(entry.child)),
            f" {mark} ",
            (text, _text_style(entry)),
        )
        if self.color:
            console.print(line, soft_wrap=True)
        else:
            sys.stdout.write(line.plain + "\n")

    def _time(self, ts: float) -> str:
        if not ts:
            return " " * 12
        second = int(ts)
        if second != self._clock[0]:  # one strftime a second, however many lines
            self._clock = (second, time.strftime("%H:%M:%S", time.localtime(second)))
        return f"{self._clock[1]}.{int(ts * 1000) % 1000:03d}"


def _describe(event: Mapping[str, Any]) -> str:
    """``web[0]: running → failed (exit 3)``; the root supervisor's name is left out."""
    name = str(event.get("name", ""))
    text = f"{name.partition('.')[2] or name}: {event.get('from')} → {event.get('to')}"
    details = [str(event["reason"])] if event.get("reason") else []
    if isinstance(event.get("backoff_s"), int | float):
        details.append(f"in {event['backoff_s']:.1f}s")
    return f"{text} ({', '.join(details)})" if details else text


def _style(child: str) -> str:
    if child == SUPERVISOR:
        return "bold"
    return _PALETTE[zlib.crc32(child.encode()) % len(_PALETTE)]


def _text_style(entry: Entry) -> str:
    if entry.stream == "stderr":
        return "red"
    if entry.event is not None:
        return STATE_STYLES.get(str(entry.event.get("to")), "")
    return "dim" if entry.stream == "log" else ""


async def follow_to_console(directory: Path, *, as_json: bool = False) -> None:
    """Print every line written to ``directory`` from now on as ``treadle logs -f`` does
    (``--json`` with ``as_json``), until cancelled: what ``treadle up`` shows."""
    with LogDir(directory) as logdir:
        show = Printer(as_json=as_json, color=wants_color(no_color=False), names=logdir.files())
        logdir.skip()
        try:
            while True:
                await asyncio.sleep(POLL)
                show.all(logdir.poll())
        finally:  # cancelled once the tree has stopped: its last lines too
            show.all(logdir.poll())
