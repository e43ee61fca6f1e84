"""Loom's runtime interface (orchestrator, embedded binaries, project config) over treadle.

For code written to ``loom.runtime``: the names it documents, as thin layers over
:mod:`treadle.project` (a project's tree run inside a manager, as ``treadle up`` runs it)
and :mod:`treadle.artifacts` (binaries from build directories, the cache or a verified
download). What Loom kept in ``loom.toml`` lives in the project's treadle.toml::

    [artifacts.loom-bridge]
    version = "v0.1.0"
    url = "https://github.com/OWNER/loom/releases/download/{version}/{name}-{platform}"
    sha256 = { "linux-x86_64" = "..." }

    [processes.bridge]
    artifact = "loom-bridge"
    args = ["--port", "50051"]
    profiles = ["full", "bridge-only"]      # the runtime modes are profiles
    health = { tcp = "localhost:50051" }    # also: the bridge's address

    [processes.core]
    artifact = "loom-core"
    profiles = ["full"]

``runtime_mode`` selects the profile of that name (a file that declares no profiles runs
every child in either mode). Agent scripts become process children restarted when they
fail; their output goes to ``logs_dir/NAME.log``. ``[dashboard] enabled = true`` serves
treadle's dashboard, as ``treadle up`` does. ``treadle status``, ``logs`` and ``down``
reach the orchestrated project as any other.

What Loom's code reads rather than runs (``[bridge]``, ``[llm.NAME]``, ``[mcp.NAME]``)
stays in the seed's own ``loom.toml`` beside treadle.toml: :func:`load_project_config`
reads both. :func:`start_bridge` and :func:`start_core` run one binary outside a project,
supervised. The modules: ``_loom_binaries``, ``_loom_config``, ``_loom_embedded``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._exceptions import TreadleError
from ..artifacts import cache_dir, platform_tag
from ..client import Client
from ..manager import Manager
from ..process import ProcessSpec
from ..project import ProjectRuntime, load_project
from ..supervisor import ChildSpec, Restart, serve
from ._loom_binaries import binary_path as binary_path
from ._loom_binaries import get_binary as get_binary
from ._loom_config import BridgeConfig as BridgeConfig
from ._loom_config import DashboardConfig as DashboardConfig
from ._loom_config import LLMProviderConfig as LLMProviderConfig
from ._loom_config import MCPServerConfig as MCPServerConfig
from ._loom_config import ProjectConfig as ProjectConfig
from ._loom_config import load_project_config as load_project_config
from ._loom_embedded import RuntimeProcess as RuntimeProcess
from ._loom_embedded import start_bridge as start_bridge
from ._loom_embedded import start_core as start_core

__all__ = [
    "BridgeConfig",
    "DashboardConfig",
    "LLMProviderConfig",
    "MCPServerConfig",
    "Orchestrator",
    "OrchestratorConfig",
    "ProjectConfig",
    "RuntimeProcess",
    "binary_path",
    "cache_dir",
    "get_binary",
    "load_project_config",
    "platform_tag",
    "run_orchestrator",
    "start_bridge",
    "start_core",
]


@dataclass(frozen=True)
class OrchestratorConfig:
    """What :func:`run_orchestrator` runs.

    Args:
        project_dir: the directory of the project's treadle.toml.
        runtime_mode: the profile to run: ``"full"`` (core, bridge, dashboard) or
            ``"bridge-only"``, as the file assigns its children to them.
        agent_scripts: Python scripts (relative to ``project_dir``) run as children.
        logs_dir: where every child's output goes (relative to ``project_dir``);
            None: ``.treadle/logs``, where ``treadle logs`` reads.
        force_download: download the mode's artifacts again, into the cache, before
            starting (a local build in ``target/`` still wins when the tree is built).
    """

    project_dir: Path
    runtime_mode: str = "full"
    agent_scripts: Sequence[Path] = field(default_factory=list)
    logs_dir: Path | None = None
    force_download: bool = False


class Orchestrator:
    """The project's runtime and agents in a treadle manager (the seed's Orchestrator).

    :meth:`start` builds everything (resolving, maybe downloading, the artifacts: an
    error there starts nothing) and returns once the tree runs; :meth:`stop` stops it all
    (SIGTERM, then SIGKILL after each stop timeout); :meth:`run` is both, stopped by
    SIGINT or SIGTERM (a second one forces). ``manager`` is the treadle Manager: its
    ``runtime`` and ``tree`` are the project's.
    """

    def __init__(self, config: OrchestratorConfig) -> None:
        self.config = config
        self.manager: Manager | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Build and start; returns once every child has been started."""
        manager = await self._build()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def on_started() -> None:
            if not started.done():
                started.set_result(None)

        self._task = asyncio.create_task(self._hosting(manager, on_started), name="orchestrator")
        await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not started.done():
            await self._task  # it ended before it started: its error

    async def stop(self) -> None:
        """Stop the runtime and the agents, and wait until every process is reaped."""
        if self.manager is None or self._task is None:
            return
        self.manager.request_stop()
        await self._task

    async def run(self) -> None:
        """Run until SIGINT or SIGTERM (a second one forces)."""
        await self._hosting(await self._build(), None)

    async def _hosting(self, manager: Manager, started: Callable[[], None] | None) -> None:
        hosted = manager.hosted
        assert isinstance(hosted, ProjectRuntime)
        hosted.start_logging()
        try:
            if started is None:
                await serve(manager)
            else:
                await manager.run(started)
        finally:
            hosted.stop_logging()

    async def _build(self) -> Manager:
        """The manager hosting the project (``self.manager``), once per orchestrator."""
        if self.manager is not None:
            raise TreadleError("this orchestrator has already started")
        config = self.config
        root = config.project_dir.resolve()
        runtime = ProjectRuntime(root, profiles=_profiles(root, config.runtime_mode))
        if config.logs_dir is not None:
            runtime.log_dir = root / config.logs_dir
        if config.force_download:
            await asyncio.to_thread(runtime.config.download_artifacts)
        tree = await asyncio.to_thread(runtime.tree)  # resolves (maybe downloads) artifacts
        with Client(runtime.config.broker) as client:  # as `treadle up`: once per host
            running = client.hosting(runtime.source)
        if running is not None:
            raise TreadleError(
                f"{runtime.name} is already up: manager {running.tid} (pid {running.pid}); "
                "`treadle down` first"
            )
        for script in config.agent_scripts:
            tree.add(_agent(root, root / script, runtime.log_dir))
        manager = Manager(runtime.config.broker, hosted=runtime)
        board = runtime.config.dashboard
        if board.enabled:  # as `treadle up` serves it
            from ..web import Dashboard

            manager.services.append(Dashboard.of(manager, runtime))
        self.manager = manager
        return manager


async def run_orchestrator(config: OrchestratorConfig) -> None:
    """Run the project's runtime (the mode's children) and its agents until SIGINT or
    SIGTERM (a second one forces); an artifact that cannot be resolved fails first."""
    await Orchestrator(config).run()


def _profiles(root: Path, mode: str) -> tuple[str, ...]:
    """The mode as the profile to select; none when the file declares no profiles."""
    file = load_project(root).file
    tables = (file.loops, file.processes, file.supervisors)
    return (mode,) if any(c.profiles for t in tables for c in t.values()) else ()


def _agent(root: Path, script: Path, log_dir: Path) -> ChildSpec:
    name = script.stem
    log = str(log_dir / f"{name}.log")
    log_dir.mkdir(parents=True, exist_ok=True)
    spec = ProcessSpec(
        argv=(sys.executable, str(script)), name=name, cwd=str(root), stdout=log, stderr=log
    )
    return ChildSpec(spec, name=name, restart=Restart.TRANSIENT)  # restarted on failure
