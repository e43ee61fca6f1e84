"""Only the manager's own user reaches it: another local user (a throwaway account made
for the test) can neither submit nor receive a submission.

The submit socket is a file in a directory only its user may enter; a user who squats
the old abstract name gets nothing (no client looks there), one who tries the new path
cannot bind it, and one whose socket is put in its place anyway (as root could) receives
zero bytes: the client checks the peer's uid before it sends, and queues the task instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from treadle._paths import submit_address
from treadle.client import Client

from ..cli._support import treadle
from ._support import manager

SRC = str(Path(__file__).resolve().parents[2] / "src")
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin")

# Run as the stranger (the system's Python: this venv is under /root): bind ADDRESS ("@"
# for the abstract namespace), say so, then report every connection and its bytes.
SQUATTER = """
import socket, sys
address = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.bind("\\0" + address[1:] if address.startswith("@") else address)
except OSError as exc:
    print("bind failed", exc.errno, flush=True)
    sys.exit(0)
s.listen(8)
print("listening", flush=True)
while True:
    conn, _ = s.accept()
    conn.settimeout(5)
    received = 0
    try:
        while chunk := conn.recv(65536):
            received += len(chunk)
    except OSError:
        pass
    print("received", received, flush=True)
    conn.close()
"""


@pytest.fixture
def client(broker_path: str) -> Iterator[Client]:
    with Client(broker_path) as c:
        yield c


@pytest.fixture
def stranger() -> Iterator[str]:
    """A throwaway local user, removed after the test."""
    if os.getuid() != 0 or SYSTEM_PYTHON is None or shutil.which("useradd") is None:
        pytest.skip("needs root, useradd and a system python3 to act as another user")
    name = f"trd{secrets.token_hex(4)}"
    made = subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot create a user: {made.stderr.strip()}")
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


class Squatter:
    """The squatter's process, run as ``user``; its report lines once stopped."""

    def __init__(self, user: str, address: str) -> None:
        assert SYSTEM_PYTHON is not None
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, "-c", SQUATTER, address],
            user=user,
            stdout=subprocess.PIPE,
            text=True,
            cwd="/",
        )
        assert self.proc.stdout is not None
        self.first = self.proc.stdout.readline().strip()

    def stop(self) -> list[str]:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        return [self.first, *out.split("\n")[:-1]]


def old_address(location: str) -> str:
    """The abstract name treadle used before: derived from the broker's location."""
    from _blake2 import blake2b

    return "@treadle-submit-" + blake2b(location.encode(), digest_size=10).hexdigest()


def test_a_squatter_on_the_old_abstract_name_receives_nothing(
    client: Client, stranger: str, tmp_path: Path
) -> None:
    squatter = Squatter(stranger, old_address(client.url.location))
    assert squatter.first == "listening"
    marker = tmp_path / "ran"
    try:
        with manager(client):
            done = treadle("run", "--wait", "--", "sh", "-c", f"echo ran >> {marker}")
    finally:
        report = squatter.stop()
    assert done.returncode == 0, done.stderr
    assert marker.read_text() == "ran\n"
    assert report == ["listening"]  # no connection at all


def test_a_squatter_cannot_bind_the_socket_path(client: Client, stranger: str) -> None:
    with manager(client):
        address = submit_address(client.url.location)
        assert address is not None
        squatter = Squatter(stranger, address + ".x")  # beside it: the directory is closed
        assert squatter.stop()[0] == "bind failed 13"  # EACCES


def test_a_socket_of_another_user_in_its_place_gets_zero_bytes_and_the_task_is_queued(
    client: Client, stranger: str, tmp_path: Path
) -> None:
    """As if the squatter's socket got past the directory (root put it there): the
    client sees the peer's uid, sends nothing, and queues the task; the real manager,
    alive but no longer reachable on the socket, runs it from the queue."""
    own = tempfile.mkdtemp(prefix="treadle-squat-", dir="/tmp")
    shutil.chown(own, user=stranger)
    marker = tmp_path / "ran"
    try:
        with manager(client) as (record, _):
            address = submit_address(client.url.location)
            assert address is not None
            squatter = Squatter(stranger, f"{own}/s.sock")
            assert squatter.first == "listening"
            os.rename(f"{own}/s.sock", address)  # the manager's file replaced
            try:
                fast = treadle("run", "--wait", "--", "sh", "-c", f"echo ran >> {marker}")
                full = treadle(
                    "run", "--wait", "-e", "A=1", "--", "sh", "-c", f"echo $A >> {marker}"
                )
            finally:
                report = squatter.stop()
            tasks = client.tasks()
    finally:
        shutil.rmtree(own, ignore_errors=True)
    assert (fast.returncode, full.returncode) == (0, 0), fast.stderr + full.stderr
    assert "Traceback" not in fast.stderr + full.stderr
    assert sorted(marker.read_text().split()) == ["1", "ran"]
    # three connections (the fast path, then the full command line it hands over to, and
    # the second run's), not a byte on any of them
    assert report == ["listening", "received 0", "received 0", "received 0"]
    assert all(t.manager == record.tid for t in tasks)  # run from the queue, by the manager


def test_another_user_reaching_the_socket_may_not_submit(
    client: Client, stranger: str, tmp_path: Path
) -> None:
    """The manager's own check, for a socket reachable by mistake (its directory and
    file opened up by hand): the stranger's submission is refused, nothing is queued."""
    code = (
        "import sys\n"
        "from treadle._wire import Refused, Submission, new_request\n"
        "try:\n"
        "    Submission(sys.argv[1]).submit({'argv': ['true']}, False, new_request())\n"
        "    print('accepted')\n"
        "except Refused as exc:\n"
        "    print(exc)\n"
    )
    opened: list[tuple[str, int]] = []
    with manager(client):
        address = submit_address(client.url.location)
        assert address is not None
        path = Path(address)
        for p in [path, *path.parents]:  # every directory above it: x for others
            if p == Path("/"):
                break
            mode = p.stat().st_mode & 0o7777
            opened.append((str(p), mode))
            os.chmod(p, mode | (0o666 if p == path else 0o711))
        try:
            done = subprocess.run(
                [str(SYSTEM_PYTHON), "-c", code, address],
                user=stranger,
                env={"PYTHONPATH": SRC, "PYTHONDONTWRITEBYTECODE": "1"},
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
                cwd="/",
            )
        finally:
            for opened_path, mode in opened:
                os.chmod(opened_path, mode)
    assert done.stdout.strip() == "only the manager's own user may submit", done.stderr
    assert client.tasks() == []
