"""Loom's record of a managed process (:class:`ProcessInfo`) and the Popen-like view
(:class:`SupervisedProcess`) of a supervised child that the orchestrator puts in it.

Owns the translation only: Loom's code reads ``info.proc.poll()``, ``.pid``,
``.returncode`` and calls ``.terminate()``; here those read and signal whatever process
the supervisor runs under that name now (a restarted agent is a new process).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass

from ..process import Process
from ..supervisor import Supervisor

__all__ = ["ProcessInfo", "SupervisedProcess"]


class SupervisedProcess:
    """A supervised process child, as much of a ``subprocess.Popen`` as can be read
    without owning it: ``pid`` (the current process, else the last), ``returncode`` and
    :meth:`poll` (None while it runs), :meth:`send_signal`, :meth:`terminate`,
    :meth:`kill` (to the current process: a supervised one that fails is restarted)."""

    def __init__(self, supervisor: Supervisor, name: str) -> None:
        self.supervisor = supervisor
        self.name = name
        self._pid = 0

    def _process(self) -> Process | None:
        target = self.supervisor.target(self.name)
        return target if isinstance(target, Process) else None

    @property
    def pid(self) -> int:
        process = self._process()
        if process is not None and process.pid is not None:
            self._pid = process.pid
        return self._pid

    @property
    def returncode(self) -> int | None:
        process = self._process()
        if process is None or process.pid is not None:
            return None
        return process.returncode

    def poll(self) -> int | None:
        return self.returncode

    def send_signal(self, sig: int) -> None:
        process = self._process()
        pid = process.pid if process is not None else None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):  # it has just exited
                os.kill(pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def __repr__(self) -> str:
        return f"<SupervisedProcess {self.name!r} pid={self.pid} returncode={self.returncode}>"


@dataclass
class ProcessInfo:
    """A process the orchestrator manages: Loom's fields. ``is_critical`` is Loom's mark
    of the runtime (whose end ends the orchestrator), False for an agent."""

    name: str
    proc: SupervisedProcess | subprocess.Popen[bytes]
    pid: int
    is_critical: bool = True
