"""Loom's embedded runtime: :func:`start_bridge`, :func:`start_core`, :func:`start_binary`.

Owns starting one runtime binary outside an orchestrator, as ``loom.runtime.embedded``
does: the binary from :func:`~._loom_binaries.get_binary`, the environment that tells it
what to be (:func:`runtime_env`, shared with the orchestrator), its output discarded, and
a ``subprocess.Popen`` returned. Both the runtime and the core are ``loom-bridge-server``
(the core is the bridge with its dashboard on).

Two additions of treadle's: the process can be awaited (to itself), as the seed writes
``await start_bridge(port=50051)``; and one still running when this interpreter exits
(normally, or by Ctrl-C) is stopped: SIGTERM, then SIGKILL after 5 s. Restarting it is
not done here: an orchestrator supervises its runtime.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import threading
from collections.abc import Generator, Mapping
from typing import Any, Final, Self

from ._loom_binaries import get_binary
from ._loom_config import DEFAULT_BRIDGE

__all__ = [
    "RUNTIME_BINARY",
    "RuntimeProcess",
    "runtime_env",
    "start_binary",
    "start_bridge",
    "start_core",
]

RUNTIME_BINARY: Final = "loom-bridge-server"
_STOP_TIMEOUT: Final = 5.0


class RuntimeProcess(subprocess.Popen[bytes]):
    """A started runtime binary: a ``subprocess.Popen`` that can also be awaited."""

    def __await__(self) -> Generator[Any, None, Self]:
        return self
        yield  # a generator: awaiting it returns at once


def runtime_env(
    bridge_addr: str,
    *,
    dashboard_port: int | None = None,
    mcp_servers: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """What ``loom-bridge-server`` is told: its address; with ``dashboard_port``, to serve
    the dashboard there (Loom's core); the MCP servers as JSON, if any."""
    env = {"LOOM_BRIDGE_ADDR": bridge_addr}
    if dashboard_port is not None:
        env["LOOM_DASHBOARD"] = "true"
        env["LOOM_DASHBOARD_PORT"] = str(dashboard_port)
    if mcp_servers:
        env["LOOM_MCP_SERVERS"] = json.dumps(mcp_servers)
    return env


def start_binary(
    binary_name: str,
    env_vars: Mapping[str, str] | None = None,
    version: str = "latest",
    allow_local: bool = True,
    prefer_release: bool | None = True,
    force_download: bool = False,
) -> RuntimeProcess:
    """Run the binary (found as :func:`get_binary` finds it) with this environment plus
    ``env_vars``, its output discarded; returns at once."""
    binary = get_binary(
        binary_name,
        version=version,
        allow_local=allow_local,
        prefer_release=prefer_release,
        force_download=force_download,
    )
    env = {**os.environ, **(env_vars or {})}
    proc = RuntimeProcess(
        [str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _started.add(proc)
    return proc


def start_bridge(
    address: str | None = None,
    version: str = "latest",
    prefer_release: bool | None = True,
    force_download: bool = False,
    *,
    port: int | None = None,
) -> RuntimeProcess:
    """Start the bridge (``loom-bridge-server``) at ``address``, or at 127.0.0.1:``port``
    (the seed's spelling); default 127.0.0.1:50051."""
    if address is None:
        address = f"127.0.0.1:{port}" if port is not None else DEFAULT_BRIDGE
    return start_binary(
        RUNTIME_BINARY,
        runtime_env(address),
        version=version,
        prefer_release=prefer_release,
        force_download=force_download,
    )


def start_core(
    bridge_addr: str | None = None,
    dashboard_port: int = 3030,
    version: str = "latest",
    prefer_release: bool | None = True,
    force_download: bool = False,
    mcp_servers: Mapping[str, Any] | None = None,
) -> RuntimeProcess:
    """Start the full runtime: ``loom-bridge-server`` at ``bridge_addr`` (default
    127.0.0.1:50051) with its dashboard on ``dashboard_port`` and these MCP servers."""
    env = runtime_env(
        bridge_addr or DEFAULT_BRIDGE, dashboard_port=dashboard_port, mcp_servers=mcp_servers
    )
    return start_binary(
        RUNTIME_BINARY,
        env,
        version=version,
        prefer_release=prefer_release,
        force_download=force_download,
    )


class _Started:
    """The runtime processes started here and not yet reaped, stopped at exit."""

    def __init__(self) -> None:
        self._procs: set[RuntimeProcess] = set()
        self._lock = threading.Lock()
        self._registered = False

    def add(self, proc: RuntimeProcess) -> None:
        with self._lock:
            self._procs = {p for p in self._procs if p.returncode is None}
            self._procs.add(proc)
            if not self._registered:
                atexit.register(self.stop_all)
                self._registered = True

    def stop_all(self) -> None:
        with self._lock:
            running = [p for p in self._procs if p.poll() is None]
        for proc in running:
            proc.terminate()
        for proc in running:
            try:
                proc.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


_started = _Started()
