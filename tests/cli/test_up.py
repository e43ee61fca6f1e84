"""``treadle up`` / ``down`` and the commands that steer a running project, for real:
a project directory, a real manager process, real child processes."""

from __future__ import annotations

import json
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ._support import TREADLE, gone, treadle, treadle_json, up_in_background

SHOP = """
[project]
name = "shop"

[processes.web]
command = ["sh", "-c", "echo web up; exec sleep 60"]

[processes.worker]
command = ["sleep", "60"]
scale = { min = 1, max = 3 }

[supervisors.back]
children = ["indexer"]

[processes.indexer]
command = ["sleep", "60"]
"""


def project(tmp_path: Path, text: str = SHOP) -> Path:
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(text).lstrip())
    return tmp_path


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shop project, up in the background for the test; down after it."""
    monkeypatch.delenv("TREADLE_BROKER", raising=False)  # the project's own broker
    with up_in_background(project(tmp_path)) as root:
        yield root


def broker_of(root: Path) -> str:
    return str(root / ".treadle" / "broker.db")


def status(root: Path) -> dict[str, dict[str, object]]:
    done = treadle("status", "--json", cwd=str(root))
    assert done.returncode == 0, done.stderr
    return {c["name"]: c for c in json.loads(done.stdout)["children"]}


def until_status(root: Path, check: str, timeout: float = 30) -> dict[str, dict[str, object]]:
    """Ask again until ``check`` (an expression over ``s``, the status) holds."""
    deadline = time.monotonic() + timeout
    while True:
        s = status(root)
        if eval(check, {}, {"s": s}):
            return s
        assert time.monotonic() < deadline, f"never: {check}; last: {s}"


def test_a_project_in_the_background_is_steered_by_name(shop: Path) -> None:
    cwd = str(shop)
    s = until_status(shop, "all(c['state'] == 'running' for c in s.values())")
    assert set(s) == {"web", "worker[0]", "back", "back.indexer"}
    assert s["web"]["kind"] == "process"
    web_pid = s["web"]["pid"]
    assert isinstance(web_pid, int)
    assert psutil.Process(web_pid).cmdline() == ["sleep", "60"]

    table = treadle("ps", cwd=cwd)
    assert "back.indexer" in table.stdout
    assert "shop (manager" in table.stdout

    assert treadle("pause", "back.indexer", cwd=cwd).stdout == "back.indexer: paused\n"
    pid = status(shop)["back.indexer"]["pid"]
    assert isinstance(pid, int)
    assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
    assert treadle("resume", "indexer", cwd=cwd).returncode == 0
    assert psutil.Process(pid).status() != psutil.STATUS_STOPPED

    assert treadle("restart", "web", cwd=cwd).returncode == 0
    s = until_status(shop, "s['web']['state'] == 'running' and s['web']['pid'] is not None")
    assert s["web"]["pid"] != web_pid

    scaled = treadle("scale", "worker", "3", cwd=cwd)
    assert scaled.stdout == "worker: 3 (worker[0], worker[1], worker[2])\n"
    over = treadle("scale", "worker", "4", cwd=cwd)
    assert over.returncode == 1
    assert "at most 3, got 4" in over.stderr
    unknown = treadle("restart", "nope", cwd=cwd)
    assert unknown.returncode == 1
    assert "no child 'nope'" in unknown.stderr

    assert treadle("stop", "web", cwd=cwd).stdout == "web: stopped\n"
    assert status(shop)["web"]["state"] == "stopped"
    assert treadle("start", "web", cwd=cwd).returncode == 0
    until_status(shop, "s['web']['state'] == 'running'")

    dump = json.loads(treadle("dump", cwd=cwd).stdout)
    assert dump["name"] == "shop"
    top = treadle("top", "-n", "1", cwd=cwd)
    assert top.returncode == 0
    assert "worker[2]" in top.stdout

    again = treadle("up", "-d", cwd=cwd)
    assert again.returncode == 1
    assert "shop is already up" in again.stderr


def test_down_is_answered_by_the_manager_once_it_has_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bare ``treadle down`` asks the hosting manager over the local socket; with an
    option it goes through the broker; either way the same line, and nothing is left."""
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = project(tmp_path)
    for extra in ([], ["--timeout", "30"]):
        up = treadle("up", "-d", cwd=str(root))
        assert up.returncode == 0, up.stderr
        pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
        until_status(root, "all(c['state'] == 'running' for c in s.values())")
        children = [p.pid for p in psutil.Process(pid).children(recursive=True)]
        done = treadle("down", *extra, cwd=str(root))
        assert (done.returncode, done.stdout, done.stderr) == (0, "shop: stopped\n", "")
        gone(pid)
        assert not any(psutil.pid_exists(c) for c in children)
        records = treadle_json("worker", "list", "--all", "--broker", broker_of(root))
        assert {r["status"] for r in records} == {"stopped"}
    assert treadle("down", cwd=str(root)).stderr == "shop is not up\n"


def test_reload_applies_the_changed_file(shop: Path) -> None:
    until_status(shop, "all(c['state'] == 'running' for c in s.values())")
    web_pid = status(shop)["web"]["pid"]
    text = SHOP.replace('command = ["sleep", "60"]\nscale', 'command = ["sleep", "61"]\nscale')
    text += '\n[processes.cron]\ncommand = ["sleep", "62"]\n'
    project(shop, text)
    done = treadle("reload", "--json", cwd=str(shop))
    assert done.returncode == 0, done.stderr
    change = json.loads(done.stdout)
    assert (change["added"], change["changed"], change["removed"]) == (["cron"], ["worker"], [])
    s = until_status(shop, "s.get('cron', {}).get('state') == 'running'")
    assert s["web"]["pid"] == web_pid
    project(shop, text.replace("[processes.cron]", "[processes.cron]\nbogus = 1"))
    bad = treadle("reload", cwd=str(shop))
    assert bad.returncode == 1
    assert "bogus" in bad.stderr
    assert "cron" in status(shop)


def test_up_in_the_foreground_prints_output_and_stops_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = project(tmp_path)
    proc = subprocess.Popen(
        [TREADLE, "up"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 30
        seen = ""
        while "web up" not in seen:  # the line arrives when web printed it
            assert time.monotonic() < deadline, seen
            seen += proc.stdout.readline()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "shop: down" in err
    assert "web: running → stopping" in out or "web: running → stopping" in seen
    assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)


def test_a_broken_file_starts_nothing_and_names_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = project(tmp_path, SHOP.replace("scale = {", "scael = {"))
    done = treadle("up", "-d", cwd=str(root))
    assert done.returncode == 2
    assert "treadle.toml:9:1: processes.worker.scael: unknown key" in done.stderr
    assert "(did you mean 'scale'?)" in done.stderr
    assert not (root / ".treadle" / "logs").exists()
    assert treadle("down", cwd=str(root)).returncode == 0  # not up: nothing to do


def test_a_procfile_runs_as_a_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    (tmp_path / "Procfile").write_text("web: echo hello && exec sleep 60\nclock: exec sleep 60\n")
    cwd = str(tmp_path)
    up = treadle("up", "-d", "--procfile", "Procfile", cwd=cwd)
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        done = treadle("status", "--json", "--procfile", "Procfile", cwd=cwd)
        names = {c["name"] for c in json.loads(done.stdout)["children"]}
        assert names == {"web", "clock"}
    finally:
        assert treadle("down", "--procfile", "Procfile", cwd=cwd).returncode == 0
        gone(pid)
    assert treadle("status", "--procfile", "Procfile", cwd=cwd).returncode == 1


def test_a_second_ctrl_c_forces_a_child_that_ignores_sigterm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    root = project(
        tmp_path,
        """
        [project]
        name = "stubborn"
        [processes.mule]
        command = ["sh", "-c", "trap '' TERM; echo stubborn; while true; do sleep 1; done"]
        stop_timeout = 60
        """,
    )
    proc = subprocess.Popen(
        [TREADLE, "up"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        while "stubborn" not in proc.stdout.readline():  # the child is up
            assert proc.poll() is None
        children = psutil.Process(proc.pid).children(recursive=True)
        proc.send_signal(signal.SIGINT)  # graceful: the mule ignores its SIGTERM...
        while "mule: running → stopping" not in proc.stdout.readline():
            assert proc.poll() is None
        proc.send_signal(signal.SIGINT)  # ...so the second one forces
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []
