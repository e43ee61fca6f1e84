"""Process children with real processes and real signals; the suite's guard checks that no
process or zombie outlives any test."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from treadle import ConfigError, Health, ProcessSpec, Restart, State
from treadle.process import Process
from treadle.supervisor import ChildSpec, Supervisor

from ..supervisor._support import FAST, wait_for, wait_state

PY = sys.executable


def py(code: str, **options: object) -> ProcessSpec:
    return ProcessSpec(argv=[PY, "-c", textwrap.dedent(code)], **options)  # type: ignore[arg-type]


async def test_a_crashing_process_restarts_and_its_exit_is_reported() -> None:
    spec = py("import sys; sys.exit(3)", name="exits3")
    async with Supervisor([ChildSpec(spec, backoff=FAST)], intensity=2) as sup:
        await wait_state(sup, "exits3", State.GIVEN_UP)
        st = sup.status()["children"]["exits3"]
    assert st["restarts"] == 2
    assert st["last_exit"]["error"]["message"] == "process 'exits3' exit 3"
    assert st["last_exit"]["error"]["type"] == "ProcessExited"


async def test_normal_exit_codes_end_a_transient_child() -> None:
    spec = py("import sys; sys.exit(3)", name="done", normal_exit_codes=(0, 3))
    sup = Supervisor([ChildSpec(spec, restart=Restart.TRANSIENT, backoff=FAST)])
    async with sup:
        await wait_state(sup, "done", State.STOPPED)
    assert sup.status()["children"]["done"]["restarts"] == 0


async def test_a_signal_death_is_named() -> None:
    spec = py("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", name="segv")
    sup = Supervisor([ChildSpec(spec, restart=Restart.TEMPORARY)])
    async with sup:
        await wait_state(sup, "segv", State.FAILED)
    assert "killed by SIGSEGV" in sup.status()["children"]["segv"]["last_exit"]["error"]["message"]


TRAPS_SIGTERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
print("ready", flush=True)
while True:
    time.sleep(1)
"""


async def test_sigterm_then_sigkill_for_a_process_that_traps_sigterm() -> None:
    spec = py(TRAPS_SIGTERM, name="stubborn", stop_timeout=0.3)
    proc = Process(spec)
    sup = Supervisor([ChildSpec(lambda: proc, name="stubborn", shutdown_timeout=10)])
    async with sup:
        await proc.output.wait_line(lambda line: line == "ready")
        started = time.monotonic()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 5
    assert any("ignoring SIGTERM" in line for line in proc.output.tail())
    assert proc.status()["last_exit"] == "killed by SIGKILL"


GRANDCHILD = """
import subprocess, sys, time
child = subprocess.Popen(["sleep", "1000"])
print(child.pid, flush=True)
time.sleep(1000)
"""


async def test_stop_kills_the_whole_group_grandchildren_included() -> None:
    proc = Process(py(GRANDCHILD, name="parent", stop_timeout=5))
    async with Supervisor([ChildSpec(lambda: proc, name="parent")]):
        grandchild = int(await proc.output.wait_line(str.isdigit))
        assert _alive(grandchild)
    # Reparented to init, it is init's to reap; it must be dead (or a zombie) at once.
    await _until(lambda: not _alive(grandchild))


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def test_output_goes_to_rotating_logs_and_the_ring(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    spec = py(
        "for i in range(400): print('line', i, 'x' * 50)",
        name="chatty",
        stdout=str(log),
        log_max_bytes=4096,
        log_backups=2,
        ring_lines=5,
        merge_output=True,
    )
    proc = Process(spec)
    async with Supervisor([ChildSpec(lambda: proc, name="chatty", restart="temporary")]) as sup:
        await wait_state(sup, "chatty", State.STOPPED)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["out.log", "out.log.1", "out.log.2"]
    assert all(p.stat().st_size <= 4096 + 200 for p in tmp_path.iterdir())
    assert "line 399" in log.read_text().splitlines()[-1]
    assert len(proc.output.tail()) == 5
    assert "line 399" in proc.output.tail()[-1]


# 20,000 lines (past a pipe's capacity), then a child that writes once this ends.
FLOOD = textwrap.dedent(
    """
    import os, subprocess, sys
    for i in range(20000):
        print("line", i, "x" * 40)
    sys.stdout.flush()
    subprocess.Popen([sys.executable, "-c", sys.argv[1], str(os.getpid())])
    """
)
LATE = textwrap.dedent(  # once its parent has ended (a pidfd says so)
    """
    import os, select, sys
    try:
        select.select([os.pidfd_open(int(sys.argv[1]))], [], [])
    except ProcessLookupError:  # ended (and reaped) already
        pass
    print("late", flush=True)
    """
)


async def test_output_past_a_pipes_capacity_and_after_the_end_is_all_read(
    tmp_path: Path,
) -> None:
    # A pipe is read from its start only if its process lives on (a short run's output
    # is read at its end): a writer that fills the pipe first waits, and is read; what a
    # descendant that holds the pipe writes after the process ended is read too (within
    # the second a run's end waits for its pipes).
    log = tmp_path / "out.log"
    argv = [PY, "-c", FLOOD, LATE]
    spec = ProcessSpec(
        argv=argv, name="flood", stdout=str(log), log_max_bytes=10**8, kill_group=False
    )
    proc = Process(spec)  # kill_group=False: what it leaves runs on
    await proc.run(lambda: None)
    lines = log.read_text().splitlines()
    assert len(lines) == 20001
    assert lines[19999].endswith("line 19999 " + "x" * 40)
    assert lines[-1].endswith("late")


async def test_a_living_process_s_lines_come_as_they_are_written() -> None:
    proc = Process(py("import time\nprint('ready', flush=True)\ntime.sleep(1000)", name="live"))
    run = asyncio.ensure_future(proc.run(lambda: None))
    try:
        async with asyncio.timeout(10):
            assert await proc.output.wait_line(lambda line: line == "ready") == "ready"
        proc.request_stop()
        async with asyncio.timeout(10):
            await run
    finally:
        run.cancel()


async def test_stdout_and_stderr_to_one_file_keep_their_streams(tmp_path: Path) -> None:
    log = tmp_path / "both.log"
    spec = ProcessSpec(
        argv=["sh", "-c", "echo to-out; echo to-err >&2"], stdout=str(log), stderr=str(log)
    )
    async with Supervisor([ChildSpec(spec, name="both", restart=Restart.TEMPORARY)]) as sup:
        await wait_state(sup, "both", State.STOPPED)
    tagged = sorted(line.split(" ", 2)[2] for line in log.read_text().splitlines())
    assert tagged == ["stderr to-err", "stdout to-out"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["both.log"]


async def test_a_log_in_a_directory_not_there_yet_is_written_there(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "today" / "out.log"
    spec = ProcessSpec(argv=["sh", "-c", "echo hello"], stdout=str(log))
    async with Supervisor([ChildSpec(spec, name="new", restart=Restart.TEMPORARY)]) as sup:
        await wait_state(sup, "new", State.STOPPED)
    assert log.read_text().endswith(" stdout hello\n")


async def test_sha256_mismatch_refuses_to_start() -> None:
    true = "/bin/true"
    with open(true, "rb") as f:
        good = hashlib.file_digest(f, "sha256").hexdigest()
    bad = "0" * 64
    sup = Supervisor(
        [
            ChildSpec(ProcessSpec(argv=[true], name="bad", sha256=bad), restart="temporary"),
            ChildSpec(ProcessSpec(argv=[true], name="good", sha256=good), restart="temporary"),
        ]
    )
    async with sup:
        await wait_state(sup, "bad", State.FAILED)
        await wait_state(sup, "good", State.STOPPED)
        err = sup.status()["children"]["bad"]["last_exit"]["error"]
    assert err["type"] == "IntegrityError"
    assert "refusing to start" in err["message"]


@pytest.mark.parametrize(
    ("argv", "cwd", "message"),
    [
        (["no-such-program-xyz"], None, "'no-such-program-xyz' not found on PATH"),
        (["{tmp}/not-executable"], None, "is not executable"),
        (["true"], "/no/such/dir", "cwd '/no/such/dir' is not a directory"),
    ],
)
async def test_bad_launches_fail_clearly_and_back_off(
    argv: list[str], cwd: str | None, message: str, tmp_path: Path
) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    spec = ProcessSpec(argv=[a.format(tmp=tmp_path) for a in argv], cwd=cwd)
    sup = Supervisor([ChildSpec(spec, backoff=FAST)], intensity=1)
    async with sup:
        await wait_state(sup, spec.name, State.GIVEN_UP)
        err = sup.status()["children"][spec.name]["last_exit"]["error"]
    assert err["type"] == "SpawnError"
    assert message in err["message"]
    assert sup.state is State.STOPPED  # the supervisor itself was never in danger


async def test_a_python_callable_runs_in_its_own_process() -> None:
    proc = Process(ProcessSpec(function="builtins:print", args=["hello from a callable"]))
    async with Supervisor([ChildSpec(lambda: proc, name="fn", restart="temporary")]) as sup:
        await wait_state(sup, "fn", State.STOPPED)
    assert proc.output.tail()[-1].endswith("stdout hello from a callable")


async def test_pause_and_resume_stop_and_continue_the_group() -> None:
    proc = Process(ProcessSpec(argv=["sleep", "1000"]))
    async with Supervisor([ChildSpec(lambda: proc, name="sleeper")]) as sup:
        await sup.wait_running()
        pid = proc.pid
        assert pid is not None
        sup.pause("sleeper")
        await _until(lambda: psutil.Process(pid).status() == psutil.STATUS_STOPPED)
        sup.resume("sleeper")
        await _until(lambda: psutil.Process(pid).status() != psutil.STATUS_STOPPED)
        st = sup.status()["children"]["sleeper"]["target"]
        assert st["rss_bytes"] > 0
        assert st["pid"] == pid


async def _until(predicate: Callable[[], bool]) -> None:
    # The kernel changes a process's state with no event to await: poll briefly, bounded.
    for _ in range(500):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in 5 s")


MANAGER = """
import asyncio, sys, treadle
from treadle import ProcessSpec
from treadle.supervisor import ChildSpec, Supervisor
from treadle.process import Process

async def main():
    proc = Process(ProcessSpec(argv=["sleep", "1000"]))
    async with Supervisor([ChildSpec(lambda: proc, name="sleeper")]) as sup:
        await sup.wait_running()
        print(proc.pid, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_manager_killed_with_sigkill_leaves_no_orphan() -> None:
    manager = psutil.Popen([PY, "-c", MANAGER], stdout=-1, text=True)
    try:
        assert manager.stdout is not None
        child_pid = int(manager.stdout.readline())
        assert psutil.pid_exists(child_pid)
        manager.send_signal(signal.SIGKILL)
        manager.wait(timeout=10)
        _gone, alive = psutil.wait_procs([psutil.Process(child_pid)], timeout=5)
        assert alive == []
    finally:
        if manager.poll() is None:
            manager.kill()
            manager.wait()
        manager.stdout and manager.stdout.close()


def test_bad_specs_name_the_field() -> None:
    with pytest.raises(ConfigError, match="argv: must be a list"):
        ProcessSpec(argv="sleep 10")
    with pytest.raises(ConfigError, match="either argv or function"):
        ProcessSpec()
    with pytest.raises(ConfigError, match="function: must be 'module:function'"):
        ProcessSpec(function="not a function")
    with pytest.raises(ConfigError, match="sha256"):
        ProcessSpec(argv=["true"], sha256="abc")
    assert ProcessSpec(argv=["sleep", "1"]).name == "sleep"
    assert ProcessSpec(argv="echo hi", shell=True).name == "echo"


SERVER = """
import socket, sys, time
time.sleep(float(sys.argv[1]))  # slow to come up
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
while True:
    conn, _ = s.accept()
    conn.recv(1024)
    conn.sendall(b"HTTP/1.0 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\nok")
    conn.close()
"""


async def test_tcp_and_http_checks_gate_readiness() -> None:
    from treadle.process import HttpCheck, TcpCheck

    server = Process(ProcessSpec(argv=[PY, "-c", SERVER, "0.2"], name="server"))
    ports: list[int] = []

    async def port_known() -> int:
        if not ports:
            ports.append(int(await server.output.wait_line(str.isdigit)))
        return ports[0]

    class Checked(Process):
        async def health(self) -> Health:
            port = await port_known()
            tcp = await TcpCheck(port)()
            if not tcp.ok:
                return tcp
            return await HttpCheck(f"http://127.0.0.1:{port}/")()

    checked = Checked(server.spec)
    checked.output = server.output
    log: list[str] = []

    async def client() -> None:
        log.append("client started")
        await asyncio.Event().wait()

    sup = Supervisor(
        [
            ChildSpec(lambda: checked, name="server", health_interval=0.05),
            ChildSpec(client, depends_on=("server",)),
        ]
    )
    async with sup:
        await sup.wait_running("client")
        verdict = sup.status()["children"]["server"]["health"]
        assert verdict["status"] == "healthy"
        assert verdict["reason"].startswith("GET http://127.0.0.1:")
    assert log == ["client started"]


async def test_command_and_heartbeat_file_checks(tmp_path: Path) -> None:
    from treadle.process import CommandCheck, FileHeartbeat

    assert (await CommandCheck(["true"])()).ok
    failed = await CommandCheck([PY, "-c", "import sys; sys.exit('db down')"])()
    assert not failed.ok
    assert "db down" in failed.reason
    beat = tmp_path / "beat"
    check = FileHeartbeat(str(beat), max_age=60)
    assert "does not exist" in (await check()).reason
    beat.touch()
    assert (await check()).ok
    old = time.time() - 120
    os.utime(beat, (old, old))
    assert "old" in (await check()).reason


async def test_unhealthy_process_is_restarted(tmp_path: Path) -> None:
    from treadle.process import FileHeartbeat

    beat = tmp_path / "beat"
    touching = f"import pathlib, time; pathlib.Path({str(beat)!r}).touch(); time.sleep(1000)"
    spec = ProcessSpec(
        argv=[PY, "-c", touching], name="beats", health=FileHeartbeat(str(beat), max_age=0.2)
    )
    sup = Supervisor([ChildSpec(spec, health_interval=0.05, health_failures=2, backoff=FAST)])
    async with sup:
        await wait_for(sup, lambda: sup.status()["children"]["beats"]["restarts"] >= 1)
        reason = sup.status()["children"]["beats"]["history"][0]["reason"]
    assert reason.startswith("unhealthy 2 checks in a row: heartbeat file")


async def test_memory_limit_kills_and_restarts_with_the_reason() -> None:
    hog = "x = bytearray(300 * 1024 * 1024)\nimport time\ntime.sleep(1000)"
    spec = ProcessSpec(
        argv=[PY, "-c", hog], name="hog", memory_limit=100 * 1024 * 1024, sample_interval=0.05
    )
    sup = Supervisor([ChildSpec(spec, backoff=FAST)], intensity=1)
    async with sup:
        await wait_state(sup, "hog", State.GIVEN_UP)  # killed, restarted, killed again
        st = sup.status()["children"]["hog"]
        err = st["last_exit"]["error"]
    assert st["restarts"] == 1
    assert st["history"][0]["reason"].startswith("ProcessLimitExceeded")
    assert err["type"] == "ProcessLimitExceeded"
    assert "over its limit of 104857600" in err["message"]


async def test_cpu_limit_is_enforced_by_the_kernel() -> None:
    spin = "while True: pass"
    spec = ProcessSpec(argv=[PY, "-c", spin], name="spin", cpu_limit=1)
    sup = Supervisor([ChildSpec(spec, restart=Restart.TEMPORARY)])
    async with sup:
        await wait_state(sup, "spin", State.FAILED)
        err = sup.status()["children"]["spin"]["last_exit"]["error"]
    assert "killed by SIGXCPU" in err["message"] or "killed by SIGKILL" in err["message"]


ORPHANING_MANAGER = """
import asyncio, sys
from treadle import ProcessSpec
from treadle.supervisor import ChildSpec, Supervisor
from treadle.process import Process

async def main():
    spec = ProcessSpec(argv=["sleep", "1000"], name="survivor", parent_death_signal=None,
                       record_dir=sys.argv[1])
    proc = Process(spec)
    async with Supervisor([ChildSpec(lambda: proc, name="survivor")]) as sup:
        await sup.wait_running()
        print(proc.pid, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def test_a_new_manager_reaps_what_a_dead_one_left(tmp_path: Path) -> None:
    from treadle.process import reap_leftovers

    records = str(tmp_path / "records")
    manager = psutil.Popen([PY, "-c", ORPHANING_MANAGER, records], stdout=-1, text=True)
    try:
        assert manager.stdout is not None
        orphan = int(manager.stdout.readline())
        # The spawner kills what its host leaves; only its own sudden death can leave a
        # process behind (no pdeathsig asked for): freeze the manager, kill both.
        manager.send_signal(signal.SIGSTOP)
        (spawner,) = [p for p in manager.children() if p.pid != orphan]
        spawner.send_signal(signal.SIGKILL)
        manager.send_signal(signal.SIGKILL)
        manager.wait(timeout=10)
        assert _alive(orphan)
        assert reap_leftovers(records).killed == [orphan]
        _gone, alive = psutil.wait_procs([psutil.Process(orphan)], timeout=5)
        assert alive == []
        assert reap_leftovers(records).killed == []  # the record went with it
    finally:
        if manager.poll() is None:
            manager.kill()
            manager.wait()
        if manager.stdout is not None:
            manager.stdout.close()


async def test_user_switch_when_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("switching user needs root")
    proc = Process(ProcessSpec(argv=["id", "-u"], user="nobody"))
    async with Supervisor([ChildSpec(lambda: proc, name="id", restart=Restart.TEMPORARY)]) as sup:
        await wait_state(sup, "id", State.STOPPED)
    assert proc.output.tail()[-1].endswith(f"stdout {_uid('nobody')}")


def _uid(user: str) -> int:
    import pwd

    return pwd.getpwnam(user).pw_uid


async def test_log_files_are_closed_when_the_process_ends(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    spec = py("print('hello')", name="brief", stdout=str(log), normal_exit_codes=(0,))
    async with Supervisor([ChildSpec(spec, restart=Restart.TEMPORARY)]) as sup:
        await wait_state(sup, "brief", State.STOPPED)
    assert "hello" in log.read_text()
    still_open = [f.path for f in psutil.Process().open_files() if f.path == str(log)]
    assert still_open == []


async def test_a_stop_asked_before_the_process_ran_spawns_nothing() -> None:
    proc = Process(ProcessSpec(argv=["sleep", "60"]))
    proc.request_stop()  # as a supervisor stopping a child still starting does
    started: list[bool] = []
    async with asyncio.timeout(5):
        await proc.run(lambda: started.append(True))
    assert started == []
    assert proc.pid is None
    assert psutil.Process().children() == []


async def test_each_start_sees_the_environment_as_it_is_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The environment is copied once and reused while it is unchanged: a change between
    # two starts must still reach the second one.
    seen = []
    for value in ("one", "two", None):
        if value is None:
            monkeypatch.delenv("TREADLE_TEST_VALUE")
        else:
            monkeypatch.setenv("TREADLE_TEST_VALUE", value)
        proc = Process(ProcessSpec(argv=["sh", "-c", 'echo "[${TREADLE_TEST_VALUE-unset}]"']))
        async with asyncio.timeout(10):
            await proc.run(lambda: None)
        seen.append(proc.output.tail()[-1].rpartition(" ")[2])
    assert seen == ["[one]", "[two]", "[unset]"]
