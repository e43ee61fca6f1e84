"""sd_notify: what a manager started by systemd tells it, read from a real unix datagram
socket that the test binds where systemd would (``NOTIFY_SOCKET``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle.manager._sdnotify import Notifier

from ..cli._support import TREADLE


@contextlib.contextmanager
def listening(address: str) -> Iterator[socket.socket]:
    """A unix datagram socket bound at ``address`` (``@name``: the abstract namespace)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.settimeout(30)  # a wait for the datagram, bounded: never a sleep
    try:
        sock.bind("\0" + address[1:] if address.startswith("@") else address)
        yield sock
    finally:
        sock.close()


def receive(sock: socket.socket) -> list[str]:
    return sock.recv(4096).decode().split("\n")


def test_each_message_is_one_datagram_to_the_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with listening(address) as sock:
        notifier = Notifier(address)
        try:
            assert notifier.ready("manager 1 up")
            assert receive(sock) == ["READY=1", "STATUS=manager 1 up"]
            assert notifier.notify("WATCHDOG=1")
            assert receive(sock) == ["WATCHDOG=1"]
            assert notifier.stopping()
            assert receive(sock) == ["STOPPING=1"]
        finally:
            notifier.close()


def test_an_abstract_socket_is_reached_too() -> None:
    address = f"@treadle-test-{os.getpid()}"
    with listening(address) as sock:
        notifier = Notifier(address)
        try:
            assert notifier.ready()
            assert receive(sock) == ["READY=1"]
        finally:
            notifier.close()


def test_no_socket_no_message_and_a_gone_one_is_no_failure(tmp_path: Path) -> None:
    assert not Notifier(None).ready()
    gone = Notifier(str(tmp_path / "nobody-listens"))
    try:
        assert not gone.ready()  # logged and dropped: systemd is not the manager's business
    finally:
        gone.close()


def test_the_variables_are_taken_out_so_that_children_do_not_speak_for_the_manager() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "3000000", "PATH": "/bin"}
    notifier = Notifier.from_environ(env)
    assert (notifier.address, notifier.watchdog) == ("/run/x", 3.0)
    assert env == {"PATH": "/bin"}


@pytest.mark.parametrize(
    ("env", "address", "watchdog"),
    [
        ({}, None, None),
        ({"NOTIFY_SOCKET": "/run/x"}, "/run/x", None),
        ({"NOTIFY_SOCKET": "@abstract", "WATCHDOG_USEC": "500000"}, "@abstract", 0.5),
        # The watchdog is another process's (WATCHDOG_PID): not this one's to ping.
        ({"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "500000", "WATCHDOG_PID": "1"}, "/x", None),
        ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "soon"}, "/run/x", None),
        ({"NOTIFY_SOCKET": "vsock:2:1234"}, None, None),  # not a unix socket: told nothing
        ({"WATCHDOG_USEC": "500000"}, None, None),  # nowhere to send the pings
    ],
)
def test_what_systemd_asked_for(
    env: dict[str, str], address: str | None, watchdog: float | None
) -> None:
    notifier = Notifier.from_environ(dict(env))
    assert (notifier.address, notifier.watchdog) == (address, watchdog)


async def test_pings_come_at_half_the_watchdog_period(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with listening(address) as sock:
        notifier = Notifier(address, watchdog=0.2)
        try:
            pinging = asyncio.create_task(notifier.keep_alive())
            assert await asyncio.to_thread(receive, sock) == ["WATCHDOG=1"]
            assert await asyncio.to_thread(receive, sock) == ["WATCHDOG=1"]
            pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinging
        finally:
            notifier.close()
    assert Notifier(address, watchdog=3.0).ping_every == 1.5  # half of WatchdogSec
    assert Notifier(None, watchdog=0.2).ping_every is None  # no socket: no pings


PROJECT = """
[project]
name = "unit"

[processes.app]
command = ["sh", "-c", "echo notify=$${NOTIFY_SOCKET:-unset}; exec sleep 60"]
"""


@pytest.mark.timeout(60)
def test_treadle_up_under_systemd_says_ready_pings_and_says_stopping(tmp_path: Path) -> None:
    """`treadle up` as a Type=notify unit runs it: READY=1, WATCHDOG=1 until SIGTERM (what
    systemctl stop sends), then STOPPING=1; its children never see NOTIFY_SOCKET."""
    (tmp_path / "treadle.toml").write_text(textwrap.dedent(PROJECT).lstrip())
    address = str(tmp_path / "notify")
    env = {k: v for k, v in os.environ.items() if k != "TREADLE_BROKER"}
    env |= {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "400000"}
    with listening(address) as sock:
        up = subprocess.Popen(
            [TREADLE, "up", "--no-logs"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            messages = receive(sock)
            assert messages[0] == "READY=1", messages
            assert messages[1].startswith("STATUS=manager "), messages
            assert receive(sock) == ["WATCHDOG=1"]
            assert receive(sock) == ["WATCHDOG=1"]
            up.send_signal(signal.SIGTERM)
            while (messages := receive(sock)) == ["WATCHDOG=1"]:
                pass
            assert messages[0] == "STOPPING=1", messages
            _, stderr = up.communicate(timeout=30)
        finally:
            if up.poll() is None:
                up.kill()
                up.wait()
    assert up.returncode == 0, stderr
    log = (tmp_path / ".treadle" / "logs" / "app.log").read_text()
    assert "notify=unset" in log, log
