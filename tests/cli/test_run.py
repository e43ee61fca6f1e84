"""``treadle run``: the fast path, the full CLI, starting a manager, exit codes, Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import pytest

from tests.manager._support import ENV, manager, until
from treadle.broker import names
from treadle.client import Client

from ._support import TREADLE, gone, treadle


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


def test_run_wait_streams_the_output_and_exits_with_the_tasks_status(client: Client) -> None:
    with manager(client):
        done = treadle("run", "--wait", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert done.returncode == 3
    assert done.stdout == "out\n"
    assert done.stderr == "err\n"  # the status says it all: no treadle line on top


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param([], id="fast-path"),
        pytest.param(["--env", "X=1"], id="full-cli"),
    ],
)
def test_both_paths_report_a_signal_and_a_name(client: Client, extra: list[str]) -> None:
    with manager(client):
        done = treadle("run", "-w", "--name", "suicide", *extra, "--", "sh", "-c", "kill -9 $$")
    assert done.returncode == 128 + signal.SIGKILL
    assert "killed by SIGKILL" in done.stderr
    [task] = client.tasks()
    assert (task.name, task.state) == ("suicide", "failed")


def test_run_without_wait_prints_the_tid_at_once(client: Client) -> None:
    with manager(client):
        done = treadle("run", "--", "sleep", "30")
        tid = int(done.stdout)
        assert done.returncode == 0
        assert client.task(tid).state in ("reserved", "starting", "running")
        client.stop(tid)
        assert client.wait(tid, timeout=20).state == "stopped"


def test_run_starts_a_manager_when_none_is_alive(client: Client) -> None:
    assert client.managers() == []
    done = treadle("run", "--wait", "--", "echo", "hi")
    try:
        assert done.returncode == 0, done.stderr
        assert done.stdout == "hi\n"
        [record] = client.managers()
        assert f"started manager {record.tid} (pid {record.pid})" in done.stderr
        logs = client.url.state_dir / "managers"
        assert [p.name for p in logs.iterdir()] == [f"manager-{record.tid}.log"]
        assert f"manager {record.tid} up" in (logs / f"manager-{record.tid}.log").read_text()
    finally:
        assert treadle("worker", "stop", "--all").returncode == 0
    assert client.managers() == []
    gone(record.pid)


def test_a_function_task_prints_its_value_and_json_gives_the_result(client: Client) -> None:
    with manager(client):
        plain = treadle(
            "run",
            "--wait",
            "--fn",
            "tests.manager._tasks:add",
            "--args",
            "[2, 3]",
            *(f"--env={k}={v}" for k, v in ENV.items()),
        )
        as_json = treadle(
            "run",
            "--wait",
            "--json",
            "--fn",
            "tests.manager._tasks:boom",
            *(f"--env={k}={v}" for k, v in ENV.items()),
        )
    assert (plain.returncode, plain.stdout) == (0, "5\n")
    result = json.loads(as_json.stdout)
    assert as_json.returncode == 1
    assert result["state"] == "failed"
    assert "RuntimeError: boom from a task" in result["stderr"]


def test_isolation_process_runs_a_function_in_an_interpreter_of_its_own(client: Client) -> None:
    env = [f"--env={k}={v}" for k, v in ENV.items()]
    fn = ["--fn", "tests.manager._functions:pid"]
    with manager(client, workers=1):
        warm = [treadle("run", "--wait", *fn, *env) for _ in range(2)]
        fresh = treadle("run", "--wait", "--isolation", "process", *fn, *env)
    assert [r.returncode for r in [*warm, fresh]] == [0, 0, 0]
    assert warm[0].stdout == warm[1].stdout != fresh.stdout


@pytest.mark.parametrize("isolation", ["worker", "process"])
def test_a_function_that_does_not_import_is_one_line(client: Client, isolation: str) -> None:
    """No traceback (runpy's, or the worker's): one line that says what is missing."""
    env = [f"--env={k}={v}" for k, v in ENV.items()]
    with manager(client):
        module = treadle(
            "run", "--wait", "--isolation", isolation, "--fn", "no_such_module_q7:main", *env
        )
        attribute = treadle(
            "run", "--wait", "--isolation", isolation, "--fn", "tests.manager._tasks:nope", *env
        )
    assert (module.returncode, module.stdout) == (1, "")
    assert module.stderr == (
        "no_such_module_q7:main: cannot import 'no_such_module_q7': "
        "no module named 'no_such_module_q7'\n"
    )
    assert (attribute.returncode, attribute.stderr) == (
        1,
        "tests.manager._tasks:nope: 'tests.manager._tasks' has no attribute 'nope'\n",
    )


def test_a_bad_option_names_the_field_and_queues_nothing(client: Client) -> None:
    with manager(client):
        bad_fn = treadle("run", "--fn", "not-a-path")
        bad_env = treadle("run", "--env", "NOEQUALS", "--", "true")
        bad_retries = treadle("run", "--retries", "-1", "--", "true")
        neither = treadle("run")
    assert bad_fn.returncode == 2
    assert "function: must be 'module:function', got 'not-a-path'" in bad_fn.stderr
    assert bad_env.returncode == 2
    assert "'NOEQUALS' is not KEY=VALUE" in bad_env.stderr
    assert bad_retries.returncode == 2
    assert "retries" in bad_retries.stderr
    assert neither.returncode == 2
    assert "give a COMMAND after --" in neither.stderr
    assert client.tasks() == []
    assert not client.broker.has_pending(names.SPAWN)


def test_ctrl_c_stops_the_task_and_exits_130(client: Client) -> None:
    with manager(client):
        proc = subprocess.Popen(
            [TREADLE, "run", "--wait", "--", "sleep", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            until(client, lambda: [t.state for t in client.tasks()] == ["running"])
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM  # the task's own end: stopped by SIGTERM
    assert "stopping the task" in err
    [task] = client.tasks()
    assert task.state == "stopped"


def test_a_task_queued_for_another_manager_is_followed_through_the_broker(
    client: Client,
) -> None:
    with manager(client), manager(client, capabilities=["gpu"]) as (gpu, _):
        done = treadle("run", "--wait", "--capability", "gpu", "--", "echo", "on gpu")
    assert (done.returncode, done.stdout) == (0, "on gpu\n")
    [task] = client.tasks()
    assert task.manager == gpu.tid
