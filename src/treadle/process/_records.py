"""Records of running processes, so a new manager can reap what a dead one left behind.

Owns :func:`write_record`, :func:`remove_record` and :func:`reap_leftovers`. A record is a
small JSON file (pid, process-group id, start time); the start time guards against a reused
pid: a group is killed only if its leader is the very process that was recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path

import psutil

__all__ = ["reap_leftovers", "remove_record", "write_record"]


def _path(record_dir: str, name: str) -> Path:
    return Path(record_dir) / f"{name.replace('/', '_')}.json"


def write_record(record_dir: str, name: str, pid: int) -> None:
    Path(record_dir).mkdir(parents=True, exist_ok=True)
    created = psutil.Process(pid).create_time()
    path = _path(record_dir, name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "pid": pid, "pgid": pid, "created": created}))
    tmp.replace(path)


def remove_record(record_dir: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        _path(record_dir, name).unlink()


def reap_leftovers(record_dir: str) -> list[int]:
    """Kill the process groups recorded in ``record_dir`` whose leader still runs; return
    their pids. Stale and unreadable records are removed either way."""
    killed: list[int] = []
    directory = Path(record_dir)
    if not directory.is_dir():
        return killed
    for path in sorted(directory.glob("*.json")):
        try:
            record = json.loads(path.read_text())
            pid, pgid, created = int(record["pid"]), int(record["pgid"]), float(record["created"])
            leader = psutil.Process(pid)
            if abs(leader.create_time() - created) < 0.01 and leader.status() != "zombie":
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGKILL)
                killed.append(pid)
        except (OSError, ValueError, KeyError, psutil.Error):
            pass  # gone, reused, or unreadable: nothing of ours to kill
        path.unlink(missing_ok=True)
    return killed
