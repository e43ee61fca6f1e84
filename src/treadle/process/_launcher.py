"""Launching a spawned process: the forked child's side, and the launcher that forks it
ahead of its request.

Owns :class:`Launcher` and :func:`fork_launcher`. A fork copies the spawner's page tables
and every page either side then writes, and exec tears the copy down: on a virtual
machine that is most of a start. So the spawner forks a launcher *before* it is needed
(after an exit, when a restart is likely), which makes itself a session leader, resets
what exec would not and sets the parent-death signal, then waits for its request: a
``marshal``-ed ``(request, cgroup)`` on a pipe, read to EOF. Told it, the launcher joins
its cgroup, sets limits, cwd, umask and user, takes its output pipes as 1 and 2, and
execs. Its close-on-exec report pipe says how that went, in one write just before exec:
its start time (``/proc/self/stat``'s clock ticks, read while it waited, so the spawner
reads no ``/proc`` file per spawn) and a newline, then, if it failed before exec, ``stage\\0
errno\\0text``; EOF after the start time alone: it exec'd. The spawner does not wait for
that report: it reads it when it comes (:meth:`Launcher.read`). Only raw C calls run in
the child where it can be helped: each page it writes is one more copy.

It does not own what happens after exec (reaping, journals, killing: ``_spawnerd``).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # the C calls, not the enum wrappers
import ctypes
import marshal
import os
import resource
import signal
from typing import Any, NoReturn

__all__ = ["TAG", "Launcher", "created", "fork_launcher", "prctl"]

TAG = "TREADLE_OWNER"  # in every spawned process's environment (its form: _procfs)
_PR_SET_PDEATHSIG = 1
_MAX_FD = 2**31 - 1
_RESET = (signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ)  # to SIG_DFL in the child
_TICK = os.sysconf("SC_CLK_TCK")
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = (
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
)


def prctl(option: int, value: int) -> None:
    if _libc.prctl(option, value, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _boot_time() -> float:
    with open("/proc/stat", "rb") as f:
        for line in f:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    return 0.0


_BOOT = _boot_time()


def created(pid: int) -> float:
    """The process's start time as psutil's ``create_time()`` gives it (pid-reuse check)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2 :].split()[19]) / _TICK + _BOOT


class Launcher:
    """A forked child waiting for its request; the spawner's ends of its pipes."""

    __slots__ = ("created", "err_r", "out_r", "pid", "report", "report_r", "req_w")

    def __init__(self, pid: int, req_w: int, out_r: int, err_r: int, report_r: int) -> None:
        self.pid, self.req_w, self.report_r = pid, req_w, report_r
        self.out_r, self.err_r = out_r, err_r  # handed to the host, or closed
        self.report = b""  # what its report pipe said so far
        self.created = 0.0  # its start as psutil's create_time(), once its report is in

    def send(self, req: dict[str, Any], cgroup: str | None) -> bool:
        """Send the request (the report comes later: :meth:`read`); False if the
        launcher was dead already (it never read the request)."""
        data = marshal.dumps((req, cgroup))
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self.req_w, view) :]
        except BrokenPipeError:
            return False
        finally:
            os.close(self.req_w)
            self.req_w = -1
        os.set_blocking(self.report_r, False)
        return True

    def read(self) -> bytes | None:
        """Read what its report pipe holds: None while it has not exec'd or failed yet;
        at EOF, the report: b"" if it exec'd, else ``stage\\0errno\\0text`` (the pipe is
        left open: the caller unregisters it first). Read once it is dead, it never
        waits."""
        while True:
            try:
                chunk = os.read(self.report_r, 4096)
            except BlockingIOError:
                return None
            if not chunk:
                break
            self.report += chunk
        born, newline, failure = self.report.partition(b"\n")
        if newline and born.isdigit():
            self.created = int(born) / _TICK + _BOOT
            return failure
        # Killed before it could say (as a launcher waiting, or between its request and
        # exec): its exit tells the rest. Its start is still in /proc until it is reaped.
        try:
            self.created = created(self.pid)
        except OSError:
            self.created = 0.0
        return self.report

    def close(self) -> None:
        """Close the spawner's ends (the output pipes' read ends too, if still held)."""
        for fd in (self.req_w, self.report_r, self.out_r, self.err_r):
            if fd >= 0:
                os.close(fd)
        self.req_w = self.report_r = self.out_r = self.err_r = -1


def fork_launcher(devnull: int, spawner: int) -> Launcher:
    """Fork a launcher (OSError if the fork fails)."""
    req_r, req_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    report_r, report_w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError:
        for fd in (req_r, req_w, out_r, out_w, err_r, err_w, report_r, report_w):
            os.close(fd)
        raise
    if pid == 0:
        _launch(req_r, out_w, err_w, report_w, devnull, spawner)
    for fd in (req_r, out_w, err_w, report_w):
        os.close(fd)
    return Launcher(pid, req_w, out_r, err_r, report_r)


def _launch(
    req_r: int, out_w: int, err_w: int, report_w: int, devnull: int, spawner: int
) -> NoReturn:
    """In the forked child: get ready, wait for the request, set it up and exec."""
    stage = "setup"
    born = b""
    try:
        # Only what exec would not undo (ignored signals) or a signal before exec could
        # break (a SIGTERM told to the spawner through its wakeup fd, or lost in its
        # Python handler): raw C calls, as few pages written as can be.
        _signal.set_wakeup_fd(-1)
        for sig in _RESET:
            _signal.signal(sig, _signal.SIG_DFL)
        os.setsid()
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # waiting, it dies with the spawner
        if os.getppid() != spawner:
            os._exit(128 + signal.SIGKILL)
        # The spawner's other descriptors (its ends of these pipes, its socket) are not
        # held while it waits: EOF on the request, and on the spawner's socket, must come.
        keep = sorted((req_r, out_w, err_w, report_w, devnull))
        for low, high in zip([2, *keep], [*keep, _MAX_FD], strict=True):
            if high - low > 1:
                os.closerange(low + 1, high)
        fd = os.open("/proc/self/stat", os.O_RDONLY)
        stat = os.read(fd, 1024)
        os.close(fd)
        born = stat[stat.rindex(b")") + 2 :].split()[19] + b"\n"  # told at exec
        data = b""
        while chunk := os.read(req_r, 1 << 16):
            data += chunk
        if not data:  # retired unused
            os._exit(0)
        req, cgroup = marshal.loads(data)
        if cgroup is not None:
            try:
                fd = os.open(f"{cgroup}/cgroup.procs", os.O_WRONLY)
                os.write(fd, b"0")
                os.close(fd)
            except OSError:
                pass  # the tag and the subreaper still find its descendants
        stage = "cpu_limit"
        if req["cpu"] is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (req["cpu"], req["cpu"] + 5))
        stage = "cwd"
        if req["cwd"] is not None:
            os.chdir(req["cwd"])
        if req["umask"] >= 0:
            os.umask(req["umask"])
        stage = "user"
        switched = req["uid"] is not None or req["gid"] is not None
        if req["groups"] is not None:
            os.setgroups(req["groups"])
        if req["gid"] is not None:
            os.setresgid(req["gid"], req["gid"], req["gid"])
        if req["uid"] is not None:
            os.setresuid(req["uid"], req["uid"], req["uid"])
        stage = "parent_death_signal"  # again after a user switch, which clears it
        if switched or req["pdeathsig"] != signal.SIGKILL:
            prctl(_PR_SET_PDEATHSIG, req["pdeathsig"])
            if req["pdeathsig"] and os.getppid() != spawner:
                os._exit(128 + signal.SIGKILL)
        stage = "output"
        os.dup2(devnull, 0)
        os.dup2(out_w, 1)
        os.dup2(out_w if req["merge"] else err_w, 2)
        os.closerange(3, report_w)
        os.closerange(report_w + 1, _MAX_FD)
        env = req["env"]
        env[TAG] = req["tag"]
        stage = "exec"
        os.write(report_w, born)
        born = b""
        os.execve(req["exe"], req["argv"], env)
    except BaseException as exc:  # noqa: BLE001 (reported to the spawner, then _exit)
        err = getattr(exc, "errno", None) or 0
        text = str(exc) or type(exc).__name__
        os.write(report_w, born + f"{stage}\0{err}\0{text}".encode("utf-8", "replace"))
    finally:
        os._exit(255)
