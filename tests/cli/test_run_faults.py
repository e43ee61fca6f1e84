"""``treadle run`` when things go wrong: a frozen manager, a manager gone, a broken
broker. The request is never lost and never run twice, and every failure is one line on
stderr with a documented exit status, never a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.manager._support import manager, until
from treadle._paths import submit_address
from treadle.broker import names
from treadle.cli import Exit
from treadle.client import Client
from treadle.manager._receipts import QUEUE as RECEIPTS

from ._support import TREADLE, gone, treadle


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def started(client: Client, tid: int) -> int:
    return [e.event for e in client.events(tid)].count("started")


def test_a_frozen_manager_does_not_hold_up_run_and_nothing_runs_twice(
    client: Client, tmp_path: Path
) -> None:
    """SIGSTOP the manager: each ``treadle run`` (the fast path, the full command line,
    and one that waits) hands its task over, finds no answer within a moment, and queues
    it itself under the same request. After SIGCONT the manager reads those requests
    late, finds their receipts, writes nothing, and runs each task once, from the queue."""
    marker = tmp_path / "ran"
    with manager(client, heartbeat=5.0) as (_, proc):  # a lease (15 s) that outlasts it
        os.kill(proc.pid, signal.SIGSTOP)
        try:
            fast = treadle("run", "--", "sh", "-c", f"echo fast >> {marker}", timeout=30)
            full = treadle("run", "-e", "X=full", "--", "sh", "-c", f"echo $X >> {marker}")
            tids = [int(fast.stdout), int(full.stdout)]
            waiting = subprocess.Popen(
                [TREADLE, "run", "--wait", "--", "sh", "-c", f"echo waited | tee -a {marker}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            until(client, lambda: len(client.broker.peek_raw(names.SPAWN)) == 3)
            queued = [mid for _, mid in client.broker.peek_raw(names.SPAWN)]
            assert set(tids) < set(queued)  # each once, under the TID its client printed
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        out, err = waiting.communicate(timeout=30)
        for tid in queued:
            assert client.wait(tid, timeout=30).ok
    assert (fast.returncode, full.returncode, waiting.returncode) == (0, 0, 0), err
    assert out == "waited\n"
    assert "Traceback" not in fast.stderr + full.stderr + err
    assert sorted(marker.read_text().split()) == ["fast", "full", "waited"]
    assert [started(client, tid) for tid in queued] == [1, 1, 1]
    assert len(client.broker.peek_raw(RECEIPTS)) == 3


def test_a_killed_managers_stale_socket_does_not_stop_run(client: Client) -> None:
    """SIGKILL leaves the socket file and its lock file behind: the client's connection
    is refused (a manager is started, as when none is alive), and the new manager takes
    the address over."""
    record, proc = client.start_manager()
    address = submit_address(client.url.location)
    assert address is not None
    proc.kill()
    proc.wait()
    assert os.path.exists(address)
    done = treadle("run", "--wait", "--", "echo", "served")
    assert (done.returncode, done.stdout) == (0, "served\n"), done.stderr
    assert "started manager" in done.stderr
    [other] = client.managers()
    try:
        again = treadle("run", "--wait", "--", "echo", "again")  # the fast path, to it
        assert (again.returncode, again.stdout, again.stderr) == (0, "again\n", "")
        assert {t.manager for t in client.tasks()} == {other.tid}
    finally:
        client.stop_manager(other.tid)
        gone(other.pid)
    assert not os.path.exists(address)
    assert not os.path.exists(address + ".lock")
    assert record.tid != other.tid


@pytest.mark.parametrize(
    ("broker", "status"),
    [
        ("{tmp}/not-a-db/broker.db", Exit.BROKER),  # a file that is not a database
        ("/proc/self/nowhere/broker.db", Exit.BROKER),  # a directory that cannot be made
    ],
)
def test_a_broken_broker_is_one_line_and_an_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, broker: str, status: Exit
) -> None:
    path = broker.format(tmp=tmp_path)
    if "not-a-db" in path:
        Path(path).parent.mkdir(mode=0o700)
        Path(path).write_bytes(b"this is not a SQLite database, whatever its name says" * 100)
    monkeypatch.setenv("TREADLE_BROKER", path)
    for args in (["run", "--", "true"], ["run", "--wait", "--", "true"], ["task", "list"]):
        done = treadle(*args)
        assert "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.returncode == status, (args, done.returncode, done.stderr)
