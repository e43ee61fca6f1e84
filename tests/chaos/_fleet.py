"""Managers as real processes of one broker, started, killed, frozen and stopped by the
harness; tasks submitted to them and waited for, every wait bounded.

Owns the manager processes a scenario starts (children of the subreaper, so its own
``Popen`` reaps them), the mix of tasks a scenario submits, and the bounded wait for their
results. Everything goes through the public :class:`~treadle.client.Client`.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from treadle.broker import Result
from treadle.client import Client

from . import _task
from ._counting import Planned
from ._reaper import Reaper

__all__ = ["Fleet", "mixed_tasks", "submit", "task_fields", "wait_results"]

TASK_SCRIPT = _task.__file__


class Fleet:
    """The managers of one broker (``lease`` and ``heartbeat`` short, so that a death is
    noticed within seconds; not shorter: on 2 cores under the harness's load, a live
    manager's renewal can be late by a second, and its watchdog would kill its tasks)."""

    def __init__(
        self, client: Client, reaper: Reaper, *, lease: float = 2.0, heartbeat: float = 0.6
    ) -> None:
        self.client = client
        self.reaper = reaper
        self.lease = lease
        self.heartbeat = heartbeat
        self.procs: dict[int, subprocess.Popen[bytes]] = {}  # manager TID → its process

    def start(self, max_tasks: int = 16) -> int:
        """One more manager (``python -m treadle.manager``, as Client.start_manager runs
        it); its TID once it is registered."""
        client = self.client
        tid = client.broker.timestamp()
        argv = [sys.executable, "-m", "treadle.manager", "--broker", client.url.location]
        argv += ["--tid", str(tid), "--lease", str(self.lease)]
        argv += ["--heartbeat", str(self.heartbeat), "--max-tasks", str(max_tasks)]
        logs = client.url.state_dir / "managers"
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        with open(logs / f"manager-{tid}.log", "ab") as log:
            proc = self.reaper.popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs[tid] = proc
        client.wait_manager(tid, 60, proc)
        return tid

    def alive(self) -> list[int]:
        return [tid for tid, proc in self.procs.items() if proc.poll() is None]

    def kill(self, tid: int) -> None:
        proc = self.procs[tid]
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def signal(self, tid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.procs[tid].pid, sig)

    def stop(self, tid: int, timeout: float = 20.0) -> None:
        """Stop a manager normally (STOP, then SIGTERM, then SIGKILL: each bounded)."""
        proc = self.procs[tid]
        if proc.poll() is None:
            self.signal(tid, signal.SIGCONT)
            with contextlib.suppress(Exception):
                self.client.stop_manager(tid, timeout=timeout)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop_all(self) -> None:
        """Every manager of the broker stopped: ours, and any a CLI started."""
        for tid in self.alive():
            self.stop(tid)
        with contextlib.suppress(Exception):
            for record in self.client.managers():
                if record.tid not in self.procs:
                    with contextlib.suppress(Exception):
                        self.client.stop_manager(record.tid, timeout=10)


def task_fields(
    ledger: Path, token: str, seconds: float, *, kind: str, restart: str, spawn: str = ""
) -> dict[str, Any]:
    """The fields of one chaos task: a process (``kind="argv"``) or a function."""
    fields: dict[str, Any] = {"name": token, "restart": restart, "stop_timeout": 2.0}
    if restart == "on-failure":
        fields["retries"] = 3
    if kind == "argv":
        fields["argv"] = [sys.executable, TASK_SCRIPT, str(ledger), token, str(seconds)]
        if spawn:
            fields["argv"].append(spawn)
    else:
        fields["function"] = "tests.chaos._task:work"
        fields["args"] = {"ledger": str(ledger), "token": token, "seconds": seconds}
        if spawn:
            fields["args"]["spawn"] = spawn
    return fields


def mixed_tasks(
    ledger: Path, rng: random.Random, n: int, long_share: float, prefix: str
) -> list[tuple[str, str, dict[str, Any]]]:
    """``n`` tasks: process and function, "never" and "on-failure", mostly 0-300 ms and a
    ``long_share`` of 1-3 s; each with its token and restart policy."""
    out = []
    for i in range(n):
        token = f"{prefix}{i}"
        seconds = rng.uniform(1.0, 3.0) if rng.random() < long_share else rng.uniform(0, 0.3)
        kind = "argv" if i % 2 == 0 else "function"
        restart = "never" if (i // 2) % 2 == 0 else "on-failure"
        fields = task_fields(ledger, token, round(seconds, 3), kind=kind, restart=restart)
        out.append((token, restart, fields))
    return out


def submit(client: Client, tasks: list[tuple[str, str, dict[str, Any]]]) -> list[Planned]:
    specs = client.submit_many([fields for _, _, fields in tasks])
    return [
        Planned(token, spec.tid, restart)
        for (token, restart, _), spec in zip(tasks, specs, strict=True)
    ]


def wait_results(client: Client, tids: list[int], timeout: float) -> dict[int, Result | None]:
    """Every task's result, or None for those without one when ``timeout`` has passed.
    Polling: the results come from other processes, through the broker."""
    results: dict[int, Result | None] = dict.fromkeys(tids)
    deadline = time.monotonic() + timeout
    while True:
        for tid in [t for t, r in results.items() if r is None]:
            with contextlib.suppress(Exception):  # a broken broker is a figure, not a crash
                results[tid] = client.result(tid)
        if all(r is not None for r in results.values()) or time.monotonic() > deadline:
            return results
        time.sleep(0.2)
