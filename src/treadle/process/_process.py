"""Process: one OS process as a supervised child.

Owns :class:`Process`, a Runnable: spawn in a session of its own (so its process group can
be signalled as one), notice the exit the moment it happens (a pidfd on the event loop, no
polling and no thread), stop with ``stop_signal`` then SIGKILL after ``stop_timeout``, kill
what is left of the group, reap, and report the exit precisely. Pause and resume are SIGSTOP
and SIGCONT to the group. Restart policy is the supervisor's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import psutil

from .._exceptions import (
    IntegrityError,
    ProcessExited,
    ProcessLimitExceeded,
    SpawnError,
    describe_exit,
)
from ..health._health import Health
from ._output import Output
from ._records import remove_record, write_record
from ._spec import ProcessSpec

__all__ = ["Process"]

_SETPRIV = shutil.which("setpriv")  # util-linux: a parent-death signal without preexec_fn
_REAP_GRACE = 5.0  # seconds to wait for a SIGKILLed process to be reaped


class Process:
    """Runs ``spec`` each time :meth:`run` is called; see :class:`ProcessSpec`."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.output = Output(spec.ring_lines)
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopping = False
        self._stop_early = False  # stop asked before run() began: it returns at once
        self._kill_timer: asyncio.TimerHandle | None = None
        self._last_exit: str | None = None
        self.returncode: int | None = None  # of the last run (< 0: killed by that signal)
        self._ps: psutil.Process | None = None
        self._over_limit: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def stop_grace(self) -> float:
        return self.spec.stop_grace

    @property
    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.returncode is None else None

    def argv(self) -> list[str]:
        spec = self.spec
        if spec.function is not None:
            args = json.dumps(spec.args)
            return [sys.executable, "-m", "treadle.process._entry", spec.function, args]
        if spec.shell:
            return ["/bin/sh", "-c", " ".join(spec.argv)]
        return list(spec.argv)

    # -- Runnable -------------------------------------------------------------------------

    async def run(self, started: Callable[[], None]) -> None:
        spec = self.spec
        if self._stop_early:  # asked to stop before it ran: nothing to start
            self._stop_early = False
            return
        self._stopping = False
        self._over_limit = None
        proc = self._spawn()
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[int] = loop.create_future()
        pidfd = os.pidfd_open(proc.pid)

        def on_exit() -> None:
            if proc.poll() is not None and not exited.done():
                exited.set_result(proc.returncode)

        loop.add_reader(pidfd, on_exit)
        if spec.record_dir is not None:
            write_record(spec.record_dir, spec.name, proc.pid)
        if spec.cpu_limit is not None:
            resource.prlimit(proc.pid, resource.RLIMIT_CPU, (spec.cpu_limit, spec.cpu_limit + 5))
        watcher = loop.create_task(self._watch_memory(proc)) if spec.memory_limit else None
        pumps = [
            loop.create_task(self.output.pump(stream, pipe), name=f"{spec.name}:{stream}")
            for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
            if pipe is not None
        ]
        try:
            started()
            try:
                returncode = await exited
            except asyncio.CancelledError:
                # Cancelled (the supervisor's patience ran out): no grace left, kill and reap.
                self._signal(signal.SIGKILL)
                await asyncio.wait({exited}, timeout=_REAP_GRACE)
                raise
        finally:
            if watcher is not None:
                watcher.cancel()
            loop.remove_reader(pidfd)
            os.close(pidfd)
            if self._kill_timer is not None:
                self._kill_timer.cancel()
                self._kill_timer = None
            if spec.kill_group:
                _killpg(proc.pid, signal.SIGKILL)  # what is left of the group goes with it
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            await asyncio.wait(pumps, timeout=1.0)  # drain the pipes; a stray writer is cut
            for pump in pumps:
                pump.cancel()
            self.output.close()  # log files are reopened by the next run's spawn
            if spec.record_dir is not None:
                remove_record(spec.record_dir, proc.pid)
            self.returncode = proc.returncode
            self._last_exit = describe_exit(proc.returncode)
            self._proc = None
        if self._over_limit is not None:
            raise ProcessLimitExceeded(f"process {spec.name!r} {self._over_limit}; killed")
        if self._stopping or returncode in spec.normal_exit_codes:
            return
        raise ProcessExited(spec.name, returncode)

    async def health(self) -> Health:
        """The spec's check; without one, healthy while the process runs."""
        if self.spec.health is not None:
            return await self.spec.health()
        if self.pid is None:
            return Health.unhealthy("not running")
        return Health.healthy()

    async def _watch_memory(self, proc: subprocess.Popen[bytes]) -> None:
        limit = self.spec.memory_limit
        assert limit is not None
        while proc.returncode is None:
            rss = _resources(self, proc.pid).get("rss_bytes", 0)
            if rss > limit:
                self._over_limit = f"used {rss} bytes of memory, over its limit of {limit}"
                self._signal(signal.SIGKILL)
                return
            await asyncio.sleep(self.spec.sample_interval)

    def request_stop(self) -> None:
        proc = self._proc
        if proc is None:
            self._stop_early = True  # the task has not run yet: it will not spawn
            return
        if proc.returncode is not None or self._stopping:
            return
        self._stopping = True
        self._signal(self.spec.stop_signal)
        if self.spec.stop_signal != signal.SIGCONT:  # a paused (stopped) process cannot act
            self._signal(signal.SIGCONT)  # on its signal until continued (as systemd does)
        loop = asyncio.get_running_loop()
        self._kill_timer = loop.call_later(self.spec.stop_timeout, self._signal, signal.SIGKILL)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.spec.name,
            "kind": "process",
            "argv": self.argv(),
            "pid": self.pid,
            "last_exit": self._last_exit,
            "output": self.output.tail(),
        }
        pid = self.pid
        if pid is not None:
            info.update(_resources(self, pid))
        return info

    # -- mechanism --------------------------------------------------------------------------

    def _spawn(self) -> subprocess.Popen[bytes]:
        spec = self.spec
        argv = self.argv()
        env: dict[str, str] | None = None  # ours, inherited as it is: nothing to copy
        if spec.env or not spec.inherit_env:
            env = {**os.environ, **spec.env} if spec.inherit_env else dict(spec.env)
        executable = _resolve(argv[0], (os.environ if env is None else env).get("PATH"), spec.name)
        if spec.sha256 is not None:
            _verify(executable, spec.sha256, spec.name)
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            raise SpawnError(f"process {spec.name!r}: cwd {spec.cwd!r} is not a directory")
        argv[0] = executable
        if spec.parent_death_signal is not None and _SETPRIV is not None:
            argv = [_SETPRIV, f"--pdeathsig={spec.parent_death_signal.name}", "--", *argv]
        for stream, path in (("stdout", spec.stdout), ("stderr", spec.stderr)):
            if path is not None:
                self.output.to_file(stream, path, spec.log_max_bytes, spec.log_backups)
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if spec.merge_output else subprocess.PIPE,
                cwd=spec.cwd,
                env=env,
                start_new_session=True,  # its own session and process group
                umask=spec.umask,
                user=spec.user,
                group=spec.group,
                close_fds=True,
            )
        except OSError as exc:
            raise SpawnError(f"process {spec.name!r}: cannot start {argv[0]!r}: {exc}") from exc
        self._proc = proc
        self._ps = None
        return proc

    def _signal(self, sig: signal.Signals) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            return
        if self.spec.kill_group:
            _killpg(proc.pid, sig)
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    def __repr__(self) -> str:
        return f"<Process {self.spec.name!r} pid={self.pid}>"


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, sig)


_found: dict[tuple[str, str | None], str] = {}  # (program, PATH) → where it was found


def _resolve(program: str, path: str | None, name: str) -> str:
    if os.sep in program:
        if not os.path.isfile(program):
            raise SpawnError(f"process {name!r}: no such executable {program!r}")
        if not os.access(program, os.X_OK):
            raise SpawnError(f"process {name!r}: {program!r} is not executable (permission)")
        return program
    # Remembered while it is still there, as a shell's hash table does: a search of PATH is
    # a stat per directory, for every start of the same program.
    found = _found.get((program, path))
    if found is not None and os.path.isfile(found) and os.access(found, os.X_OK):
        return found
    found = shutil.which(program, path=path)
    if found is None:
        _found.pop((program, path), None)
        raise SpawnError(f"process {name!r}: {program!r} not found on PATH ({path or ''})")
    _found[(program, path)] = found
    return found


def _verify(executable: str, expected: str, name: str) -> None:
    with open(executable, "rb") as f:
        actual = hashlib.file_digest(f, "sha256").hexdigest()
    if actual != expected.lower():
        raise IntegrityError(
            f"process {name!r}: {executable} has sha256 {actual}, expected {expected.lower()}; "
            "refusing to start it"
        )


def _resources(owner: Process, pid: int) -> dict[str, Any]:
    """RSS, CPU%, open files and threads of the process and its descendants (psutil)."""
    try:
        if owner._ps is None or owner._ps.pid != pid:
            owner._ps = psutil.Process(pid)
        procs = [owner._ps, *owner._ps.children(recursive=True)]
        rss = cpu = 0.0
        files = threads = 0
        for p in procs:
            with p.oneshot():
                rss += p.memory_info().rss
                cpu += p.cpu_percent(None)
                threads += p.num_threads()
                files += p.num_fds()
        return {"rss_bytes": int(rss), "cpu_percent": cpu, "threads": threads, "open_files": files}
    except psutil.Error:
        return {}
