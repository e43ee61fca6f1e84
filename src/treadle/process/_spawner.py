"""The host's side of the spawner: one spawner process per event loop, started lazily.

Owns :class:`Spawner` (the handle a loop keeps), :class:`Child` (one spawned process as the
host sees it) and :func:`spawner`. Every :class:`~treadle.process.Process` spawns through
it; the spawner program (``_spawnerd.py``) forks, reaps, journals and kills, so that nothing
the host starts outlives it, however it ends (see that module for the protocol).

The spawner is started on first use, started again if it died, and closed when its event
loop shuts down (``asyncio.run`` and ``asyncio.Runner`` close async generators: one of them
holds it), at interpreter exit, or by :meth:`Spawner.aclose`. A manager arms the watchdog
with :meth:`Spawner.deadline` and learns of a fence from :attr:`Spawner.fenced`.
"""

from __future__ import annotations

import array
import asyncio
import atexit
import contextlib
import marshal
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

from .._exceptions import SpawnError
from ._cgroups import cgroup_base
from ._channel import frames
from ._procfs import kill_started
from ._records import kill_cgroups

__all__ = ["Child", "Spawner", "spawner"]

_PKG = os.path.dirname(os.path.abspath(__file__))
# Run the spawner program without importing treadle (whose import costs far more than the
# program itself): bare package modules whose __path__ lets its relative imports work.
_BOOT = f"""import sys
for n, p in (("treadle", {os.path.dirname(_PKG)!r}), ("treadle.process", {_PKG!r})):
    m = type(sys)(n); m.__path__ = [p]; sys.modules[n] = m
from treadle.process._spawnerd import main
sys.exit(main(sys.argv[1:]))
"""
_PYTHON = (sys.executable, "-E", "-s", "-S", "-c", _BOOT)  # no site, no PYTHON* variables
_CLOSE_PATIENCE = 40.0  # seconds: the spawner's own (30 s) to reap what it killed, and some
_ORPHAN_PATIENCE = 1.0  # seconds to wait for a dead spawner's processes to die of SIGKILL


class Child:
    """One process the spawner started: its pid, output pipes, and its exit to come."""

    def __init__(
        self, conn: _Conn, pid: int, created: float, fds: list[int], req: dict[str, Any]
    ) -> None:
        self._conn = conn
        self.pid = pid
        self.created = created  # as psutil's create_time(): a pid-reuse check
        self.stdout = fds[0]  # read ends, ours to close (merged output: stderr is None)
        self.stderr = fds[1] if len(fds) > 1 else None
        self.dies = req["pdeathsig"] == signal.SIGKILL  # with the spawner, however it ends
        self.kill_group = bool(req["kill_group"])
        self.exited: asyncio.Future[int] = conn.loop.create_future()  # the returncode
        self._waiters: list[asyncio.Future[int]] = []

    def wait(self) -> asyncio.Future[int]:
        """A future of its returncode that its awaiter may cancel (``exited`` stays): as
        ``shield(exited)``, one turn of the loop sooner."""
        if self.exited.done():
            return self.exited
        waiter = self._conn.loop.create_future()
        self._waiters.append(waiter)
        return waiter

    def ended(self, returncode: int) -> None:
        if not self.exited.done():
            self.exited.set_result(returncode)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(returncode)

    def signal(self, sig: int, group: bool) -> None:
        """Signal it (or its process group) unless it has been reaped: never a reused pid."""
        if not self.exited.done():
            self._conn.send(("signal", self.pid, int(sig), group))

    def forget(self, record_dir: str) -> None:
        """Its exit is no longer needed in ``record_dir``'s journal."""
        self._conn.send(("forget", record_dir, self.pid))


class _Conn:
    """One spawner process and its control socket."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_fenced: Any) -> None:
        self.loop = loop
        self._on_fenced = on_fenced
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        # A cgroup v2 per task (TREADLE_CGROUPS=1, where usable: root and a cgroup2 mount)
        # holds even a descendant that left its session and cleared its environment; it
        # costs a migration per start (~1.4 ms here, a fifth of a manager's throughput),
        # so the default is the tag every descendant inherits and the subreaper that
        # adopts what a task leaves: the chaos suite holds with either.
        cgroups = "1" if os.environ.get("TREADLE_CGROUPS") == "1" else "0"
        with theirs:
            self.proc = subprocess.Popen(
                [*_PYTHON, str(theirs.fileno()), str(os.getpid()), cgroups],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # no terminal's Ctrl-C: the host decides
            )
        self.sock = ours
        ours.setblocking(False)
        self._rbuf = bytearray()
        self._wbuf = bytearray()
        self._fds: deque[int] = deque()
        self._seq = 0
        self._spawns: dict[int, tuple[asyncio.Future[Child], dict[str, Any]]] = {}
        self._children: dict[int, Child] = {}
        self.done: asyncio.Future[None] = loop.create_future()
        loop.add_reader(ours.fileno(), self._readable)

    @property
    def alive(self) -> bool:
        return not self.done.done()

    async def spawn(self, req: dict[str, Any]) -> Child:
        self._seq += 1
        fut: asyncio.Future[Child] = self.loop.create_future()
        self._spawns[self._seq] = (fut, req)
        self.send(("spawn", self._seq, req))
        return await fut

    def send(self, msg: tuple[Any, ...]) -> None:
        if not self.alive:
            return
        data = marshal.dumps(msg)
        frame = len(data).to_bytes(4, "little") + data
        if self._wbuf:
            self._wbuf += frame
            return
        try:
            n = self.sock.send(frame)
        except BlockingIOError:
            n = 0
        except OSError:
            return  # it died: the reader sees EOF and says so
        if n < len(frame):
            self._wbuf += frame[n:]
            self.loop.add_writer(self.sock.fileno(), self._writable)

    def _writable(self) -> None:
        try:
            n = self.sock.send(self._wbuf)
        except BlockingIOError:
            return
        except OSError:
            n = len(self._wbuf)
        del self._wbuf[:n]
        if not self._wbuf:
            self.loop.remove_writer(self.sock.fileno())

    def _readable(self) -> None:
        eof = False
        while True:
            try:
                data, anc, _flags, _ = self.sock.recvmsg(
                    1 << 16, socket.CMSG_SPACE(16 * 4), socket.MSG_CMSG_CLOEXEC
                )
            except BlockingIOError:
                break
            except OSError:
                data, anc = b"", []
            for level, kind, payload in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
                    self._fds.extend(fds)
            if not data:
                eof = True
                break
            self._rbuf += data
        for msg in frames(self._rbuf):
            self._handle(msg)
        if eof:
            self._lost()

    def _handle(self, msg: tuple[Any, ...]) -> None:
        kind = msg[0]
        if kind == "exit":
            child = self._children.pop(msg[1], None)
            if child is not None:
                child.ended(msg[2])
        elif kind == "spawned":
            _, seq, pid, created = msg
            fut, req = self._spawns.pop(seq)
            fds = [self._fds.popleft() for _ in range(1 if req["merge"] else 2)]
            child = self._children[pid] = Child(self, pid, created, fds, req)
            if fut.done():  # the spawner was cancelled meanwhile: nobody will run it
                child.signal(signal.SIGKILL, group=True)
                if req["record_dir"] is not None:
                    child.forget(req["record_dir"])
                for fd in fds:
                    os.close(fd)
            else:
                fut.set_result(child)
        elif kind == "failed":
            _, seq, stage, err, text = msg
            fut, req = self._spawns.pop(seq)
            if not fut.done():
                fut.set_exception(SpawnError(_describe(req, stage, err, text)))
        elif kind == "fenced":
            self._on_fenced()

    def _lost(self) -> None:
        """EOF: the spawner exited (closing, or it died); reap it, end what waits on it."""
        if self.done.done():
            return
        self.loop.remove_reader(self.sock.fileno())
        if self._wbuf:
            self.loop.remove_writer(self.sock.fileno())
        self.sock.close()
        _reap(self.proc)
        base = cgroup_base(self.proc.pid)
        if base is not None and os.path.isdir(base):
            kill_cgroups(base)  # a spawner killed outright leaves them (one closing, not)
        for fut, req in self._spawns.values():
            if not fut.done():
                fut.set_exception(SpawnError(f"process {req['name']!r}: the spawner died"))
        # What was to die with it does, before anyone is told (or starts it again): its
        # guardian kills it too, but a moment later.
        dying = [c for c in self._children.values() if c.dies and not c.exited.done()]
        kill_started([(c.pid, c.created, c.kill_group) for c in dying], _ORPHAN_PATIENCE)
        for child in self._children.values():
            child.ended(-signal.SIGKILL)
        self._spawns.clear()
        self._children.clear()
        while self._fds:
            os.close(self._fds.popleft())
        self.done.set_result(None)

    async def aclose(self) -> None:
        """EOF to the spawner: it kills and reaps what still runs, tells, and exits."""
        if not self.alive:
            return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        try:
            async with asyncio.timeout(_CLOSE_PATIENCE):
                await asyncio.shield(self.done)
        except TimeoutError:
            self.proc.kill()
            self._lost()

    def close_now(self) -> None:
        """The same, blocking (at interpreter exit, the loop gone)."""
        if not self.alive:
            return
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)
        _reap(self.proc, _CLOSE_PATIENCE)
        self.sock.close()


def _reap(proc: subprocess.Popen[bytes], patience: float = 5.0) -> None:
    try:
        proc.wait(timeout=patience)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _describe(req: dict[str, Any], stage: str, err: int, text: str) -> str:
    name = req["name"]
    reason = str(OSError(err, os.strerror(err))) if err else text
    if stage == "exec":
        return f"process {name!r}: cannot start {req['exe']!r}: {reason}"
    if stage == "cwd":
        return f"process {name!r}: cannot change to cwd {req['cwd']!r}: {reason}"
    if stage == "cpu_limit":
        return f"process {name!r}: cpu_limit {req['cpu']} cannot be set: {text}"
    if stage == "user":
        return f"process {name!r}: cannot switch user or group: {reason}"
    if stage in ("spawner", "journal"):
        return f"process {name!r}: {text}"
    return f"process {name!r}: cannot start {req['exe']!r} ({stage}): {reason}"


class Spawner:
    """A loop's spawner: :meth:`spawn`, the watchdog (:meth:`deadline`, :attr:`fenced`)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.fenced = asyncio.Event()  # set when the deadline passed and all was killed
        self._conn: _Conn | None = None
        self._until: float | None = None  # the deadline, CLOCK_BOOTTIME
        self._keeper: AsyncGenerator[None, None] | None = None
        self.closed = False

    def _connect(self) -> _Conn:
        if self.closed:
            raise SpawnError("the spawner is closed")
        conn = self._conn
        if conn is None or not conn.alive:
            try:
                conn = self._conn = _Conn(self.loop, self.fenced.set)
            except OSError as exc:
                raise SpawnError(f"cannot start the spawner: {exc}") from exc
            if self._until is not None:  # a new spawner keeps the old one's deadline
                left = self._until - time.clock_gettime(time.CLOCK_BOOTTIME)
                conn.send(("deadline", max(0.0, left)))
        return conn

    async def spawn(self, req: dict[str, Any]) -> Child:
        """Start a process (``req`` as ``Process`` builds it); SpawnError says why not."""
        return await self._connect().spawn(req)

    def deadline(self, seconds: float | None) -> None:
        """Arm (or renew) the watchdog: unless renewed within ``seconds``, less a margin of
        max(0.2 s, 5%), the spawner kills every process it runs, sets :attr:`fenced` and
        refuses to spawn until the next call. It counts on CLOCK_BOOTTIME, so a host frozen
        (SIGSTOP) or suspended past it is fenced all the same. Pass the time left on the
        lease, measured just before the call. None disarms it (the default)."""
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"deadline: must be a finite number of seconds >= 0, got {seconds}")
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        self._until = None if seconds is None else now + seconds
        self.fenced.clear()
        self._connect().send(("deadline", seconds))

    async def aclose(self) -> None:
        """Stop the spawner: what still runs is killed, reaped and journaled."""
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            await keeper.aclose()  # its ``finally`` is the one way out: _shutdown()
        else:
            await self._shutdown()

    async def _shutdown(self) -> None:
        self._keeper = None
        self.closed = True
        if _spawners.get(self.loop) is self:
            del _spawners[self.loop]
        if self._conn is not None:
            await self._conn.aclose()

    @property
    def pid(self) -> int | None:
        """The spawner process's pid while it runs."""
        conn = self._conn
        return conn.proc.pid if conn is not None and conn.alive else None

    def __repr__(self) -> str:
        return f"<Spawner pid={self.pid} closed={self.closed}>"


_spawners: dict[asyncio.AbstractEventLoop, Spawner] = {}


async def spawner() -> Spawner:
    """The running loop's spawner (its process starts on first use)."""
    loop = asyncio.get_running_loop()
    found = _spawners.get(loop)
    if found is None:
        found = _spawners[loop] = Spawner(loop)
        keeper = _closed_with_the_loop(found)
        await keeper.__anext__()  # now the loop's to finalize (shutdown_asyncgens)
        found._keeper = keeper
    return found


async def _closed_with_the_loop(spawner: Spawner) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        if not spawner.closed:  # closed at exit already (_close_all): nothing to await
            await spawner._shutdown()


@atexit.register
def _close_all() -> None:
    """At exit, for loops that were never shut down: close their spawners, blocking."""
    for found in list(_spawners.values()):
        found.closed = True
        if found._conn is not None:
            found._conn.close_now()
        keeper, found._keeper = found._keeper, None
        if keeper is not None:  # finish it here, or its finalizer would need the loop
            with contextlib.suppress(StopIteration, RuntimeError):
                keeper.aclose().send(None)
    _spawners.clear()
