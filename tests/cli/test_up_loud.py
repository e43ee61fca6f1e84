"""``treadle up`` says it is up only once it is, as a new user meets it: the installed
command, a small project in a temporary directory, its dashboard's port taken by another
process (and then free)."""

from __future__ import annotations

import socket
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from ._support import gone, treadle

PROJECT = """
[project]
name = "small"

[processes.web]
command = ["sleep", "60"]

[processes.worker]
command = ["sleep", "60"]
replicas = 2

[dashboard]
enabled = true
port = {port}
"""


@pytest.fixture
def taken() -> Iterator[socket.socket]:
    """A port another process (here: the test) listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder


@pytest.fixture
def small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, taken: socket.socket) -> Path:
    monkeypatch.delenv("TREADLE_BROKER", raising=False)  # the project's own broker
    port = taken.getsockname()[1]
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(PROJECT.format(port=port)).lstrip())
    return tmp_path


def managers_of(root: Path) -> list[psutil.Process]:
    """This project's manager processes (`up -d` starts them with its file)."""
    mine = str(root / "treadle.toml")
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        if mine in (proc.info["cmdline"] or []):
            out.append(proc)
    return out


@pytest.mark.parametrize("detach", [["-d"], []], ids=["background", "foreground"])
def test_a_taken_dashboard_port_is_one_line_and_exit_2(
    small: Path, taken: socket.socket, detach: list[str]
) -> None:
    port = taken.getsockname()[1]
    done = treadle("up", *detach, cwd=str(small))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.count("\n") == 1, done.stderr  # one line, no traceback, no "up"
    assert done.stderr.startswith(f"treadle: {small / 'treadle.toml'}:13:1: dashboard.port: ")
    assert f"127.0.0.1:{port} is already in use (by pid " in done.stderr
    assert "set another `port` under [dashboard]" in done.stderr
    assert "`treadle up --no-dashboard`" in done.stderr
    assert managers_of(small) == []  # nothing left running
    status = treadle("status", cwd=str(small))  # at once: no manager to wait for
    assert (status.returncode, status.stderr) == (
        1,
        f"treadle: small is not up ({small / 'treadle.toml'}): start it with `treadle up`\n",
    )


def test_once_the_port_is_free_up_prints_the_dashboard_and_the_logs(
    small: Path, taken: socket.socket
) -> None:
    port = taken.getsockname()[1]
    taken.close()
    up = treadle("up", "-d", cwd=str(small))
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        lines = up.stdout.splitlines()
        assert lines[0] == f"small: dashboard on http://127.0.0.1:{port}/"
        logs = f"small: logs: `treadle logs -f`, files in {small}/.treadle/logs"
        assert lines[1].startswith(logs)
        assert f"{small}/.treadle/managers/manager-" in lines[1]
        assert lines[2].startswith("small: up in the background (manager ")
        # up means up: the dashboard answers now, with no retry
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as got:
            assert got.status == 200
    finally:
        assert treadle("down", cwd=str(small)).returncode == 0
        gone(pid)


def test_no_dashboard_runs_without_the_port(small: Path) -> None:
    up = treadle("up", "-d", "--no-dashboard", cwd=str(small))
    assert up.returncode == 0, up.stderr
    pid = int(up.stdout.rsplit("pid ", 1)[1].rstrip(")\n"))
    try:
        assert "dashboard on" not in up.stdout
    finally:
        assert treadle("down", cwd=str(small)).returncode == 0
        gone(pid)
