"""Scenario 7: the CLI against a frozen manager, a read-only broker and a full disk.

Runs ``treadle run``, ``treadle task list`` and ``treadle run --wait`` (at once, each
bounded) under each condition and counts the outputs that hold a Python traceback; a
command cut off by its bound is counted as hung.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import subprocess
from pathlib import Path

from ._backends import fill, readonly
from ._host import TREADLE
from ._scene import Scene

__all__ = ["COMMANDS", "tracebacks"]

COMMANDS = (
    ["run", "--", "/bin/true"],
    ["task", "list"],
    ["run", "--wait", "--", "/bin/true"],
)
BOUND = 12.0  # seconds a command may take


def _command(s: Scene, url: str, args: list[str], condition: str) -> None:
    at = args.index("--") if "--" in args else len(args)
    argv = [TREADLE, *args[:at], "--broker", url, *args[at:]]
    try:
        out = subprocess.run(argv, capture_output=True, timeout=BOUND)
        text = (out.stdout + out.stderr).decode(errors="replace")
        if "Traceback" in text:
            s.figures.tracebacks += 1
            last = text.strip().splitlines()[-1][:140]
            s.figures.notes.append(f"{condition}: treadle {' '.join(args[:2])}: {last}")
    except subprocess.TimeoutExpired:
        s.figures.extra["hung"] = s.figures.extra.get("hung", 0) + 1
        s.figures.notes.append(f"{condition}: treadle {' '.join(args[:2])}: no end in {BOUND}s")


def _all(s: Scene, url: str, condition: str, thaw: int | None = None) -> None:
    """The commands at once; with ``thaw``, that manager is continued once the ones that
    do not wait for a task have answered (``run --wait`` waits for its task to run)."""
    with concurrent.futures.ThreadPoolExecutor(len(COMMANDS)) as pool:
        done = {pool.submit(_command, s, url, list(c), condition): c for c in COMMANDS}
        for future, command in done.items():
            if "--wait" not in command:
                future.result()
        if thaw is not None:
            s.fleet.signal(thaw, signal.SIGCONT)
        for future in done:
            future.result()
    s.figures.tasks += len(COMMANDS)


def tracebacks(s: Scene) -> None:
    manager = s.fleet.start()
    s.fleet.signal(manager, signal.SIGSTOP)
    s.figures.freezes += 1
    try:
        _all(s, s.url, "frozen manager", thaw=manager)
    finally:
        s.fleet.signal(manager, signal.SIGCONT)
    s.fleet.stop_all()
    if s.backend == "sqlite":
        directory = Path(s.url).parent
        if s.figures.extra.get("on_tmpfs"):
            filler = fill(directory)
            try:
                _all(s, s.url, "full disk")
            finally:
                filler.unlink()
            s.fleet.stop_all()
        else:
            s.figures.notes.append("full disk: no tmpfs here")
        with readonly(directory) as ro:
            if ro:
                _all(s, s.url, "read-only broker")
            else:
                s.figures.notes.append("read-only broker: no read-only bind mount here")
    else:
        ro_url = s.url + "&options=-cdefault_transaction_read_only%3Don"
        _all(s, ro_url, "read-only broker")
        s.figures.notes.append("full disk: the PostgreSQL server's disk is not ours to fill")
    with contextlib.suppress(Exception):
        s.fleet.stop_all()
