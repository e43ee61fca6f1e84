"""Loom's orchestrator: the runtime and the agents of a project, as children of a
treadle :class:`~treadle.supervisor.Supervisor`.

Owns ``loom.runtime.orchestrator``'s interface and what it decides: the runtime is
``loom-bridge-server`` (found by :func:`~._loom_binaries.get_binary`) at
127.0.0.1:``bridge_port``, with its dashboard in ``full`` mode; after
``startup_wait_sec`` each agent script runs with the project's variables, its output in
``NAME.log`` and ``NAME.err``; the runtime's end ends everything; a shutdown stops the
agents first (SIGTERM, SIGKILL after 1 s), then the runtime (after 2 s).

What it leaves to the core: running, signalling and reaping the processes (their
process groups, killed with this process if it dies), and restarting an agent that fails
(the seed's "restart on failure": treadle's backoff and intensity; Loom only warns).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from .._exceptions import ConfigError, SpawnError, TreadleError
from .._lifecycle import ENDED, UP, State, Transition
from ..process import ProcessSpec
from ..supervisor import ChildSpec, Restart, Supervisor
from ._loom_binaries import get_binary
from ._loom_config import ProjectConfig, load_project_config
from ._loom_embedded import RUNTIME_BINARY, runtime_env
from ._loom_process import ProcessInfo, SupervisedProcess

__all__ = ["MODES", "RUNTIME", "Orchestrator", "OrchestratorConfig", "run_orchestrator"]

MODES: Final = ("full", "bridge-only")
RUNTIME: Final = "loom-runtime"
_TELEMETRY: Final = (
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"),
    ("OTEL_TRACE_SAMPLER", "always_on"),
)
_AGENT_STOP: Final = 1.0  # seconds from SIGTERM to SIGKILL, as Loom waits
_RUNTIME_STOP: Final = 2.0
_log = logging.getLogger("treadle.compat.loom")


@dataclass
class OrchestratorConfig:
    """What an :class:`Orchestrator` runs (Loom's fields, in Loom's order).

    Args:
        project_dir: the project: its loom.toml (found from here up) and the agents' cwd.
        logs_dir: where ``NAME.log`` and ``NAME.err`` go; None: the temporary directory
            (``loom-NAME.log``).
        runtime_mode: ``full`` (bridge and dashboard) or ``bridge-only``.
        runtime_version: of ``loom-bridge-server``; ``latest`` takes any cached one.
        bridge_port: the bridge's port on 127.0.0.1; None: 50051.
        startup_wait_sec: seconds between starting the runtime and the agents.
        agent_scripts: Python scripts, relative to ``project_dir``.
        prefer_release, force_download: as :func:`get_binary` takes them (None: debug
            builds first if ``LOOM_PREFER_DEBUG`` says so).
    """

    project_dir: Path
    logs_dir: Path | None = None
    runtime_mode: str = "full"
    runtime_version: str = "latest"
    bridge_port: int | None = None
    dashboard_port: int = 3030
    startup_wait_sec: float = 2.0
    agent_scripts: list[Path] = field(default_factory=list)
    prefer_release: bool | None = True
    force_download: bool = False


class Orchestrator:
    """The project's runtime and agents; :meth:`run` until SIGINT or SIGTERM.

    ``supervisor`` is the treadle Supervisor they run under (its ``status()`` and
    ``events()`` see them); ``runtime_proc`` and ``agent_procs`` are Loom's view of them.
    """

    def __init__(self, config: OrchestratorConfig) -> None:
        self.config = config
        self.runtime_proc: ProcessInfo | None = None
        self.agent_procs: list[ProcessInfo] = []
        self.project_config: ProjectConfig = load_project_config(config.project_dir)
        if config.logs_dir:
            config.logs_dir.mkdir(parents=True, exist_ok=True)
        self.supervisor = Supervisor(name="loom")
        self._stop = asyncio.Event()

    @property
    def _shutdown_requested(self) -> bool:
        return self._stop.is_set()

    @_shutdown_requested.setter
    def _shutdown_requested(self, value: bool) -> None:  # Loom's code sets it to stop
        if value:
            self._stop.set()
        else:
            self._stop.clear()

    @property
    def bridge_address(self) -> str:
        """Where the runtime listens: 127.0.0.1:``bridge_port`` (50051)."""
        return f"127.0.0.1:{self.config.bridge_port or 50051}"

    def request_shutdown(self) -> None:
        """Make :meth:`monitor` (and so :meth:`run`) return; :meth:`shutdown` stops all."""
        self._stop.set()

    async def start_runtime(self) -> ProcessInfo:
        """Start ``loom-bridge-server`` (resolving it first: an error there starts
        nothing); returns once it runs."""
        mode = self.config.runtime_mode
        if mode not in MODES:
            close = difflib.get_close_matches(mode, MODES, n=1)
            raise ConfigError(
                "runtime_mode",
                f"unknown mode {mode!r} (known: {', '.join(MODES)})",
                suggestion=close[0] if close else None,
            )
        for key, value in (*_TELEMETRY, ("OTEL_SERVICE_NAME", "loom-runtime")):
            os.environ.setdefault(key, value)  # as Loom: this process's defaults too
        binary = await asyncio.to_thread(
            get_binary,
            RUNTIME_BINARY,
            version=self.config.runtime_version,
            prefer_release=self.config.prefer_release,
            force_download=self.config.force_download,
        )
        if mode == "bridge-only":
            env = runtime_env(self.bridge_address)
        else:
            servers = {
                name: {"command": mcp.command, "args": mcp.args, "env": mcp.env}
                for name, mcp in self.project_config.mcp_servers.items()
            }
            env = runtime_env(
                self.bridge_address, dashboard_port=self.config.dashboard_port, mcp_servers=servers
            )
        logs = self.config.logs_dir
        spec = ProcessSpec(
            argv=(str(binary),),
            name=RUNTIME,
            env=env,
            stop_timeout=_RUNTIME_STOP,
            stdout=str(logs / f"{RUNTIME}.log") if logs else None,
            stderr=str(logs / f"{RUNTIME}.err") if logs else None,
        )
        await self._start([ChildSpec(spec, name=RUNTIME, restart=Restart.TEMPORARY)])
        self.runtime_proc = self._info(RUNTIME, critical=True)
        _log.info("runtime started (pid %s) at %s", self.runtime_proc.pid, self.bridge_address)
        return self.runtime_proc

    async def start_agents(self) -> list[ProcessInfo]:
        """Start every agent script; returns once each runs. One that fails is started
        again (treadle's backoff); one that exits 0 is done."""
        scripts = self.config.agent_scripts
        if not scripts:
            _log.info("no agent scripts to start")
            return []
        env = self.project_config.to_env_vars()
        if self.config.bridge_port is not None:  # where the runtime is (Loom: the file's)
            env["LOOM_BRIDGE_ADDR"] = self.bridge_address
        for key, value in _TELEMETRY:
            env[key] = os.environ.get(key, value)
        depends = (RUNTIME,) if RUNTIME in self.supervisor.children else ()
        specs = []
        for name, script in _named(scripts, self.supervisor.children):
            out, err = self._log_file(name), self._log_file(name, stderr=True)
            for path in (out, err):  # each run of the orchestrator starts them afresh
                path.write_bytes(b"")
            spec = ProcessSpec(
                argv=(sys.executable, str(script)),
                name=name,
                env={**env, "OTEL_SERVICE_NAME": f"agent-{script.stem}"},
                cwd=str(self.config.project_dir),
                stdout=str(out),
                stderr=str(err),
                stop_timeout=_AGENT_STOP,
            )
            specs.append(ChildSpec(spec, name=name, restart=Restart.TRANSIENT, depends_on=depends))
        await self._start(specs)
        self.agent_procs = [self._info(spec.name, critical=False) for spec in specs]
        return self.agent_procs

    async def monitor(self) -> None:
        """Until a shutdown is requested, or the runtime has ended (then one is)."""
        with self.supervisor.events() as events:
            while not self._shutdown_requested:
                if self.runtime_proc is not None and self._ended(RUNTIME):
                    code = self.runtime_proc.proc.returncode
                    _log.error("the runtime exited unexpectedly (code %s)", code)
                    self._shutdown_requested = True
                    break
                get = asyncio.ensure_future(events.get())
                stop = asyncio.ensure_future(self._stop.wait())
                try:
                    await asyncio.wait({get, stop}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    get.cancel()
                    stop.cancel()

    async def shutdown(self) -> None:
        """Stop the agents, then the runtime, and wait until every process is reaped."""
        self._shutdown_requested = True
        await self.supervisor.stop()

    async def run(self) -> None:
        """Start the runtime, wait ``startup_wait_sec``, start the agents, and run until
        SIGINT or SIGTERM or the runtime's end; then shut everything down."""
        with _on_signals(self.request_shutdown):
            try:
                await self.start()
                await self.monitor()
            finally:
                await self.shutdown()

    async def start(self) -> None:
        """:meth:`start_runtime`, the startup wait (cut short by a shutdown request), then
        :meth:`start_agents` unless a shutdown was requested meanwhile."""
        await self.start_runtime()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self.config.startup_wait_sec)
        if not self._shutdown_requested:
            await self.start_agents()

    async def stop(self) -> None:
        """:meth:`request_shutdown` and :meth:`shutdown`."""
        self.request_shutdown()
        await self.shutdown()

    # -- mechanism ------------------------------------------------------------------------

    async def _start(self, specs: list[ChildSpec]) -> None:
        """Add the children and wait until each runs; one that fails first is an error."""
        sup = self.supervisor
        if sup.state in ENDED:
            raise TreadleError("this orchestrator has shut down: make a new one")
        if sup.state is State.PENDING:
            await sup.start()
        with sup.events() as events:
            for spec in specs:
                sup.add(spec)
            waiting = {spec.name for spec in specs if sup.child_state(spec.name) not in UP}
            while waiting:  # events come in order: a child that ran is seen running first
                t = (await events.get()).payload
                if not isinstance(t, Transition):
                    continue
                name = t.name.removeprefix(f"{sup.path}.")
                if name not in waiting:
                    continue
                if t.to in UP:
                    waiting.discard(name)
                elif t.to in (State.FAILED, State.GIVEN_UP):
                    raise SpawnError(f"{name} did not start: {t.error or t.reason}")

    def _info(self, name: str, *, critical: bool) -> ProcessInfo:
        proc = SupervisedProcess(self.supervisor, name)
        return ProcessInfo(name=name, proc=proc, pid=proc.pid, is_critical=critical)

    def _ended(self, name: str) -> bool:
        return self.supervisor.child_state(name) in ENDED

    def _log_file(self, name: str, *, stderr: bool = False) -> Path:
        suffix = ".err" if stderr else ".log"
        if self.config.logs_dir:
            return self.config.logs_dir / f"{name}{suffix}"
        return Path(tempfile.gettempdir()) / f"loom-{name}{suffix}"


async def run_orchestrator(config: OrchestratorConfig) -> None:
    """Run the project (see :meth:`Orchestrator.run`) until SIGINT or SIGTERM."""
    await Orchestrator(config).run()


def _named(scripts: list[Path], taken: list[str]) -> Iterator[tuple[str, Path]]:
    """Each script with a child name: its stem, made unique (``main``, ``main-2``)."""
    used = set(taken)
    for script in scripts:
        name, n = script.stem, 1
        while name in used:
            n += 1
            name = f"{script.stem}-{n}"
        used.add(name)
        yield name, script


@contextlib.contextmanager
def _on_signals(handler: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``handler`` while inside (in the main thread only)."""
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    installed = []
    if threading.current_thread() is threading.main_thread():
        for sig in signals:
            loop.add_signal_handler(sig, handler)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
