"""Health checks for processes: a TCP port, an HTTP status, a command, a heartbeat file.

Owns the check kinds. Each is an async callable returning a :class:`Health`; a Process with
``health=`` answers the supervisor's ``health()`` calls with it, so readiness (dependants
wait for the first passing check) and restarts after failures are the supervisor's, as for
any child. Set the child's ``health_interval`` to turn checking on.
"""

from __future__ import annotations

import asyncio
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..health._health import Health

__all__ = ["CommandCheck", "FileHeartbeat", "HealthCheck", "HttpCheck", "TcpCheck"]


class HealthCheck(Protocol):
    async def __call__(self) -> Health: ...


@dataclass(frozen=True)
class TcpCheck:
    """Healthy when a TCP connection to ``host:port`` opens."""

    port: int
    host: str = "127.0.0.1"

    async def __call__(self) -> Health:
        try:
            _, writer = await asyncio.open_connection(self.host, self.port)
        except OSError as exc:
            return Health.unhealthy(f"tcp {self.host}:{self.port}: {exc.strerror or exc}")
        writer.close()
        await writer.wait_closed()
        return Health.healthy(f"tcp {self.host}:{self.port} open")


@dataclass(frozen=True)
class HttpCheck:
    """Healthy when GET ``url`` answers ``status`` (urllib, in a thread)."""

    url: str
    status: int = 200
    timeout: float = 5.0

    def _get(self) -> int:
        try:
            with urllib.request.urlopen(self.url, timeout=self.timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    async def __call__(self) -> Health:
        try:
            got = await asyncio.to_thread(self._get)
        except (OSError, ValueError) as exc:
            return Health.unhealthy(f"GET {self.url}: {exc}")
        if got != self.status:
            return Health.unhealthy(f"GET {self.url}: status {got}, expected {self.status}")
        return Health.healthy(f"GET {self.url}: {got}")


@dataclass(frozen=True)
class CommandCheck:
    """Healthy when ``argv`` exits 0."""

    argv: Sequence[str]

    async def __call__(self) -> Health:
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            return Health.unhealthy(f"check {self.argv[0]!r} cannot run: {exc}")
        try:
            _, err = await proc.communicate()
        except asyncio.CancelledError:  # the supervisor's health_timeout: leave no process
            proc.kill()
            await proc.wait()
            raise
        if proc.returncode != 0:
            detail = err.decode(errors="replace").strip().splitlines()[-1:] or [""]
            return Health.unhealthy(f"check exited {proc.returncode}: {detail[0]}".rstrip(": "))
        return Health.healthy()


@dataclass(frozen=True)
class FileHeartbeat:
    """Healthy while the process touches ``path`` at least every ``max_age`` seconds."""

    path: str
    max_age: float

    async def __call__(self) -> Health:
        try:
            age = time.time() - os.stat(self.path).st_mtime
        except FileNotFoundError:
            return Health.unhealthy(f"heartbeat file {self.path} does not exist")
        if age > self.max_age:
            return Health.unhealthy(f"heartbeat file {self.path} is {age:.1f}s old")
        return Health.healthy()
