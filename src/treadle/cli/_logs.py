"""``treadle logs``: every child's output and the supervisor's lifecycle, merged in time order.

Owns the command: which log directory (``.treadle/logs`` beside the project file, or
``--dir``), which lines the NAME arguments select, and the ``-n``/``--since`` cuts.
Reading, merging and following the files is :mod:`._logfiles`'s; how a line looks,
:mod:`._logview`'s.
"""

from __future__ import annotations

import difflib
import os
import sys
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import click
from click.shell_completion import CompletionItem

from .._exceptions import ConfigError
from .._paths import STATE_DIR
from ..project._logfiles import POLL, SUPERVISOR, Entry, LogDir
from ._app import Exit, json_option
from ._logview import Printer, wants_color

__all__ = ["logs"]

FOLLOW_TAIL: Final = 10  # lines of history `-f` starts with when -n is not given


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    from ..project import parse_duration  # the project layer: loaded when it is needed

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _complete_names(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """The children with logs, for the shell's completion of NAME."""
    try:
        where = ctx.params.get("directory") or _project_logs()
    except click.UsageError:
        return []
    with LogDir(where) as logdir:
        names = set(logdir.files()) | _segments(logdir.lifecycle_paths())
    return [CompletionItem(n) for n in sorted(names) if n.startswith(incomplete)]


@click.command(short_help="Print the children's output, merged in time order.")
@click.argument("names", nargs=-1, metavar="[NAME]...", shell_complete=_complete_names)
@click.option("-f", "--follow", is_flag=True, help="Go on printing new lines (Ctrl-C stops).")
@click.option(
    "-n",
    "--lines",
    "count",
    type=click.IntRange(min=0),
    metavar="N",
    help=f"Only the last N lines (default: all; with -f, {FOLLOW_TAIL}).",
)
@click.option(
    "--since", metavar="DURATION", callback=_duration, help="Only lines newer than this (10m)."
)
@click.option("--no-color", is_flag=True, help="No colors, even on a terminal.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"The log directory (default: {STATE_DIR}/logs beside the project file).",
)
@json_option
def logs(
    names: tuple[str, ...],
    follow: bool,
    count: int | None,
    since: float | None,
    no_color: bool,
    directory: Path | None,
    as_json: bool,
) -> int:
    """Print the children's output and the lifecycle events, merged in time order.

    A NAME selects a child by its name or a part of its path: `web` is every member of
    the pool web, `web[1]` one of them (its output shares web.log), `backend` everything
    under that supervisor, `treadle` the supervisor's own lines.

    \b
    Examples:
      treadle logs                      everything, oldest first
      treadle logs -f                   the last 10 lines, then new ones as they come
      treadle logs web worker -n 50     the last 50 lines of web and worker
      treadle logs --since 10m --json   the last ten minutes, one JSON object a line
    """
    where = directory or _project_logs()
    with LogDir(where) as logdir:
        if not follow and not logdir.files():
            click.echo(f"treadle logs: no log files in {where}", err=True)
            return Exit.OK
        selection = _Selection(names, logdir.lifecycle_paths() if names else set())
        if names:
            unknown = selection.unknown(logdir.files())
            if unknown is not None:
                click.echo(unknown, err=True)
                return Exit.NOT_FOUND
        tail = count if count is not None else (FOLLOW_TAIL if follow else None)
        cutoff = None if since is None else time.time() - since
        chosen: Iterable[Entry] = (
            e
            for e in logdir.history(final=not follow)
            if selection(e) and (cutoff is None or e.ts >= cutoff)
        )
        if tail is not None:
            chosen = deque(chosen, maxlen=tail)
        show = Printer(as_json, color=wants_color(no_color or as_json), names=logdir.files())
        try:
            show.all(chosen)
            while follow:
                time.sleep(POLL)
                show.all(e for e in logdir.poll() if selection(e))
        except KeyboardInterrupt:
            if not follow:
                raise
        except BrokenPipeError:  # `treadle logs | head`: the reader has seen enough
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return Exit.OK


def _project_logs() -> Path:
    from ..project import find_project

    try:
        file = find_project()
    except ConfigError as exc:
        raise click.UsageError(f"{exc.message}: run it in a project, or give --dir") from None
    return file.parent / STATE_DIR / "logs"


# -- which lines ----------------------------------------------------------------------------


def _base(segment: str) -> str:
    """A pool member's name without its index: ``web[0]`` → ``web``."""
    return segment.partition("[")[0]


def _run_in(wanted: list[str], segments: list[str]) -> bool:
    """Whether ``wanted`` is a run of consecutive ``segments``."""
    n = len(wanted)
    return any(segments[i : i + n] == wanted for i in range(len(segments) - n + 1))


def _segments(paths: Iterable[str]) -> set[str]:
    return {_base(s) for path in paths for s in path.split(".")}


class _Selection:
    """The lines NAME arguments select (all of them when there are none).

    A lifecycle line is chosen when a name is a run of segments of its child's dotted
    path, exactly or with pool indexes dropped. An output line (of ``web.log``) is chosen
    when a name, indexes dropped, matches one of the paths lifecycle lines have shown
    for ``web`` (or ``web`` itself); so ``backend`` chooses the output of the children
    under that supervisor. Paths seen while following are learnt as they come.
    """

    def __init__(self, names: Iterable[str], paths: Iterable[str]) -> None:
        self.names = [n.split(".") for n in names]
        self._bases = [[_base(s) for s in n] for n in self.names]
        self._homes: dict[str, list[list[str]]] = {}  # child's file → its paths, no indexes
        for path in paths:
            self._learn(path)

    def _learn(self, path: str) -> None:
        segments = [_base(s) for s in path.split(".")]
        homes = self._homes.setdefault(segments[-1], [[segments[-1]]])
        if segments not in homes:
            homes.append(segments)

    def __call__(self, entry: Entry) -> bool:
        if entry.event is not None:
            self._learn(str(entry.event["name"]))
        if not self.names:
            return True
        if entry.event is not None:
            return self._path(str(entry.event["name"]))
        if entry.child == SUPERVISOR:
            return [SUPERVISOR] in self.names
        return self._output(entry.child)

    def _path(self, path: str) -> bool:
        exact = path.split(".")
        bases = [_base(s) for s in exact]
        return any(_run_in(n, exact) or _run_in(n, bases) for n in self.names)

    def _output(self, child: str) -> bool:
        homes = self._homes.get(child, [[child]])
        return any(_run_in(n, home) for n in self._bases for home in homes)

    def unknown(self, files: Iterable[str]) -> str | None:
        """What to say of the names that select nothing; None when each selects something."""
        children = set(files)
        candidates = [[c] for c in children] + [p for h in self._homes.values() for p in h]
        missing = [
            ".".join(name)
            for name, bases in zip(self.names, self._bases, strict=True)
            if name != [SUPERVISOR] and not any(_run_in(bases, c) for c in candidates)
        ]
        if not missing:
            return None
        known = sorted(children | {s for c in candidates for s in c})
        close = difflib.get_close_matches(missing[0], known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (
            f"treadle logs: no logs for {', '.join(map(repr, missing))}{hint}; "
            f"known: {', '.join(known) or 'none yet'}"
        )
