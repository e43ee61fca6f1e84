"""Process: one OS process as a supervised child.

Owns :class:`Process`, a Runnable: spawn through the loop's spawner (``_spawner.py``) in a
session of its own (so its process group can be signalled as one), learn of the exit the
moment the spawner reaps it (its message, no polling), stop with ``stop_signal`` then
SIGKILL after ``stop_timeout``, and report the exit precisely; the spawner kills what is
left of the group and journals the exit. Pause and resume are SIGSTOP and SIGCONT to the
group. Restart policy is the supervisor's.
"""

from __future__ import annotations

import asyncio
import grp
import hashlib
import json
import os
import pwd
import shutil
import signal
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
from ._spawner import Child, spawner
from ._spec import ProcessSpec

__all__ = ["Process"]

_REAP_GRACE = 5.0  # seconds to wait for a SIGKILLed process to be reaped


class Process:
    """Runs ``spec`` each time :meth:`run` is called; see :class:`ProcessSpec`."""

    def __init__(self, spec: ProcessSpec) -> None:
        self.spec = spec
        self.output = Output(spec.ring_lines)
        self._child: Child | None = None
        self._kept: list[tuple[Child, str]] = []  # keep_exit: exits not forgotten yet
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
        child = self._child
        return child.pid if child is not None and not child.exited.done() else None

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
        request = self._request()
        child = await (await spawner()).spawn(request)
        self._child = child
        self._ps = None
        if self._stop_early:  # asked while the spawner was starting it
            self._stop_early = False
            self.request_stop()
        loop = asyncio.get_running_loop()
        watcher = loop.create_task(self._watch_memory(child)) if spec.memory_limit else None
        pumps = [self.output.pump("stdout", child.stdout)]
        if child.stderr is not None:
            pumps.append(self.output.pump("stderr", child.stderr))
        try:
            started()
            try:
                returncode = await child.wait()
            except asyncio.CancelledError:
                # Cancelled (the supervisor's patience ran out): no grace left, kill and reap.
                child.signal(signal.SIGKILL, spec.kill_group)
                await asyncio.wait({child.exited}, timeout=_REAP_GRACE)
                raise
        finally:
            if watcher is not None:
                watcher.cancel()
            if self._kill_timer is not None:
                self._kill_timer.cancel()
                self._kill_timer = None
            if not child.exited.done():  # a cancel whose grace ran out: it goes anyway
                child.signal(signal.SIGKILL, spec.kill_group)
            # The spawner killed what was left of the group (kill_group) when it reaped it.
            for pump in pumps:
                pump.finish()  # what it wrote is in the pipe: read to EOF now, mostly
            if not all(pump.done.done() for pump in pumps):  # drain the pipes
                await asyncio.wait([pump.done for pump in pumps], timeout=1.0)
            for pump in pumps:
                pump.close()  # a stray writer is cut
            self.output.close()  # log files are reopened by the next run's spawn
            if request["record_dir"] is not None:
                if spec.keep_exit:
                    self._kept.append((child, request["record_dir"]))
                else:
                    child.forget(request["record_dir"])
            self.returncode = child.exited.result() if child.exited.done() else -signal.SIGKILL
            self._last_exit = describe_exit(self.returncode)
            self._child = None
        if self._over_limit is not None:
            raise ProcessLimitExceeded(f"process {spec.name!r} {self._over_limit}; killed")
        if self._stopping or returncode in spec.normal_exit_codes:
            return
        raise ProcessExited(spec.name, returncode, self._last_lines())

    def _last_lines(self, n: int = 20) -> list[str] | None:
        """The last ``n`` lines it wrote to stderr (else to stdout): why it ended, mostly
        (None if it keeps no lines: ``ring_lines=0``)."""
        ring = self.output.ring
        if ring.maxlen == 0:
            return None
        lines = [text for _, stream, text in ring if stream == "stderr"]
        return (lines or [text for _, _, text in ring])[-n:]

    def forget(self) -> None:
        """With ``keep_exit``: the exits of this process's runs are durable elsewhere now;
        drop them from the spawner's journal (call it from the process's event loop)."""
        kept, self._kept = self._kept, []
        for child, record_dir in kept:
            child.forget(record_dir)

    async def health(self) -> Health:
        """The spec's check; without one, healthy while the process runs."""
        if self.spec.health is not None:
            return await self.spec.health()
        if self.pid is None:
            return Health.unhealthy("not running")
        return Health.healthy()

    async def _watch_memory(self, child: Child) -> None:
        limit = self.spec.memory_limit
        assert limit is not None
        while not child.exited.done():
            rss = _resources(self, child.pid).get("rss_bytes", 0)
            if rss > limit:
                self._over_limit = f"used {rss} bytes of memory, over its limit of {limit}"
                self._signal(signal.SIGKILL)
                return
            await asyncio.sleep(self.spec.sample_interval)

    def request_stop(self) -> None:
        child = self._child
        if child is None:
            self._stop_early = True  # not spawned yet: it will not run (or stops at once)
            return
        if child.exited.done() or self._stopping:
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

    def _request(self) -> dict[str, Any]:
        """What the spawner needs to start it; SpawnError/IntegrityError if it cannot be."""
        spec = self.spec
        argv = self.argv()
        inherited = _environ() if spec.inherit_env else None
        env = {**inherited, **spec.env} if inherited is not None else dict(spec.env)
        path = (inherited if inherited is not None else spec.env).get("PATH")
        executable = _resolve(argv[0], path, spec.name)
        if spec.sha256 is not None:
            _verify(executable, spec.sha256, spec.name)
        if spec.cwd is not None and not os.path.isdir(spec.cwd):
            raise SpawnError(f"process {spec.name!r}: cwd {spec.cwd!r} is not a directory")
        uid, gid, groups = _ids(spec)
        for stream, log in (("stdout", spec.stdout), ("stderr", spec.stderr)):
            if log is not None:
                self.output.to_file(stream, log, spec.log_max_bytes, spec.log_backups)
        record_dir = os.path.abspath(spec.record_dir) if spec.record_dir is not None else None
        return {
            "name": spec.name,
            "exe": os.path.abspath(executable),
            "argv": argv,
            "env": env,
            "cwd": os.path.abspath(spec.cwd) if spec.cwd is not None else None,
            "umask": spec.umask,
            "uid": uid,
            "gid": gid,
            "groups": groups,
            "merge": spec.merge_output,
            "pdeathsig": int(spec.parent_death_signal or 0),
            "cpu": spec.cpu_limit,
            "kill_group": spec.kill_group,
            "leased": spec.leased,
            "record_dir": record_dir,
            "tag": f"{record_dir or ''}|{spec.name}",
        }

    def _signal(self, sig: signal.Signals) -> None:
        child = self._child
        if child is not None:
            child.signal(sig, self.spec.kill_group)

    def __repr__(self) -> str:
        return f"<Process {self.spec.name!r} pid={self.pid}>"


def _ids(spec: ProcessSpec) -> tuple[int | None, int | None, list[int] | None]:
    """uid, gid and supplementary groups to switch to (initgroups for a user)."""
    uid = gid = groups = None
    try:
        if spec.group is not None:
            group = spec.group
            gid = grp.getgrnam(group).gr_gid if isinstance(group, str) else int(group)
        if spec.user is not None:
            user = spec.user
            if isinstance(user, str):
                entry = pwd.getpwnam(user)
            else:
                try:
                    entry = pwd.getpwuid(int(user))
                except KeyError:  # a bare uid with no passwd entry: its own group only
                    return int(user), gid, None if gid is None else [gid]
            uid = entry.pw_uid
            gid = entry.pw_gid if gid is None else gid
            groups = os.getgrouplist(entry.pw_name, gid)
    except KeyError:
        raise SpawnError(
            f"process {spec.name!r}: no such user or group ({spec.user!r}, {spec.group!r})"
        ) from None
    return uid, gid, groups


_found: dict[tuple[str, str | None], str] = {}  # (program, PATH) → where it was found


_env: tuple[dict[bytes, bytes], dict[str, str]] = ({}, {})


def _environ() -> dict[str, str]:
    """``os.environ`` as a dict, decoded again only when it changed: a copy of it decodes
    every name and value in Python (~40 us a start), a comparison of its bytes is C."""
    global _env
    data = getattr(os.environ, "_data", None)  # CPython's bytes behind os.environ
    if not isinstance(data, dict):
        return dict(os.environ)
    if data != _env[0]:
        _env = (dict(data), dict(os.environ))
    return _env[1]


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
    """RSS, CPU% and CPU seconds (its own, its live descendants' and those of the children
    it waited for), open files and threads of the process and its descendants (psutil)."""
    try:
        if owner._ps is None or owner._ps.pid != pid:
            owner._ps = psutil.Process(pid)
        procs = [owner._ps, *owner._ps.children(recursive=True)]
        rss = cpu = seconds = 0.0
        files = threads = 0
        for p in procs:
            with p.oneshot():
                rss += p.memory_info().rss
                cpu += p.cpu_percent(None)
                times = p.cpu_times()
                seconds += times.user + times.system
                threads += p.num_threads()
                files += p.num_fds()
        reaped = owner._ps.cpu_times()
        seconds += reaped.children_user + reaped.children_system
        return {
            "rss_bytes": int(rss),
            "cpu_percent": cpu,
            "cpu_seconds": seconds,
            "threads": threads,
            "open_files": files,
        }
    except psutil.Error:
        return {}
