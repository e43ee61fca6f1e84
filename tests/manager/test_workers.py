"""Function tasks on warm workers: real workers of a real manager on a real SQLite file."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import psutil
import pytest

from treadle.broker import TaskEvent, resolve
from treadle.client import Client
from treadle.manager._values import journal_dir, read_all

from ._support import ENV, manager, reaped, until

TASKS = "tests.manager._functions"


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def run(client: Client, fn: str, args: object = None, **fields: Any) -> object:
    spec = client.submit(function=f"{TASKS}:{fn}", args=args, env=ENV, **fields)
    result = client.wait(spec.tid, timeout=20)
    assert result.ok, result
    return result.value


def started(client: Client, tid: int) -> TaskEvent:
    until(client, lambda: any(e.event == "started" for e in client.events(tid)))
    return next(e for e in client.events(tid) if e.event == "started")


def gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_tasks_share_a_worker_and_return_their_values(client: Client) -> None:
    with manager(client, workers=1):
        first, second = run(client, "pid"), run(client, "pid")
        assert run(client, "add", [2, 3]) == 5
        assert run(client, "async_add", {"a": 4, "b": 5}) == 9
        assert run(client, "pid") == first
    assert first == second
    assert first != os.getpid()


def test_each_task_gets_exactly_its_own_output(client: Client) -> None:
    with manager(client, workers=1):
        a = client.submit(function=f"{TASKS}:talk", args=["a"], env=ENV)
        b = client.submit(function=f"{TASKS}:talk", args=["b"], env=ENV)
        results = [client.wait(a.tid, timeout=20), client.wait(b.tid, timeout=20)]
    assert results[0].value == results[1].value  # one worker ran both
    for name, result in zip("ab", results, strict=True):
        assert result.stdout == f"{name} out 1\n{name} out fd\n\n{name} last\n"
        assert result.stderr == f"{name} err 1\n"


def test_an_exception_fails_the_task_with_its_type_message_and_traceback(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(function=f"{TASKS}:boom", env=ENV)
        result = client.wait(spec.tid, timeout=20)
        after = run(client, "pid")  # the worker goes on
    assert (result.state, result.exit_code) == ("failed", 1)
    assert result.error == "RuntimeError: boom from a task"
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert 'tests/manager/_functions.py", line' in result.stderr
    assert after == started(client, spec.tid).pid


def test_sys_exit_ends_the_worker_as_it_would_end_the_interpreter(client: Client) -> None:
    with manager(client, workers=1):
        before = run(client, "pid")
        spec = client.submit(function=f"{TASKS}:exit_with", args=[3], env=ENV)
        result = client.wait(spec.tid, timeout=20)
        after = run(client, "pid")
    assert (result.state, result.exit_code) == ("failed", 3)
    assert before != after


def test_a_killed_worker_fails_its_task_and_the_next_runs_on_a_new_one(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(function=f"{TASKS}:sleep", args=[30], env=ENV)
        pid = started(client, spec.tid).pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        result = client.wait(spec.tid, timeout=20)
        after = run(client, "pid")
    assert (result.state, result.error) == ("failed", "killed by SIGKILL")
    assert after != pid


def test_a_killed_worker_retries_its_task_by_the_restart_policy(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(
            function=f"{TASKS}:sleep",
            args=[30],
            env=ENV,
            restart="on-failure",
            retries=1,
            retry_delay=0,
        )
        first = started(client, spec.tid).pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        until(client, lambda: sum(e.event == "started" for e in client.events(spec.tid)) == 2)
        second = [e.pid for e in client.events(spec.tid) if e.event == "started"][1]
        assert second not in (None, first)
        client.stop(spec.tid)
        assert client.wait(spec.tid, timeout=20).state == "stopped"
    assert gone(second)


def test_a_worker_is_replaced_after_max_tasks(client: Client) -> None:
    with manager(client, workers=1, max_tasks_per_worker=2):
        pids = [run(client, "pid") for _ in range(3)]
    assert pids[0] == pids[1] != pids[2]


def test_a_worker_is_replaced_above_its_memory_limit(client: Client) -> None:
    with manager(client, workers=1, max_memory_per_worker=1):  # every worker is above it
        pids = [run(client, "pid") for _ in range(2)]
    assert pids[0] != pids[1]


@pytest.mark.parametrize("fd", [1, 2, -1, -2])
def test_a_task_that_closes_or_replaces_a_stream_takes_its_worker_with_it(
    client: Client, fd: int
) -> None:
    with manager(client, workers=1):
        first = run(client, "close_stream", [fd])
        again = run(client, "talk", ["b"])
    assert first != again  # a worker whose output is not its pipes is not used again


def test_a_task_that_leaves_a_process_takes_its_worker_with_it(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(function=f"{TASKS}:leave_child", env=ENV)
        result = client.wait(spec.tid, timeout=20)
        assert result.ok, result
        worker = started(client, spec.tid).pid
        assert run(client, "pid") != worker
        assert isinstance(result.value, int)
        leftover = result.value
        psutil.wait_procs([p for p in [_proc(leftover), _proc(worker)] if p], timeout=10)
    assert gone(leftover)


def _proc(pid: int | None) -> psutil.Process | None:
    try:
        return psutil.Process(pid) if pid is not None else None
    except psutil.NoSuchProcess:
        return None


def test_a_timeout_kills_the_worker(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(function=f"{TASKS}:sleep", args=[30], env=ENV, limits={"timeout": 0.5})
        result = client.wait(spec.tid, timeout=20)
        pid = started(client, spec.tid).pid
        after = run(client, "pid")
    assert (result.state, result.error) == ("failed", "timed out after 0.5s")
    assert pid is not None
    assert after != pid


def test_ping_status_pause_resume_stop_a_task_on_a_worker(client: Client) -> None:
    with manager(client, workers=1):
        spec = client.submit(function=f"{TASKS}:sleep", args=[30], env=ENV)
        pid = started(client, spec.tid).pid
        assert client.ping(spec.tid)
        status = client.status(spec.tid)
        assert status["target"]["pid"] == pid
        assert status["target"]["kind"] == "worker"
        assert pid is not None
        proc = psutil.Process(pid)
        assert client.pause(spec.tid).reply == "paused"
        assert proc.status() == psutil.STATUS_STOPPED
        assert client.resume(spec.tid).reply == "running"
        assert proc.status() != psutil.STATUS_STOPPED
        assert client.stop(spec.tid).reply == "stopping"
        result = client.wait(spec.tid, timeout=20)
        proc.wait(timeout=10)
        after = run(client, "pid")
    assert result.state == "stopped"
    assert after != pid


def test_isolation_process_runs_in_a_fresh_interpreter(client: Client) -> None:
    with manager(client, workers=1):
        worker = run(client, "pid")
        fresh = [run(client, "pid", isolation="process") for _ in range(2)]
        limited = run(client, "pid", limits={"memory": 1 << 30})  # a process's limit
    assert len({worker, *fresh, limited}) == 4


def test_tasks_of_another_environment_get_a_worker_of_their_own(client: Client) -> None:
    with manager(client, workers=1):
        plain = run(client, "pid")
        spec = client.submit(function=f"{TASKS}:pid", env={**ENV, "X": "1"})
        other = client.wait(spec.tid, timeout=20).value
        again = run(client, "pid")
    assert len({plain, other, again}) == 3  # one worker at a time: each replaced the last


def test_a_manager_killed_mid_task_leaves_no_worker_and_recovery_settles_it(
    client: Client,
) -> None:
    record, proc = client.start_manager(workers=1, heartbeat=0.5)
    with reaped(proc):
        spec = client.submit(function=f"{TASKS}:sleep", args=[30], env=ENV)
        pid = started(client, spec.tid).pid
        assert pid is not None
        worker = psutil.Process(pid)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs([worker], timeout=10)
        assert alive == []
    with manager(client, workers=1):
        result = client.wait(spec.tid, timeout=30)
    assert result.state == "failed"
    assert f"manager {record.tid} died" in (result.error or "")


def test_a_task_retried_on_failure_is_run_again_after_its_manager_is_killed(
    client: Client,
) -> None:
    record, proc = client.start_manager(workers=1, heartbeat=0.5)
    with reaped(proc):
        spec = client.submit(
            function=f"{TASKS}:sleep", args=[30], env=ENV, restart="on-failure", retries=1
        )
        pid = started(client, spec.tid).pid  # durable before the worker was given the task
        assert pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _, alive = psutil.wait_procs([psutil.Process(pid)], timeout=10)
        assert alive == []
    with manager(client, workers=1) as (again, _):
        until(client, lambda: client.task(spec.tid).manager == again.tid)
        until(client, lambda: client.task(spec.tid).state == "running")
        client.stop(spec.tid)
        assert client.wait(spec.tid, timeout=20).state == "stopped"
    requeued = [e for e in client.events(spec.tid) if e.event == "requeued"]
    assert f"manager {record.tid} died" in (requeued[0].reason or "")


@pytest.mark.parametrize("restart", ["never", "on-failure"])
def test_a_value_returned_as_its_manager_dies_completes_the_task(
    client: Client, broker_path: str, restart: str
) -> None:
    """The function returns while its manager is frozen (it froze it): the value is in
    its worker's journal, never read by the manager, which is killed; its recoverer
    completes the task with that value, not failing or re-running it."""
    record, proc = client.start_manager(workers=1, heartbeat=0.5)
    journals = journal_dir(resolve(broker_path).state_dir / "results", record.tid)
    with reaped(proc):
        spec = client.submit(
            function=f"{TASKS}:freeze", args=[proc.pid, "kept"], env=ENV, restart=restart
        )
        deadline = time.monotonic() + 20
        while (spec.tid, 1) not in read_all(journals):  # a file, written: polled
            assert time.monotonic() < deadline, "the worker wrote no value"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    with manager(client, workers=1):
        result = client.wait(spec.tid, timeout=30)
        assert (result.state, result.value, result.attempts) == ("completed", "kept", 1)
        until(client, lambda: not os.path.exists(journals))  # its journals went with it
    assert [e.event for e in client.events(spec.tid)].count("started") == 1  # never re-run
