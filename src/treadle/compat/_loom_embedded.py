"""Loom's embedded runtime: :func:`start_bridge` and :func:`start_core`, supervised.

Owns starting one runtime binary outside a project's tree: the binary resolved as
:func:`~treadle.compat.loom.get_binary` resolves it (a local build, the cache, a verified
download), then run as the one permanent child of a treadle Supervisor: restarted when
it dies (backoff and intensity as treadle's), its process group sent SIGTERM then SIGKILL
when stopped, and killed by the kernel if this process dies first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from ..process import Process, ProcessSpec
from ..supervisor import ChildSpec, Restart, Supervisor
from ._loom_binaries import get_binary

__all__ = ["RuntimeProcess", "start_bridge", "start_core"]


class RuntimeProcess:
    """A started runtime binary, the one child of :attr:`supervisor`.

    ``pid`` is the running process's (None between a death and its restart);
    ``returncode`` is that of its last run.
    """

    def __init__(self, supervisor: Supervisor, process: Process) -> None:
        self.supervisor = supervisor
        self._process = process
        self._stopping: asyncio.Future[None] | None = None

    @property
    def name(self) -> str:
        return self._process.name

    @property
    def pid(self) -> int | None:
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.returncode

    def terminate(self) -> None:
        """Begin a graceful stop (SIGTERM, SIGKILL after the stop timeout); returns at once."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self.supervisor.stop())

    async def wait(self) -> int | None:
        """Until it is stopped (by :meth:`terminate` or :meth:`stop`), then its last exit
        code; raises SupervisorFailed if it kept dying faster than treadle restarts."""
        await self.supervisor.wait()
        return await self.stop()

    async def stop(self) -> int | None:
        """Stop it and wait until it has been reaped; its last exit code."""
        self.terminate()
        assert self._stopping is not None
        await asyncio.shield(self._stopping)
        return self.returncode

    def __repr__(self) -> str:
        return f"<RuntimeProcess {self.name!r} pid={self.pid}>"


async def start_bridge(
    port: int = 50051,
    *,
    version: str | None = None,
    force_download: bool = False,
    project_dir: Path | str | None = None,
) -> RuntimeProcess:
    """Start the bridge server (``loom-bridge --port PORT``), once it runs."""
    return await _start("loom-bridge", ["--port", str(port)], version, force_download, project_dir)


async def start_core(
    dashboard_port: int = 3030,
    *,
    version: str | None = None,
    force_download: bool = False,
    project_dir: Path | str | None = None,
) -> RuntimeProcess:
    """Start the core runtime (``loom-core --dashboard-port PORT``), once it runs."""
    return await _start(
        "loom-core", ["--dashboard-port", str(dashboard_port)], version, force_download, project_dir
    )


async def _start(
    name: str,
    args: Sequence[str],
    version: str | None,
    force_download: bool,
    project_dir: Path | str | None,
) -> RuntimeProcess:
    binary = await get_binary(name, version, force_download, project_dir=project_dir)
    short = name.removeprefix("loom-")
    process = Process(ProcessSpec(argv=(str(binary), *args), name=short, stop_timeout=5.0))
    supervisor = Supervisor([ChildSpec(process, name=short, restart=Restart.PERMANENT)], name=name)
    await supervisor.start()
    try:
        await supervisor.wait_running(short)
    except BaseException:
        await supervisor.stop()
        raise
    return RuntimeProcess(supervisor, process)
