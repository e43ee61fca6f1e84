"""A fleet on the real PostgreSQL server: a schema per test, manager processes playing
several hosts, and a TCP proxy that can cut one manager off from the database."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from treadle.broker import WorkerRecord
from treadle.client import Client

PG = ("127.0.0.1", 5432)
DSN = "postgresql://postgres@{host}:{port}/test"


def server_answers() -> bool:
    try:
        with socket.create_connection(PG, timeout=2):
            return True
    except OSError:
        return False


def drop(schema: str) -> None:
    import psycopg

    with psycopg.connect(DSN.format(host=PG[0], port=PG[1]), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextlib.contextmanager
def schema() -> Iterator[str]:
    """A broker URL with a schema of its own, dropped afterwards."""
    if not server_answers():
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432: the fleet tests need one")
    name = f"t_{secrets.token_hex(6)}"
    try:
        yield DSN.format(host=PG[0], port=PG[1]) + f"?schema={name}"
    finally:
        drop(name)


@contextlib.contextmanager
def managers(
    client: Client, hosts: list[str], *, url: str | None = None, **options: float
) -> Iterator[list[tuple[WorkerRecord, subprocess.Popen[bytes]]]]:
    """Manager processes, one per entry of ``hosts`` (its TREADLE_HOST); stopped after,
    killed if they do not stop."""
    started: list[tuple[WorkerRecord, subprocess.Popen[bytes]]] = []
    try:
        for host in hosts:
            started.append(start(client, host, url=url, **options))
        yield started
    finally:
        for record, proc in started:
            if proc.poll() is None:
                with contextlib.suppress(Exception):
                    client.stop_manager(record.tid, timeout=15)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def start(
    client: Client, host: str, *, url: str | None = None, **options: float
) -> tuple[WorkerRecord, subprocess.Popen[bytes]]:
    """One manager process on "host" (optionally reaching the broker at ``url``)."""
    tid = client.broker.timestamp()
    argv = [sys.executable, "-m", "treadle.manager", "--broker", url or client.url.location]
    argv += ["--tid", str(tid)]
    for key, value in options.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    os.environ["TREADLE_HOST"] = host
    try:
        return client.launch(argv, tid, timeout=60)
    finally:
        del os.environ["TREADLE_HOST"]


def log_of(client: Client, tid: int) -> str:
    path = client.url.state_dir / "managers" / f"manager-{tid}.log"
    return path.read_text() if path.exists() else ""


LEADER = re.compile(r": leader, token (\d+), from monotonic ([\d.]+)")
NOT_LEADER = re.compile(r": no longer leader, token (\d+), from monotonic ([\d.]+)")


def leadership(client: Client, tid: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """From a manager's log: when it became leader, and when it stopped (token, time)."""
    text = log_of(client, tid)
    became = [(int(t), float(at)) for t, at in LEADER.findall(text)]
    stopped = [(int(t), float(at)) for t, at in NOT_LEADER.findall(text)]
    return became, stopped


def until(predicate: object, timeout: float = 60.0, every: float = 0.1) -> float:
    """Poll ``predicate()`` (a callable) until true; the seconds it took. Polling, because
    what is awaited here happens in other processes and in the database."""
    assert callable(predicate)
    begin = time.monotonic()
    while not predicate():
        assert time.monotonic() - begin < timeout, "condition not reached in time"
        time.sleep(every)
    return time.monotonic() - begin


class Proxy:
    """A TCP proxy to PostgreSQL in a thread; ``cut()`` drops every connection and
    refuses new ones: the manager behind it is cut off from the database."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: dict[socket.socket, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="test-proxy", daemon=True)
        self._thread.start()

    @property
    def url_for(self) -> str:
        return DSN.format(host="127.0.0.1", port=self.port)

    def _pump(self) -> None:
        while not self._closed.is_set():
            for key, _ in self._selector.select(timeout=0.05):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock is self._listener:
                    client, _ = sock.accept()
                    server = socket.create_connection(PG)
                    self._pairs[client], self._pairs[server] = server, client
                    self._selector.register(client, selectors.EVENT_READ)
                    self._selector.register(server, selectors.EVENT_READ)
                    continue
                try:
                    data = sock.recv(65536)
                except OSError:
                    data = b""
                other = self._pairs.get(sock)
                if not data or other is None:
                    self._drop(sock)
                    continue
                with contextlib.suppress(OSError):
                    other.sendall(data)
            if self._cut.is_set():
                for sock in list(self._pairs):
                    self._drop(sock)
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(self._listener)
                self._listener.close()
                self._cut.clear()
        for sock in list(self._pairs):
            self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        other = self._pairs.pop(sock, None)
        for s in (sock, other):
            if s is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(s)
                s.close()
        if other is not None:
            self._pairs.pop(other, None)

    def cut(self) -> None:
        self._cut.set()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        self._selector.close()
        with contextlib.suppress(OSError):
            self._listener.close()
