"""Recovery: what a dead host's spawner left in a record directory.

Owns :func:`reap_leftovers`, :func:`clear_leftovers` and :class:`Leftovers`, the reading
side of the journals that spawners write (``_journal.py`` says the format). A new manager
calls ``reap_leftovers`` on a dead manager's directory: it waits for each journal's lock
(the dying spawner may still be killing and journaling), kills what is still alive of it
(a recorded group whose leader is the very process recorded, a recorded cgroup, and any
process anywhere that carries the directory's tag), and returns the exits the journals
kept. The journals stay until ``clear_leftovers``: the caller makes those exits durable
first. The start time guards against a reused pid; a pidfd against one reused meanwhile.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from ._journal import SUFFIX
from ._procfs import kill_tagged

__all__ = ["Leftovers", "clear_leftovers", "reap_leftovers"]

_LOCK_PATIENCE = 10.0  # seconds to wait for a dying spawner to finish its journal
_EMPTY_PATIENCE = 2.0  # seconds to wait for killed processes to leave their cgroups


@dataclass
class Leftovers:
    """What ``reap_leftovers`` found: the pids it killed, and ``exits``: for each name,
    the returncode of its last recorded exit that was not forgotten (< 0: a signal), if
    that run ended on its own (not killed by its spawner when its host died or fenced)."""

    killed: list[int] = field(default_factory=list)
    exits: dict[str, int] = field(default_factory=dict)


def _entries(data: bytes) -> list[dict[str, Any]]:
    """The entries of a journal not forgotten, in order (lines cut short are skipped)."""
    entries: list[dict[str, Any]] = []
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for line in data.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
            if line.startswith(b"+ "):
                entry = json.loads(line[2:])
                entry["pid"] = int(entry["pid"])
                entries.append(entry)
                by_pid.setdefault(entry["pid"], []).append(entry)
            elif line.startswith(b"= "):
                pid_s, returncode_s, *flags = line[2:].split()
                running = [e for e in by_pid[int(pid_s)] if "exit" not in e]
                running[-1]["exit"] = int(returncode_s)
                running[-1]["killed"] = flags == [b"k"]
            elif line.startswith(b"- "):
                pid = int(line[2:])
                ended = next(e for e in by_pid[pid] if "exit" in e)
                by_pid[pid].remove(ended)
                entries.remove(ended)
    return entries


def _locked(path: Path, patience: float) -> int | None:
    """An fd of the journal at ``path``, its lock held (or not, past ``patience``: the
    writer is taken for dead all the same); None if the journal is gone."""
    give_up = time.monotonic() + patience
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if time.monotonic() >= give_up:
                return fd
            os.close(fd)
            time.sleep(0.02)  # a lock has no event to await; bounded by ``patience``
            continue
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            os.close(fd)
            return None
        os.close(fd)  # rewritten meanwhile (compaction): lock the new one


def _read(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def reap_leftovers(record_dir: str, patience: float = _LOCK_PATIENCE) -> Leftovers:
    """Kill what the spawners that journaled in ``record_dir`` left running; return that
    and the exits they recorded (see :class:`Leftovers`). Call it only for a directory
    whose host is dead. Journals with nothing left to tell are removed."""
    found = Leftovers()
    directory = Path(record_dir)
    if not directory.is_dir():
        return found
    killed: set[int] = set()
    bases: set[str] = set()
    held: list[tuple[Path, int, bool]] = []
    try:
        for path in sorted(directory.glob(f"*{SUFFIX}")):
            fd = _locked(path, patience)
            if fd is None:
                continue
            entries = _entries(_read(fd))
            held.append((path, fd, any("exit" in e for e in entries)))
            for entry in entries:
                if entry.get("killed"):  # by its spawner: how its last run ended is unknown
                    found.exits.pop(str(entry["name"]), None)
                elif "exit" in entry:
                    found.exits[str(entry["name"])] = int(entry["exit"])
                else:
                    killed.update(_kill_recorded(entry))
                cgroup = entry.get("cgroup")
                if isinstance(cgroup, str) and os.path.basename(
                    base := os.path.dirname(cgroup)
                ).startswith("treadle-"):
                    bases.add(base)
        for base in bases:  # its spawner's cgroups, a child's not yet journaled included
            killed.update(kill_cgroups(base))
        killed.update(_kill_tagged(os.path.abspath(record_dir)))
    finally:
        for path, fd, keep in held:
            if not keep:
                path.unlink(missing_ok=True)
            os.close(fd)
    found.killed = sorted(killed)
    return found


def clear_leftovers(record_dir: str) -> None:
    """Remove the journals in ``record_dir`` whose writer is gone (their exits are durable
    elsewhere now); a journal still locked by a live spawner is left alone."""
    for path in Path(record_dir).glob(f"*{SUFFIX}"):
        fd = _locked(path, 0.0)
        if fd is None:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            path.unlink(missing_ok=True)
        except BlockingIOError:
            pass
        finally:
            os.close(fd)


def _kill_recorded(entry: dict[str, Any]) -> list[int]:
    killed = []
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, psutil.Error):
        pid, pgid, created = int(entry["pid"]), int(entry["pgid"]), float(entry["created"])
        leader = psutil.Process(pid)
        if abs(leader.create_time() - created) < 0.01 and leader.status() != "zombie":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
            killed.append(pid)
    cgroup = entry.get("cgroup")
    if isinstance(cgroup, str) and os.path.isdir(cgroup):
        killed.extend(_kill_cgroup(cgroup))
    return killed


def _kill_cgroup(path: str) -> list[int]:
    try:
        with open(f"{path}/cgroup.procs", "rb") as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return []
    try:
        with open(f"{path}/cgroup.kill", "wb") as f:
            f.write(b"1")
    except OSError:  # no cgroup.kill (kernel < 5.14)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.rmdir(path)  # empty already if its processes were zombies
    return pids


def kill_cgroups(base: str) -> list[int]:
    """Kill what is in the cgroups under ``base`` (a spawner's), then remove them once
    empty (a killed process leaves its cgroup when it has exited: waited for, bounded)."""
    killed: list[int] = []
    subs: list[str] = []
    with contextlib.suppress(OSError):
        for sub in os.scandir(base):
            if sub.is_dir():
                killed.extend(_kill_cgroup(sub.path))
                subs.append(sub.path)
    give_up = time.monotonic() + _EMPTY_PATIENCE
    for path in [*subs, base]:
        while True:
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:  # busy: its killed processes are still exiting
                if time.monotonic() >= give_up:
                    break
                time.sleep(0.005)  # the kernel's exit has no event to await here
    return killed


def _kill_tagged(record_dir: str) -> list[int]:
    """Every process carrying ``record_dir``'s tag, wherever it is now."""
    prefix = f"{record_dir}|"
    return kill_tagged(lambda found: found.startswith(prefix), os.getpid())
