"""treadle.compat.loom: the seed's usage examples, changed only in their imports, run
against a real project: its runtime binaries are tiny shell-script artifacts served by a
real HTTP server on 127.0.0.1, its orchestrator a real manager process, stopped by
SIGINT (as the seed's ``await run_orchestrator(config)`` is) or by ``treadle down``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.artifacts._server import Served, Server, script, serving, sha256
from tests.cli._support import treadle
from treadle import ConfigError, State, TreadleError, artifacts
from treadle.artifacts import ArtifactError
from treadle.compat import loom
from treadle.compat.loom import (
    Orchestrator,
    OrchestratorConfig,
    binary_path,
    cache_dir,
    get_binary,
    load_project_config,
    platform_tag,
    run_orchestrator,
)
from treadle.project import ProjectRuntime

BRIDGE = script("bridge.started", sleep=120)
CORE = script("core.started", sleep=120)
AGENT = """
import pathlib, sys, time
name = pathlib.Path(sys.argv[0]).stem
print(f"{name} up", flush=True)
pathlib.Path(f"{name}.started").write_text("ok")
time.sleep(120)
"""


def project_file(server: Server, version: str = "v0.1.0", dashboard: int | None = None) -> str:
    platform = platform_tag()
    return f"""
    [project]
    name = "loom-app"

    [artifacts.loom-bridge]
    version = "{version}"
    url = "{server.url("/{version}/{name}-{platform}")}"
    sha256 = {{ "{platform}" = "{sha256(BRIDGE)}" }}

    [artifacts.loom-core]
    version = "{version}"
    url = "{server.url("/{version}/{name}-{platform}")}"
    sha256 = {{ "{platform}" = "{sha256(CORE)}" }}

    [processes.bridge]
    artifact = "loom-bridge"
    args = ["--port", 50051]
    profiles = ["full", "bridge-only"]
    health = {{ tcp = "localhost:50051", interval = "1h" }}
    stop_timeout = 2

    [processes.core]
    artifact = "loom-core"
    args = ["--dashboard-port", {dashboard or 3030}]
    profiles = ["full"]
    stop_timeout = 2

    [dashboard]
    enabled = {"true" if dashboard else "false"}
    port = {dashboard or 3030}
    """


@pytest.fixture
def server() -> Iterator[Server]:
    with serving() as s:
        yield s


@pytest.fixture
def project(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Loom project in tmp_path/app (the cache in tmp_path/xdg), the cwd of the test."""
    root = tmp_path / "app"
    (root / "agents").mkdir(parents=True)
    for version in ("v0.1.0", "v0.1.0-alpha.1"):
        server.files[f"/{version}/loom-bridge-{platform_tag()}"] = Served(BRIDGE)
        server.files[f"/{version}/loom-core-{platform_tag()}"] = Served(CORE)
    (root / "treadle.toml").write_text(textwrap.dedent(project_file(server)).lstrip())
    for agent in ("researcher", "analyst"):
        (root / "agents" / f"{agent}.py").write_text(AGENT)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TREADLE_BROKER", raising=False)
    monkeypatch.delenv("LOOM_BRIDGE_ADDR", raising=False)
    monkeypatch.chdir(root)
    return root


def test_the_names_the_seed_documents() -> None:
    assert set(loom.__all__) >= {
        "OrchestratorConfig",
        "run_orchestrator",
        "load_project_config",
        "get_binary",
        "binary_path",
        "cache_dir",
        "platform_tag",
    }
    assert platform_tag() == artifacts.platform_tag()
    assert cache_dir() == artifacts.cache_dir()


# -- "Embedded Runtime": get_binary ----------------------------------------------------------


async def test_get_binary_downloads_verifies_and_caches(project: Path, server: Server) -> None:
    # Download specific binary
    binary_path_ = await get_binary(
        name="loom-bridge",
        version="v0.1.0",
        force_download=False,
    )
    assert binary_path_ == binary_path("loom-bridge", "v0.1.0")
    assert binary_path_.parent == cache_dir()
    assert os.access(binary_path_, os.X_OK)
    assert await get_binary("loom-bridge") == binary_path_  # the declared version
    assert server.count(f"/v0.1.0/loom-bridge-{platform_tag()}") == 1


async def test_custom_binary_download(
    project: Path, server: Server, capsys: pytest.CaptureFixture[str]
) -> None:
    text = project_file(server, version="v0.1.0-alpha.1")
    (project / "treadle.toml").write_text(textwrap.dedent(text).lstrip())
    path = f"/v0.1.0-alpha.1/loom-bridge-{platform_tag()}"

    # The seed's example, as it is:
    # Download specific version
    binary = await get_binary(
        name="loom-bridge",
        version="v0.1.0-alpha.1",
        force_download=True,  # Skip cache
    )

    print(f"Binary location: {binary}")
    print(f"Cache directory: {cache_dir()}")

    out = capsys.readouterr().out
    assert f"Binary location: {binary_path('loom-bridge', 'v0.1.0-alpha.1')}\n" in out
    assert f"Cache directory: {cache_dir()}\n" in out
    await get_binary(name="loom-bridge", version="v0.1.0-alpha.1", force_download=True)
    assert server.count(path) == 2  # forced: downloaded each time


async def test_a_local_build_wins_and_other_versions_need_a_digest(project: Path) -> None:
    local = project / "target" / "debug" / "loom-core"
    local.parent.mkdir(parents=True)
    local.write_bytes(CORE)
    local.chmod(0o755)
    assert await get_binary("loom-core", "v9") == local  # a local build: any version
    local.unlink()
    with pytest.raises(ArtifactError, match="no sha256 declared"):
        await get_binary("loom-core", "v9")  # only v0.1.0's digests are declared


async def test_get_binary_outside_a_project_needs_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    with pytest.raises(ConfigError, match="give one"):
        await get_binary("loom-bridge", project_dir=tmp_path)
    with pytest.raises(artifacts.ArtifactNotFound, match="no url"):
        await get_binary("loom-bridge", "v1", project_dir=tmp_path)


# -- "Project Configuration": load_project_config ---------------------------------------------


def test_load_project_config(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Load from directory
    config = load_project_config(Path(project))

    # Access configuration
    assert config.bridge.address == "localhost:50051"  # Bridge address
    assert config.dashboard.enabled is False  # Dashboard settings
    assert config.dashboard.port == 3030
    assert config.project is not None
    assert config.project.processes["core"].artifact == "loom-core"
    assert config.llm == {}
    assert config.mcp_servers == {}
    assert config.file is None

    monkeypatch.setenv("LOOM_BRIDGE_ADDR", "bridge.example.com:50051")
    assert load_project_config(project).bridge.address == "bridge.example.com:50051"


# The seed's loom.toml, verbatim: what Loom's code reads, beside the treadle.toml that runs.
LOOM_TOML = """
# loom.toml

[bridge]
address = "localhost:50051"

[dashboard]
enabled = true
port = 3030

[llm.deepseek]
base_url = "https://api.deepseek.com/v1"
model = "deepseek-chat"
api_key = "${DEEPSEEK_API_KEY}"

[mcp.brave]
command = "npx"
args = ["-y", "@modelcontextprotocol/server-brave-search"]
env = { BRAVE_API_KEY = "${BRAVE_API_KEY}" }
"""


def test_load_project_config_reads_the_seeds_loom_toml(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (project / "loom.toml").write_text(LOOM_TOML)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-secret-1")
    monkeypatch.setenv("BRAVE_API_KEY", "brave-secret-2")

    # Load from directory
    config = load_project_config(Path(project))

    # Access configuration
    assert config.bridge.address == "localhost:50051"  # Bridge address
    assert config.llm["deepseek"].base_url == "https://api.deepseek.com/v1"  # LLM config
    assert config.mcp_servers["brave"].command == "npx"  # MCP server config
    assert config.dashboard.enabled is True  # Dashboard settings

    assert config.llm["deepseek"].api_key == "sk-secret-1"
    assert config.mcp_servers["brave"].args == ("-y", "@modelcontextprotocol/server-brave-search")
    assert config.mcp_servers["brave"].env == {"BRAVE_API_KEY": "brave-secret-2"}
    assert config.dashboard.port == 3030
    assert config.file == project / "loom.toml"
    assert "secret" not in repr(config)  # keys and MCP env are never shown
    assert config.project is not None
    assert "bridge" in config.project.processes


def test_loom_toml_alone_is_a_project_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "k")
    monkeypatch.setenv("BRAVE_API_KEY", "k")
    monkeypatch.setenv("LOOM_BRIDGE_ADDR", "bridge.example.com:50051")
    (tmp_path / "loom.toml").write_text(LOOM_TOML)
    (tmp_path / "agents").mkdir()
    config = load_project_config(tmp_path)
    assert config.project is None
    assert config.bridge.address == "bridge.example.com:50051"  # the variable wins
    with pytest.raises(ConfigError, match=r"no loom\.toml nor treadle\.toml"):
        load_project_config(tmp_path / "agents")  # loom.toml is read where the project is


def test_a_bad_loom_toml_names_the_file_the_line_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    monkeypatch.setenv("BRAVE_API_KEY", "k")
    path = tmp_path / "loom.toml"
    path.write_text(LOOM_TOML)
    with pytest.raises(ConfigError) as unset:
        load_project_config(tmp_path)
    assert unset.value.file == str(path)
    assert unset.value.line == 14
    assert unset.value.field == "llm.deepseek.api_key"
    assert "DEEPSEEK_API_KEY" in str(unset.value)

    monkeypatch.setenv("DEEPSEEK_API_KEY", "k")
    path.write_text(LOOM_TOML.replace("model =", "modle ="))
    with pytest.raises(ConfigError) as typo:
        load_project_config(tmp_path)
    assert typo.value.field == "llm.deepseek.modle"
    assert typo.value.line == 13
    assert typo.value.suggestion == "model"

    path.write_text(LOOM_TOML.replace("port = 3030", "port = 'x'"))
    with pytest.raises(ConfigError) as wrong:
        load_project_config(tmp_path)
    assert wrong.value.field == "dashboard.port"
    assert wrong.value.line == 9


# -- "Start Runtime Programmatically": start_bridge, start_core ---------------------------

START_RUNTIME = """
import asyncio
from pathlib import Path
from treadle.compat.loom import start_bridge, start_core

async def main():
    # Start bridge
    bridge_proc = await start_bridge(port=50051)

    # Start core with dashboard
    core_proc = await start_core(dashboard_port=3030)

    print("Runtime started!")
    print("Bridge: localhost:50051")
    print("Dashboard: http://localhost:3030")

    # Wait for shutdown signal
    await asyncio.Event().wait()

asyncio.run(main())
"""


def test_start_runtime_programmatically(project: Path) -> None:
    (project / "main.py").write_text(START_RUNTIME)
    proc = subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "Runtime started!\n"
        started(project, "bridge", "core")  # each binary writes its marker once it runs
        assert (project / "bridge.started").read_text() == "--port 50051\n"
        assert (project / "core.started").read_text() == "--dashboard-port 3030\n"
        binaries = _no_spawner(psutil.Process(proc.pid).children(recursive=True))
        assert len(binaries) == 2
        proc.send_signal(signal.SIGINT)  # the shutdown signal the example waits for
        proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    psutil.wait_procs(binaries, timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in binaries)


async def test_a_started_binary_is_supervised_and_stopped(project: Path) -> None:
    bridge = await loom.start_bridge(port=50051)
    try:
        first = bridge.pid
        assert first is not None
        assert psutil.Process(first).cmdline()[-2:] == ["--port", "50051"]
        with bridge.supervisor.events() as events:
            os.kill(first, signal.SIGKILL)  # it dies: treadle starts it again
            while bridge.supervisor.child_state("bridge").value != "running" or bridge.pid in (
                None,
                first,
            ):
                await events.get()
        assert bridge.returncode == -signal.SIGKILL
        second = bridge.pid
        assert second is not None
        assert second != first
    finally:
        code = await bridge.stop()
    assert code == -signal.SIGTERM
    assert bridge.pid is None
    assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE
    assert await bridge.wait() == code  # stopped: wait returns at once


# -- "Orchestrate Full Project": run_orchestrator ------------------------------------------

ORCHESTRATE = """
import asyncio
from pathlib import Path
from treadle.compat.loom import OrchestratorConfig, run_orchestrator

async def main():
    config = OrchestratorConfig(
        project_dir=Path.cwd(),
        runtime_mode="full",
        agent_scripts=[
            Path("agents/researcher.py"),
            Path("agents/analyst.py"),
        ],
        logs_dir=Path("logs"),
    )

    await run_orchestrator(config)

asyncio.run(main())
"""


def started(root: Path, *names: str, timeout: float = 40) -> None:
    """Wait for each child's marker file (what the scripts write once they run)."""
    deadline = time.monotonic() + timeout
    while not all((root / f"{n}.started").exists() for n in names):
        assert time.monotonic() < deadline, f"never started: {names}"
        time.sleep(0.05)


def until_served(url: str, timeout: float = 30) -> str:
    """The page at ``url``, once the dashboard serves it."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: bytes = response.read()
                return body.decode()
        except OSError:
            assert time.monotonic() < deadline, f"{url} never answered"
            time.sleep(0.1)


def orchestrate(root: Path, code: str) -> subprocess.Popen[str]:
    (root / "main.py").write_text(code)
    return subprocess.Popen(
        [sys.executable, "main.py"], cwd=root, stderr=subprocess.PIPE, text=True
    )


def stopped(proc: subprocess.Popen[str]) -> str:
    """Its stderr once it has ended (killed, and the test failed, if it takes too long)."""
    try:
        _, err = proc.communicate(timeout=40)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_orchestrate_full_project(project: Path, server: Server) -> None:
    port = free_port()
    text = textwrap.dedent(project_file(server, dashboard=port)).lstrip()
    (project / "treadle.toml").write_text(text)
    proc = orchestrate(project, ORCHESTRATE)
    try:
        started(project, "bridge", "core", "researcher", "analyst")
        page = until_served(f"http://127.0.0.1:{port}/")
        assert (project / "bridge.started").read_text() == "--port 50051\n"
        assert (project / "core.started").read_text() == f"--dashboard-port {port}\n"
        assert "<html" in page.lower()
        done = treadle("status", "--json", cwd=str(project))
        assert done.returncode == 0, done.stderr
        children = {c["name"]: c["state"] for c in json.loads(done.stdout)["children"]}
        assert set(children) == {"bridge", "core", "researcher", "analyst"}
        descendants = psutil.Process(proc.pid).children(recursive=True)
        assert len(descendants) >= 4
        proc.send_signal(signal.SIGINT)  # blocks until shutdown: this is the shutdown
    finally:
        err = stopped(proc)
    assert proc.returncode == 0, err
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in descendants)
    assert "researcher up" in (project / "logs" / "researcher.log").read_text()
    assert (project / "logs" / "treadle.log").exists()


def test_bridge_only_runs_the_bridge_and_treadle_down_stops_it(project: Path) -> None:
    code = ORCHESTRATE.replace('"full"', '"bridge-only"').replace('logs_dir=Path("logs"),', "")
    proc = orchestrate(project, code)
    try:
        started(project, "bridge", "researcher", "analyst")
        done = treadle("status", "--json", cwd=str(project))
        children = {c["name"] for c in json.loads(done.stdout)["children"]}
        assert children == {"bridge", "researcher", "analyst"}
        assert not (project / "core.started").exists()
        again = OrchestratorConfig(project_dir=project, runtime_mode="bridge-only")
        with pytest.raises(TreadleError, match="already up"):  # once per host, as `up`
            asyncio.run(run_orchestrator(again))
        assert treadle("down", cwd=str(project)).returncode == 0  # the seed's `loom down`
    finally:
        err = stopped(proc)
    assert proc.returncode == 0, err
    logs = treadle("logs", "researcher", cwd=str(project))  # no logs_dir: where it reads
    assert "researcher up" in logs.stdout, logs.stderr


async def test_an_orchestrator_starts_and_stops_in_this_process(project: Path) -> None:
    config = OrchestratorConfig(
        project_dir=project,
        runtime_mode="bridge-only",  # or "full"
        agent_scripts=[Path("agents/researcher.py")],
    )
    orchestrator = Orchestrator(config)
    await orchestrator.start()
    try:
        await asyncio.to_thread(started, project, "bridge", "researcher")
        assert orchestrator.manager is not None
        runtime = orchestrator.manager.hosted
        assert isinstance(runtime, ProjectRuntime)
        tree = runtime.tree()
        assert {n: tree.child_state(n) for n in tree.children} == {
            "bridge": State.RUNNING,
            "researcher": State.RUNNING,
        }
        pids = _no_spawner(psutil.Process().children(recursive=True))  # the bridge and the agent
        assert len(pids) >= 2
        with pytest.raises(TreadleError, match="already started"):
            await orchestrator.start()
    finally:
        await orchestrator.stop()
    assert tree.state is State.STOPPED
    psutil.wait_procs(pids, timeout=10)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in pids)


def test_an_unknown_mode_and_an_unresolvable_runtime_fail_before_anything_runs(
    project: Path, server: Server
) -> None:
    config = OrchestratorConfig(project_dir=project, runtime_mode="bridge-onyl")
    with pytest.raises(ConfigError, match="unknown profile 'bridge-onyl'") as caught:
        asyncio.run(run_orchestrator(config))
    assert caught.value.suggestion == "bridge-only"
    server.files[f"/v0.1.0/loom-core-{platform_tag()}"] = Served(b"#!/bin/sh\nexit 0\n")
    with pytest.raises(ConfigError, match=r"processes\.core\.artifact: .* has sha256"):
        asyncio.run(run_orchestrator(OrchestratorConfig(project_dir=project)))
    assert not (project / "bridge.started").exists()
    assert not (project / ".treadle" / "broker.db").exists()


def _no_spawner(procs: list[psutil.Process]) -> list[psutil.Process]:
    """Leave out the spawner that starts the processes (it lives as long as its loop)."""
    return [p for p in procs if "treadle.process._spawnerd" not in " ".join(p.cmdline())]
