"""What to run as an OS process, and how to stop it: :class:`ProcessSpec`.

Owns the declarative side of process children and its validation. A ProcessSpec is a
factory: a supervisor calls it for every start and gets a fresh :class:`Process`.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._exceptions import ConfigError

if TYPE_CHECKING:
    from ._checks import HealthCheck
    from ._process import Process

__all__ = ["ProcessSpec"]

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ProcessSpec:
    """An OS process to supervise.

    Args:
        argv: the program and its arguments (never through a shell unless ``shell=True``,
            when ``argv`` is one command line).
        function: instead of argv, ``"module:function"`` run in a fresh interpreter, called
            with ``args`` (a JSON list → positional, an object → keyword arguments).
        env: variables to set; on top of this process's environment unless
            ``inherit_env=False``.
        cwd, umask, user, group: as for ``subprocess.Popen`` (user/group need root).
        stop_signal: sent to the process group to stop it; SIGKILL after ``stop_timeout``.
        kill_group: signal the whole group, and kill what is left of it when the main
            process ends (systemd's control-group kill mode); False: the main process only.
        stdout, stderr: log files (size-rotated: ``log_max_bytes``, ``log_backups``);
            ``merge_output`` sends stderr to stdout's log.
        ring_lines: how many recent output lines ``status()`` keeps.
        normal_exit_codes: exits that count as normal (``transient`` children are then not
            restarted).
        sha256: the executable's expected digest; a mismatch refuses to start.
        parent_death_signal: what the process gets if its spawner dies, even by SIGKILL:
            SIGKILL (the default) from the spawner's guardian, which kills its setsid'd
            descendants too; another signal from the kernel (it is then started by a
            forked launcher, a little slower); None to let it outlive a killed spawner
            (the manager's death still kills it: the spawner sees to that, and
            ``reap_leftovers``).
        health: a check (``TcpCheck``, ``HttpCheck``, ``CommandCheck``, ``FileHeartbeat``)
            run as the process's ``health()``; set the child's ``health_interval``.
        memory_limit: bytes of RSS (the process and its descendants, sampled every
            ``sample_interval``) past which the group is killed and the child fails.
        cpu_limit: seconds of CPU time (RLIMIT_CPU: the kernel sends SIGXCPU, then SIGKILL).
        record_dir: the spawner keeps a journal of the process there (its start, its
            exit), so that ``reap_leftovers(record_dir)`` at a manager's start-up kills what
            a dead manager left behind and returns the exits it never heard of.
        keep_exit: keep the exit in the journal after the run ends, until
            :meth:`Process.forget` (a manager's task, whose result is not durable yet);
            False: the run forgets it itself.
        leased: the process runs on its host's lease: the spawner's watchdog
            (:meth:`Spawner.deadline`) kills it when the lease runs out unrenewed, and
            refuses to start it meanwhile (a manager's task, which another manager may
            run from then on). Other processes (a project's) are left alone.
    """

    argv: Sequence[str] = ()
    name: str = ""
    function: str | None = None
    args: object = None
    shell: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    inherit_env: bool = True
    cwd: str | None = None
    umask: int = -1
    user: str | int | None = None
    group: str | int | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    stop_timeout: float = 10.0
    kill_group: bool = True
    stdout: str | None = None
    stderr: str | None = None
    merge_output: bool = False
    log_max_bytes: int = 10 * 1024 * 1024
    log_backups: int = 5
    ring_lines: int = 200
    normal_exit_codes: tuple[int, ...] = (0,)
    sha256: str | None = None
    parent_death_signal: signal.Signals | None = signal.SIGKILL
    health: HealthCheck | None = None
    memory_limit: int | None = None
    cpu_limit: int | None = None
    sample_interval: float = 1.0
    record_dir: str | None = None
    keep_exit: bool = False
    leased: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.argv, str) and not self.shell:
            raise ConfigError("argv", f"must be a list of arguments, got the string {self.argv!r}")
        argv = (self.argv,) if isinstance(self.argv, str) else tuple(self.argv)
        object.__setattr__(self, "argv", argv)
        if bool(argv) == bool(self.function):
            raise ConfigError("argv", "give either argv or function, not both and not neither")
        if self.function is not None and not re.fullmatch(r"[\w.]+:[\w.]+", self.function):
            raise ConfigError("function", f"must be 'module:function', got {self.function!r}")
        if not self.stop_timeout >= 0:
            raise ConfigError("stop_timeout", f"must be >= 0, got {self.stop_timeout}")
        if self.sha256 is not None and not _SHA256.fullmatch(self.sha256.lower()):
            raise ConfigError("sha256", "must be 64 hexadecimal digits")
        if self.memory_limit is not None and self.memory_limit < 1:
            raise ConfigError("memory_limit", f"must be > 0 bytes, got {self.memory_limit}")
        if self.cpu_limit is not None and self.cpu_limit < 1:
            raise ConfigError("cpu_limit", f"must be >= 1 second, got {self.cpu_limit}")
        if not self.sample_interval > 0:
            raise ConfigError("sample_interval", f"must be > 0, got {self.sample_interval}")
        if self.log_max_bytes < 1 or self.log_backups < 0 or self.ring_lines < 0:
            raise ConfigError("log_max_bytes", "log sizes and counts must be positive")
        if not self.name:
            base = self.function or os.path.basename(argv[0].split()[0] if self.shell else argv[0])
            object.__setattr__(self, "name", base)

    @property
    def __name__(self) -> str:  # what ChildSpec names a child after
        return self.name

    @property
    def stop_grace(self) -> float:
        """A graceful stop takes up to ``stop_timeout``, then SIGKILL and the reaping."""
        return self.stop_timeout + 1.0

    def __call__(self) -> Process:
        from ._process import Process

        return Process(self)
