"""Commands that look at and steer a running project's children.

``status`` (alias ``ps``), ``restart``, ``pause``, ``resume``, ``stop``, ``start``,
``scale``, ``reload`` and ``dump``: each one control request to the manager that runs
the project (see ``_projects``), answered from its live tree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from ..project import rows
from ._app import Exit, json_option
from ._output import console, emit_json, print_table
from ._projects import project, project_options
from ._tree import COLUMNS, cells, fit

__all__ = ["COMMANDS"]


@click.command()
@json_option
@project_options
def status(as_json: bool, file: Path | None, procfile: Path | None, broker: str | None) -> int:
    """The project's children: state, pid, uptime, restarts, health, CPU, memory, errors.

    \b
    Examples:
      treadle status
      treadle ps --json | jq '.children[] | select(.state != "running")'
    """
    p = project(file, procfile, broker)
    record = p.require()
    data: dict[str, Any] = (p.control("STATUS").status or {}).get("project") or {}
    found = rows(data)
    if as_json:
        emit_json(
            {
                "name": p.name,
                "file": str(p.source),
                "manager": {"tid": record.tid, "pid": record.pid, "host": record.host},
                "children": [r.as_dict() for r in found],
            }
        )
        return Exit.OK
    width = console.width if console.is_terminal else None
    table = fit(COLUMNS, [cells(r) for r in found], width)
    print_table(table.columns, table.rows, title=f"{p.name} (manager {record.tid})", gap=table.gap)
    return Exit.OK


def _simple(op: str, verb: str, doc: str) -> click.Command:
    word = op.lower()
    examples = (
        "\b\nExamples:\n"
        f"  treadle {word} web\n"
        f"  treadle {word} web worker       several at once\n"
        f"  treadle {word} back.indexer     a nested supervisor's child (or: {word} indexer)"
    )

    @click.command(name=word, help=f"{doc}\n\n{examples}")
    @click.argument("names", nargs=-1, required=True)
    @project_options
    def command(
        names: tuple[str, ...], file: Path | None, procfile: Path | None, broker: str | None
    ) -> int:
        p = project(file, procfile, broker)
        for name in names:
            reply = p.control(op, target=name, timeout=60.0)
            console.print(f"{escape(name)}: {reply.reply or verb}")
        return Exit.OK

    return command


@click.command()
@click.argument("name")
@click.argument("replicas", type=click.IntRange(min=0))
@project_options
def scale(
    name: str, replicas: int, file: Path | None, procfile: Path | None, broker: str | None
) -> int:
    """Run REPLICAS instances of pool NAME (within its ``scale`` bounds).

    \b
    Examples:
      treadle scale worker 8
      treadle scale worker 0          none for now; `treadle scale worker 2` brings them back
    """
    reply = project(file, procfile, broker).control(
        "SCALE", target=name, args={"replicas": replicas}, timeout=60.0
    )
    members = (reply.status or {}).get("members", [])
    stopped = set((reply.status or {}).get("stopped", []))
    shown = [f"{m} (stopped)" if m in stopped else m for m in members]
    console.print(f"{escape(name)}: {len(members)} ({escape(', '.join(shown)) or 'none'})")
    return Exit.OK


@click.command()
@json_option
@project_options
def reload(as_json: bool, file: Path | None, procfile: Path | None, broker: str | None) -> int:
    """Apply the project file as it is now: start what is new, stop what is gone, restart
    what changed, leave the rest running. A file that does not validate changes nothing.

    \b
    Examples:
      $EDITOR treadle.toml && treadle reload
    """
    p = project(file, procfile, broker, warn=False)  # a bad file: the manager's refusal says it
    reply = p.control("RELOAD", timeout=120.0)
    change: dict[str, Any] = reply.status or {}
    if as_json:
        emit_json(change)
        return Exit.OK
    for key in ("added", "removed", "changed"):
        if change.get(key):
            console.print(f"{key}: {', '.join(change[key])}")
    if not any(change.get(k) for k in ("added", "removed", "changed")):
        console.print("nothing changed")
    if change.get("sections"):
        sections = ", ".join(change["sections"])
        console.print(f"[yellow]changed sections ({sections}) apply at the next `up`[/]")
    return Exit.OK


@click.command()
@click.argument("name", required=False)
@project_options
def dump(name: str | None, file: Path | None, procfile: Path | None, broker: str | None) -> int:
    """Everything there is to know for debugging (as JSON): states, stacks, last errors
    with tracebacks, metrics, limiter waits, shared state; of the project or of NAME.

    \b
    Examples:
      treadle dump > dump.json
      treadle dump background
    """
    reply = project(file, procfile, broker).control("DUMP", target=name, timeout=30.0)
    emit_json(reply.status or {})
    return Exit.OK


restart = _simple("RESTART", "restarted", "Restart children now (no backoff).")
pause = _simple("PAUSE", "paused", "Pause children (a process: SIGSTOP; a loop: between runs).")
resume = _simple("RESUME", "running", "Resume paused children.")
stop = _simple("STOP", "stopped", "Stop children and keep them stopped (until `treadle start`).")
start = _simple("START", "started", "Start children stopped with `treadle stop`.")

COMMANDS = (status, restart, pause, resume, stop, start, scale, reload, dump)
