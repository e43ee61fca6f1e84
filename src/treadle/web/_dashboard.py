"""The dashboard as a supervised child of the manager that runs a project: :class:`Dashboard`.

Owns serving the app (uvicorn, in the manager's own event loop: no thread, no second
process), the bearer token (the configured one, else one generated into
``.treadle/token`` with mode 0600), the rule that a non-loopback address needs a
configured token, the names a request's ``Host`` may give (:meth:`Dashboard.hosts`), and
the event recorder's lifetime. Its socket is bound by :meth:`Dashboard.bind` before the
manager starts (see :mod:`._listen`), so that a taken port fails ``treadle up`` at once.
It is a Runnable: the manager's tree restarts it if it fails, and stops it with
everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import uvicorn

from .._exceptions import ConfigError, NotPausable, TreadleError
from ._app import create_app
from ._events import EventLog
from ._history import History
from ._listen import listen, refusal
from ._metrics import Metrics

if TYPE_CHECKING:
    from ..manager import Manager
    from ..project import ProjectRuntime

__all__ = ["Dashboard", "read_token"]


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the manager's own handle SIGINT and SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Dashboard:
    """Serves the project's dashboard on ``host:port`` while it runs.

    Args:
        manager: the manager hosting ``runtime`` (its broker is the dashboard's).
        runtime: the project.
        token: the bearer token for control actions; None: read or create
            ``.treadle/token``. Binding a non-loopback ``host`` needs it given.
        allowed_hosts: more names a request's ``Host`` header may give (a proxy's, a
            DNS name of this machine; ``*.example.com`` for a domain), beside ``host``,
            ``localhost``, ``127.0.0.1`` and ``[::1]``.
    """

    def __init__(
        self,
        manager: Manager,
        runtime: ProjectRuntime,
        *,
        host: str = "127.0.0.1",
        port: int = 8765,
        token: str | None = None,
        allowed_hosts: Sequence[str] = (),
    ) -> None:
        if token is None and not _loopback(host):
            raise ConfigError(
                "dashboard.token",
                f"binding {host} (not this machine only) needs a configured token",
                file=runtime.source,
            )
        self.manager = manager
        self.runtime = runtime
        self.host = host
        self.port = port
        self.pid = os.getpid()
        self.token = token or read_token(runtime.config.root / ".treadle" / "token")
        self.allowed_hosts = tuple(allowed_hosts)
        self.history = History()
        self.events = EventLog(manager, runtime, history=self.history)
        self.metrics = Metrics(runtime.tree())
        self._server: _Server | None = None
        self._socket: socket.socket | None = None

    @classmethod
    def of(cls, manager: Manager, runtime: ProjectRuntime) -> Dashboard:
        """The dashboard the project's ``[dashboard]`` table asks for."""
        board = runtime.config.dashboard
        return cls(
            manager,
            runtime,
            host=board.host,
            port=board.port,
            token=board.token,
            allowed_hosts=board.allowed_hosts,
        )

    @property
    def name(self) -> str:
        return "dashboard"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def bind(self) -> None:
        """Take the port now (its first run serves on it): a taken one is a ConfigError
        at ``dashboard.port`` that says so, before anything else starts."""
        if self._socket is None:
            self._socket = self._listen()

    def _listen(self) -> socket.socket:
        try:
            sock = listen(self.host, self.port)
        except OSError as exc:
            key, message = refusal(self.host, self.port, exc)
            raise self.runtime.config.error(("dashboard", key), message) from None
        self.port = sock.getsockname()[1]
        return sock

    async def run(self, started: Callable[[], None]) -> None:
        sock, self._socket = self._socket or self._listen(), None
        config = uvicorn.Config(
            create_app(self),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = self._server = _Server(config)
        recorder = asyncio.create_task(self.events.run(), name="dashboard:events")
        serving = asyncio.create_task(_serve(server, sock), name="dashboard:http")
        try:
            while not server.started:  # uvicorn says so with a flag, not an event
                if serving.done():
                    await serving  # it could not start: that error, and no start
                    raise ConfigError("dashboard.port", f"{self.url} did not start")
                await asyncio.sleep(0.01)
            started()
            await serving
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(serving), timeout=2)
            recorder.cancel()
            await asyncio.gather(recorder, return_exceptions=True)

    def request_stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True

    def pause(self) -> None:
        raise NotPausable("the dashboard cannot pause")

    def resume(self) -> None:
        raise NotPausable("the dashboard cannot pause")

    def status(self) -> dict[str, Any]:
        return {"kind": "dashboard", "url": self.url, "events": self.events.recorded}

    def hosts(self) -> list[str]:
        """The names a request's ``Host`` header may give: the bound address, this
        machine's loopback names, and ``allowed_hosts``; for a wildcard address (``0.0.0.0``,
        ``::``), also this machine's name and the addresses of its interfaces."""
        names = {"localhost", "127.0.0.1", "[::1]", *self.allowed_hosts}
        names.add(_bracketed(self.host))
        if self.host in ("", "0.0.0.0", "::"):
            names.update((socket.gethostname(), socket.getfqdn()))
            for addresses in psutil.net_if_addrs().values():
                for address in addresses:
                    if address.family in (socket.AF_INET, socket.AF_INET6):
                        names.add(_bracketed(address.address.split("%", 1)[0]))
        return sorted(n.lower() for n in names if n)


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits the process when it cannot start: the manager's
        raise TreadleError(f"the dashboard's server could not start (exit {exc.code})") from None
    finally:
        sock.close()  # (closed already, once it served)


def read_token(path: Path) -> str:
    """The token in ``path``, or a new one written there (mode 0600)."""
    try:
        text = path.read_text().strip()
        if text:
            return text
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


def _bracketed(host: str) -> str:
    """An IPv6 literal as a Host header writes it (``[::1]``); any other name as it is."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            return all(
                ipaddress.ip_address(info[4][0]).is_loopback
                for info in socket.getaddrinfo(host, None)
            )
        except OSError:
            return False
