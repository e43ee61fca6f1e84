"""The spawner program: a small single-threaded process that starts, reaps and, when its
host is gone or frozen past its deadline, kills every OS process of the host that runs it.

Owns the spawner's side of the protocol (the client is ``_spawner.py``) and its loop. It is
started by the client with its end of a Unix socketpair (``_channel``), sets a parent-death
signal (SIGTERM) and makes itself a child subreaper, so every orphaned descendant of a task
becomes its child. Being single-threaded, it starts most processes by ``posix_spawn`` (a
vfork: nothing of its address space is copied, and it is back once the child has exec'd),
its cwd and umask set to the child's meanwhile; such a child has no parent-death signal, so
the spawner's **guardian** (``_guardian``) kills what carries its tag if it is killed
outright. What ``posix_spawn`` cannot do (a user switch, a CPU limit, a cgroup, a
parent-death signal but SIGKILL) a forked launcher does (``_launcher``: setsid, cgroup,
limits, user, pipes, pdeathsig in the child; a close-on-exec pipe reports a failure before
exec), the fork done ahead of the request (after such a spawn or its exit: a restart is
likely). It never waits for a launcher's exec: a launch's report is read when its pipe says
so (or at once, when the launched process is found dead first), so many spawns are in
flight while each child execs on another core (``_launches``). It reaps on SIGCHLD, and:

- when a spawned process ends, kills what is left of it (its process group, its cgroup)
  while the zombie still holds its pid, journals ``= pid returncode`` and only then tells
  the client; adopted orphans that carry its tag are looked for (a scan of ``/proc``) in
  sweeps 10 ms, 100 ms and 1 s later, off the path of a restart; adopted orphans are
  reaped silently;
- signals a pid only while it is its own unreaped child (never a reused pid);
- on its parent's death (SIGTERM) or EOF: lets what runs end on its own for half a second,
  reaps what already ended (an exit 0 stays 0),
  kills everything else, reaps it all, journals every exit, exits 0;
- on a ``deadline`` passing unrenewed (CLOCK_BOOTTIME: it counts through a freeze): kills
  every *leased* process (a manager's tasks), says ``fenced``, refuses to start a leased
  one until the next ``deadline``; the others (a project's) run on.

Frames both ways: 4-byte little-endian length, then a ``marshal``-ed tuple (both ends run
the same interpreter). Requests: ``("spawn", seq, dict)``, ``("signal", pid, sig, group)``,
``("forget", record_dir, pid)``, ``("deadline", seconds | None)``. Replies: ``("spawned",
seq, pid, created)`` with the pipes' read ends (SCM_RIGHTS), ``("failed", seq, stage, errno,
text)``, ``("exit", pid, returncode)``, ``("fenced",)``. Only light modules are imported
(start-up time counts); see ``_spawner.py`` for how it is started. Cgroups are
``_cgroups``'; what ``/proc`` says of a process, ``_procfs``'.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

from . import _direct as direct
from ._cgroups import Cgroups, kill_cgroup, make_base
from ._channel import Channel
from ._guardian import Guardian
from ._journal import Journal
from ._launcher import prctl
from ._launches import Launch, Launches
from ._procfs import children_of, kill, pgid, tag, tag_of

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_SHUTDOWN_PATIENCE = 30.0  # seconds to wait for killed processes to be reaped
_GRACE = 0.5  # seconds what runs may end on its own once the host is gone
_SETTLE = 2.0  # seconds a launch has to exec once the spawner closes or is fenced
_SWEEPS = (0.01, 0.1, 1.0)  # seconds after a kill to look for orphans again


def _boottime() -> float:
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _json_str(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"')
    if any(c < " " for c in text):
        text = "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in text)
    return f'"{text}"'


class _Child:
    __slots__ = ("cgroup", "forked", "journal", "kill_group", "killed", "leased", "pid", "tag")

    def __init__(
        self,
        pid: int,
        tag: str,
        kill_group: bool,
        journal: Journal | None,
        cgroup: str | None,
        leased: bool,
        forked: bool,
    ) -> None:
        self.pid, self.tag, self.kill_group = pid, tag, kill_group
        self.journal, self.cgroup = journal, cgroup
        self.leased = leased  # killed when the deadline passes
        self.forked = forked  # by a launcher (not posix_spawn): its restart wants one
        self.killed = False  # by the spawner itself: its host died, or its deadline passed


class Spawner:
    def __init__(self, fd: int, cgroups: bool) -> None:
        self.me = os.getpid()
        self.wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        for sig in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)  # the wakeup fd says which arrived
        self.devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        base = make_base() if cgroups else None
        self.cgroups = Cgroups(base) if base is not None else None
        self.poll = select.epoll()
        self.poll.register(self.wake_r, select.EPOLLIN)
        self.channel = Channel(fd, self.poll)
        self.send = self.channel.send
        self.children: dict[int, _Child] = {}
        self.tagged: dict[str, _Child] = {}  # the same, by tag
        self.spawned = 0  # spawns so far: a tag's number
        self.home = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self.guardian: Guardian | None = None  # forked with the first spawn that needs it
        self.launches = Launches(self.poll, self.devnull, self.me)
        self.journals: dict[str, Journal] = {}
        self.loose: set[str] = set()  # tags of ended kill_group=False tasks: spared
        # Without a cgroup, a killed process's descendants are adopted with no signal to
        # say so: look for them again a little later (monotonic times, in order).
        self.sweeps: list[float] = []
        self.deadline: float | None = None
        self.fenced = False
        self.closing = False  # everything still running is to die
        self.running = True

    # -- the loop ----------------------------------------------------------------------------

    def serve(self) -> None:
        ctrl = self.channel.fileno()
        while self.running and not self.channel.lost:
            waits = [] if self.deadline is None else [self.deadline - _boottime()]
            if self.sweeps:
                waits.append(self.sweeps[0] - time.monotonic())
            if self.launches.retire_at is not None:
                waits.append(self.launches.retire_at - time.monotonic())
            timeout = max(0.0, min(waits)) if waits else -1.0
            for fd, events in self.poll.poll(timeout):
                if fd == self.wake_r:
                    self._signals()
                elif fd == ctrl:
                    if events & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                        self._receive()
                    if events & select.EPOLLOUT:
                        self.channel.flush()
                elif (launch := self.launches.by_fd.get(fd)) is not None:
                    self._reported(launch)
            if self.deadline is not None and _boottime() >= self.deadline:
                self.fence()
            if self.sweeps and self.sweeps[0] <= time.monotonic():
                del self.sweeps[0]
                self._orphans()
            if self.running:  # none forked ahead once closing
                self.launches.warm()
        self.shutdown()

    def _signals(self) -> None:
        try:
            got = os.read(self.wake_r, 512)
        except BlockingIOError:
            return
        if signal.SIGTERM in got:  # the parent died (or we are told to go): close down
            self.running = False
        if signal.SIGCHLD in got:
            self.reap()

    def _receive(self) -> None:
        for msg in self.channel.receive():
            self._handle(msg)
        if self.channel.lost:
            self.running = False

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "spawn":
            self.spawn(msg[1], msg[2])
        elif kind == "signal":
            _, pid, sig, group = msg
            if pid in self.children:  # unreaped: the pid (and group) cannot be another's
                kill(pid, sig, group)
        elif kind == "forget":
            journal = self.journals.get(msg[1])
            if journal is not None:
                journal.forget(msg[2])
        elif kind == "deadline":
            seconds = msg[1]
            self.fenced = False
            if seconds is None:
                self.deadline = None
            else:
                self.deadline = _boottime() + seconds - max(0.2, 0.05 * seconds)

    # -- spawning ----------------------------------------------------------------------------

    def spawn(self, seq: int, req: dict[str, Any]) -> None:
        if (self.fenced and req["leased"]) or not self.running:
            why = "fenced: its deadline passed" if self.fenced else "closing"
            self.send(("failed", seq, "spawner", 0, f"the spawner is {why}"))
            return
        journal = None
        if req["record_dir"] is not None:  # before the exec: nothing runs unjournaled
            journal = self.journals.get(req["record_dir"])
            if journal is None:
                try:
                    journal = self.journals[req["record_dir"]] = Journal(req["record_dir"])
                except OSError as exc:
                    text = f"cannot keep its journal in {req['record_dir']}: {exc.strerror}"
                    self.send(("failed", seq, "journal", exc.errno or 0, text))
                    return
        self.spawned += 1
        dies = req["pdeathsig"] == signal.SIGKILL
        req["tag"] = tag(req["tag"], self.me, self.spawned, dies)
        if dies and self.guardian is None:  # forked launches' setsid'd ones need it too
            try:
                self.guardian = Guardian(self.me, self.devnull)
            except OSError as exc:
                self.send(("failed", seq, "fork", exc.errno or 0, exc.strerror or str(exc)))
                return
        if self.cgroups is None and direct.plain(req):
            self._spawn(seq, req, journal)
            return
        cgroup = self.cgroups.take() if self.cgroups is not None else None
        try:
            self.launches.send(seq, req, journal, cgroup)
        except OSError as exc:
            if cgroup is not None and self.cgroups is not None:
                self.cgroups.give_back(cgroup)
            self.send(("failed", seq, "fork", exc.errno or 0, exc.strerror or str(exc)))

    def _spawn(self, seq: int, req: dict[str, Any], journal: Journal | None) -> None:
        try:
            pid, start, fds = direct.start(req, self.devnull, self.home)
        except direct.Failed as failed:
            self.send(("failed", seq, failed.stage, failed.errno, failed.text))
            return
        self._started(seq, req, journal, None, pid, start, fds, forked=False)

    def _reported(self, launch: Launch, wait: bool = False) -> None:
        """Its report pipe is readable (or its process is dead, or ``wait``): a child, or
        a failure told, once its report is whole."""
        failure = self.launches.report(launch, wait)
        if failure is None:
            return  # more to come: its exec is under way
        launcher = launch.launcher
        req, seq, journal, cgroup = launch.req, launch.seq, launch.journal, launch.cgroup
        pid, start = launcher.pid, launcher.created
        fds = [launcher.out_r, launcher.err_r]
        launcher.out_r = launcher.err_r = -1
        if req["merge"]:
            os.close(fds.pop())  # its stderr is its stdout's pipe
        if failure:
            os.waitpid(pid, 0)  # it exits as it reports
            if cgroup is not None and self.cgroups is not None:
                self.cgroups.give_back(cgroup)
            for fd in fds:
                os.close(fd)
            stage, err, text = failure.decode("utf-8", "replace").split("\0", 2)
            self.send(("failed", seq, stage, int(err), text))
            return
        self._started(seq, req, journal, cgroup, pid, start, fds, forked=True)
        self.launches.wanted = True  # the next spawn's (or its restart's), forked as it runs

    def _started(
        self,
        seq: int,
        req: dict[str, Any],
        journal: Journal | None,
        cgroup: str | None,
        pid: int,
        start: float,
        fds: list[int],
        forked: bool,
    ) -> None:
        """It runs: journal it, keep it, tell the host (with its output pipes)."""
        if journal is not None:
            where = f', "cgroup": {_json_str(cgroup)}' if cgroup else ""
            record = (
                f'+ {{"name": {_json_str(req["name"])}, "pid": {pid}, "pgid": {pid}, '
                f'"created": {start!r}{where}}}\n'
            )
            journal.started(pid, record.encode())
        child = _Child(pid, req["tag"], req["kill_group"], journal, cgroup, req["leased"], forked)
        self.children[pid] = self.tagged[child.tag] = child
        self.send(("spawned", seq, pid, start), fds)

    def _settle(self) -> None:
        """Every launch's report (closing or fenced: what runs must be known); one not
        exec'd within ``_SETTLE`` seconds (its launcher frozen, say) is killed first."""
        give_up = time.monotonic() + _SETTLE
        for launch in list(self.launches.by_fd.values()):
            fd = launch.launcher.report_r
            while fd in self.launches.by_fd and (left := give_up - time.monotonic()) > 0:
                select.select([fd], [], [], left)
                self._reported(launch)
            if fd in self.launches.by_fd:  # our unreaped child: the pid is no one else's
                kill(launch.launcher.pid, signal.SIGKILL)
                self._reported(launch, wait=True)

    # -- reaping and killing -----------------------------------------------------------------

    def reap(self) -> None:
        ended = False
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                break
            if info is None:
                break
            pid = info.si_pid
            self.launches.died(pid)  # the launcher ahead, if it died waiting
            launch = self.launches.by_pid.get(pid)
            if launch is not None:  # ended before its report was read: read it now
                self._reported(launch)
                if pid not in self.children:  # it failed before exec: reaped, told
                    continue
            child = self.children.pop(pid, None)
            if child is not None:
                del self.tagged[child.tag]
            elif self.guardian is not None and pid == self.guardian.pid:
                self.guardian.close()  # killed: the next spawn that needs one forks another
                self.guardian = None
            if child is not None and (child.kill_group or self.closing):
                self._kill_remains(child)  # before the reap: the zombie holds pid and group
            done = os.waitid(os.P_PID, pid, os.WEXITED)
            ended = True
            if child is None:  # an adopted orphan: reaped, nothing to say
                continue
            assert done is not None
            rc = done.si_status if done.si_code == os.CLD_EXITED else -done.si_status
            if child.journal is not None:
                # durable before anyone is told; "killed" only if our SIGKILL ended it (one
                # that exited on its own meanwhile ended as it says)
                killed = child.killed and rc == -signal.SIGKILL
                child.journal.ended(pid, rc, killed)
            if child.cgroup is not None and self.cgroups is not None:
                self.cgroups.ended(child.cgroup)  # freed below once empty
            if not child.kill_group:
                self.loose.add(child.tag)
            self.send(("exit", pid, rc))
            if child.forked:
                self.launches.wanted = True  # its restart's launcher
        if ended:  # what it left is looked for off the restart's path (a /proc scan)
            self._sweep_later()
        if self.cgroups is not None:
            self.cgroups.collect()

    def _kill_remains(self, child: _Child) -> None:
        kill(child.pid, signal.SIGKILL, group=True)
        if child.cgroup is not None:
            kill_cgroup(child.cgroup)
        else:
            self._sweep_later()

    def _sweep_later(self) -> None:
        now = time.monotonic()
        for delay in _SWEEPS:
            if not any(abs(t - now - delay) < delay / 2 for t in self.sweeps):
                self.sweeps.append(now + delay)
        self.sweeps.sort()

    def _orphans(self) -> None:
        """Kill adopted orphans whose task has ended (all of them when closing or fenced)."""
        seen: set[str] = set()
        ahead = self.launches.ahead
        launcher = ahead.pid if ahead is not None else None
        guardian = self.guardian.pid if self.guardian is not None else None
        for pid in children_of(self.me):
            if pid in self.children or pid == guardian or (pid == launcher and not self.closing):
                continue
            if pid in self.launches.by_pid:  # its exec not reported yet: not an orphan
                continue
            found = tag_of(pid)
            if not self.closing:
                if found is None:
                    continue  # whose it is cannot be told; it dies when the spawner closes
                if found in self.tagged or found in self.loose:
                    seen.add(found)
                    continue
            kill(pid)
            if pgid(pid) == pid:
                kill(pid, signal.SIGKILL, group=True)
        self.loose &= seen

    def _kill_everything(self) -> None:
        self._settle()
        self.reap()  # what ended already is journaled with its own status, not as killed
        for child in self.children.values():
            self._kill_child(child)
        self.loose.clear()
        closing, self.closing = self.closing, True
        self._orphans()
        self.closing = closing
        self._sweep_later()

    def _kill_child(self, child: _Child) -> None:
        child.killed = True
        kill(child.pid, signal.SIGKILL, group=True)
        kill(child.pid)
        if child.cgroup is not None:
            kill_cgroup(child.cgroup)

    def fence(self) -> None:
        """The deadline passed: kill every leased process (what it leaves dies with it at
        its reap), say so, start none until renewed. Others (a project's) run on."""
        self.deadline = None
        self.fenced = True
        self._settle()
        self.reap()  # what ended already is journaled with its own status, not as killed
        for child in self.children.values():
            if child.leased:
                self._kill_child(child)
        self._sweep_later()
        self.send(("fenced",))

    def _let_finish(self) -> None:
        """Give what runs ``_GRACE`` seconds to end on its own before it is killed: a
        task about to exit when its host died (its work done, its value written) then
        ends as it would have, and is journaled so, not as killed. Nobody runs a task
        again before this spawner is gone (a recoverer on this host waits for its
        journals' locks; one elsewhere for the host's lease), so the grace costs time,
        never a duplicate."""
        give_up = time.monotonic() + _GRACE
        self._settle()
        self.reap()
        while self.children and (left := give_up - time.monotonic()) > 0:
            select.select([self.wake_r], [], [], left)
            with contextlib.suppress(BlockingIOError):
                os.read(self.wake_r, 512)
            self.reap()

    def shutdown(self) -> None:
        """Kill everything, reap it all, journal every exit, release the journals."""
        # Going already: a second SIGTERM (a parent-death signal comes again each time the
        # thread it was reparented to exits) must not cut this short, nor the exit after it.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.running = False  # no launcher is forked from here on
        self.launches.retire()
        self._let_finish()
        self._kill_everything()
        if self.guardian is not None:
            self.guardian.close()  # everything is killed: it exits (reaped below)
        self.closing = True
        give_up = time.monotonic() + _SHUTDOWN_PATIENCE
        while time.monotonic() < give_up:
            self.reap()
            self._orphans()  # adopted since, with no signal to say so
            try:
                if os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    continue
            except ChildProcessError:
                break  # nobody left
            self.poll.poll(0.05)
            with contextlib.suppress(BlockingIOError):
                os.read(self.wake_r, 512)
        for journal in self.journals.values():
            journal.close()
        if self.cgroups is not None:
            self.cgroups.remove([c.cgroup for c in self.children.values() if c.cgroup])
        self.channel.drain()


def main(argv: list[str]) -> int:
    fd, parent, cgroups = int(argv[0]), int(argv[1]), argv[2] == "1"
    prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above: nobody to serve
        return 0
    prctl(_PR_SET_CHILD_SUBREAPER, 1)
    Spawner(fd, cgroups).serve()
    return 0
