"""The spawner with real processes: descendants never outlive their task or host (setsid'd
ones included), every exit is journaled before anyone is told (an exit 0 survives its host's
SIGKILL), the watchdog fences a frozen host. Each test runs with cgroup v2 and without
(the tag and the subreaper alone). Hosts are scripts started here; where a host is killed,
this test process is a child subreaper for the test, so whatever is orphaned becomes its
child and the suite's guard sees it."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import random
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from treadle import ProcessExited, SpawnError
from treadle.process import Leftovers, Process, ProcessSpec, reap_leftovers, spawner
from treadle.process._guardian import NAME
from treadle.process._spawner import Spawner

from .test_process import _alive, _until

PY = sys.executable
ROOT = str(Path(__file__).resolve().parents[2])
_PR_SET_CHILD_SUBREAPER = 36


def _cgroups_usable() -> bool:
    return os.geteuid() == 0 and any(
        line.split(" - ")[1].startswith("cgroup2 ")
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if " - " in line
    )


@pytest.fixture(params=["cgroup", "tag"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "cgroup" and not _cgroups_usable():
        pytest.skip("cgroup v2 needs root and a cgroup2 mount")
    monkeypatch.setenv("TREADLE_CGROUPS", "1" if request.param == "cgroup" else "0")
    return str(request.param)


@pytest.fixture
def subreaper() -> Iterator[None]:
    """This process adopts what is orphaned below it during the test."""
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    try:
        yield
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


async def _gone(*pids: int) -> None:
    """Each pid has exited (a pidfd says so, no polling) and been reaped by someone."""
    for pid in pids:
        await _exited(pid)
    await _until(lambda: not any(os.path.exists(f"/proc/{pid}") for pid in pids))  # no zombie


def _cgroup_of(pid: int) -> str:
    return next(
        line[3:]
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
        if line[:3] == "0::"
    )


# M starts C (its own group) which starts G in a session of its own; M prints "C G".
FAMILY = textwrap.dedent(
    """
    import subprocess, sys, time
    inner = ("import subprocess, time; g = subprocess.Popen(['sleep', '1000'], "
             "start_new_session=True); print(g.pid, flush=True); time.sleep(1000)")
    c = subprocess.Popen([sys.executable, "-c", inner], stdout=subprocess.PIPE, text=True)
    print(c.pid, c.stdout.readline().strip(), flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(1000)
    """
)


async def test_a_setsid_grandchild_dies_when_its_task_ends_normally(mode: str) -> None:
    proc = Process(ProcessSpec(argv=[PY, "-c", FAMILY, "exit"], name="family"))
    async with asyncio.timeout(30):
        await proc.run(lambda: None)
    assert proc.returncode == 0
    child, grandchild = map(int, proc.output.tail()[-1].split()[-2:])
    await _gone(child, grandchild)
    sp = await spawner()
    pid = sp.pid
    assert pid is not None
    await _until(lambda: _kids(pid) == [])  # every orphan reaped


async def test_a_spawner_killed_outright_takes_its_processes_and_theirs_with_it(
    mode: str,
) -> None:
    # posix_spawn sets no parent-death signal: the spawner's guardian kills what carries
    # its tag (setsid'd grandchildren too), and the host kills its own children itself
    # before it hears of their end. One that asked for no parent-death signal lives on,
    # unless it has a cgroup (the host kills the dead spawner's cgroups).
    sp = await spawner()
    family = Process(ProcessSpec(argv=[PY, "-c", FAMILY, "stay"], name="family"))
    launched = Process(ProcessSpec(argv=["sleep", "1000"], name="launched", **LAUNCHED))
    stays = Process(ProcessSpec(argv=["sleep", "1000"], name="stays", parent_death_signal=None))
    runs = [asyncio.ensure_future(p.run(lambda: None)) for p in (family, launched, stays)]
    survivor = None
    try:
        async with asyncio.timeout(30):
            await _until(lambda: len(family.output.tail()) > 0 and stays.pid is not None)
            await _until(lambda: launched.pid is not None)
            child, grandchild = map(int, family.output.tail()[-1].split()[-2:])
            pids = [p for p in (family.pid, launched.pid) if p is not None]
            assert len(pids) == 2
            survivor = stays.pid
            assert sp.pid is not None
            os.kill(sp.pid, signal.SIGKILL)
            ends = await asyncio.gather(*runs, return_exceptions=True)
            assert [type(e) for e in ends] == [ProcessExited] * 3
            await _gone(*pids, child, grandchild)
            assert survivor is not None
            assert _alive(survivor) == (mode == "tag")  # its cgroup goes with the spawner
    finally:
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        if survivor is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(survivor, signal.SIGKILL)


@pytest.mark.parametrize("how", ["posix_spawn", "launcher"])
async def test_a_started_process_holds_its_three_descriptors_alone(mode: str, how: str) -> None:
    # Nothing of the spawner's (its socket, pipes, journals, the guardian's pipe) leaks
    # into a process: one holding the spawner's socket would keep its EOF from coming.
    extra = LAUNCHED if how == "launcher" else {}
    proc = Process(ProcessSpec(argv=["sleep", "1000"], name="fds", **extra))
    run = asyncio.ensure_future(proc.run(lambda: None))
    try:
        await _until(lambda: proc.pid is not None)
        assert proc.pid is not None
        fds = sorted(int(fd) for fd in os.listdir(f"/proc/{proc.pid}/fd"))
        assert fds == [0, 1, 2]
        assert os.readlink(f"/proc/{proc.pid}/fd/0") == "/dev/null"
        proc.request_stop()
        async with asyncio.timeout(10):
            await run
    finally:
        run.cancel()


async def test_each_task_gets_a_cgroup_of_its_own_and_a_tag(mode: str) -> None:
    sp = await spawner()
    proc = Process(ProcessSpec(argv=["sleep", "1000"], name="sleeper"))
    run = asyncio.ensure_future(proc.run(lambda: None))
    try:
        await _until(lambda: proc.pid is not None)
        assert proc.pid is not None
        cgroup = _cgroup_of(proc.pid)
        env = Path(f"/proc/{proc.pid}/environ").read_bytes().split(b"\0")
        tag = f"TREADLE_OWNER=|sleeper|{sp.pid}.".encode()
        assert any(v.startswith(tag) and v[len(tag) :].isdigit() for v in env)
        proc.request_stop()
        async with asyncio.timeout(10):
            await run
    finally:
        run.cancel()
    if mode == "tag":
        assert f"/treadle-{sp.pid}/" not in cgroup
        return
    assert cgroup.rsplit("/", 2)[-2] == f"treadle-{sp.pid}"
    mounts = [line.split() for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    mount = next(m[4] for m in mounts if "cgroup2" in m[m.index("-") + 1])
    events = Path(f"{mount}{cgroup}/cgroup.events")
    await _until(lambda: not events.exists() or "populated 0" in events.read_text())
    await sp.aclose()  # the spawner's cgroups go with it
    assert not os.path.exists(f"{mount}{cgroup.rsplit('/', 1)[0]}")


async def test_cpu_limit_out_of_range_fails_the_spawn_and_leaves_nothing(mode: str) -> None:
    proc = Process(ProcessSpec(argv=["sleep", "1000"], name="greedy", cpu_limit=10**30))
    with pytest.raises(SpawnError, match="'greedy': cpu_limit 1000000000000000000000000000000"):
        await proc.run(lambda: None)
    sp = await spawner()
    assert sp.pid is not None
    assert _kids(sp.pid) == []  # reaped before the error was sent


async def test_exec_failure_is_a_clean_spawn_error(tmp_path: Path, mode: str) -> None:
    script = tmp_path / "no-interpreter"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    proc = Process(ProcessSpec(argv=[str(script)], name="broken"))
    with pytest.raises(SpawnError, match=r"'broken': cannot start .*No such file or directory"):
        await proc.run(lambda: None)


async def test_the_watchdog_fences_leased_processes_when_the_deadline_passes(
    mode: str,
) -> None:
    sp = await spawner()
    sp.deadline(60)  # armed, then renewed short: the last call counts
    leased = Process(ProcessSpec(argv=["sleep", "1000"], name="fenced", leased=True))
    other = Process(ProcessSpec(argv=["sleep", "1000"], name="project's"))
    run = asyncio.ensure_future(leased.run(lambda: None))
    runs_on = asyncio.ensure_future(other.run(lambda: None))
    await _until(lambda: leased.pid is not None and other.pid is not None)
    sp.deadline(0.3)
    async with asyncio.timeout(10):
        await sp.fenced.wait()
        with pytest.raises(ProcessExited, match="killed by SIGKILL"):
            await run
    with pytest.raises(SpawnError, match="fenced: its deadline passed"):
        await Process(ProcessSpec(argv=["true"], leased=True)).run(lambda: None)
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)  # not on the lease
    assert not runs_on.done()  # a process not on the lease runs on
    sp.deadline(None)  # disarmed: it spawns again
    assert not sp.fenced.is_set()
    await Process(ProcessSpec(argv=["true"], leased=True)).run(lambda: None)
    other.request_stop()
    async with asyncio.timeout(10):
        await runs_on


async def test_a_spawner_that_died_is_started_again(mode: str) -> None:
    sp = await spawner()
    proc = Process(ProcessSpec(argv=["sleep", "1000"], name="orphan"))
    run = asyncio.ensure_future(proc.run(lambda: None))
    await _until(lambda: proc.pid is not None)
    first, child = sp.pid, proc.pid
    assert first is not None
    assert child is not None
    os.kill(first, signal.SIGKILL)  # its children get their parent-death signal
    async with asyncio.timeout(10):
        with pytest.raises(ProcessExited):
            await run
    await _gone(child)
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)
    assert sp.pid not in (None, first)


async def test_many_spawns_at_once_each_get_their_own_pid_start_and_exit(
    tmp_path: Path, mode: str
) -> None:
    # The spawner does not wait for one exec before the next spawn: replies come in any
    # order, some processes exit before their exec report is read, some fail before exec.
    sp = await spawner()
    script = tmp_path / "no-interpreter"  # found, but its exec fails in the launcher
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    # Every other one forked by a launcher, the rest posix_spawn'd: both at once.
    how: list[dict[str, Any]] = [{}, LAUNCHED]
    quick = [
        Process(ProcessSpec(argv=["sh", "-c", f"exit {k}"], name=f"q{k}", **how[k % 2]))
        for k in range(30)
    ]
    broken = [
        Process(ProcessSpec(argv=[str(script)], name=f"b{k}", **how[k % 2])) for k in range(6)
    ]
    sleepers = [
        Process(ProcessSpec(argv=["sleep", "1000"], name=f"s{k}", **how[k % 2])) for k in range(6)
    ]
    runs = [asyncio.ensure_future(p.run(lambda: None)) for p in [*quick, *broken, *sleepers]]
    try:
        async with asyncio.timeout(30):
            await _until(lambda: all(p.pid is not None for p in sleepers))
            for p in sleepers:  # the start told is the process's own (a pid-reuse check)
                assert p.pid is not None
                assert p._child is not None
                assert p._child.created == psutil.Process(p.pid).create_time()
                p.request_stop()
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
    finally:
        for run in runs:
            run.cancel()
    for k, (p, outcome) in enumerate(zip(quick, outcomes, strict=False)):
        assert p.returncode == k
        assert (outcome is None) if k == 0 else isinstance(outcome, ProcessExited)
    for outcome in outcomes[len(quick) : len(quick) + len(broken)]:
        assert isinstance(outcome, SpawnError)
        assert "cannot start" in str(outcome)
    assert outcomes[len(quick) + len(broken) :] == [None] * len(sleepers)
    pid = sp.pid
    assert pid is not None
    await _until(lambda: all(c.status() != psutil.STATUS_ZOMBIE for c in _kids(pid)))


def _kids(pid: int) -> list[psutil.Process]:
    """The spawner's children but its guardian (and but those gone as they were read)."""
    kids: list[psutil.Process] = []
    for kid in psutil.Process(pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if kid.name() != NAME:
                kids.append(kid)
    return kids


# A parent-death signal but SIGKILL is set by a launcher (forked, not posix_spawn'd).
LAUNCHED: dict[str, Any] = {"parent_death_signal": signal.SIGTERM}


async def _frozen_launcher_ahead(sp: Spawner) -> psutil.Process:
    """The launcher the spawner forks ahead after a launched start, frozen (SIGSTOP)
    before its request: the next launched spawn may get it (unless it is retired first,
    unused for 1 s)."""
    await Process(ProcessSpec(argv=["true"], **LAUNCHED)).run(lambda: None)
    pid = sp.pid
    assert pid is not None
    await _until(lambda: len(_kids(pid)) == 1)
    (launcher,) = _kids(pid)
    launcher.suspend()
    return launcher


async def test_a_launch_held_before_exec_does_not_hold_up_the_next(mode: str) -> None:
    # After an exit the spawner forks a launcher ahead, for the next spawn. Frozen there,
    # that spawn's exec cannot happen: the one after it must start and end meanwhile.
    sp = await spawner()
    for _ in range(10):  # until the frozen launcher is the one a spawn got
        launcher = await _frozen_launcher_ahead(sp)
        procs = [
            Process(ProcessSpec(argv=["sh", "-c", f"exit {k}"], name=f"p{k}", **LAUNCHED))
            for k in (3, 4)
        ]
        runs = [asyncio.ensure_future(p.run(lambda: None)) for p in procs]
        try:
            async with asyncio.timeout(10):
                _, pending = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            frozen = len(pending) == 1 and procs[runs.index(pending.pop())].pid is None
        finally:
            launcher.resume()
        async with asyncio.timeout(10):
            outcomes = await asyncio.gather(*runs, return_exceptions=True)
        assert [type(o) for o in outcomes] == [ProcessExited, ProcessExited]
        assert [p.returncode for p in procs] == [3, 4]
        if frozen:
            return
    raise AssertionError("no spawn ever got the frozen launcher")


async def test_a_spawner_closing_with_a_launch_frozen_before_exec_still_ends(mode: str) -> None:
    # Closing, the spawner waits for every launch's exec (what runs must be known), but
    # not for ever: one whose launcher is frozen is killed, and the spawner ends.
    sp = await spawner()
    for _ in range(10):  # until the frozen launcher is the one a spawn got
        launcher = await _frozen_launcher_ahead(sp)
        procs = [
            Process(ProcessSpec(argv=["sleep", "1000"], name=f"p{k}", **LAUNCHED)) for k in (1, 2)
        ]
        runs = [asyncio.ensure_future(p.run(lambda: None)) for p in procs]
        try:
            async with asyncio.timeout(10):
                await _until(lambda procs=procs: any(p.pid is not None for p in procs))  # type: ignore[misc]
            frozen = [p for p in procs if p.pid is None]
            if not frozen:  # the launcher ahead was retired meanwhile: again
                for p in procs:
                    p.request_stop()
                await asyncio.gather(*runs, return_exceptions=True)
                launcher.resume()
                continue
            async with asyncio.timeout(15):
                await sp.aclose()
            await _gone(launcher.pid)
            ends = await asyncio.gather(*runs, return_exceptions=True)
            assert all(isinstance(e, (ProcessExited, SpawnError)) for e in ends), ends
            return
        finally:
            with contextlib.suppress(psutil.Error):
                launcher.resume()
            for run in runs:
                run.cancel()
    raise AssertionError("no spawn ever got the frozen launcher")


async def test_kept_exits_stay_in_the_journal_until_forgotten(tmp_path: Path, mode: str) -> None:
    records = tmp_path / "records"
    proc = Process(ProcessSpec(argv=["true"], name="kept", record_dir=str(records), keep_exit=True))
    await proc.run(lambda: None)
    (journal,) = records.iterdir()
    lines = journal.read_bytes().splitlines()
    assert lines[0].startswith(b'+ {"name": "kept"')
    assert lines[1] == f"= {lines[0].split()[4].decode().rstrip(',')} 0".encode()
    proc.forget()
    await Process(ProcessSpec(argv=["true"], record_dir=str(records))).run(lambda: None)
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)  # requests are served in order
    assert journal.read_bytes() == b""  # both forgotten: nothing to tell


# -- hosts killed or frozen --------------------------------------------------------------------

HOST = textwrap.dedent(
    """
    import asyncio, sys
    from treadle.process import Process, ProcessSpec, spawner

    async def run(argv, name):
        spec = ProcessSpec(
            argv=argv, name=name, record_dir=sys.argv[2], keep_exit=True, leased=True
        )
        proc = Process(spec)
        proc.output.listener = lambda stream, line: print("out", name, line, flush=True)
        try:
            await proc.run(lambda: print("started", name, proc.pid, flush=True))
        except Exception:
            pass
        print("exit", name, proc.returncode, flush=True)

    async def main():
        mode, sp = sys.argv[1], await spawner()
        if mode == "watchdog":
            sp.deadline(float(sys.argv[3]))
        await Process(ProcessSpec(argv=["true"])).run(lambda: None)  # the spawner is up
        print("spawner", sp.pid, flush=True)
        if mode == "family":
            await run([sys.executable, "-c", sys.argv[3], "stay"], "family")
        elif mode == "fifo":
            await run(["sh", "-c", f"read x < {sys.argv[3]}"], "fifo")
        elif mode == "quick":
            codes = [int(c) for c in sys.argv[3:]]
            runs = [run(["sh", "-c", f"exit {c}"], f"q{i}") for i, c in enumerate(codes)]
            await asyncio.gather(*runs)
            await asyncio.Event().wait()
        elif mode == "watchdog":
            task = asyncio.ensure_future(run(["sleep", "1000"], "watched"))
            await sp.fenced.wait()
            print("fenced", flush=True)
            await task
            try:
                await Process(ProcessSpec(argv=["true"], leased=True)).run(lambda: None)
            except Exception as exc:
                print("refused", type(exc).__name__, flush=True)

    asyncio.run(main())
    """
)


class Host:
    """A manager-like script with its spawner; this test process is its subreaper."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def line(self, prefix: str) -> list[str]:
        assert self.proc.stdout is not None
        async with asyncio.timeout(30):
            while True:
                raw = await self.proc.stdout.readline()
                assert raw, f"the host ended before saying {prefix!r}"
                if raw.startswith(prefix.encode()):
                    return raw.decode().split()[1:]

    def spawner(self) -> int:
        (child,) = psutil.Process(self.proc.pid).children()
        return int(child.pid)

    async def kill(self) -> None:
        """SIGKILL the host; its spawner (adopted here) must clean up and exit 0."""
        spawner_pid = self.spawner()
        self.proc.kill()
        await self.proc.wait()
        await _reaped(spawner_pid, expect=0)


async def _exited(pid: int) -> None:
    """``pid`` has exited (reaped or not): a pidfd says so."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, readable)
    try:
        async with asyncio.timeout(30):
            await ready
    finally:
        loop.remove_reader(fd)
        os.close(fd)


async def _reaped(pid: int, expect: int) -> None:
    """``pid`` was adopted by this process (a subreaper): await its end and reap it."""
    await _exited(pid)
    _, status = os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (it has exited: no wait)
    assert os.waitstatus_to_exitcode(status) == expect


StartHost = Callable[..., Awaitable[Host]]


@pytest.fixture
async def host(subreaper: None) -> AsyncIterator[StartHost]:
    started: list[Host] = []

    async def start(*args: str) -> Host:
        env = {**os.environ, "PYTHONPATH": f"{ROOT}/src"}
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", HOST, *args, stdout=asyncio.subprocess.PIPE, env=env
        )
        started.append(Host(proc))
        return started[-1]

    yield start
    for h in started:
        if h.proc.returncode is None:
            h.proc.send_signal(signal.SIGCONT)
            await h.kill()


async def test_a_killed_host_leaves_no_descendant_and_its_kill_is_journaled(
    host: StartHost, tmp_path: Path, mode: str
) -> None:
    records = str(tmp_path / "records")
    h = await host("family", records, FAMILY)
    _, main = await h.line("started")
    _, child, grandchild = await h.line("out")
    await h.kill()
    await _gone(int(main), int(child), int(grandchild))
    # killed by its spawner as its host died: how it would have ended is nobody's to say
    assert reap_leftovers(records) == Leftovers(killed=[], exits={})


async def test_a_spawner_killed_while_its_host_is_frozen_leaves_no_descendant(
    host: StartHost, tmp_path: Path, mode: str
) -> None:
    # Nobody to act but the spawner's guardian: it kills whatever carries the spawner's
    # tag, setsid'd grandchildren included. What it kills is adopted here (a subreaper).
    h = await host("family", str(tmp_path / "records"), FAMILY)
    _, main = await h.line("started")
    _, child, grandchild = await h.line("out")
    spawner_pid = h.spawner()
    kids = psutil.Process(spawner_pid).children()  # a launcher forked ahead, say
    (guardian,) = [p for p in kids if p.name() == NAME]
    h.proc.send_signal(signal.SIGSTOP)
    os.kill(spawner_pid, signal.SIGKILL)
    family = [int(main), int(child), int(grandchild)]
    for pid in family:
        await _exited(pid)
    await _reaped(guardian.pid, expect=0)
    for pid in {*family, *(k.pid for k in kids)}:  # adopted here (or reaped by a parent)
        await _exited(pid)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (it has exited)
    h.proc.kill()  # frozen still: it cannot reap its spawner first
    await h.proc.wait()
    await _reaped(spawner_pid, expect=-signal.SIGKILL)


async def test_a_killed_guardian_is_replaced_by_the_next_spawn(mode: str) -> None:
    sp = await spawner()
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)
    pid = sp.pid
    assert pid is not None

    def guardians() -> list[psutil.Process]:
        return [p for p in psutil.Process(pid).children() if p.name() == NAME]

    (first,) = guardians()
    first.kill()
    await _exited(first.pid)
    await _until(lambda: guardians() == [])  # reaped by the spawner
    await Process(ProcessSpec(argv=["true"])).run(lambda: None)
    (second,) = guardians()
    assert second.pid != first.pid


@pytest.mark.parametrize("spawner_frozen", [False, True])
async def test_an_exit_0_just_before_the_host_is_killed_is_journaled_as_0(
    host: StartHost, tmp_path: Path, mode: str, spawner_frozen: bool
) -> None:
    records, fifo = str(tmp_path / "records"), tmp_path / "fifo"
    os.mkfifo(fifo)
    h = await host("fifo", records, str(fifo))
    _, task = await h.line("started")
    h.proc.send_signal(signal.SIGSTOP)  # the host will never hear of the exit
    spawner_pid = h.spawner()
    if spawner_frozen:  # nor reap it before its host is gone
        os.kill(spawner_pid, signal.SIGSTOP)
    fd = await asyncio.to_thread(os.open, fifo, os.O_WRONLY)  # the task reads it, exits 0
    os.write(fd, b"go\n")
    os.close(fd)
    await _exited(int(task))
    h.proc.kill()
    await h.proc.wait()
    if spawner_frozen:
        os.kill(spawner_pid, signal.SIGCONT)  # it finds its parent dead, and the zombie
    await _reaped(spawner_pid, expect=0)
    assert reap_leftovers(records) == Leftovers(killed=[], exits={"fifo": 0})


async def test_a_task_ending_just_after_its_host_was_killed_ends_as_it_would_have(
    host: StartHost, tmp_path: Path, mode: str
) -> None:
    records, fifo = str(tmp_path / "records"), tmp_path / "fifo"
    os.mkfifo(fifo)
    h = await host("fifo", records, str(fifo))
    await h.line("started")
    spawner_pid = h.spawner()
    fd = await asyncio.to_thread(os.open, fifo, os.O_WRONLY)  # the task is reading it
    h.proc.kill()  # the host dies first; its spawner gives the task a moment to end
    await h.proc.wait()
    os.write(fd, b"go\n")  # it ends on its own, within that moment
    os.close(fd)
    await _reaped(spawner_pid, expect=0)
    assert reap_leftovers(records) == Leftovers(killed=[], exits={"fifo": 0})


async def test_quick_exits_racing_a_host_kill_are_each_journaled_as_they_ended(
    host: StartHost, tmp_path: Path, mode: str
) -> None:
    rng = random.Random(14)
    for attempt in range(4):
        records = str(tmp_path / f"records{attempt}")
        codes = [rng.randrange(6) for _ in range(6)]
        h = await host("quick", records, *map(str, codes))
        await h.line("spawner")
        heard: dict[str, int] = {}
        for _ in range(rng.randrange(len(codes) + 1)):  # the host is killed at a random point
            name, said = await h.line("exit")
            heard[name] = int(said)
        await h.kill()
        exits = reap_leftovers(records).exits
        assert heard.items() <= exits.items()  # what the host heard is what was journaled
        for name, returncode in exits.items():  # each as it ended itself (not the killed)
            assert returncode == codes[int(name[1:])]


async def test_the_watchdog_kills_a_frozen_hosts_tasks_then_tells_it(
    host: StartHost, tmp_path: Path, mode: str
) -> None:
    records = str(tmp_path / "records")
    h = await host("watchdog", records, "1.0")
    _, task = await h.line("started")
    h.proc.send_signal(signal.SIGSTOP)  # frozen past its lease: its tasks must not run on
    await _gone(int(task))
    h.proc.send_signal(signal.SIGCONT)
    await h.line("fenced")
    assert await h.line("exit") == ["watched", "-9"]
    assert await h.line("refused") == ["SpawnError"]
    assert await h.proc.wait() == 0
    assert reap_leftovers(records).exits == {}  # killed by the fence, not ended on its own
